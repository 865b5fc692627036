"""Reconstructions and what they score: images next to their targets and errors, per-volume
metrics, quality against a model's cost. Each function returns a matplotlib Figure.

Drawn in the book's style (:mod:`automap_nb.figures.style`: :data:`TEXT_WIDTH` inches wide, 12 pt
text), so they are shown at about their own size in the page's column with text no smaller than
the body's. Methods are named by the keys of :mod:`automap_nb.experiments.undersampling`
(``"zero_filled"``, ``"unet"``, …); their short labels here are for panels and ticks.
"""

from __future__ import annotations

import textwrap

import matplotlib.pyplot as plt
import numpy as np

from automap_nb.evaluate import psnr
from automap_nb.figures.style import TEXT_WIDTH, image_panel

SHORT_LABELS = {"mean_image": "mean image", "zero_filled": "zero-filled", "tv": "TV", "unet": "U-Net", "automap": "AUTOMAP"}
#: The methods that :func:`method_examples` shows. The mean training image is left out: it is the
#: same picture at every acceleration (it ignores the input); its numbers are in the tables.
EXAMPLE_METHODS = ("zero_filled", "tv", "unet", "automap")


def _acc_key(acceleration) -> str:
    """``4 → "4x"``, as :func:`automap_nb.experiments.undersampling.acc_key` (not imported: it loads Keras)."""
    return f"{acceleration:g}x"


def prediction_grid(targets: np.ndarray, columns: dict[str, np.ndarray], titles=None,
                    panel_labels: dict[str, list[str]] | None = None) -> plt.Figure:
    """The paper's Figure 5: one row per slice; ground truth, then each entry of ``columns``.

    ``targets`` ``(S, n, n)``; ``columns``: ``{name: (S, n, n)}`` images, shown on the targets'
    grey scale [0, 1] (ground truth and these columns first, in their order, with one colorbar
    below them), except names starting with ``"|error"`` (drawn last, on one colour scale for all
    their panels, with their own colorbar). ``titles``: optional per-row labels (a line break
    allowed). ``panel_labels``: optional ``{name: [one text per row]}`` written under each panel
    (e.g. its PSNR and SSIM). :data:`TEXT_WIDTH` wide, 12 pt text.
    """
    count = len(targets)
    errors = [name for name in columns if name.startswith("|error")]
    greys = ["ground truth"] + [name for name in columns if name not in errors]
    names = greys + errors
    stacks = {"ground truth": targets, **columns}
    emax = max((float(np.max(columns[name])) for name in errors), default=1.0) or 1.0
    panel = min(1.5, (TEXT_WIDTH - 0.6) / len(names))
    fig = plt.figure(figsize=(TEXT_WIDTH, count * (panel + 0.3) + 1.35))
    grid = fig.add_gridspec(count + 1, len(names), height_ratios=[1] * count + [0.06])
    for col, name in enumerate(names):
        error = name in errors
        for row in range(count):
            ax = fig.add_subplot(grid[row, col])
            handle = image_panel(ax, stacks[name][row],
                                 textwrap.fill(name, 14) if row == 0 else None, cmap="inferno" if error else "gray", vmin=0,
                                 vmax=emax if error else 1.0)
            if panel_labels and name in panel_labels:
                ax.set_xlabel(panel_labels[name][row], labelpad=2)
            if titles is not None and col == 0:
                ax.set_ylabel(titles[row])
        if col == len(greys) - 1:
            fig.colorbar(handle, cax=_bar_axes(fig, grid[count, :len(greys)]), orientation="horizontal",
                         label="|x| (volume max = 1)")
        if error and col == len(names) - 1:
            bar = fig.colorbar(handle, cax=_bar_axes(fig, grid[count, len(greys):]), orientation="horizontal", label="|error|")
            bar.ax.locator_params(nbins=3)
    fig.tight_layout(w_pad=0.2, h_pad=0.3)
    return fig


