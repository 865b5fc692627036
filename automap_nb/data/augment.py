"""Training-time augmentation of the paper (§3.1): random crops of a reflection tiling.

The image is tiled 2 × 2 with its four reflections (original, left-right flip, up-down flip, both),
so the tiling is continuous across every seam; a random ``H × W`` window of that ``2H × 2W`` mosaic
is a translated copy of the anatomy that wraps around with mirror symmetry instead of hard edges.
"""

from __future__ import annotations

import numpy as np


def reflection_tiling(image: np.ndarray) -> np.ndarray:
    """The ``(..., 2H, 2W)`` mosaic ``[[x, fliplr(x)], [flipud(x), flipud(fliplr(x))]]``."""
    top = np.concatenate([image, image[..., ::-1]], axis=-1)
    return np.concatenate([top, top[..., ::-1, :]], axis=-2)


def reflect_tile_crop(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random ``H × W`` crop of :func:`reflection_tiling` of ``image`` ``(..., H, W)``.

    Works on real or complex arrays; the same offset is used for every leading index, so a stack
    of channels stays aligned. The offset is uniform over ``[0, H) × [0, W)``; offset (0, 0)
    returns the image unchanged.
    """
    h, w = image.shape[-2:]
    top, left = crop_offset(rng, h, w)
    rows, cols = reflected_indices(top, h), reflected_indices(left, w)
    return image[..., rows[:, None], cols[None, :]]  # = reflection_tiling(image)[..., top:top+h, left:left+w]


def reflected_indices(offset: int, size: int) -> np.ndarray:
    """Indices into an axis of length ``size`` of the window ``[offset, offset + size)`` of its
    mirrored doubling ``[0 … size−1, size−1 … 0]`` (the tiling's axis), without building it."""
    i = (offset + np.arange(size)) % (2 * size)
    return np.where(i < size, i, 2 * size - 1 - i)


def crop_offset(rng: np.random.Generator, h: int, w: int) -> tuple[int, int]:
    """The ``(top, left)`` offset :func:`reflect_tile_crop` draws: uniform over ``[0, h) × [0, w)``.

    Two draws from ``rng``, ``top`` first; :mod:`automap_nb.data.pipeline` draws the same numbers on
    the host and crops on the device.
    """
    return int(rng.integers(0, h)), int(rng.integers(0, w))
