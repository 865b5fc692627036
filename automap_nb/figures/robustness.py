"""How much a reconstruction moves under a small k-space perturbation (Antun et al. 2019): the
change against the perturbation's size, and the images of the worst case. Each function returns a
matplotlib Figure; the rows and cases come from :mod:`automap_nb.experiments.stability`."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from automap_nb.figures.style import TEXT_WIDTH, image_panel


def perturbation_curves(rows: list[dict], method_labels: dict[str, str]) -> plt.Figure:
    """Output change against perturbation size, both relative to ``‖y‖`` (%), one panel per group:
    worst searched perturbation (solid) and random noise (dashed) per method, and the inverse FFT's
    bound ``‖Δf‖ = ‖r‖`` (dotted). ``rows``: :func:`automap_nb.experiments.stability.summary_rows`;
    ``method_labels`` ``{method: legend label}`` (``stability.METHOD_LABELS``), whose order gives
    each method its colour."""
    groups = list(dict.fromkeys(r["group"] for r in rows))
    fig, axes = plt.subplots(1, len(groups), figsize=(TEXT_WIDTH, 4.3), squeeze=False, sharey=True)
    colours = dict(zip(method_labels, plt.rcParams["axes.prop_cycle"].by_key()["color"]))
    for ax, group in zip(axes[0], groups):
        mine = [r for r in rows if r["group"] == group]
        budgets_pct = sorted({100 * r["budget"] for r in mine})
        ax.plot(budgets_pct, budgets_pct, ":", color="black", label="‖Δf‖ = ‖r‖")
        for method in dict.fromkeys(r["method"] for r in mine):
            rs = sorted((r for r in mine if r["method"] == method), key=lambda r: r["budget"])
            x = [100 * r["budget"] for r in rs]
            ax.plot(x, [x_ * r["amp_worst"] for x_, r in zip(x, rs)], "o-", color=colours.get(method),
                    label=method_labels.get(method, method))
            ax.plot(x, [x_ * r["amp_random"] for x_, r in zip(x, rs)], "s--", color=colours.get(method), alpha=0.6)
        ax.set_xscale("log")
        ax.set_yscale("log")
        ax.set_xticks(budgets_pct, [f"{x:g}" for x in budgets_pct])
        ax.xaxis.set_minor_formatter(plt.NullFormatter())
        ax.set_xlabel("‖r‖ / ‖y‖ (%)")
        ax.set_title(group)
        ax.legend(loc="upper left", frameon=False)
    axes[0, 0].set_ylabel("‖f(y+r) − f(y)‖ / ‖y‖ (%)")
    styles = [
        plt.Line2D([], [], color="grey", marker="o", label="worst perturbation found"),
        plt.Line2D([], [], color="grey", marker="s", linestyle="--", alpha=0.6, label="Gaussian noise, same ‖r‖")
    ]
    fig.legend(handles=styles, loc="lower center", ncol=2, frameon=False)
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    return fig


def perturbed_images(cases: list[dict]) -> plt.Figure:
    """Rows of ``{"label", "target", "input_image", "clean", "perturbed"}`` (``(n, n)`` arrays): the
    target, the inverse FFT of the perturbed input, the method's output on ``y`` and on ``y + r``
    (grey, [0, max target]) and ``|f(y + r) − f(y)|`` (its own colour scale, with a colorbar)."""
    titles = ["target", "|IFFT(y+r)|", "f(y)", "f(y+r)", "|f(y+r)−f(y)|"]
    fig, axes = plt.subplots(len(cases), 5, figsize=(TEXT_WIDTH, 1.45 * len(cases) + 0.5), squeeze=False)
    for row, case in enumerate(cases):
        vmax = float(case["target"].max())
        panels = [case["target"], case["input_image"], case["clean"], case["perturbed"]]
        for col, image in enumerate(panels):
            image_panel(axes[row, col], image, titles[col] if row == 0 else None, vmin=0, vmax=vmax)
        diff = np.abs(case["perturbed"] - case["clean"])
        handle = image_panel(axes[row, 4], diff, titles[4] if row == 0 else None, cmap="magma", vmin=0)
        fig.colorbar(handle, ax=axes[row, 4], fraction=0.046, pad=0.04)
        axes[row, 0].set_ylabel(case["label"])
    fig.tight_layout()
    return fig