def _bar_axes(fig: plt.Figure, cell, inset: float = 0.08):
    """Axes for a horizontal colorbar in the gridspec ``cell``, ``inset`` of its width shorter at
    each end, so that the end labels of two colorbars side by side do not run into each other."""
    host = fig.add_subplot(cell)
    host.set_axis_off()
    return host.inset_axes([inset, 0.0, 1.0 - 2 * inset, 1.0])


def method_examples(target: np.ndarray, recon: dict, acc_list, index: int, methods=EXAMPLE_METHODS) -> plt.Figure:
    """One test slice under each of ``methods`` at each acceleration in ``acc_list``: first the
    reconstructions (one row per acceleration, the target on the left, the PSNR against the target
    under each panel), then their absolute errors (one row per acceleration, one colour scale for
    all). ``target`` ``(n, n)``; ``recon`` ``{acc: {method: (N, n, n)}}``; ``index`` the slice."""

    rows, cols = len(acc_list), 1 + len(methods)
    fig = plt.figure(figsize=(TEXT_WIDTH, 0.55 + 1.48 * 2 * rows))
    grid = fig.add_gridspec(2 * rows, cols + 1, width_ratios=[1] * cols + [0.08])
    axes = np.array([[fig.add_subplot(grid[row, col]) for col in range(cols)] for row in range(2 * rows)])
    vmax = float(target.max())
    errors = {acc: {m: np.abs(recon[acc][m][index] - target) for m in methods} for acc in acc_list}
    emax = max(float(e.max()) for by_method in errors.values() for e in by_method.values()) or 1.0
    for r, acc in enumerate(acc_list):
        image_ax, error_ax = axes[r], axes[rows + r]
        image_panel(image_ax[0], target, "target" if r == 0 else None, vmin=0, vmax=vmax)
        image_ax[0].set_ylabel(_acc_key(acc))
        error_ax[0].axis("off")
        error_ax[0].text(0.5, 0.5, f"|error|\nat {_acc_key(acc)}", ha="center", va="center", transform=error_ax[0].transAxes)
        for c, method in enumerate(methods, start=1):
            image = recon[acc][method][index]
            x_handle = image_panel(image_ax[c], image, SHORT_LABELS[method] if r == 0 else None, vmin=0, vmax=vmax)
            image_ax[c].set_xlabel(f"{psnr(target, image, data_range=vmax):.1f} dB", labelpad=2)
            e_handle = image_panel(error_ax[c], errors[acc][method], cmap="magma", vmin=0, vmax=emax)
    fig.colorbar(x_handle, cax=fig.add_subplot(grid[:rows, -1]), label="|x| (volume max = 1)")
    fig.colorbar(e_handle, cax=fig.add_subplot(grid[rows:, -1]), label="|error| (volume max = 1)")
    fig.tight_layout(w_pad=0.3, h_pad=0.5)
    return fig


