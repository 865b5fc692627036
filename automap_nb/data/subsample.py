"""Cartesian undersampling masks in the style of fastMRI (written for this collection).

Conventions:

- A mask selects *phase-encode columns*: the last image axis (width ``n``) of centred k-space
  ``(..., n, n)``. A mask is a 1-D bool array ``(n,)``; it multiplies every row.
- The fully sampled low-frequency block has ``num_low = round(n · center_fraction)`` columns
  (at least 1) starting at ``n // 2 − num_low // 2``, so it always contains the DC column
  ``n // 2`` (same centring as :mod:`automap_nb.data.transforms`), for odd and even ``n``.
- Standard pairs (fastMRI): acceleration 4 with centre fraction 0.08, acceleration 8 with 0.04.
  Acceleration 1 is the all-ones mask (fully sampled).
- ``random``: the centre block plus every other column independently with probability
  ``(n/acc − num_low) / (n − num_low)``, so the *expected* number of columns is ``n / acc``.
- ``equispaced``: the centre block plus columns at a regular spacing from a random offset. The
  spacing is ``(n − num_low) / (n/acc − num_low)`` (rounded positions), so the total is ``n/acc``
  up to rounding and overlap with the centre block; fastMRI's first version used spacing ``acc``,
  which samples more than ``n/acc`` columns once the centre is added.
- Evaluation masks are deterministic per volume: :func:`volume_seed` hashes the volume name
  (SHA-256, stable across processes and platforms, unlike Python's ``hash``), so every method in
  every chapter sees the same mask for the same volume, as fastMRI seeds its validation masks
  per file. Training masks are drawn afresh per sample by default (:func:`make_mask_fn`).
"""

from __future__ import annotations

import hashlib
from typing import Callable, Iterable

import numpy as np

KINDS = ("random", "equispaced")
#: fastMRI's standard centre fraction for each acceleration.
CENTER_FRACTIONS = {1: 1.0, 4: 0.08, 8: 0.04}


def center_fraction_for(acceleration: int) -> float:
    """The standard centre fraction of ``acceleration`` (1 → 1.0, 4 → 0.08, 8 → 0.04)."""
    if acceleration not in CENTER_FRACTIONS:
        raise ValueError(f"acceleration {acceleration!r} has no standard center_fraction "
                         f"(known: {sorted(CENTER_FRACTIONS)}); pass center_fraction explicitly")
    return CENTER_FRACTIONS[acceleration]


def _check(n: int, acceleration, center_fraction: float) -> int:
    """Validate arguments; return ``num_low``."""
    if not (isinstance(n, (int, np.integer)) and n >= 2):
        raise ValueError(f"n must be an integer >= 2, got {n!r}")
    if not (isinstance(acceleration, (int, float, np.integer, np.floating)) and acceleration >= 1):
        raise ValueError(f"acceleration must be a number >= 1, got {acceleration!r}")
    if not (0 < center_fraction <= 1):
        raise ValueError(f"center_fraction must be in (0, 1], got {center_fraction!r}")
    num_low = max(1, int(round(n * center_fraction)))
    if acceleration > 1 and num_low >= n / acceleration:
        raise ValueError(f"center_fraction {center_fraction} keeps {num_low} of {n} columns, already more than "
                         f"n/acceleration = {n / acceleration:.1f}: lower center_fraction or acceleration")
    return num_low


def center_block(n: int, num_low: int) -> np.ndarray:
    """Bool ``(n,)`` with ``num_low`` centre columns set, starting at ``n // 2 − num_low // 2``."""
    mask = np.zeros(n, dtype=bool)
    start = n // 2 - num_low // 2
    mask[start:start + num_low] = True
    return mask


def random_mask(n: int, acceleration: float, center_fraction: float, rng: np.random.Generator) -> np.ndarray:
    """fastMRI-style random column mask, bool ``(n,)`` (see module docstring)."""
    num_low = _check(n, acceleration, center_fraction)
    if acceleration == 1:
        return np.ones(n, dtype=bool)
    prob = (n / acceleration - num_low) / (n - num_low)
    mask = center_block(n, num_low)
    mask |= rng.random(n) < prob
    return mask


def equispaced_mask(n: int, acceleration: float, center_fraction: float, rng: np.random.Generator) -> np.ndarray:
    """fastMRI-style equispaced column mask from a random offset, bool ``(n,)``."""
    num_low = _check(n, acceleration, center_fraction)
    if acceleration == 1:
        return np.ones(n, dtype=bool)
    spacing = (n - num_low) / (n / acceleration - num_low)
    offset = rng.integers(0, max(1, int(np.floor(spacing))))
    positions = np.round(offset + spacing * np.arange(int(np.ceil(n / spacing)) + 1)).astype(int)
    mask = center_block(n, num_low)
    mask[positions[positions < n]] = True
    return mask


def mask_for(kind: str, acceleration: float, n: int, seed: int | np.random.Generator | None,
             center_fraction: float | None = None) -> np.ndarray:
    """One column mask, bool ``(n,)``.

    ``kind``: ``"random"`` or ``"equispaced"``; ``acceleration``: 1 (all ones), 4, 8 or any
    value ≥ 1 with an explicit ``center_fraction`` (default: :data:`CENTER_FRACTIONS`);
    ``seed``: an int (deterministic), a ``numpy.random.Generator`` (consumed), or None (fresh).
    """
    if kind not in KINDS:
        raise ValueError(f"mask kind must be one of {list(KINDS)}, got {kind!r}")
    if center_fraction is None:
        center_fraction = center_fraction_for(acceleration)
    rng = seed if isinstance(seed, np.random.Generator) else np.random.default_rng(seed)
    make = random_mask if kind == "random" else equispaced_mask
    return make(n, acceleration, center_fraction, rng)


