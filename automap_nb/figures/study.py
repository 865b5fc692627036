"""Figures of the learned rule over several models (chapters 07 and 09)."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt

from automap_nb.figures.style import TEXT_WIDTH

#: Marker colour of each status of :func:`automap_nb.statistics.learned`.
STATUS_COLOURS = {"learned": "tab:green", "inconclusive": "tab:orange", "not learned": "tab:red"}


def gain_intervals(results: list, labels: list[str] | None = None) -> plt.Figure:
    """Each model's paired PSNR gain over the mean training image with its interval (one row per
    :class:`automap_nb.statistics.Learned` in ``results``, named ``labels`` or the results' model
    names), coloured by status; a grey line at 0 (the mean image) and a dashed line at the rule's
    margin, which a whole interval must clear."""
    statuses = list(dict.fromkeys(r.status for r in results))
    legend_rows = math.ceil((len(statuses) + 2) / 2)
    height = 1.4 + 0.45 * len(results) + 0.3 * legend_rows
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH, height))
    for i, r in enumerate(results):
        g = r.gain
        colour = STATUS_COLOURS[r.status]
        if math.isfinite(g.low) and math.isfinite(g.high):
            ax.errorbar(g.difference, i, xerr=[[g.difference - g.low], [g.high - g.difference]], color=colour, marker="o",
                        capsize=4, linestyle="none")
        else:  # too few volumes for an interval: the mean alone, hollow
            ax.plot(g.difference, i, marker="o", color=colour, markerfacecolor="white", linestyle="none")
    margin = results[0].margin_db
    ax.axvline(0, color="gray", linewidth=1)
    ax.axvline(margin, color="black", linestyle="--", linewidth=1)
    ax.set_yticks(range(len(results)), labels or [r.model for r in results])
    ax.set_ylim(len(results) - 0.5, -0.5)
    values = [v for r in results for v in (r.gain.low, r.gain.high, r.gain.difference) if math.isfinite(v)] + [0, margin]
    span = max(values) - min(values)
    ax.set_xlim(min(values) - 0.08 * span, max(values) + 0.08 * span)
    ax.set_xlabel(f"PSNR gain over the mean image (dB, {results[0].gain.volumes} {results[0].split} volumes)")
    handles = [plt.Line2D([], [], color=STATUS_COLOURS[s], marker="o", linestyle="none") for s in statuses]
    handles += [plt.Line2D([], [], color="gray", linewidth=1), plt.Line2D([], [], color="black", linestyle="--", linewidth=1)]
    names = statuses + ["mean training image", f"rule's margin, {margin:g} dB"]
    fig.legend(handles, names, loc="lower center", ncol=2, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout(rect=(0, 0.3 * legend_rows / height, 1, 1))
    return fig