def per_volume_metrics(metrics: dict, metric: str = "psnr", methods=None, clip: float = 80.0) -> plt.Figure:
    """``metric`` of every test volume (one dot each) and its mean over volumes (a bar) for every
    method, one panel per acceleration. ``metrics``: ``{method: {acc_key: evaluate_volumes(...)}}``
    (:func:`automap_nb.experiments.undersampling.reconstruct_all`'s ``"metrics"``); ``methods``: the
    rows, top to bottom (default: every method of ``metrics``), each in the colour of its place in
    ``metrics``. Values above ``clip`` (exact reconstructions) are drawn at ``clip`` as a triangle
    with their value."""
    from matplotlib.lines import Line2D

    methods = tuple(metrics) if methods is None else tuple(methods)
    colours = {method: f"C{i}" for i, method in enumerate(metrics)}
    keys = list(metrics[methods[0]])
    fig, axes = plt.subplots(1, len(keys), figsize=(TEXT_WIDTH, 0.95 + 0.42 * len(methods)), sharey=True, squeeze=False)
    unit = " (dB)" if "psnr" in metric else ""
    y = np.arange(len(methods))[::-1]
    for ax, key in zip(axes[0], keys):
        volumes = list(metrics[methods[0]][key]["per_volume"])
        shown = []
        for row, method in zip(y, methods):
            values = np.array([metrics[method][key]["per_volume"][v][metric] for v in volumes], dtype=float)
            inside = values <= clip
            ax.plot(
                np.minimum(values, clip)[inside], np.full(inside.sum(), row), "o", color=colours[method], markersize=7, alpha=0.75,
                linestyle="none")
            if (~inside).any():
                ax.plot([clip], [row], ">", color=colours[method], markersize=9)
                ax.annotate(f"{np.min(values[~inside]):.0f}", (clip, row), xytext=(-8, 7), textcoords="offset points", ha="right",
                            va="bottom")
            mean = float(np.mean(np.minimum(values, clip)))
            ax.plot([mean, mean], [row - 0.3, row + 0.3], color="black", linewidth=2)
            shown.extend(np.minimum(values, clip))
        low, high = min(shown), max(shown)
        pad = max(1.0, 0.08 * (high - low))
        ax.set_xlim(low - pad, high + pad)
        ax.set_title(key)
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlabel(f"{metric.upper()}{unit}" if "psnr" in metric else metric)
    axes[0, 0].set_yticks(y, [SHORT_LABELS.get(m, m) for m in methods])
    axes[0, 0].set_ylim(-0.6, len(methods) - 0.4)
    volumes = len(metrics[methods[0]][keys[0]]["per_volume"])
    handles = [
        Line2D([], [], marker="o", color="gray", alpha=0.75, linestyle="none", markersize=7),
        Line2D([], [], color="black", linewidth=2)
    ]
    fig.legend(handles, [f"one test volume ({volumes} in all)", "mean over volumes"], ncol=2, loc="upper center",
               bbox_to_anchor=(0.5, 0.0), frameon=False)
    fig.tight_layout()
    return fig


def psnr_against_cost(summary: list[dict], reference_psnr: float | None = None) -> plt.Figure:
    """Val PSNR (mean over seeds, bars from the lowest to the highest seed) against parameters
    (log axis) and against training time, one colour and marker per variant, filled at 1× and
    open at other accelerations; ``summary``: :func:`automap_nb.experiments.architecture.summarize_seeds` rows; ``reference_psnr``
    (e.g. the mean-image predictor's) as a dashed line, kept inside the axes."""
    from matplotlib.ticker import EngFormatter, LogLocator, NullFormatter

    fig, axes = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 3.4), sharey=True)
    variants = list(dict.fromkeys(r["variant"] for r in summary))
    style = {v: (f"C{i}", m) for i, (v, m) in enumerate(zip(variants, "osD^vP"))}
    for ax, xkey, xlabel in ((axes[0], "params", "parameters"), (axes[1], "train_seconds", "training time per run (s)")):
        for r in summary:
            color, marker = style[r["variant"]]
            err = [[r["val_psnr"] - r["val_psnr_min"]], [r["val_psnr_max"] - r["val_psnr"]]]
            ax.errorbar(r[xkey], r["val_psnr"], yerr=err, marker=marker, color=color, markersize=7, capsize=3, linestyle="none",
                        markerfacecolor=color if r["acceleration"] == "1x" else "white",
                        label=f"{r['variant']} {r['acceleration']}")
        if reference_psnr is not None:
            ax.axhline(reference_psnr, color="gray", linestyle="--", linewidth=1, label="mean training image")
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("val PSNR (dB, fastMRI)")
    axes[0].set_xscale("log")
    axes[0].xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axes[0].xaxis.set_major_formatter(EngFormatter())
    axes[0].xaxis.set_minor_formatter(NullFormatter())
    if reference_psnr is not None:  # the reference line stays visible above or below the points
        low = min([reference_psnr] + [r["val_psnr_min"] for r in summary])
        high = max([reference_psnr] + [r["val_psnr_max"] for r in summary])
        axes[0].set_ylim(low - 0.5, high + 0.5)
    handles, labels = axes[1].get_legend_handles_labels()
    fig.tight_layout()
    # the legend below the axes, in as many columns (at most 4) as fit the figure's width: the page
    # shows the figure with everything it draws, so a wider legend would widen the figure
    renderer = fig.canvas.get_renderer()
    for ncol in range(min(4, len(labels)), 0, -1):
        legend = fig.legend(handles, labels, ncol=ncol, loc="upper center", bbox_to_anchor=(0.5, 0.0), frameon=False)
        if ncol == 1 or legend.get_window_extent(renderer).width <= fig.bbox.width:
            break
        legend.remove()
    return fig


