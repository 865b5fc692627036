"""Figures of the data: MRI images and their k-space, each preprocessing step, augmentation, the
network's input channels, the splits, undersampling masks, and the natural-image crops that stand in
for MRI slices when a model is transferred. Each function returns a matplotlib Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from automap_nb.data import augment, transforms
from automap_nb.figures.style import TEXT_WIDTH, image_panel


def log_magnitude(kspace: np.ndarray) -> np.ndarray:
    """``log(1 + |k| / median|k|)``: a display scale on which k-space structure is visible."""
    magnitude = np.abs(kspace)
    return np.log1p(magnitude / max(float(np.median(magnitude)), 1e-30))


def image_and_kspace(image: np.ndarray, kspace: np.ndarray, title: str = "") -> plt.Figure:
    """The paper's Figure 1: an image and its log-magnitude k-space, each at its true aspect ratio
    (k-space is 640 readout samples × W phase-encode lines), with axes in samples and a colorbar."""
    rows, cols = kspace.shape
    # same height for both panels: the k-space panel is cols/rows as wide as it is tall
    fig, axes = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 6.0), gridspec_kw={"width_ratios": [1, cols / rows]})
    magnitude = np.abs(image)
    handle = axes[0].imshow(magnitude / magnitude.max(), cmap="gray", vmin=0, vmax=1)
    axes[0].set_title("image |x|, 320 × 320 crop")
    axes[0].set_xlabel("column (pixel)")
    axes[0].set_ylabel("row (pixel)")
    fig.colorbar(handle, ax=axes[0], orientation="horizontal", pad=0.18, label="|x| / max |x|")
    handle = axes[1].imshow(log_magnitude(kspace), cmap="magma", aspect="equal")
    axes[1].set_title(f"k-space, {rows} × {cols}")
    axes[1].set_xlabel("phase-encode line")
    axes[1].set_ylabel("readout sample")
    fig.colorbar(handle, ax=axes[1], orientation="horizontal", pad=0.18, label="log(1 + |k| / median |k|)")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def intensity_histograms(values_by_group: dict[str, np.ndarray], xlabel: str) -> plt.Figure:
    """Histograms (log counts) of pixel values, one per group (e.g. acquisition). Tiny or huge values
    (raw k-space units) are shown in units of the power of ten of the largest value, named in the
    axis label, so that the tick labels stay short and never overlap."""
    peak = max(float(np.max(np.abs(values))) for values in values_by_group.values())
    exponent = int(np.floor(np.log10(peak))) if peak > 0 and not 0.01 <= peak < 1000 else 0
    scale = 10.0**exponent
    fig, ax = plt.subplots(figsize=(TEXT_WIDTH, 3.8))
    for name, values in values_by_group.items():
        ax.hist(np.ravel(values) / scale, bins=100, histtype="step", log=True, label=name)
    ax.xaxis.set_major_locator(plt.MaxNLocator(nbins=8))
    ax.set_xlabel(f"{xlabel}, in units of $10^{{{exponent}}}$" if exponent else xlabel)
    ax.set_ylabel("pixels (log scale)")
    ax.legend()
    fig.tight_layout()
    return fig


def pipeline_steps(kspace: np.ndarray, size: int, crop: int = 320) -> plt.Figure:
    """Every preprocessing step on one slice, two rows of three panels at their true aspect ratios:
    k-space → full image → crop → downsampled → its phase → input k-space."""
    full = transforms.ifft2c(kspace)
    cropped = transforms.center_crop(full, (crop, crop))
    small = transforms.downsample(cropped, size)
    small_norm, _ = transforms.normalize(small)
    panels = [(log_magnitude(kspace), f"1. k-space\n{kspace.shape[0]} × {kspace.shape[1]} (log)", {"cmap": "magma"}),
              (np.abs(full), f"2. ifft2c\n{full.shape[0]} × {full.shape[1]}", {}),
              (np.abs(cropped), f"3. centre crop\n{crop} × {crop}", {}),
              (np.abs(small_norm), f"4. downsampled\n{size} × {size}, / max", {"vmin": 0, "vmax": 1}),
              (np.where(np.abs(small_norm) > 0.05, np.angle(small_norm),
                        np.nan), "phase kept\n(where |x| > 5 %)", {"cmap": "twilight", "vmin": -np.pi, "vmax": np.pi}),
              (log_magnitude(transforms.fft2c(small_norm)), f"5. input k-space\n{size} × {size} (log)", {"cmap": "magma"})]
    fig, axes = plt.subplots(2, 3, figsize=(TEXT_WIDTH, 6.4))
    for ax, (array, title, kwargs) in zip(axes.ravel(), panels):
        handle = image_panel(ax, array, title, **kwargs)
        if "phase" in title:
            bar = fig.colorbar(handle, ax=ax, fraction=0.046, ticks=[-np.pi, 0, np.pi])
            bar.ax.set_yticklabels(["−π", "0", "π"])
            bar.set_label("phase (rad)")
    fig.tight_layout()
    return fig


def augmentation_examples(image: np.ndarray, rng: np.random.Generator, count: int = 4) -> plt.Figure:
    """The reflection tiling of ``image`` (left, twice the size) and ``count`` random crops from it."""
    fig = plt.figure(figsize=(TEXT_WIDTH, 3.6))
    grid = fig.add_gridspec(2, 4)
    mosaic = np.abs(augment.reflection_tiling(image))
    image_panel(fig.add_subplot(grid[:, :2]), mosaic, "2 × 2 reflection tiling", vmin=0, vmax=1)
    for k in range(count):
        ax = fig.add_subplot(grid[k // 2, 2 + k % 2])
        image_panel(ax, np.abs(augment.reflect_tile_crop(image, rng)), f"crop {k + 1}", vmin=0, vmax=1)
    fig.tight_layout()
    return fig


def input_channels(inputs: np.ndarray) -> plt.Figure:
    """The two network input channels (real, imaginary k-space) on a symmetric log scale."""
    fig, axes = plt.subplots(1, 2, figsize=(TEXT_WIDTH, 3.6))
    for ax, channel, name in zip(axes, (0, 1), ("real", "imaginary")):
        values = inputs[..., channel]
        shown = np.sign(values) * np.log1p(np.abs(values) * 100)
        limit = float(np.max(np.abs(shown)))
        handle = image_panel(ax, shown, f"input: {name} part", cmap="RdBu_r", vmin=-limit, vmax=limit)
        fig.colorbar(handle, ax=ax, fraction=0.046, label="sign · log(1 + 100|v|)")
    fig.tight_layout()
    return fig


def split_bars(counts: dict[str, int], ylabel: str = "slices") -> plt.Figure:
    """A bar per split."""
    fig, ax = plt.subplots(figsize=(4.8, 3.4))
    ax.bar(list(counts), list(counts.values()), color=["tab:blue", "tab:orange", "tab:green"])
    for x, value in enumerate(counts.values()):
        ax.text(x, value, str(value), ha="center", va="bottom")
    ax.set_ylabel(ylabel)
    fig.tight_layout()
    return fig


def undersampling_masks(image: np.ndarray, masks: dict) -> plt.Figure:
    """Per acceleration (one column each): the column mask (white: sampled phase-encode lines),
    the masked log k-space and the zero-filled image of one slice, with colorbars for the last
    two rows. ``image`` complex ``(n, n)``; ``masks`` ``{acc: (n,) bool}``."""
    kspace = transforms.fft2c(image)
    scale = float(np.median(np.abs(kspace)))
    cols = len(masks)
    grid = {"width_ratios": [1] * cols + [0.07]}
    fig, axes = plt.subplots(3, cols + 1, figsize=(TEXT_WIDTH, 6.9), squeeze=False, gridspec_kw=grid)
    log_k = {acc: np.log1p(np.abs(kspace * mask) / scale) for acc, mask in masks.items()}
    kmax = max(float(k.max()) for k in log_k.values())
    vmax = float(np.abs(image).max())
    for col, (acc, mask) in enumerate(masks.items()):
        n = mask.shape[0]
        image_panel(axes[0, col], np.broadcast_to(mask[None, :], (n, n)), f"{acc:g}x: {int(mask.sum())}/{n} lines", vmin=0, vmax=1)
        k_handle = image_panel(axes[1, col], log_k[acc], cmap="magma", vmin=0, vmax=kmax)
        x_handle = image_panel(axes[2, col], np.abs(transforms.ifft2c(kspace * mask)), vmin=0, vmax=vmax)
    for row, label in enumerate(("mask", "log |k|", "zero-filled")):
        axes[row, 0].set_ylabel(label)
    axes[0, -1].axis("off")
    fig.colorbar(k_handle, cax=axes[1, -1], label="log(1 + |k|/med)")
    fig.colorbar(x_handle, cax=axes[2, -1], label="|x|")
    fig.tight_layout(w_pad=0.4, h_pad=0.6)
    return fig


def natural_image_crops(images: np.ndarray, labels) -> plt.Figure:
    """Magnitude (top, grey, [0, 1]) and phase (bottom, radians, with a colorbar) of a few complex
    crops ``(count, n, n)`` of natural pictures (:func:`automap_nb.experiments.transfer.natural_images`),
    each titled with its label (the picture's name)."""
    count = len(images)
    fig, axes = plt.subplots(2, count, figsize=(TEXT_WIDTH, 2 * TEXT_WIDTH / count + 0.8), squeeze=False)
    for i, (image, label) in enumerate(zip(images, labels)):
        image_panel(axes[0, i], np.abs(image), label, vmin=0, vmax=1)
        handle = image_panel(axes[1, i], np.angle(image), cmap="twilight", vmin=-np.pi, vmax=np.pi)
    axes[0, 0].set_ylabel("magnitude")
    axes[1, 0].set_ylabel("phase")
    bar = fig.colorbar(handle, ax=axes[1, :].tolist(), orientation="horizontal", fraction=0.08, pad=0.08)
    bar.set_label("phase (rad)")
    bar.set_ticks([-np.pi, 0, np.pi], labels=["−π", "0", "π"])
    return fig