def volume_seed(name: str | bytes) -> int:
    """A stable 32-bit seed from a volume name (SHA-256 of its UTF-8 bytes)."""
    data = name if isinstance(name, (bytes, np.bytes_)) else str(name).encode()
    return int.from_bytes(hashlib.sha256(bytes(data)).digest()[:4], "little")


def volume_masks(volumes: Iterable, kind: str, acceleration: float, n: int, center_fraction: float | None = None) -> np.ndarray:
    """Per-slice masks ``(N, n)`` bool for slices of the given ``volumes`` ``(N,)`` names.

    Every slice of a volume gets that volume's mask, seeded by :func:`volume_seed` of its name
    (``bytes`` and ``str`` names give the same mask), so all methods share it.
    """
    names = [v.decode() if isinstance(v, (bytes, np.bytes_)) else str(v) for v in volumes]
    cache: dict[str, np.ndarray] = {}
    for name in names:
        if name not in cache:
            cache[name] = mask_for(kind, acceleration, n, volume_seed(name), center_fraction)
    if not names:
        return np.zeros((0, n), dtype=bool)
    return np.stack([cache[name] for name in names])


def apply_mask(inputs: np.ndarray, masks: np.ndarray) -> np.ndarray:
    """Mask k-space channel inputs ``(..., n, n, 2)`` with column masks ``(n,)`` or ``(N, n)``.

    Returns float32 ``inputs * mask`` broadcast over rows and the (real, imaginary) channels.
    """
    inputs = np.asarray(inputs)
    masks = np.asarray(masks)
    if inputs.ndim < 3 or inputs.shape[-1] != 2:
        raise ValueError(f"inputs must be (..., n, n, 2), got shape {inputs.shape}")
    if masks.shape[-1] != inputs.shape[-2]:
        raise ValueError(f"mask width {masks.shape[-1]} != k-space width {inputs.shape[-2]}")
    if masks.ndim == 2 and masks.shape[0] != inputs.shape[0]:
        raise ValueError(f"{masks.shape[0]} masks for {inputs.shape[0]} inputs")
    return (inputs * masks[..., None, :, None].astype(inputs.dtype)).astype(np.float32)


def achieved_acceleration(mask: np.ndarray) -> float:
    """``n / (number of sampled columns)`` of a column mask ``(n,)`` (or mean over ``(N, n)``)."""
    mask = np.asarray(mask, dtype=bool)
    return float(mask.shape[-1] / mask.sum(axis=-1).mean())


def make_mask_fn(kind: str, acceleration, n: int, mode: str = "random", seed: int = 0,
                 center_fraction: float | None = None) -> Callable | None:
    """A training-mask hook for :class:`automap_nb.data.pipeline.PreparedDataset`:
    ``mask_fn(rng=None, n=None) -> bool (n,)``.

    ``acceleration``: one value, or a list of values from which each call picks one uniformly
    (as fastMRI's baseline trains one model on 4× and 8× masks); 1 means the all-ones mask, and
    a list of only 1 (or ``acceleration == 1``) returns ``None`` (no masking), so the trainer's
    fully sampled path is unchanged. Each acceleration uses its standard centre fraction unless
    ``center_fraction`` is given.
    ``mode="random"``: a fresh mask per call (per sample), drawn from ``rng`` when the caller
    passes a ``numpy.random.Generator`` (the trainer seeds it from ``(seed, epoch, row)``, so masks
    change every epoch yet reruns repeat), else from a generator seeded with ``seed`` at creation.
    ``mode="fixed"``: one mask per acceleration, that of ``seed`` (the single-mask setting of many
    papers; a documented option, not the default). ``n`` (the trainer passes it) must match the
    ``n`` the hook was made for. The hook's ``__name__`` (e.g. ``random_4x+8x``) names it in the
    training history.
    """
    if mode not in ("random", "fixed"):
        raise ValueError(f"mask mode must be 'random' or 'fixed', got {mode!r}")
    accels = list(acceleration) if isinstance(acceleration, (list, tuple)) else [acceleration]
    if not accels:
        raise ValueError("acceleration: empty list")
    if all(a == 1 for a in accels):
        return None
    fixed = [mask_for(kind, a, n, seed, center_fraction) for a in accels]  # validates arguments
    own = np.random.default_rng(seed)
    width = n

    def mask_fn(rng: np.random.Generator | None = None, n: int | None = None) -> np.ndarray:
        if n is not None and n != width:
            raise ValueError(f"mask_fn was made for n = {width}, called with n = {n}")
        rng = rng if rng is not None else own
        pick = int(rng.integers(len(accels))) if len(accels) > 1 else 0
        if mode == "fixed":
            return fixed[pick]
        return mask_for(kind, accels[pick], width, rng, center_fraction)

    mask_fn.__name__ = f"{kind}_" + "+".join(f"{a:g}x" for a in accels) + ("_fixed" if mode == "fixed" else "")
    return mask_fn
