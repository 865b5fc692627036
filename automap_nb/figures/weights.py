"""What training did to AUTOMAP's weights: the statistics and the figures that show them.

The statistics (:func:`layer_weights`, :func:`weight_changes`, :func:`output_change`,
:func:`measure_outcomes`, :func:`change_energy_map`, :func:`output_energy_map`, :func:`radial_profile`,
:func:`ring`, :func:`central_fraction`) live here, next to the figures that draw them, because they exist only to
be shown and quoted beside those figures. Figures are matplotlib Figures.
"""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from automap_nb.figures.style import TEXT_WIDTH, TRAIN_COLOUR, image_panel


def layer_weights(model) -> dict[str, dict[str, np.ndarray]]:
    """``{layer: {"kernel": array, "bias": array}}`` for every layer that has weights."""
    out = {}
    for layer in model.layers:
        weights = layer.get_weights()
        if weights:
            out[layer.name] = {"kernel": weights[0], "bias": weights[1] if len(weights) > 1 else None}
    return out


def weight_changes(initial: dict, final: dict) -> list[dict]:
    """Per layer: ``‖W − W₀‖/‖W₀‖`` of the kernel, RMS of the kernel and bias changes and values.

    Biases start at zero (Keras's default), so their *relative* change is undefined: the table
    gives their RMS before and after instead.
    """
    rows = []
    for name, w0 in initial.items():
        w = final[name]
        kernel_change = w["kernel"] - w0["kernel"]
        row = {
            "layer": name, "kernel_shape": "×".join(map(str, w0["kernel"].shape)), "kernel_count": int(w0["kernel"].size),
            "kernel_rel_change": float(np.linalg.norm(kernel_change) / np.linalg.norm(w0["kernel"])),
            "kernel_rms_initial": float(np.sqrt(np.mean(w0["kernel"]**2))),
            "kernel_rms_change": float(np.sqrt(np.mean(kernel_change**2)))
        }
        if w0["bias"] is not None:
            row["bias_rms_initial"] = float(np.sqrt(np.mean(w0["bias"]**2)))
            row["bias_rms_final"] = float(np.sqrt(np.mean(w["bias"]**2)))
        rows.append(row)
    return rows


#: The three ways chapter 04 measures how far a layer moved (keys of :func:`weight_changes` rows,
#: after :func:`add_output_changes`), with their names in the book.
MEASURES = {
    "kernel_rel_change": "relative change ‖W − W₀‖ / ‖W₀‖", "kernel_rms_change": "absolute RMS change of the kernel",
    "output_rel_change": "relative change of the layer's output on validation inputs"
}


def output_change(z0: np.ndarray, z: np.ndarray) -> float:
    """``‖z − z₀‖ / ‖z₀‖`` over all elements: how much a layer's output ``z`` (trained weights) differs
    from ``z₀`` (initial weights) on the *same* inputs, relative to ``z₀``.

    Unlike the kernel's own relative change this weighs each weight by the inputs it meets: a change
    on inputs that are (nearly) zero counts (nearly) nothing, a change aligned with the inputs counts
    fully, and it compares layers of any fan-in on the one scale that matters downstream, their output.
    """
    z0 = np.asarray(z0, np.float64)
    z = np.asarray(z, np.float64)
    if z0.shape != z.shape:
        raise ValueError(f"output shapes differ: {z0.shape} and {z.shape}")
    norm = np.linalg.norm(z0)
    if not norm > 0:
        raise ValueError("output_change: the initial output is zero, a relative change is undefined")
    return float(np.linalg.norm(z - z0) / norm)


def add_output_changes(rows: list[dict], changes: dict[str, float]) -> list[dict]:
    """:func:`weight_changes` rows with ``output_rel_change`` from ``changes`` ``{layer: value}``."""
    return [{**row, "output_rel_change": float(changes[row["layer"]])} for row in rows]


