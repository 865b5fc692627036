"""Chapter 08: how much a reconstruction moves under a small k-space perturbation (Antun et al. 2019).

Units. A perturbation ``r`` is k-space in the *image's* units: the centred orthonormal FFT of the
normalised complex image (``prepared.h5``'s ``inputs`` divided by ``kspace_scale``), stored like the
inputs as ``(B, n, n, 2)`` float32 (real, imaginary) channels. The FFT is unitary, so the exact
inverse FFT moves the complex image by exactly ``‖r‖`` and the magnitude image by at most ``‖r‖``
(reverse triangle inequality, pixel by pixel): the *amplification* ``‖f(y + r) − f(y)‖ / ‖r‖`` of
the inverse FFT (and of the zero-filled reconstruction, with ``r`` on the sampled entries) never
exceeds 1. Norms are Frobenius norms per slice.

Reconstruction operators map k-space channels ``(B, n, n, 2)`` (a Keras/backend tensor, image units)
to magnitude images ``(B, n, n)``, written with ``keras.ops`` only, so they are differentiable on
every backend: :func:`ifft_operator` (the exact inverse FFT, or zero-filled with a mask),
:func:`model_operator` (AUTOMAP: the network eats ``(M·y)·kspace_scale``) and :func:`unet_operator`
(the U-Net of chapter 06 on the zero-filled magnitude). TV (:mod:`automap_nb.baselines`, sigpy) is
not differentiable here; :func:`tv_operator` evaluates it in numpy on perturbations found for the
other methods.

The search (:func:`search`) is Antun et al.'s gradient ascent with momentum on
``J(r) = ‖f(y + r) − f(y)‖² − λ‖r‖²``, per slice, kept inside a ball ``‖r‖ ≤ radius`` (projected
ascent): fixing ``‖r‖`` lets every method be compared at equal perturbation size. The only
backend-specific code is :func:`value_and_gradient` (``tf.GradientTape`` / ``jax.grad`` /
``torch.autograd``). The figures are in :mod:`automap_nb.figures.robustness`.

Evidence. The slices are one per test volume (:func:`pick_slices`, a seeded draw of volumes), so a
per-slice amplification is a per-volume one; :func:`compare_amplifications` pairs them over the
volumes with a bootstrap interval (:func:`automap_nb.statistics.paired_interval`). The chapter's
words (:func:`automap_nb.findings.stability_findings`, :func:`automap_nb.findings.stability_verdict`)
claim a difference only when that interval excludes zero, and only for a network that passed the one learned rule
(:func:`automap_nb.statistics.learned`); otherwise they say "inconclusive at this budget".
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

import keras
import numpy as np
from keras import ops
from tqdm import tqdm

from automap_nb import baselines
from automap_nb.data import transforms
from automap_nb.results import atomic_path

UNET_FILE = "06_unet_4x.keras"  # chapter 06 keeps the U-Net that serves 4× here for chapter 08
METHOD_LABELS = dict(automap="AUTOMAP", ifft="inverse FFT", unet="U-Net", zero_filled="zero-filled", tv="TV (sigpy)",
                     mean_image="mean training image")

# ---- the one backend switch ---------------------------------------------------------------------


def value_and_gradient(fn: Callable, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(fn(x), ∇ₓ Σ fn(x))`` for ``fn`` mapping a float32 array ``(B, …)`` to per-sample values ``(B,)``.

    ``fn`` is written with ``keras.ops`` (and Keras models); only taking the gradient differs per
    backend: TensorFlow records a ``GradientTape`` (inside a ``tf.function``), JAX transforms the
    function with ``jax.value_and_grad`` (inside ``jax.jit``), PyTorch runs ``autograd``. The
    compiled gradient is kept on ``fn`` (``fn._gradient``), so a search that calls this with the same
    ``fn`` at every step compiles once. Samples are independent, so the gradient of the sum is each
    sample's own gradient. Returns numpy arrays ``(B,)`` and ``x.shape``.
    """
    backend = keras.backend.backend()
    x = np.asarray(x, np.float32)
    compiled = getattr(fn, "_gradient", None)
    if compiled is None:
        if backend == "tensorflow":
            import tensorflow as tf

            def compiled(xt):
                with tf.GradientTape() as tape:
                    tape.watch(xt)
                    values = fn(xt)
                    total = tf.reduce_sum(values)
                return values, tape.gradient(total, xt)

            compiled = tf.function(compiled)
        elif backend == "jax":
            import jax

            def total(xj):
                values = fn(xj)
                return ops.sum(values), values

            gradient = jax.jit(jax.value_and_grad(total, has_aux=True))

            def compiled(xj):
                (_, values), grad = gradient(xj)
                return values, grad
        elif backend == "torch":
            import torch

            def compiled(xt):
                xt = xt.detach().requires_grad_(True)
                values = fn(xt)
                (grad, ) = torch.autograd.grad(values.sum(), xt)
                return values.detach(), grad
        else:
            raise NotImplementedError(f"value_and_gradient: Keras backend {backend!r} is not supported "
                                      "(tensorflow, jax, torch)")
        try:
            fn._gradient = compiled
        except AttributeError:  # a callable that takes no attributes: compiled again next time
            pass
    values, grad = compiled(ops.convert_to_tensor(x))
    return ops.convert_to_numpy(values).astype(np.float64), ops.convert_to_numpy(grad).astype(np.float32)


