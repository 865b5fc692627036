"""Learning curves: how a model's loss and PSNR move while it trains. Each function returns a
matplotlib Figure."""

from __future__ import annotations

import math

import matplotlib.pyplot as plt
import numpy as np

from automap_nb.figures.style import TEXT_WIDTH, TRAIN_COLOUR, VAL_COLOUR


def training_curves(history: dict) -> plt.Figure:
    """The paper's Figure 3: loss and PSNR per epoch on train (blue) and val (red), and the lr."""
    epochs = [e["epoch"] for e in history["epochs"]]
    get = lambda key: [e[key] for e in history["epochs"]]  # noqa: E731
    validated = [e for e in history["epochs"] if math.isfinite(e["val_loss"])]  # training.train's validate_every
    val = lambda key: ([e["epoch"] for e in validated], [e[key] for e in validated])  # noqa: E731
    fig, axes = plt.subplots(3, 1, figsize=(TEXT_WIDTH, 7.6), sharex=True)
    axes[0].plot(epochs, get("loss"), color=TRAIN_COLOUR, label="train")
    axes[0].plot(*val("val_loss"), color=VAL_COLOUR, label="val")
    axes[0].set(yscale="log", ylabel="loss (MSE + L1 activity)", title="loss")
    axes[1].plot(epochs, get("psnr"), color=TRAIN_COLOUR, label="train")
    axes[1].plot(*val("val_psnr"), color=VAL_COLOUR, label="val")
    axes[1].set(ylabel="PSNR (dB, MAX = 1)", title="PSNR")
    axes[2].plot(epochs, get("lr"), color="black")
    axes[2].set(yscale="log", ylabel="learning rate", title="learning rate")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[-1].set_xlabel("epoch")
    axes[0].legend()
    fig.tight_layout()
    return fig


def final_trend(history: dict, fraction: float = 0.25) -> dict:
    """How a run ended, read from its ``history`` (``training.train``'s): the learning rate of the
    first and last epochs and its peak, and the validation PSNR's least-squares slope over the last
    ``fraction`` of the epochs (validated epochs only; at least two are needed).

    Returns ``{"epochs", "peak_lr", "final_lr", "final_lr_share"`` (final / peak),
    ``"window_start", "window_end", "window_points"`` (epochs and validation points in the window),
    ``"slope_db_per_100_epochs"``, ``"window_gain_db"`` (slope × the window's length in epochs),
    ``"samples_per_epoch"``}``; the slope is NaN when the window holds fewer than two validations.
    """
    if not 0 < fraction <= 1:
        raise ValueError(f"fraction must be in (0, 1], got {fraction!r}")
    epochs = history["epochs"]
    if not epochs:
        raise ValueError("final_trend: the history has no epochs")
    lrs = [float(e["lr"]) for e in epochs]
    last = epochs[-1]["epoch"]
    start = max(epochs[0]["epoch"], last - max(1, round(fraction * len(epochs))) + 1)
    window = [e for e in epochs if e["epoch"] >= start and math.isfinite(e["val_psnr"])]
    slope = math.nan
    if len(window) >= 2:
        x = np.array([e["epoch"] for e in window], float)
        y = np.array([e["val_psnr"] for e in window], float)
        slope = float(np.polyfit(x, y, 1)[0]) * 100
    return {
        "epochs": len(epochs), "peak_lr": max(lrs), "final_lr": lrs[-1], "final_lr_share": lrs[-1] / max(lrs),
        "window_start": int(start), "window_end": int(last), "window_points": len(window), "slope_db_per_100_epochs": slope,
        "window_gain_db": slope * (last - start) / 100, "samples_per_epoch": float(np.median([e["samples"] for e in epochs]))
    }


def transfer_curves(results: dict, references: dict, mode_labels: dict[str, str]) -> plt.Figure:
    """Validation PSNR against samples seen (left) and training seconds (right) for each fine-tuning
    mode; ``results`` ``{mode: {"curve": automap_nb.experiments.transfer.curves(history), …}}``,
    ``mode_labels`` ``{mode: legend label}`` (``transfer.MODE_LABELS``); horizontal lines for
    ``references`` (``{label: psnr}``, e.g. the mean image, chapter 03's model before fine-tuning)."""
    fig, axes = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 4.2), sharey=True)
    for mode, result in results.items():
        c = result["curve"]
        for ax, x in zip(axes, (c["samples"], c["seconds"])):
            ax.plot(x, c["val_psnr"], "o-", markersize=3, label=mode_labels[mode])
    styles = iter([":", "--", "-."])
    for label, value in references.items():
        style = next(styles)
        for ax in axes:
            ax.axhline(value, color="grey", linestyle=style, label=label if ax is axes[0] else None)
    axes[0].set_xlabel("training samples seen")
    axes[1].set_xlabel("training time (s)")
    axes[0].set_ylabel("validation PSNR (dB, MAX = 1)")
    handles, labels = axes[0].get_legend_handles_labels()
    fig.legend(handles, labels, loc="lower center", ncol=3, frameon=False)
    fig.tight_layout(rect=(0, 0.2, 1, 1))
    return fig