def measure_outcomes(rows: list[dict], measures=tuple(MEASURES)) -> dict[str, dict]:
    """For each measure, whether the dense layers moved least, most or neither.

    ``rows``: :func:`weight_changes` rows (with the keys in ``measures``). Per measure:
    ``{"outcome": "dense least" | "dense most" | "mixed" | "no dense layer", "dense": {layer: value},
    "other": {layer: value}}``: "dense least" when every dense kernel's value is below every other
    kernel's, "dense most" when every one is above, "mixed" otherwise.
    """
    out = {}
    for key in measures:
        dense = {r["layer"]: float(r[key]) for r in rows if r["layer"].startswith("dense")}
        other = {r["layer"]: float(r[key]) for r in rows if not r["layer"].startswith("dense")}
        if not dense or not other:
            outcome = "no dense layer"
        elif max(dense.values()) < min(other.values()):
            outcome = "dense least"
        elif min(dense.values()) > max(other.values()):
            outcome = "dense most"
        else:
            outcome = "mixed"
        out[key] = {"outcome": outcome, "dense": dense, "other": other}
    return out


def weight_histograms(initial: dict, final: dict, bins: int = 80) -> plt.Figure:
    """The paper's Figure 4: per layer (one row each), histograms of kernel and bias values
    before (grey) and after (blue) training, counts on a log scale."""
    names = list(initial)
    fig, axes = plt.subplots(len(names), 2, figsize=(TEXT_WIDTH, 1.9 * len(names) + 0.8), squeeze=False)
    for row, name in enumerate(names):
        for col, part in enumerate(("kernel", "bias")):
            ax = axes[row, col]
            before, after = initial[name][part], final[name][part]
            if before is None:
                ax.set_axis_off()
                continue
            lo = float(min(before.min(), after.min()))
            hi = float(max(before.max(), after.max()))
            edges = np.linspace(lo, hi if hi > lo else lo + 1e-6, bins + 1)
            ax.hist(before.ravel(), bins=edges, histtype="step", color="gray", label="initial", log=True)
            ax.hist(after.ravel(), bins=edges, histtype="step", color=TRAIN_COLOUR, label="trained", log=True)
            ax.set_title(f"{name} {part}")
            ax.set_ylabel("count")
            ax.yaxis.set_minor_formatter(plt.NullFormatter())  # decades only: no 2×10⁰, 3×10⁰ … labels
            ax.locator_params(axis="x", nbins=3)
            ax.ticklabel_format(axis="x", style="sci", scilimits=(-2, 3))
            if row == len(names) - 1 or (row == len(names) - 2 and initial[names[-1]][part] is None):
                ax.set_xlabel("value")
    handles, labels = axes[0, 0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="upper center", ncol=2, frameon=False)  # above the panels, hiding no data
    fig.tight_layout(rect=(0, 0, 1, 1 - 0.45 / fig.get_figheight()))
    return fig


def change_bars(rows: list[dict], measures: dict[str, str] | None = None) -> plt.Figure:
    """How far each layer's kernel moved, one panel per measure (``measures``: ``{row key: name}``,
    default :data:`MEASURES`), bars on linear axes from zero (dense layers in orange), each bar
    labelled with its value (a log axis with two ticks made 0.09 look 20× smaller than 0.17)."""
    measures = measures or MEASURES
    names = [r["layer"] for r in rows]
    colours = ["tab:orange" if n.startswith("dense") else TRAIN_COLOUR for n in names]
    fig, axes = plt.subplots(len(measures), 1, figsize=(TEXT_WIDTH, 2.5 * len(measures) + 0.4), sharex=True, squeeze=False)
    for ax, (key, title) in zip(axes[:, 0], measures.items()):
        values = [float(r[key]) for r in rows]
        ax.bar(names, values, color=colours)
        for x, value in enumerate(values):
            ax.text(x, value, f"{value:.3g}", ha="center", va="bottom")
        ax.set_ylim(0, max(values) * 1.25 if max(values) > 0 else 1)
        ax.set(title=title, ylabel="RMS (weight units)" if key == "kernel_rms_change" else "ratio")
        ax.grid(axis="y", alpha=0.3)
        ax.locator_params(axis="y", nbins=4)
    fig.tight_layout()
    return fig