#: Shorter names of methods in :func:`paired_differences`' rows.
SHORT_NAMES = {"mean training image": "mean image", "TV (sigpy)": "TV"}
#: Colours of a paired difference by its outcome (:class:`automap_nb.statistics.Comparison`).
OUTCOME_COLOURS = {"a": "tab:blue", "b": "tab:red", "none": "0.45"}


def paired_differences(comparisons: dict, metrics=("psnr", "ssim"), short_names=None) -> plt.Figure:
    """A forest plot of paired differences: one row per compared pair, grouped (e.g. by
    acceleration), one panel per metric; the mean difference ``a − b`` over volumes as a dot, its
    bootstrap interval as a bar, zero as a dashed line. ``comparisons``: ``{group: {pair: {metric:
    Comparison}}}`` (:func:`automap_nb.experiments.undersampling.compare_all`); a row is named by its
    group and its methods, shortened by ``short_names`` (default :data:`SHORT_NAMES`).
    Coloured by outcome: blue, the first method better; red, the second; grey, no difference
    shown. A difference without an interval (a non-finite value, too few volumes) is written out."""
    from matplotlib.lines import Line2D

    short = SHORT_NAMES if short_names is None else short_names
    rows = [(group, by_metric) for group, by_pair in comparisons.items() for by_metric in by_pair.values()]
    fig, axes = plt.subplots(1, len(metrics), figsize=(TEXT_WIDTH, 1.3 + 0.32 * len(rows)), sharey=True, squeeze=False)
    y = -np.arange(len(rows), dtype=float)
    y -= 0.6 * np.cumsum([i > 0 and rows[i][0] != rows[i - 1][0] for i in range(len(rows))])  # a gap between groups
    for ax, metric in zip(axes[0], metrics):
        ax.axvline(0.0, color="black", linestyle="--", linewidth=1)
        for row, (_, by_metric) in zip(y, rows):
            c = by_metric[metric]
            if c.outcome in ("undefined", "too few volumes"):
                ax.text(0.5, row, c.outcome, transform=ax.get_yaxis_transform(), ha="center", va="center", color="0.3",
                        bbox=dict(facecolor="white", edgecolor="none", pad=1))
                continue
            colour = OUTCOME_COLOURS[c.outcome]
            ax.errorbar(c.difference, row, xerr=[[c.difference - c.low], [c.high - c.difference]], fmt="o", color=colour,
                        markersize=6, capsize=3)
        unit = " (dB)" if "psnr" in metric else ""
        ax.set_xlabel(f"{metric.upper()} difference{unit}")
        ax.grid(axis="x", alpha=0.3)
        ax.locator_params(axis="x", nbins=3)
    pairs = [f"{short.get(m[metrics[0]].a, m[metrics[0]].a)} − {short.get(m[metrics[0]].b, m[metrics[0]].b)}" for _, m in rows]
    names = [f"{group}: {pair}" if len(comparisons) > 1 else pair for (group, _), pair in zip(rows, pairs)]
    axes[0, 0].set_yticks(y, names)
    axes[0, 0].set_ylim(y.min() - 0.6, 0.6)
    first = rows[0][1][metrics[0]]
    handles = [Line2D([], [], marker="o", color=OUTCOME_COLOURS[k], linestyle="none") for k in ("a", "b", "none")]
    fig.legend(handles, ["first better", "second better", "no difference shown"], ncol=3, loc="upper center",
               bbox_to_anchor=(0.5, 0.0), frameon=False, handletextpad=0.2, columnspacing=0.8)
    fig.suptitle(f"first − second: mean and {100 * first.confidence:.0f} % interval over {first.volumes} {first.split} volumes")
    fig.tight_layout()
    return fig
