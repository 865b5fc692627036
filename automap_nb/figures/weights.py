"""What training did to AUTOMAP's weights: the statistics and the figures that show them.

The statistics (:func:`layer_weights`, :func:`weight_changes`, :func:`change_energy_map`,
:func:`central_fraction`) live here, next to the figures that draw them, because they exist only to
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


def weight_histograms(initial: dict, final: dict, bins: int = 80) -> plt.Figure:
    """The seed's Figure 4: per layer (one row each), histograms of kernel and bias values
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


def relative_change_bars(rows: list[dict]) -> plt.Figure:
    """``‖W − W₀‖/‖W₀‖`` per layer on a linear axis from zero, each bar labelled with its value
    (a log axis with two ticks made 0.09 look 20× smaller than 0.17)."""
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH, 3.6))
    names = [r["layer"] for r in rows]
    values = [r["kernel_rel_change"] for r in rows]
    colours = ["tab:orange" if n.startswith("dense") else TRAIN_COLOUR for n in names]
    ax.bar(names, values, color=colours)
    for x, value in enumerate(values):
        ax.text(x, value, f"{value:.3g}", ha="center", va="bottom")
    ax.set_ylim(0, max(values) * 1.18 if max(values) > 0 else 1)
    ax.set(ylabel="‖W − W₀‖ / ‖W₀‖", title="relative change of each layer's kernel (orange: dense)")
    ax.grid(axis="y", alpha=0.3)
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


def central_fraction(energy: np.ndarray, fraction: float = 0.25) -> float:
    """Share of ``energy`` ``(n, n)`` inside the central ``(fraction·n)²`` block (low frequencies)."""
    n = energy.shape[0]
    half = max(1, round(fraction * n)) // 2
    c = n // 2
    return float(energy[c - half:c + half, c - half:c + half].sum() / energy.sum())


def energy_map_figure(energy: np.ndarray) -> plt.Figure:
    """The change energy of :func:`change_energy_map` on a log colour scale."""
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH * 0.8, 4.6))
    handle = image_panel(ax, np.log10(energy + energy.max() * 1e-6),
                         "dense_1 change per k-space coefficient\n(summed over units, DC in the centre)", cmap="magma")
    fig.colorbar(handle, ax=ax, label="log10 Σ (W − W₀)²")
    fig.tight_layout()
    return fig
