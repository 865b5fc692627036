"""Figures for the data chapters (01, 02). Each function returns a matplotlib Figure."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np

from . import augment, transforms


def _image(ax, array, title, cmap="gray", **kwargs):
    handle = ax.imshow(array, cmap=cmap, **kwargs)
    ax.set_title(title, fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    return handle


def log_magnitude(kspace: np.ndarray) -> np.ndarray:
    """``log(1 + |k| / median|k|)``: a display scale on which k-space structure is visible."""
    magnitude = np.abs(kspace)
    return np.log1p(magnitude / max(float(np.median(magnitude)), 1e-30))


def image_and_kspace(image: np.ndarray, kspace: np.ndarray, title: str = "") -> plt.Figure:
    """The seed's Figure 1: a knee (here: sample) image and its log-magnitude k-space."""
    fig, axes = plt.subplots(1, 2, figsize=(8, 4.2))
    _image(axes[0], np.abs(image), "image |x| (320 × 320 crop)")
    _image(axes[1], log_magnitude(kspace), f"log |k-space| ({kspace.shape[0]} × {kspace.shape[1]})",
           aspect="auto")
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def intensity_histograms(values_by_group: dict[str, np.ndarray], xlabel: str) -> plt.Figure:
    """Histograms (log counts) of pixel values, one per group (e.g. acquisition)."""
    fig, ax = plt.subplots(figsize=(7, 3.5))
    for name, values in values_by_group.items():
        ax.hist(np.ravel(values), bins=100, histtype="step", log=True, label=name)
    ax.set_xlabel(xlabel)
    ax.set_ylabel("pixels (log)")
    ax.legend()
    fig.tight_layout()
    return fig


def pipeline_steps(kspace: np.ndarray, size: int, crop: int = 320) -> plt.Figure:
    """Every preprocessing step on one slice: k-space → full image → crop → downsampled → input."""
    full = transforms.ifft2c(kspace)
    cropped = transforms.center_crop(full, (crop, crop))
    small = transforms.downsample(cropped, size)
    small_norm, _ = transforms.normalize(small)
    panels = [
        (log_magnitude(kspace), f"1. k-space {kspace.shape[0]}×{kspace.shape[1]} (log)", {"aspect": "auto"}),
        (np.abs(full), f"2. ifft2c → {full.shape[0]}×{full.shape[1]}", {"aspect": "auto"}),
        (np.abs(cropped), f"3. centre crop {crop}×{crop}", {}),
        (np.abs(small_norm), f"4. downsample {size}×{size}, /max", {"vmin": 0, "vmax": 1}),
        (np.where(np.abs(small_norm) > 0.05, np.angle(small_norm), np.nan), "phase kept (|x| > 5 %)",
         {"cmap": "twilight", "vmin": -np.pi, "vmax": np.pi}),
        (log_magnitude(transforms.fft2c(small_norm)), f"5. input k-space {size}×{size} (log)", {}),
    ]
    fig, axes = plt.subplots(1, len(panels), figsize=(3 * len(panels), 3.4))
    for ax, (array, title, kwargs) in zip(axes, panels):
        _image(ax, array, title, **kwargs)
    fig.tight_layout()
    return fig


def augmentation_examples(image: np.ndarray, rng: np.random.Generator, count: int = 4) -> plt.Figure:
    """The reflection tiling of ``image`` and ``count`` random crops from it."""
    fig, axes = plt.subplots(1, count + 1, figsize=(3 * (count + 1), 3.2))
    mosaic = np.abs(augment.reflection_tiling(image))
    _image(axes[0], mosaic, "2 × 2 reflection tiling", vmin=0, vmax=1)
    for k, ax in enumerate(axes[1:]):
        _image(ax, np.abs(augment.reflect_tile_crop(image, rng)), f"random crop {k + 1}", vmin=0, vmax=1)
    fig.tight_layout()
    return fig


def input_channels(inputs: np.ndarray) -> plt.Figure:
    """The two network input channels (real, imaginary k-space) on a symmetric log scale."""
    fig, axes = plt.subplots(1, 2, figsize=(7, 3.4))
    for ax, channel, name in zip(axes, (0, 1), ("real", "imaginary")):
        values = inputs[..., channel]
        handle = _image(ax, np.sign(values) * np.log1p(np.abs(values) * 100), f"input channel: {name}",
                        cmap="RdBu_r")
        fig.colorbar(handle, ax=ax, fraction=0.046, label="sign · log(1 + 100|v|)")
    fig.tight_layout()
    return fig


def split_bars(counts: dict[str, int], ylabel: str = "slices") -> plt.Figure:
    """A bar per split."""
    fig, ax = plt.subplots(figsize=(4.5, 3))
    ax.bar(list(counts), list(counts.values()), color=["tab:blue", "tab:orange", "tab:green"])
    for x, value in enumerate(counts.values()):
        ax.text(x, value, str(value), ha="center", va="bottom")
    ax.set_ylabel(ylabel)
    fig.tight_layout()
    return fig
