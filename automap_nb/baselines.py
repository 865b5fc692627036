"""Non-learned reconstruction baselines on masked k-space: zero-filled and total-variation CS.

Inputs follow the prepared dataset: k-space channels ``(N, n, n, 2)`` (real, imaginary) of
``fft2c(image) · kspace_scale``, already multiplied by column masks, or masked here with
``masks`` ``(N, n)`` (see :mod:`automap_nb.data.subsample`). Outputs are magnitude images
``(N, n, n)`` float32 on the scale of the prepared targets (per-volume max ≈ 1).

Total variation (TV) solves, per slice, ``min_x ½‖M F x − y‖² + λ‖∇x‖₁`` with ``F`` the centred
orthonormal 2-D FFT, ``M`` the column mask and ``∇`` periodic finite differences along both axes
(anisotropic TV of the complex image), using :class:`sigpy.mri.app.TotalVariationRecon` with
single-coil sensitivities (``mps = 1``) and the mask as data weights. It runs sigpy's
primal–dual hybrid gradient with fixed steps ``tau``·``sigma`` = 1/9 (‖[MF; ∇]‖² ≤ 1 + 8), which
skips sigpy's power iteration and converges in about 100 iterations with ``tau = 10`` on 128²
phantoms (``tau = 1`` needs several hundred). ``y`` is the un-scaled k-space
(``inputs / kspace_scale``), so λ refers to images with maximum magnitude 1; it must be tuned on
the validation split (:func:`tune_tv_lambda`).

BART (fastMRI's TV baseline, ``bart pics -d0 -S -R T:7:0:λ -i 200``) is used only as an optional
cross-check when ``bart`` is on ``PATH`` (:func:`bart_available`).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import numpy as np
from tqdm import tqdm

from automap_nb import evaluate
from automap_nb.data import prepared, subsample, transforms

DEFAULT_TAU = 10.0


def _check_inputs(inputs: np.ndarray, masks: np.ndarray | None) -> tuple[np.ndarray, np.ndarray | None]:
    inputs = np.asarray(inputs)
    if inputs.ndim != 4 or inputs.shape[-1] != 2 or inputs.shape[1] != inputs.shape[2]:
        raise ValueError(f"inputs must be (N, n, n, 2), got shape {inputs.shape}")
    if masks is not None:
        masks = np.asarray(masks, dtype=bool)
        if masks.ndim == 1:
            masks = np.broadcast_to(masks, (inputs.shape[0], masks.shape[0]))
        if masks.shape != (inputs.shape[0], inputs.shape[2]):
            raise ValueError(f"masks must be ({inputs.shape[0]}, {inputs.shape[2]}), got {masks.shape}")
    return inputs, masks


def zero_filled(inputs: np.ndarray, kspace_scale: float, masks: np.ndarray | None = None) -> np.ndarray:
    """Zero-filled reconstruction: ``|ifft2c(masked k-space)|``, float32 ``(N, n, n)``.

    ``inputs`` ``(N, n, n, 2)``; ``masks`` ``(N, n)`` or ``(n,)`` applied first if given (inputs
    that are already masked need none). At acceleration 1 this is the exact inverse FFT.
    """
    inputs, masks = _check_inputs(inputs, masks)
    if masks is not None:
        inputs = subsample.apply_mask(inputs, masks)
    return np.abs(transforms.inputs_to_image(inputs, kspace_scale)).astype(np.float32)


def mean_image_metrics(prepared_path, split: dict) -> dict:
    """fastMRI-style metrics (:func:`automap_nb.evaluate.evaluate_volumes`) of the trivial predictor on
    ``split`` (a :func:`automap_nb.data.prepared.read_split` result): the mean training target
    ``(n, n)``, whatever the input. A learned model at or below it has learned nothing from its input."""
    mean = np.broadcast_to(prepared.mean_target(prepared_path, "train")[..., None], split["targets"].shape)
    return evaluate.evaluate_volumes(split["targets"], mean, split["volume"])


def zero_filled_input(kspace_scale: float):
    """:func:`zero_filled` as a training ``input_transform``: ``(B, n, n, 2)`` → ``(B, n, n, 1)``."""

    def zero_filled_magnitude(inputs: np.ndarray) -> np.ndarray:
        return zero_filled(inputs, kspace_scale)[..., None]

    return zero_filled_magnitude


def tv_slice(kspace: np.ndarray, mask: np.ndarray, lamda: float, max_iter: int = 100, tau: float = DEFAULT_TAU) -> np.ndarray:
    """TV reconstruction of one slice: centred k-space ``(n, n)`` complex, mask ``(n,)`` → complex ``(n, n)``.

    Samples outside the mask are ignored (weights 0). ``lamda`` ≥ 0, ``max_iter`` PDHG iterations.
    """
    import sigpy.mri.app as sp_app

    n = kspace.shape[-1]
    if kspace.shape != (n, n) or np.shape(mask) != (n, ):
        raise ValueError(f"tv_slice expects kspace (n, n) and mask (n,), got {kspace.shape} and {np.shape(mask)}")
    if not (lamda >= 0):
        raise ValueError(f"lamda must be >= 0, got {lamda!r}")
    weights = np.broadcast_to(np.asarray(mask, dtype=np.float32), (n, n)).copy()
    y = (np.asarray(kspace, dtype=np.complex64) * weights)[None]
    app = sp_app.TotalVariationRecon(y, np.ones((1, n, n), np.complex64), float(lamda), weights=weights, max_iter=int(max_iter),
                                     show_pbar=False, tau=tau, sigma=1.0 / (9.0 * tau))
    return np.asarray(app.run())


def tv_reconstruct(inputs: np.ndarray, masks: np.ndarray, kspace_scale: float, lamda: float, max_iter: int = 100,
                   progress: bool = True, desc: str = "TV") -> tuple[np.ndarray, float]:
    """TV reconstruction of every slice: ``inputs`` ``(N, n, n, 2)``, ``masks`` ``(N, n)`` or ``(n,)``.

    Returns ``(magnitudes float32 (N, n, n), seconds per slice)`` (wall time of the solver loop,
    one slice at a time, one CPU process), with a progress bar over slices.
    """
    inputs, masks = _check_inputs(inputs, masks)
    if masks is None:
        raise ValueError("masks are required for TV")
    kspace = transforms.channels_to_complex(inputs) / kspace_scale
    out = np.empty(inputs.shape[:3], dtype=np.float32)
    start = time.perf_counter()
    for i in tqdm(range(len(inputs)), desc=desc, disable=not progress, leave=False):
        out[i] = np.abs(tv_slice(kspace[i], masks[i], lamda, max_iter))
    seconds = (time.perf_counter() - start) / max(1, len(inputs))
    return out, seconds


def tune_tv_lambda(inputs: np.ndarray, targets: np.ndarray, volumes, masks: np.ndarray, kspace_scale: float, lambdas,
                   max_iter: int = 100, progress: bool = True, desc: str = "TV λ") -> dict:
    """Choose λ on a validation split: the grid value with the best mean per-volume fastMRI PSNR.

    ``targets`` ``(N, n, n[, 1])``, ``volumes`` ``(N,)``. Returns ``{"lambda": best, "grid":
    [{"lambda", "psnr", "ssim", "nmse"}...], "seconds_per_slice": mean over the grid}``. Ties go
    to the smaller λ.
    """
    lambdas = [float(v) for v in lambdas]
    if not lambdas:
        raise ValueError("lambdas: the λ grid is empty")
    grid, times = [], []
    for lam in lambdas:
        recon, seconds = tv_reconstruct(inputs, masks, kspace_scale, lam, max_iter, progress, desc=f"{desc} {lam:g}")
        scores = evaluate.evaluate_volumes(targets, recon, volumes)["mean"]
        grid.append({"lambda": lam, "psnr": scores["psnr"], "ssim": scores["ssim"], "nmse": scores["nmse"]})
        times.append(seconds)
    best = max(grid, key=lambda row: (row["psnr"], -row["lambda"]))
    return {"lambda": best["lambda"], "grid": grid, "seconds_per_slice": float(np.mean(times))}


# ---- optional BART cross-check ---------------------------------------------------------------


def bart_available() -> str | None:
    """Path of the ``bart`` executable, or None (then print why the cross-check is skipped)."""
    return shutil.which("bart")


def _write_cfl(base: Path, array: np.ndarray) -> None:
    dims = list(array.shape) + [1] * (16 - array.ndim)
    base.with_suffix(".hdr").write_text("# Dimensions\n" + " ".join(map(str, dims)) + "\n")
    np.asarray(array, dtype=np.complex64).ravel(order="F").tofile(base.with_suffix(".cfl"))


def _read_cfl(base: Path) -> np.ndarray:
    dims = [int(d) for d in base.with_suffix(".hdr").read_text().splitlines()[1].split()]
    while len(dims) > 1 and dims[-1] == 1:
        dims.pop()
    data = np.fromfile(base.with_suffix(".cfl"), dtype=np.complex64)
    return data.reshape(dims, order="F")


def bart_tv_slice(kspace: np.ndarray, mask: np.ndarray, lamda: float, iters: int = 200) -> np.ndarray:
    """fastMRI's BART TV baseline on one slice: ``bart pics -d0 -S -R T:7:0:λ -i iters``.

    ``kspace`` ``(n, n)`` centred, ``mask`` ``(n,)``; single coil with sensitivities 1. Returns
    the magnitude ``(n, n)`` (``-S`` undoes pics' internal data scaling; pics uses a unitary
    centred FFT, like ours). Raises ``RuntimeError`` if bart fails. Not exercised in this
    repository's tests (bart is not installed by default).
    """
    exe = bart_available()
    if exe is None:
        raise RuntimeError("bart is not on PATH")
    n = kspace.shape[-1]
    masked = np.asarray(kspace) * np.asarray(mask, dtype=np.float32)[None, :]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        _write_cfl(tmp / "ksp", masked.reshape(n, n, 1, 1))
        _write_cfl(tmp / "sens", np.ones((n, n, 1, 1), np.complex64))
        cmd = [
            exe, "pics", "-d0", "-S", "-R", f"T:7:0:{lamda}", "-i",
            str(iters),
            str(tmp / "ksp"),
            str(tmp / "sens"),
            str(tmp / "out")
        ]
        proc = subprocess.run(cmd, capture_output=True, text=True, env={**os.environ, "OMP_NUM_THREADS": "1"})
        if proc.returncode:
            raise RuntimeError(f"bart pics failed ({proc.returncode}): {proc.stderr.strip().splitlines()[-1:]}")
        return np.abs(_read_cfl(tmp / "out")).reshape(n, n).astype(np.float32)
