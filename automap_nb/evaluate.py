"""Image-quality metrics with the paper's and fastMRI's conventions.

Two PSNR conventions coexist in this collection, and they differ:

- :func:`psnr_max1` is the paper's ``20·log10(MAX) − 10·log10(MSE)`` with a *fixed* ``MAX``
  (1.0 here: prepared images are normalised so that each volume's maximum magnitude is 1). Chapters
  that compare with the paper's 28.2 dB quote it per slice, averaged over slices.
  :func:`psnr_max1_metric` is the same formula as a Keras metric (per sample of a batch, float32,
  capped at 120 dB), the one training logs.
- :func:`psnr`, :func:`nmse` and :func:`ssim` follow fastMRI's ``evaluate.py``: computed over a
  whole *volume* ``(S, H, W)`` with ``data_range = gt.max()`` of that volume; SSIM is scikit-image's
  ``structural_similarity`` per slice with that volume-wide data range, averaged over the slices.
  :func:`evaluate_volumes` groups slices by volume and reports the mean and 2·std over volumes,
  the way fastMRI reports its leaderboard numbers.

Exact reconstructions (``MSE == 0``) are handled explicitly: PSNR is ``float("inf")`` (the
mathematically correct value), never a crash, a ``nan`` or a divide-by-zero warning. NMSE is then
``0.0`` and SSIM ``1.0``. When any volume has an infinite PSNR, the aggregated mean is ``inf`` and
the 2·std is ``nan`` (a spread of infinite values is undefined); ``evaluate_volumes`` counts such
volumes under ``"infinite"`` so that a table can say so rather than print a misleading number.

All functions take real arrays (magnitude images); complex input raises ``ValueError``.
"""

from __future__ import annotations

import math
from typing import Iterable, Sequence

import numpy as np
from skimage.metrics import structural_similarity

METRICS = ("nmse", "psnr", "ssim", "psnr_max1")
#: Fewest volumes for which a table reports a spread (± 2 std) between volumes; below it, means only.
MIN_VOLUMES_FOR_SPREAD = 3