def dense_input_maps(kernel0: np.ndarray, kernel: np.ndarray, n: int, units) -> plt.Figure:
    """What ``dense_1`` units look at: their k-space weights as ``n × n`` magnitude maps.

    ``kernel0``/``kernel``: ``(2n², width)`` initial/trained kernels; a unit's column reshapes to
    ``(n, n, 2)`` (the Flatten order of the (real, imaginary) input). Rows: initial ``|W₀|``,
    trained ``|W|`` and the change ``|W − W₀|`` (complex magnitudes), one column per unit in
    ``units``; one colour scale per row (a labelled colorbar on the right), so that the units of a
    row compare directly. At most :data:`TEXT_WIDTH` wide including its labels, 12 pt text.
    """
    units = list(units)
    as_map = lambda column: np.hypot(*np.moveaxis(column.reshape(n, n, 2), -1, 0))  # noqa: E731
    maps = [[as_map(kernel0[:, u]) for u in units], [as_map(kernel[:, u]) for u in units],
            [as_map(kernel[:, u] - kernel0[:, u]) for u in units]]
    cols = len(units)
    panel = min(1.45, (TEXT_WIDTH - 1.6) / max(cols, 1))  # room on the right for the colorbars' ticks and labels
    width = min(TEXT_WIDTH, panel * cols + 1.6)
    fig = plt.figure(figsize=(width, 3 * panel + 0.75))
    grid = fig.add_gridspec(3, cols + 1, width_ratios=[1] * cols + [0.07])
    labels = (("initial", "|W₀|"), ("trained", "|W|"), ("change", "|W − W₀|"))
    for row, (row_maps, (name, quantity)) in enumerate(zip(maps, labels)):
        vmax = max(float(m.max()) for m in row_maps) or 1.0
        for col, (image, unit) in enumerate(zip(row_maps, units)):
            ax = fig.add_subplot(grid[row, col])
            handle = image_panel(ax, image, f"unit {unit}" if row == 0 else None, cmap="magma", vmin=0, vmax=vmax)
            if col == 0:
                ax.set_ylabel(name)
        bar = fig.colorbar(handle, cax=fig.add_subplot(grid[row, -1]), label=quantity)
        bar.ax.locator_params(nbins=3)
    fig.tight_layout(w_pad=0.3, h_pad=0.4)
    return fig


def change_energy_map(kernel0: np.ndarray, kernel: np.ndarray, n: int) -> np.ndarray:
    """Where in k-space ``dense_1`` changed: ``Σ_units Σ_(re, im) (W − W₀)²`` as an ``(n, n)`` map."""
    change = (kernel - kernel0).reshape(n, n, 2, -1)
    return np.sum(change.astype(np.float64)**2, axis=(2, 3))


def output_energy_map(kernel0: np.ndarray, kernel: np.ndarray, n: int) -> np.ndarray:
    """Where in image space ``dense_2`` changed: ``Σ_inputs (W − W₀)²`` per output unit, as ``(n, n)``.

    ``kernel``: ``(width, n²)``; its outputs are reshaped to the n × n image grid (the model's
    ``Reshape``), so the map shows which pixels' weights moved.
    """
    change = (kernel - kernel0).astype(np.float64)
    return np.sum(change**2, axis=0).reshape(n, n)


def radial_profile(energy: np.ndarray, bins: int = 16) -> dict:
    """Mean of ``energy`` ``(n, n)`` per element in rings around the grid's centre (``n // 2``, where
    the centred FFT puts DC).

    Radius in units of ``n / 2`` (1 = the edge's midpoint, the Nyquist frequency along an axis in
    k-space; the corners reach √2). Returns ``{"edges"`` (bins + 1 radii), ``"mean"`` (per ring, mean
    per element; NaN for an empty ring), ``"share"`` (ring's share of the total), ``"count"}``.
    """
    energy = np.asarray(energy, np.float64)
    n = energy.shape[0]
    radius = _radius(n)
    edges = np.linspace(0, radius.max() + 1e-9, bins + 1)
    which = np.clip(np.digitize(radius, edges) - 1, 0, bins - 1)
    count = np.bincount(which.ravel(), minlength=bins)
    total = np.bincount(which.ravel(), weights=energy.ravel(), minlength=bins)
    with np.errstate(invalid="ignore"):
        mean = np.where(count > 0, total / np.maximum(count, 1), np.nan)
    return {"edges": edges, "mean": mean, "share": total / energy.sum(), "count": count}