# ---- reconstruction operators (keras.ops: differentiable on every backend) ---------------------------


def _shift(x, n: int, inverse: bool):
    """``fftshift`` (or ``ifftshift``) over axes 1 and 2 of ``(B, n, n)``."""
    shift = -(n // 2) if inverse else n // 2
    return ops.roll(ops.roll(x, shift, axis=1), shift, axis=2)


def ifft2c_channels(k) -> tuple:
    """Centred orthonormal inverse FFT of ``(B, n, n, 2)`` channels → ``(real, imag)`` ``(B, n, n)``."""
    n = k.shape[1]
    real, imag = _shift(k[..., 0], n, True), _shift(k[..., 1], n, True)
    real, imag = ops.ifft2((real, imag))
    scale = float(n)  # numpy's "backward" inverse divides by n²; orthonormal divides by n
    return _shift(real, n, False) * scale, _shift(imag, n, False) * scale


def _masked(k, mask):
    return k if mask is None else k * ops.convert_to_tensor(mask)


def channel_mask(mask: np.ndarray | None, batch: int) -> np.ndarray | None:
    """A column mask ``(n,)`` or per-slice ``(B, n)`` → ``(B, 1, n, 1)`` float32 for channels."""
    if mask is None:
        return None
    mask = np.asarray(mask, np.float32)
    mask = np.broadcast_to(mask, (batch, mask.shape[-1])) if mask.ndim == 1 else mask
    return mask[:, None, :, None]


def magnitude(real, imag):
    """``|real + i·imag|`` with a gradient that stays finite at 0."""
    return ops.sqrt(ops.square(real) + ops.square(imag) + 1e-20)


def ifft_operator(mask: np.ndarray | None = None) -> Callable:
    """``y ↦ |IFFT(M·y)|``: the exact inverse FFT (``mask=None``) or the zero-filled reconstruction
    with column masks ``mask`` ``(B, n)`` (one per slice of the batch ``y``)."""
    mask = None if mask is None else channel_mask(mask, len(mask))

    def f(y):
        return magnitude(*ifft2c_channels(_masked(y, mask)))

    return f


def model_operator(model: keras.Model, kspace_scale: float, mask: np.ndarray | None = None) -> Callable:
    """``y ↦ model((M·y)·kspace_scale)[..., 0]``: AUTOMAP on (masked, ``(B, n)``) k-space in image units."""
    mask = None if mask is None else channel_mask(mask, len(mask))

    def f(y):
        return model(_masked(y, mask) * kspace_scale, training=False)[..., 0]

    return f


def unet_operator(model: keras.Model, mask: np.ndarray | None = None) -> Callable:
    """``y ↦ unet(|IFFT(M·y)|)[..., 0]``: chapter 06's U-Net on the zero-filled magnitude (masks ``(B, n)``)."""
    zero_filled = ifft_operator(mask)

    def f(y):
        return model(zero_filled(y)[..., None], training=False)[..., 0]

    return f


def tv_operator(mask: np.ndarray, lamda: float, iterations: int) -> Callable:
    """``y ↦ |TV(M·y)|`` in numpy (sigpy, as chapter 06; not differentiable). ``mask``: ``(B, n)``."""

    def f(y):
        y = np.asarray(y)
        k = transforms.channels_to_complex(y)
        return np.stack([np.abs(baselines.tv_slice(k[i], mask[i], lamda, iterations)) for i in range(len(k))])

    f.numpy_only = True  # evaluate() hands it numpy arrays; search() cannot differentiate it
    return f


def evaluate(f: Callable, y: np.ndarray) -> np.ndarray:
    """``f(y)`` as a float64 numpy array (``f`` a keras.ops operator or a numpy one)."""
    y = np.asarray(y, np.float32)
    out = f(y) if getattr(f, "numpy_only", False) else f(ops.convert_to_tensor(y))
    return np.asarray(ops.convert_to_numpy(out), np.float64)


# ---- perturbations ----------------------------------------------------------------------------------


def norms(x: np.ndarray) -> np.ndarray:
    """Frobenius norm per sample: ``(B, …)`` → ``(B,)``."""
    return np.sqrt(np.sum(np.square(np.asarray(x, np.float64)).reshape(len(x), -1), axis=1))


def project(r: np.ndarray, radius: np.ndarray, mask=None) -> np.ndarray:
    """Restrict ``r`` to the sampled entries (``mask`` ``(B, 1, n, 1)``) and into ``‖r‖ ≤ radius`` per sample."""
    if mask is not None:
        r = r * mask
    scale = np.minimum(1.0, np.asarray(radius, np.float64) / np.maximum(norms(r), 1e-30))
    return (r * scale.reshape((-1, ) + (1, ) * (r.ndim - 1))).astype(np.float32)


def random_perturbation(shape, radius: np.ndarray, rng: np.random.Generator, mask=None) -> np.ndarray:
    """Gaussian k-space noise (white, complex) on the sampled entries, scaled to ``‖r‖ = radius`` exactly."""
    r = rng.standard_normal(shape).astype(np.float32)
    if mask is not None:
        r = r * mask
    return (r * (np.asarray(radius) / norms(r)).reshape((-1, ) + (1, ) * (len(shape) - 1))).astype(np.float32)


def objective(f: Callable, y: np.ndarray, f0, lam: float = 0.0) -> Callable:
    """``r ↦ ‖f(y + r) − f0‖² − λ‖r‖²`` per sample (keras.ops), Antun et al.'s objective."""
    y = ops.convert_to_tensor(np.asarray(y, np.float32))
    f0 = ops.convert_to_tensor(np.asarray(f0, np.float32))

    def J(r):
        change = ops.sum(ops.reshape(ops.square(f(y + r) - f0), (r.shape[0], -1)), axis=1)
        return change - lam * ops.sum(ops.reshape(ops.square(r), (r.shape[0], -1)), axis=1)

    return J


def search(f: Callable, y: np.ndarray, radius, *, steps: int = 50, step_size: float = 0.2, momentum: float = 0.9, lam: float = 0.0,
           mask=None, seed: int = 0, start_fraction: float = 0.5, progress: bool = False) -> dict:
    """Worst-case perturbation of ``f`` at ``y`` within ``‖r‖ ≤ radius``: projected gradient ascent.

    Ascends ``J(r) = ‖f(y + r) − f(y)‖² − λ‖r‖²`` per slice (``y`` ``(B, n, n, 2)``, image units;
    ``radius`` ``(B,)`` or a scalar; ``mask`` ``(B, 1, n, 1)`` or ``None``: ``r`` lives on the sampled
    entries only). The gradient of ``J`` is 0 at ``r = 0``, so the search starts from random noise of
    norm ``start_fraction · radius``. Each step: momentum on the per-slice normalised gradient
    (Antun et al. use momentum 0.9), a move of ``step_size · radius`` along it (linearly decaying to
    10 % of that), then the projection back into the ball. The best ``r`` seen per slice is kept.

    Returns ``{"r": (B, n, n, 2), "objective": (B,) J at r, "trace": (steps + 1, B) J per step}``.
    """
    if getattr(f, "numpy_only", False):
        raise ValueError("search needs a keras.ops operator; this one runs in numpy (TV): evaluate it on "
                         "perturbations found for the others instead")
    y = np.asarray(y, np.float32)
    radius = np.broadcast_to(np.asarray(radius, np.float64), (len(y), )).copy()
    if np.any(radius <= 0):
        raise ValueError(f"radius must be > 0 per slice, got {radius}")
    f0 = evaluate(f, y)
    J = objective(f, y, f0, lam)
    rng = np.random.default_rng(seed)
    r = random_perturbation(y.shape, start_fraction * radius, rng, mask)
    velocity = np.zeros_like(r)
    shape = (-1, ) + (1, ) * (r.ndim - 1)
    best_r, best_j, trace = r.copy(), None, []
    for step in tqdm(range(steps + 1), desc="search", disable=not progress):
        values, grad = value_and_gradient(J, r)
        trace.append(values)
        improved = values > best_j if best_j is not None else np.ones(len(r), bool)
        best_r[improved], best_j = r[improved], values if best_j is None else np.maximum(best_j, values)
        if step == steps:
            break
        if mask is not None:
            grad = grad * mask
        velocity = momentum * velocity + grad / np.maximum(norms(grad), 1e-30).reshape(shape)
        direction = velocity / np.maximum(norms(velocity), 1e-30).reshape(shape)
        size = step_size * (1.0 - 0.9 * step / max(1, steps - 1))
        r = project(r + size * radius.reshape(shape) * direction, radius, mask)
    return {"r": best_r, "objective": best_j, "trace": np.array(trace)}


def amplification(f: Callable, y: np.ndarray, r: np.ndarray, f0: np.ndarray | None = None) -> dict:
    """``‖f(y + r) − f(y)‖``, ``‖r‖`` and their ratio per slice, plus the perturbed outputs."""
    f0 = evaluate(f, y) if f0 is None else f0
    f1 = evaluate(f, np.asarray(y) + r)
    change, size = norms(f1 - f0), norms(r)
    return {"change": change, "norm": size, "amplification": change / size, "output": f1}


def budgets(y: np.ndarray, fractions) -> np.ndarray:
    """Radii ``(len(fractions), B)``: each fraction times each slice's ``‖y‖`` (= its image's norm)."""
    return np.outer(np.asarray(fractions, np.float64), norms(y))


def keep_unet(model: keras.Model | None, run_dir) -> None:
    """Chapter 06 keeps the U-Net that serves 4× as ``run_dir/06_unet_4x.keras`` for this chapter
    (written atomically, a few MB); ``model=None`` (no 4× in that run) removes a stale one."""
    path = Path(run_dir) / UNET_FILE
    if model is None:
        path.unlink(missing_ok=True)
        return
    with atomic_path(path) as tmp:
        model.save(tmp)


# ---- the chapter's experiment -------------------------------------------------------------------------


def pick_slices(images: np.ndarray, volumes, count: int, seed: int = 0) -> np.ndarray:
    """One slice from each of ``count`` test volumes: the chapter's seeded rule.

    The volumes are drawn without replacement, uniformly, by ``numpy.random.default_rng(seed)``
    from the split's distinct volume names in sorted order; from each drawn volume the slice with
    the most signal (largest ``‖x‖``) is taken. One slice per volume makes the slices independent
    units: a per-slice value is a per-volume value. ``images`` ``(N, n, n)``, ``volumes`` ``(N,)``;
    returns indices into them, in file order.
    """
    names = np.array([v.decode() if isinstance(v, bytes) else str(v) for v in np.asarray(volumes).reshape(-1)])
    distinct = sorted(set(names))
    if not 1 <= count <= len(distinct):
        raise ValueError(f"asked for slices from {count} volumes, the split has {len(distinct)}")
    drawn = np.random.default_rng(seed).choice(len(distinct), size=count, replace=False)
    energy = norms(np.abs(images))
    picked = []
    for k in drawn:
        rows = np.flatnonzero(names == distinct[k])
        picked.append(rows[int(np.argmax(energy[rows]))])
    return np.sort(np.array(picked, dtype=int))


def run_group(make_operators: Callable, searched, y: np.ndarray, fractions, *, mask: np.ndarray | None = None, steps: int,
              step_size: float, momentum: float, seed: int, progress: bool = False) -> dict:
    """Every operator of ``make_operators(masks)`` (``{method: f}`` for a batch whose column masks are
    ``masks`` ``(B', n)``, or ``None``) under random and searched perturbations.

    ``y`` ``(B, n, n, 2)`` (image units); ``fractions``: the budgets ``‖r‖ / ‖y‖``; ``mask`` ``(B, n)``
    column masks (``r`` then lives on the sampled columns) or ``None``. The search runs for each method
    in ``searched`` (differentiable operators); every method is then evaluated on every perturbation:
    ``random`` (Gaussian, one draw) and ``search:M`` (the worst found for method M). Budgets are batched:
    sample ``k·B + b`` is budget k on slice b.

    Returns ``{"fractions", "radius" (K, B), "clean" {m: (B, n, n)}, "perturbations" {p: (K, B, n, n, 2)},
    "change" {m: {p: (K, B)}}, "output" {m: {p: (K, B, n, n)}}, "objective_trace" {M: (steps + 1, K, B)}}``.
    """
    fractions = [float(f) for f in fractions]
    K, B = len(fractions), len(y)
    radius = budgets(y, fractions)
    Y = np.concatenate([y] * K)
    tiled = None if mask is None else np.concatenate([mask] * K)
    operators, clean_operators = make_operators(tiled), make_operators(mask)
    col = channel_mask(tiled, K * B)
    rng = np.random.default_rng(seed)
    perturbations = {"random": random_perturbation(Y.shape, radius.ravel(), rng, col)}
    traces = {}
    for method in tqdm(list(searched), desc="search", disable=not progress):
        found = search(operators[method], Y, radius.ravel(), steps=steps, step_size=step_size, momentum=momentum, mask=col,
                       seed=seed)
        perturbations[f"search:{method}"] = found["r"]
        traces[method] = found["trace"].reshape(-1, K, B)
    clean, change, output = {}, {}, {}
    for method, f in operators.items():
        f0 = evaluate(clean_operators[method], y)
        clean[method] = f0
        change[method], output[method] = {}, {}
        F0 = np.concatenate([f0] * K)
        for name, r in perturbations.items():
            out = amplification(f, Y, r, F0)
            change[method][name] = out["change"].reshape(K, B)
            output[method][name] = out["output"].reshape((K, B) + f0.shape[1:]).astype(np.float32)
    return dict(fractions=fractions, radius=radius, clean=clean,
                perturbations={k: v.reshape((K, B) + y.shape[1:])
                               for k, v in perturbations.items()}, change=change, output=output, objective_trace=traces)


def summary_rows(group: str, result: dict, targets: np.ndarray) -> list[dict]:
    """One row per (method, budget): amplification ``‖Δf‖ / ‖r‖`` (mean over slices, and per slice in
    ``amp_worst_slices`` / ``amp_random_slices``) under random noise and under the worst perturbation
    tried (per slice the largest change over every perturbation: random noise, the method's own search
    and the searches for the others), and the PSNR (data range = the slice's maximum) clean and under
    that worst perturbation. ``targets`` ``(B, n, n)``."""
    from automap_nb.evaluate import psnr

    rows = []
    tried = list(result["perturbations"])  # random noise and every search
    for method, by_pert in result["change"].items():
        for k, fraction in enumerate(result["fractions"]):
            norm = result["radius"][k]
            worst = np.stack([by_pert[p][k] for p in tried])  # (P, B)
            which = np.argmax(worst, axis=0)
            worst_out = np.stack([result["output"][method][tried[w]][k, b] for b, w in enumerate(which)])
            rows.append(
                dict(group=group, method=method, budget=fraction, norm_r=float(np.mean(norm)),
                     amp_random=float(np.mean(by_pert["random"][k] / norm)), amp_worst=float(np.mean(worst.max(axis=0) / norm)),
                     amp_worst_max=float(np.max(worst.max(axis=0) / norm)),
                     amp_worst_slices=[float(v) for v in worst.max(axis=0) / norm
                                       ], amp_random_slices=[float(v) for v in by_pert["random"][k] / norm],
                     worst_from=[tried[w].removeprefix("search:") for w in which], own_search=f"search:{method}" in tried,
                     psnr_clean=float(np.mean([psnr(t, c, data_range=t.max()) for t, c in zip(targets, result["clean"][method])])),
                     psnr_worst=float(np.mean([psnr(t, o, data_range=t.max()) for t, o in zip(targets, worst_out)]))))
    return rows


#: The paired comparisons the chapter makes at the largest budget: ``name: (group, method a, method b,
#: which of b's amplifications)``: ``"worst"`` (b's worst found) or ``"random"`` (b under Gaussian noise).
COMPARED = {
    "automap_vs_ifft": ("1×", "automap", "ifft", "worst"),
    "automap_vs_noise": ("1×", "automap", "automap", "random"),
    "unet_vs_tv": ("4×", "unet", "tv", "worst"),
    "unet_vs_zero_filled": ("4×", "unet", "zero_filled", "worst"),
}


def compare_amplifications(rows: list[dict], budget: float | None = None) -> dict:
    """The :data:`COMPARED` pairs at ``budget`` (default: the largest), each a paired interval
    (:func:`automap_nb.statistics.paired_interval`) of the worst amplification of ``a`` against ``b``'s,
    slice by slice (one slice per test volume, :func:`pick_slices`, so slices are volumes), plus the
    ``group``, ``a``, ``b``, ``b_kind`` and ``budget`` it is about. Pairs whose methods did not run are left out."""
    from automap_nb.statistics import paired_interval

    top = max(r["budget"] for r in rows) if budget is None else budget
    at = {(r["group"], r["method"]): r for r in rows if r["budget"] == top}
    out = {}
    for name, (group, a, b, kind) in COMPARED.items():
        if (group, a) in at and (group, b) in at:
            out[name] = {
                **paired_interval(at[(group, a)]["amp_worst_slices"], at[(group, b)][f"amp_{kind}_slices"]), "group": group, "a": a,
                "b": b, "b_kind": kind, "budget": top
            }
    return out


def load_unet(run_dir) -> keras.Model:
    """The U-Net chapter 06 kept for this chapter (:func:`keep_unet`)."""
    path = Path(run_dir) / UNET_FILE
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no U-Net kept by chapter 06 (rerun chapter 06)")
    return keras.saving.load_model(path, compile=False, safe_mode=True)
