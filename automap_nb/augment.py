"""Training-time augmentation of the seed paper (§3.1): random crops of a reflection tiling.

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
    top = int(rng.integers(0, h))
    left = int(rng.integers(0, w))
    return reflection_tiling(image)[..., top : top + h, left : left + w]