def ring(energy: np.ndarray, bins: int = 16) -> dict:
    """The ring where ``energy`` ``(n, n)`` concentrates, from its :func:`radial_profile`.

    The ring: the rings (radial bins) whose mean per element is at least half the largest ring's,
    from the innermost to the outermost such bin (full width at half maximum of the radial profile).
    Returns ``{"peak_radius"`` (centre of the densest ring), ``"inner", "outer"`` (the ring's radii,
    units of n / 2), ``"share_inside", "share_ring", "share_outside"`` (of the energy, summing to 1),
    ``"area_ring"`` (the ring's share of the grid's elements), ``"density_ring"`` (share_ring /
    area_ring: how many times the uniform density)}``.
    """
    profile = radial_profile(energy, bins)
    mean, edges = profile["mean"], profile["edges"]
    peak = int(np.nanargmax(mean))
    above = np.flatnonzero(np.nan_to_num(mean, nan=0.0) >= mean[peak] / 2)
    first, last = int(above.min()), int(above.max())
    share = profile["share"]
    area = profile["count"] / profile["count"].sum()
    share_ring = float(share[first:last + 1].sum())
    area_ring = float(area[first:last + 1].sum())
    return {
        "peak_radius": float((edges[peak] + edges[peak + 1]) / 2), "inner": float(edges[first]), "outer": float(edges[last + 1]),
        "share_inside": float(share[:first].sum()), "share_ring": share_ring, "share_outside": float(share[last + 1:].sum()),
        "area_ring": area_ring, "density_ring": share_ring / area_ring if area_ring else float("nan")
    }


def _radius(n: int) -> np.ndarray:
    """Distance of each element of an ``(n, n)`` grid from its centre ``(n // 2, n // 2)``, in units of n / 2."""
    y, x = np.indices((n, n)) - n // 2
    return np.hypot(y, x) / (n / 2)


def central_fraction(energy: np.ndarray, fraction: float = 0.25) -> float:
    """Share of ``energy`` ``(n, n)`` inside the central ``(fraction·n)²`` block (low frequencies)."""
    n = energy.shape[0]
    half = max(1, round(fraction * n)) // 2
    c = n // 2
    return float(energy[c - half:c + half, c - half:c + half].sum() / energy.sum())


def energy_map_figure(maps: dict[str, np.ndarray], rings: dict[str, dict] | None = None, bins: int = 16) -> plt.Figure:
    """Where the dense kernels changed: each of ``maps`` (``{title: (n, n) change energy}``, e.g.
    :func:`change_energy_map` of ``dense_1`` and :func:`output_energy_map` of ``dense_2``) on a log colour
    scale, its :func:`ring` (``rings``, same keys) drawn as two dashed circles; below, every map's
    :func:`radial_profile` normalised to its peak, the same ring radii as vertical lines."""
    names = list(maps)
    rings = rings or {}
    fig = plt.figure(figsize=(TEXT_WIDTH, 6.6))
    grid = fig.add_gridspec(2, len(names), height_ratios=[1.25, 1])
    profile_ax = fig.add_subplot(grid[1, :])
    for col, name in enumerate(names):
        energy = np.asarray(maps[name], np.float64)
        n = energy.shape[0]
        ax = fig.add_subplot(grid[0, col])
        handle = image_panel(ax, np.log10(energy + energy.max() * 1e-6), name, cmap="magma")
        fig.colorbar(handle, ax=ax, label="log10 Σ (W − W₀)²", shrink=0.85)
        profile = radial_profile(energy, bins)
        centres = (profile["edges"][:-1] + profile["edges"][1:]) / 2
        line, = profile_ax.plot(centres, profile["mean"] / np.nanmax(profile["mean"]), "o-", markersize=3,
                                label=name.split("\n")[0])
        if name in rings:
            for radius in (rings[name]["inner"], rings[name]["outer"]):
                ax.add_patch(plt.Circle((n // 2, n // 2), radius * n / 2, fill=False, linestyle="--", color="white", lw=1))
                profile_ax.axvline(radius, color=line.get_color(), linestyle="--", lw=1)
    profile_ax.set(xlabel="distance from the centre (units of n / 2)", ylabel="change per element\n(of its peak)", ylim=(0, 1.08))
    profile_ax.grid(alpha=0.3)
    profile_ax.legend(frameon=False, loc="upper center")
    fig.tight_layout()
    return fig