def _as_pair(gt, pred, ndim: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Check ``gt``/``pred`` are real arrays of equal shape (and ``ndim`` if given); float64 copies."""
    gt = np.asarray(gt)
    pred = np.asarray(pred)
    if np.iscomplexobj(gt) or np.iscomplexobj(pred):
        raise ValueError("gt and pred must be real (take abs() of complex images first)")
    if gt.shape != pred.shape:
        raise ValueError(f"gt shape {gt.shape} != pred shape {pred.shape}")
    if gt.size == 0:
        raise ValueError("gt and pred are empty")
    if ndim is not None and gt.ndim != ndim:
        raise ValueError(f"gt and pred must have {ndim} dimensions, got shape {gt.shape}")
    return gt.astype(np.float64), pred.astype(np.float64)


def _psnr_from_mse(mse: float, max_value: float) -> float:
    """``20·log10(max_value) − 10·log10(mse)``; ``inf`` when ``mse == 0``."""
    if mse == 0.0:
        return math.inf
    return 20.0 * math.log10(max_value) - 10.0 * math.log10(mse)


def psnr_max1(gt, pred, max_value: float = 1.0) -> float:
    """The paper's PSNR in dB: ``20·log10(max_value) − 10·log10(MSE)`` over all elements.

    ``gt``, ``pred``: real arrays of the same (any) shape, e.g. one slice ``(H, W)``.
    ``max_value`` is fixed (default 1.0, the maximum of images normalised to ``[0, 1]``), *not*
    taken from ``gt`` as fastMRI does. Returns ``inf`` for an exact reconstruction.
    """
    gt, pred = _as_pair(gt, pred)
    if not (isinstance(max_value, (int, float)) and max_value > 0 and math.isfinite(max_value)):
        raise ValueError(f"max_value must be a positive finite number, got {max_value!r}")
    return _psnr_from_mse(float(np.mean((gt - pred)**2)), float(max_value))


def psnr_max1_metric(y_true, y_pred):
    """:func:`psnr_max1` per sample as a Keras metric: ``(B, …)`` tensors → ``(B,)`` dB; an exact
    output scores 120 dB (MSE floored at 1e-12), not ``inf``."""
    from keras import ops  # here: the numpy metrics above need no Keras
    axes = tuple(range(1, len(y_pred.shape)))
    mse = ops.mean(ops.square(ops.cast(y_true, y_pred.dtype) - y_pred), axis=axes)
    return -10.0 * ops.log10(ops.maximum(mse, 1e-12))


def nmse(gt, pred) -> float:
    """Normalised MSE ``‖gt − pred‖² / ‖gt‖²`` over all elements (fastMRI; per volume there).

    Raises ``ValueError`` when ``gt`` is all zeros (NMSE undefined).
    """
    gt, pred = _as_pair(gt, pred)
    denom = float(np.sum(gt**2))
    if denom == 0.0:
        raise ValueError("nmse: gt is all zeros, NMSE is undefined")
    return float(np.sum((gt - pred)**2)) / denom


def _data_range(gt: np.ndarray, data_range) -> float:
    value = float(gt.max()) if data_range is None else float(data_range)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError(f"data_range must be positive and finite, got {value!r} (gt.max() if None)")
    return value


def psnr(gt, pred, data_range: float | None = None) -> float:
    """fastMRI PSNR in dB over all elements, ``data_range`` defaulting to ``gt.max()``.

    Equals ``skimage.metrics.peak_signal_noise_ratio(gt, pred, data_range=gt.max())`` but returns
    ``inf`` (without a warning) for an exact reconstruction. For a volume ``(S, H, W)`` this is the
    fastMRI per-volume PSNR.
    """
    gt, pred = _as_pair(gt, pred)
    rng = _data_range(gt, data_range)
    return _psnr_from_mse(float(np.mean((gt - pred)**2)), rng)


def ssim(gt, pred, data_range: float | None = None) -> float:
    """fastMRI SSIM of a volume: ``gt``/``pred`` ``(S, H, W)`` (a single ``(H, W)`` slice is allowed).

    scikit-image ``structural_similarity`` (default 7×7 uniform window) on each slice with
    ``data_range`` = the volume maximum ``gt.max()`` unless given, averaged over slices.
    Slices must be at least 7×7.
    """
    gt, pred = _as_pair(gt, pred)
    if gt.ndim == 2:
        gt, pred = gt[None], pred[None]
    if gt.ndim != 3:
        raise ValueError(f"ssim expects (S, H, W) or (H, W) arrays, got shape {gt.shape}")
    if min(gt.shape[1:]) < 7:
        raise ValueError(f"ssim needs slices of at least 7x7, got {gt.shape[1:]}")
    rng = _data_range(gt, data_range)
    values = [structural_similarity(g, p, data_range=rng) for g, p in zip(gt, pred)]
    return float(np.mean(values))


def _squeeze_channel(array, name: str) -> np.ndarray:
    array = np.asarray(array)
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 3:
        raise ValueError(f"{name} must be (N, H, W) or (N, H, W, 1), got shape {array.shape}")
    return array


def _name(value) -> str:
    return value.decode() if isinstance(value, (bytes, np.bytes_)) else str(value)


def aggregate(values: Iterable[float]) -> tuple[float, float]:
    """``(mean, 2·std)`` over volumes (population std, as fastMRI's ``np.std``).

    Non-finite values are not hidden: if any value is ``inf`` the mean is ``inf`` and the 2·std
    ``nan``. An empty input raises ``ValueError``.
    """
    arr = np.asarray(list(values), dtype=np.float64)
    if arr.size == 0:
        raise ValueError("aggregate: no values")
    if not np.all(np.isfinite(arr)):
        if np.any(np.isnan(arr)):
            return math.nan, math.nan
        return float(np.mean(arr)), math.nan  # +inf (or -inf) mean, undefined spread
    return float(np.mean(arr)), float(2.0 * np.std(arr))


def evaluate_volumes(targets, preds, volumes: Sequence) -> dict:
    """fastMRI-style per-volume evaluation of a stack of slices.

    ``targets``, ``preds``: ``(N, H, W)`` or ``(N, H, W, 1)`` real magnitude images;
    ``volumes``: ``(N,)`` volume names (``str`` or ``bytes``), the slices of one volume need not
    be contiguous (they are grouped in their original order).

    Per volume: ``nmse``, ``psnr`` (data_range = the volume's ``gt.max()``), ``ssim`` (per slice,
    volume data range, averaged) as in fastMRI; ``psnr_max1`` is the paper's PSNR (MAX = 1) per
    slice averaged over the volume's slices; ``slices`` the slice count.

    Returns ``{"per_volume": {name: {...}}, "mean": {metric: float}, "std2": {metric: float},
    "volumes": int, "infinite": {metric: count of volumes with an infinite value}}``; ``mean`` and
    ``std2`` are over volumes (each volume weighs the same), see :func:`aggregate` for ``inf``.
    """
    targets = _squeeze_channel(targets, "targets")
    preds = _squeeze_channel(preds, "preds")
    if targets.shape != preds.shape:
        raise ValueError(f"targets shape {targets.shape} != preds shape {preds.shape}")
    names = [_name(v) for v in np.asarray(volumes).reshape(-1)]
    if len(names) != targets.shape[0]:
        raise ValueError(f"volumes has {len(names)} entries for {targets.shape[0]} slices")
    order: dict[str, list[int]] = {}
    for i, name in enumerate(names):
        order.setdefault(name, []).append(i)
    per_volume = {}
    for name, idx in order.items():
        gt, pred = targets[idx], preds[idx]
        per_volume[name] = {
            "nmse": nmse(gt, pred), "psnr": psnr(gt, pred), "ssim": ssim(gt, pred),
            "psnr_max1": float(np.mean([psnr_max1(g, p) for g, p in zip(gt, pred)])), "slices": len(idx)
        }
    mean, std2, infinite = {}, {}, {}
    for metric in METRICS:
        values = [v[metric] for v in per_volume.values()]
        mean[metric], std2[metric] = aggregate(values)
        infinite[metric] = int(sum(math.isinf(v) for v in values))
    return {"per_volume": per_volume, "mean": mean, "std2": std2, "volumes": len(per_volume), "infinite": infinite}
