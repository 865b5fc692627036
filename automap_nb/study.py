"""Experiment helpers for chapters 06 (undersampling baselines) and 07 (architecture study).

Chapter 06 compares four reconstructions of masked k-space on the same test slices with the same
per-volume masks (:func:`automap_nb.data.subsample.volume_masks`): zero-filled, TV
(:mod:`automap_nb.baselines`), a U-Net on the zero-filled magnitude (:mod:`automap_nb.models.unet`) and
AUTOMAP (:mod:`automap_nb.models`), the last two trained with :func:`automap_nb.training.train`.
Chapter 07 trains AUTOMAP variants under one budget. Shapes: k-space inputs ``(N, n, n, 2)``,
targets ``(N, n, n, 1)``, reconstructions ``(N, n, n)`` float32 magnitudes.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import h5py
import matplotlib.pyplot as plt
import numpy as np
from tqdm import tqdm

from automap_nb import baselines, evaluate, models, training
from automap_nb.data import subsample, transforms
from automap_nb.data.prepare import mean_target, read_split, write_prepared_arrays
from automap_nb.models import unet
from automap_nb.plotting import TEXT_WIDTH  # importing plotting also sets the book's figure style
from automap_nb.results import scratch_dir

METHODS = ("mean_image", "zero_filled", "tv", "unet", "automap")
METHOD_LABELS = {"mean_image": "mean training image", "zero_filled": "zero-filled", "tv": "TV (sigpy)",
                 "unet": "U-Net", "automap": "AUTOMAP"}
LEARNED = ("unet", "automap")


def acc_key(acceleration) -> str:
    """JSON/table key of an acceleration: ``4 → "4x"``."""
    return f"{acceleration:g}x"


def group_label(group) -> str:
    """Label of a training group of accelerations: ``[4, 8] → "4x+8x"``."""
    return "+".join(acc_key(a) for a in group)


def check_groups(groups, accelerations) -> list[list[int]]:
    """Validate ``train_groups``: lists of accelerations covering each evaluated one exactly once."""
    if not isinstance(groups, (list, tuple)) or not groups:
        raise ValueError(f"train_groups must be a non-empty list of lists, got {groups!r}")
    groups = [list(g) if isinstance(g, (list, tuple)) else None for g in groups]
    if any(g is None or not g for g in groups):
        raise ValueError(f"train_groups must be a list of non-empty lists, got {groups!r}")
    flat = [a for g in groups for a in g]
    if sorted(flat) != sorted(accelerations):
        raise ValueError(f"train_groups {groups} must cover accelerations {list(accelerations)} exactly once")
    return groups


# ---- chapter 06 ---------------------------------------------------------------------------------

def build_method_model(method: str, n: int, variant: str, unet_chans: int, seed: int, unet_residual: bool = False,
                       conv_filters: int = models.CONV_FILTERS, init_from=None, precision: str = "float32"):
    """A model for ``method`` (``"unet"`` or ``"automap"``) at grid ``n`` (seeded).

    ``init_from``: for AUTOMAP, a training folder (chapter 03's ``run_dir/automap``) whose final
    weights the model starts from instead of random ones; it must hold the same architecture.
    ``precision``: AUTOMAP's ``models.PRECISIONS`` key (the U-Net computes in float32).
    """
    if method == "automap":
        model = models.build_variant(variant, n, seed=seed, conv_filters=conv_filters, precision=precision)
        if init_from is not None:
            _load_matching_weights(model, init_from)
        return model
    if method == "unet":
        import keras

        keras.utils.set_random_seed(seed)
        return unet.build_unet(n, in_chans=1, chans=unet_chans, num_pool=unet.max_pool_levels(n),
                               residual=unet_residual)
    raise ValueError(f"method must be one of {list(LEARNED)}, got {method!r}")


def _load_matching_weights(model, folder) -> None:
    """Copy the final weights of training folder ``folder`` into ``model`` (same layers and shapes)."""
    try:
        source = training.load_checkpoint(folder, "final", compile=False)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"cannot start AUTOMAP from chapter 03's model: {err}") from None
    mine = [tuple(w.shape) for w in model.weights]
    theirs = [tuple(w.shape) for w in source.weights]
    if mine != theirs:
        raise ValueError(f"{folder}: its model ({source.name}, {source.count_params():,} parameters) does not "
                         f"match the one asked for here ({model.name}, {model.count_params():,}); use the same "
                         "train_variant and train_conv_filters as chapter 03, or automap_init='scratch'")
    model.set_weights(source.get_weights())


def train_method(method: str, group, prepared_path, out_dir, *, mask_kind: str, variant: str,
                 unet_chans: int, epochs: int, batch_size: int, learning_rate: float, seed: int,
                 unet_residual: bool = False, progress: bool = True, conv_filters: int = models.CONV_FILTERS,
                 init_from=None, lr_schedule: str = "cosine", precision: str = "float32"):
    """Train ``method`` on the train split with per-sample masks from the accelerations in ``group``.

    Returns ``(model with the final weights, history dict from training.train)``. U-Net inputs go
    through ``training.zero_filled_magnitude``; AUTOMAP eats the masked k-space itself and, with
    ``init_from`` (a training folder), starts from that folder's final weights (fine-tuning).
    """
    with h5py.File(prepared_path, "r") as f:
        n, kspace_scale = int(f.attrs["size"]), float(f.attrs["kspace_scale"])
    model = build_method_model(method, n, variant, unet_chans, seed, unet_residual, conv_filters,
                               init_from if method == "automap" else None, precision=precision)
    mask_fn = subsample.make_mask_fn(mask_kind, list(group), n, seed=seed)
    transform = training.zero_filled_magnitude(kspace_scale) if method == "unet" else None
    history = training.train(model, prepared_path, out_dir, epochs=epochs, batch_size=batch_size,
                             learning_rate=learning_rate, seed=seed, mask_fn=mask_fn, lr_schedule=lr_schedule,
                             input_transform=transform, progress=progress)
    return model, history


def history_summary(history: dict) -> dict:
    """Compact record of a training run: parameters, epochs, time, final train/val seed PSNR."""
    epochs = history["epochs"]
    return {"params": history["config"]["params"], "epochs": len(epochs),
            "train_seconds": float(sum(e["train_seconds"] for e in epochs)),
            "samples_per_s": float(np.mean([e["samples_per_s"] for e in epochs])),
            "final_train_psnr_seed": epochs[-1]["psnr"], "final_val_psnr_seed": epochs[-1]["val_psnr"],
            "learning_rate": history["config"]["learning_rate"], "mask_fn": history["config"]["mask_fn"],
            "train_slices": history["config"]["train_slices"], "batch_size": history["config"]["batch_size"],
            "device": history.get("device", {})}


def train_all(prepared_path, groups, run_dir, *, keep_checkpoints: bool, progress: bool = True, **kwargs):
    """Train U-Net and AUTOMAP for every group. ``kwargs``: per-method settings
    ``{"unet": {...}, "automap": {...}}`` with ``epochs`` and ``learning_rate``, plus shared ones.

    Returns ``(models {method: {acc: model}}, summaries {method: {group label: summary}})``.
    Checkpoints go to ``run_dir/06_training/METHOD_GROUP`` when ``keep_checkpoints``, else to a
    temporary folder ``run_dir/.scratch/06_training-PID`` deleted afterwards (a rerun then retrains
    from scratch, deterministically).

    When AUTOMAP starts from chapter 03's model (``automap={"init_from": folder, …}``), that model
    *is* the 1× AUTOMAP (it was trained on fully sampled k-space): 1× is taken out of AUTOMAP's
    groups and served by it unchanged, and only the undersampled accelerations are fine-tuned.
    """
    per_method = {m: kwargs.pop(m) for m in LEARNED}
    trained = {m: {} for m in LEARNED}
    summaries = {m: {} for m in LEARNED}
    # temporary checkpoints live in the run folder (run_dir/.scratch), removed by the next run if killed
    root = Path(run_dir) / "06_training" if keep_checkpoints else scratch_dir(run_dir, "06_training")
    init_from = per_method["automap"].get("init_from")
    try:
        for method in LEARNED:
            method_groups = groups
            if method == "automap" and init_from is not None:
                trained[method][1] = training.load_checkpoint(init_from, "final", compile=False)
                method_groups = [[a for a in g if a != 1] for g in groups]
                method_groups = [g for g in method_groups if g]
            for group in method_groups:
                out = root / f"{method}_{group_label(group)}"
                model, history = train_method(method, group, prepared_path, out, progress=progress,
                                              **kwargs, **per_method[method])
                summaries[method][group_label(group)] = history_summary(history)
                for acc in group:
                    trained[method][acc] = model
    finally:
        if not keep_checkpoints:
            shutil.rmtree(root, ignore_errors=False)
    return trained, summaries


def _time_per_slice(fn, items) -> float:
    start = time.perf_counter()
    for item in items:
        fn(item)
    return (time.perf_counter() - start) / max(1, len(items))


def reconstruct_all(test: dict, accelerations, mask_kind: str, tv_lambdas: dict, tv_iterations: int,
                    trained: dict, mean_image: np.ndarray, timing_repeats: int = 10, progress: bool = True) -> dict:
    """Every method at every acceleration on the same test slices and per-volume masks.

    ``test``: :func:`automap_nb.data.prepare.read_split` output; ``tv_lambdas`` ``{acc: λ}``;
    ``trained`` ``{method: {acc: model}}``; ``mean_image`` ``(n, n)``: the mean training target,
    the trivial "reconstruction" that ignores the input (``prepare.mean_target``). Returns ``{"recon": {acc: {method: (N, n, n)}},
    "metrics": {method: {acc_key: evaluate_volumes(...)}}, "seconds_per_slice": {method:
    {acc_key: s}}, "masks": {acc: (N, n)}, "achieved": {acc_key: {volume: acceleration}}}``.

    Times are per slice, one slice at a time, on this machine: zero-filled and TV in a loop;
    networks ``training.time_inference`` at batch 1 (median of ``timing_repeats``), the U-Net's
    including its zero-filled input.
    """
    inputs, targets, volumes = test["inputs"], test["targets"], test["volume"]
    n, scale = inputs.shape[1], test["kspace_scale"]
    out = {"recon": {}, "metrics": {m: {} for m in METHODS}, "seconds_per_slice": {m: {} for m in METHODS},
           "masks": {}, "achieved": {}}
    for acc in accelerations:
        key = acc_key(acc)
        masks = subsample.volume_masks(volumes, mask_kind, acc, n)
        masked = subsample.apply_mask(inputs, masks)
        out["masks"][acc] = masks
        out["achieved"][key] = {v: subsample.achieved_acceleration(masks[list(volumes).index(v)])
                                for v in dict.fromkeys(volumes)}
        recon = {"mean_image": np.broadcast_to(mean_image, targets.shape[:3]).astype(np.float32),
                 "zero_filled": baselines.zero_filled(masked, scale)}
        zf_seconds = _time_per_slice(lambda x: baselines.zero_filled(x[None], scale), masked)
        recon["tv"], tv_seconds = baselines.tv_reconstruct(masked, masks, scale, tv_lambdas[acc], tv_iterations,
                                                           progress=progress, desc=f"TV {key}")
        seconds = {"mean_image": _time_per_slice(lambda x: np.array(mean_image), masked),
                   "zero_filled": zf_seconds, "tv": tv_seconds}
        for method in LEARNED:
            model = trained[method][acc]
            x = recon["zero_filled"][..., None] if method == "unet" else masked
            recon[method] = training.predict(model, x)[..., 0]
            ms = training.time_inference(model, x, batch_size=1, repeats=timing_repeats)["ms_per_slice"]
            seconds[method] = ms / 1000.0 + (zf_seconds if method == "unet" else 0.0)
        for method in METHODS:
            out["metrics"][method][key] = evaluate.evaluate_volumes(targets, recon[method], volumes)
            out["seconds_per_slice"][method][key] = float(seconds[method])
        out["recon"][acc] = recon
    return out


MIN_VOLUMES_FOR_SPREAD = evaluate.MIN_VOLUMES_FOR_SPREAD


def results_table(metrics: dict, seconds: dict, achieved: dict | None = None) -> list[dict]:
    """Rows ``{method, acceleration, achieved ×, NMSE, PSNR, SSIM, seed PSNR, ms / slice}`` (fastMRI
    metrics: mean over test volumes) for a pandas DataFrame; with at least
    :data:`MIN_VOLUMES_FOR_SPREAD` volumes also ``NMSE/PSNR/SSIM ±2sd`` (2·std over volumes).
    ``achieved`` ``{acc_key: {volume: acceleration}}``: the masks' achieved acceleration, averaged
    over the test volumes (a random mask at small n samples more or fewer columns than nominal)."""
    rows = []
    for method, by_acc in metrics.items():
        for key, ev in by_acc.items():
            mean, std2 = ev["mean"], ev["std2"]
            row = {"method": METHOD_LABELS.get(method, method), "acceleration": key}
            if achieved is not None:
                row["achieved ×"] = float(np.mean(list(achieved[key].values())))
            spread = ev["volumes"] >= MIN_VOLUMES_FOR_SPREAD
            for name, label in (("nmse", "NMSE"), ("psnr", "PSNR (dB)"), ("ssim", "SSIM")):
                row[label] = mean[name]
                if spread:
                    row[label.split(" ")[0] + " ±2sd"] = std2[name]
            rows.append({**row, "seed PSNR (dB)": mean["psnr_seed"], "ms / slice": 1000.0 * seconds[method][key]})
    return rows


def grid_edge_note(tuning: dict) -> str:
    """Markdown: the accelerations whose tuned λ is the smallest or largest value of its grid
    (``tuning`` ``{acc: baselines.tune_tv_lambda(...)}``), or "" when every choice is interior.
    A choice at an edge may mean the best λ lies outside the grid."""
    edges = []
    for acc, result in tuning.items():
        grid = sorted(row["lambda"] for row in result["grid"])
        if len(grid) > 1 and result["lambda"] in (grid[0], grid[-1]):
            side = "smallest" if result["lambda"] == grid[0] else "largest"
            edges.append(f"{acc_key(acc)} (λ = {result['lambda']:g}, the {side} value tried)")
    if not edges:
        return ""
    return ("**λ at the edge of its grid** at " + ", ".join(edges) + ": the best λ may lie outside the grid. "
            "At 1× the k-space is complete, so the data term alone is exact and the smallest λ is expected to win.")


def metrics_json(metrics: dict, seconds: dict) -> dict:
    """``{method: {acc_key: {"mean", "std2", "per_volume", "volumes", "infinite", "seconds_per_slice"}}}``."""
    return {m: {k: {**ev, "seconds_per_slice": seconds[m][k]} for k, ev in by_acc.items()}
            for m, by_acc in metrics.items()}


# ---- figures (chapter 06) ----------------------------------------------------------------------
# Drawn in the book's style (automap_nb.plotting: TEXT_WIDTH inches wide, 12 pt text), so they are
# shown at about their own size in the page's column with text no smaller than the body's.

#: The methods that :func:`examples_figure` shows. The mean training image is left out: it is the
#: same picture at every acceleration (it ignores the input); its numbers are in the tables.
EXAMPLE_METHODS = ("zero_filled", "tv", "unet", "automap")
SHORT_LABELS = {"mean_image": "mean image", "zero_filled": "zero-filled", "tv": "TV", "unet": "U-Net",
                "automap": "AUTOMAP"}


def _show(ax, image, title=None, **kwargs):
    handle = ax.imshow(image, cmap=kwargs.pop("cmap", "gray"), **kwargs)
    if title:
        ax.set_title(title)
    ax.set_xticks([])
    ax.set_yticks([])
    return handle


def masks_figure(image: np.ndarray, masks: dict) -> plt.Figure:
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
        _show(axes[0, col], np.broadcast_to(mask[None, :], (n, n)), f"{acc_key(acc)}: {int(mask.sum())}/{n} lines",
              vmin=0, vmax=1)
        k_handle = _show(axes[1, col], log_k[acc], cmap="magma", vmin=0, vmax=kmax)
        x_handle = _show(axes[2, col], np.abs(transforms.ifft2c(kspace * mask)), vmin=0, vmax=vmax)
    for row, label in enumerate(("mask", "log |k|", "zero-filled")):
        axes[row, 0].set_ylabel(label)
    axes[0, -1].axis("off")
    fig.colorbar(k_handle, cax=axes[1, -1], label="log(1 + |k|/med)")
    fig.colorbar(x_handle, cax=axes[2, -1], label="|x|")
    fig.tight_layout(w_pad=0.4, h_pad=0.6)
    return fig


def examples_figure(target: np.ndarray, recon: dict, acc_list, index: int,
                    methods=EXAMPLE_METHODS) -> plt.Figure:
    """One test slice under each of ``methods`` at each acceleration in ``acc_list``: first the
    reconstructions (one row per acceleration, the target on the left, the PSNR against the target
    under each panel), then their absolute errors (one row per acceleration, one colour scale for
    all). ``target`` ``(n, n)``; ``recon`` ``{acc: {method: (N, n, n)}}``; ``index`` the slice."""
    rows, cols = len(acc_list), 1 + len(methods)
    fig = plt.figure(figsize=(TEXT_WIDTH, 0.55 + 1.48 * 2 * rows))
    grid = fig.add_gridspec(2 * rows, cols + 1, width_ratios=[1] * cols + [0.08])
    axes = np.array([[fig.add_subplot(grid[row, col]) for col in range(cols)] for row in range(2 * rows)])
    vmax = float(target.max())
    errors = {acc: {m: np.abs(recon[acc][m][index] - target) for m in methods} for acc in acc_list}
    emax = max(float(e.max()) for by_method in errors.values() for e in by_method.values()) or 1.0
    for r, acc in enumerate(acc_list):
        image_ax, error_ax = axes[r], axes[rows + r]
        _show(image_ax[0], target, "target" if r == 0 else None, vmin=0, vmax=vmax)
        image_ax[0].set_ylabel(acc_key(acc))
        error_ax[0].axis("off")
        error_ax[0].text(0.5, 0.5, f"|error|\nat {acc_key(acc)}", ha="center", va="center",
                         transform=error_ax[0].transAxes)
        for c, method in enumerate(methods, start=1):
            image = recon[acc][method][index]
            x_handle = _show(image_ax[c], image, SHORT_LABELS[method] if r == 0 else None, vmin=0, vmax=vmax)
            image_ax[c].set_xlabel(f"{evaluate.psnr(target, image, data_range=vmax):.1f} dB", labelpad=2)
            e_handle = _show(error_ax[c], errors[acc][method], cmap="magma", vmin=0, vmax=emax)
    fig.colorbar(x_handle, cax=fig.add_subplot(grid[:rows, -1]), label="|x| (volume max = 1)")
    fig.colorbar(e_handle, cax=fig.add_subplot(grid[rows:, -1]), label="|error| (volume max = 1)")
    fig.tight_layout(w_pad=0.3, h_pad=0.5)
    return fig


def per_volume_figure(metrics: dict, metric: str = "psnr", methods=METHODS, clip: float = 80.0) -> plt.Figure:
    """``metric`` of every test volume (one dot each) and its mean over volumes (a bar) for every
    method, one panel per acceleration. ``metrics``: :func:`reconstruct_all`'s ``"metrics"``.
    Values above ``clip`` (exact reconstructions) are drawn at ``clip`` as a triangle with their value."""
    from matplotlib.lines import Line2D

    keys = list(metrics[methods[0]])
    fig, axes = plt.subplots(1, len(keys), figsize=(TEXT_WIDTH, 0.95 + 0.42 * len(methods)), sharey=True,
                             squeeze=False)
    unit = " (dB)" if "psnr" in metric else ""
    y = np.arange(len(methods))[::-1]
    for ax, key in zip(axes[0], keys):
        volumes = list(metrics[methods[0]][key]["per_volume"])
        shown = []
        for row, method in zip(y, methods):
            values = np.array([metrics[method][key]["per_volume"][v][metric] for v in volumes], dtype=float)
            inside = values <= clip
            ax.plot(np.minimum(values, clip)[inside], np.full(inside.sum(), row), "o", color=f"C{list(METHODS).index(method)}",
                    markersize=7, alpha=0.75, linestyle="none")
            if (~inside).any():
                ax.plot([clip], [row], ">", color=f"C{list(METHODS).index(method)}", markersize=9)
                ax.annotate(f"{np.min(values[~inside]):.0f}", (clip, row), xytext=(-8, 7),
                            textcoords="offset points", ha="right", va="bottom")
            mean = float(np.mean(np.minimum(values, clip)))
            ax.plot([mean, mean], [row - 0.3, row + 0.3], color="black", linewidth=2)
            shown.extend(np.minimum(values, clip))
        low, high = min(shown), max(shown)
        pad = max(1.0, 0.08 * (high - low))
        ax.set_xlim(low - pad, high + pad)
        ax.set_title(key)
        ax.grid(axis="x", alpha=0.3)
        ax.set_xlabel(f"{metric.upper()}{unit}" if "psnr" in metric else metric)
    axes[0, 0].set_yticks(y, [SHORT_LABELS.get(m, m) for m in methods])
    axes[0, 0].set_ylim(-0.6, len(methods) - 0.4)
    volumes = len(metrics[methods[0]][keys[0]]["per_volume"])
    handles = [Line2D([], [], marker="o", color="gray", alpha=0.75, linestyle="none", markersize=7),
               Line2D([], [], color="black", linewidth=2)]
    fig.legend(handles, [f"one test volume ({volumes} in all)", "mean over volumes"], ncol=2, loc="upper center",
               bbox_to_anchor=(0.5, 0.0), frameon=False)
    fig.tight_layout()
    return fig


# ---- chapter 07 --------------------------------------------------------------------------------

#: The architecture study's variants: dense widths as functions of n (``None``: fully convolutional).
STUDY_VARIANTS = {
    "original": lambda n: [n * n, n * n],           # AUTOMAP: 2n² → n² → n²
    "seed": lambda n: [max(1, n * n // 4), n * n],  # the seed's shrink: 2n² → n²/4 → n²
    "smaller": lambda n: [max(1, n * n // 16), n * n],
    "one_dense": lambda n: [n * n],                 # a single dense layer 2n² → n²
    "fullconv": None,                               # models.build_fullconv (no dense layers)
}


def study_fc_widths(name: str, n: int) -> list[int]:
    """Dense widths of study variant ``name`` at ``n`` (``[]`` for ``fullconv``)."""
    if name not in STUDY_VARIANTS:
        raise ValueError(f"variant must be one of {list(STUDY_VARIANTS)}, got {name!r}")
    rule = STUDY_VARIANTS[name]
    return [] if rule is None else rule(n)


def study_params(name: str, n: int, conv_filters: int = models.CONV_FILTERS) -> int:
    """Parameter count of study variant ``name`` at ``n``, without building it."""
    f = conv_filters
    if STUDY_VARIANTS.get(name, 0) is None:
        return models.count_params("fullconv", n, conv_filters=f)
    widths = study_fc_widths(name, n)
    total, c_in = 0, 2 * n * n
    for width in widths:
        total += c_in * width + width
        c_in = width
    tail = models.CONV_KERNEL**2 * 1 * f + f
    tail += models.CONV_KERNEL**2 * f**2 + f
    tail += models.DECONV_KERNEL**2 * f + 1
    return total + tail


def build_study_model(name: str, n: int, l1: float = 1e-6, seed: int = 0, conv_filters: int = models.CONV_FILTERS):
    """Build study variant ``name`` at ``n`` after seeding (same initial-weight seed for all)."""
    import keras

    widths = study_fc_widths(name, n)
    keras.utils.set_random_seed(seed)
    if not widths:
        return models.build_fullconv(n, l1=l1, name=name, conv_filters=conv_filters)
    return models.build_automap(n, widths, l1=l1, name=name, conv_filters=conv_filters)


def downsample_prepared(src, dst, size: int) -> Path:
    """Write a copy of prepared file ``src`` at a smaller grid ``size`` (same documented format).

    Images are Fourier-cropped (:func:`transforms.downsample`, which composes: cropping 320 → n → size
    equals cropping 320 → size), renormalised per volume (max magnitude 1), ``kspace_scale`` is
    recomputed as 1 / RMS of the training images, and inputs/targets rebuilt with
    :func:`transforms.image_to_example`. Written atomically; returns ``dst``.
    """
    src, dst = Path(src), Path(dst)
    with h5py.File(src, "r") as f:
        images = f["images"][()]
        meta = {k: f[k][()] for k in ("volume", "slice", "split")}
        attrs = dict(f.attrs)
    n = images.shape[-1]
    if not (isinstance(size, int) and 2 <= size <= n):
        raise ValueError(f"study_size must be an integer in [2, {n}] (the prepared size), got {size!r}")
    small = transforms.downsample(images, size)
    for name in np.unique(meta["volume"]):
        rows = meta["volume"] == name
        small[rows], _ = transforms.normalize(small[rows])
    train = meta["split"] == b"train"
    scale = float(1.0 / np.sqrt(np.mean(np.abs(small[train]) ** 2)))
    return write_prepared_arrays(dst, small.astype(np.complex64), meta, scale,
                                 {**attrs, "derived_from": f"{src.name} (size {n}) by Fourier cropping"})


def val_metrics(model, val: dict, acceleration, mask_kind: str) -> dict:
    """fastMRI-style metrics of ``model`` on the val split at ``acceleration`` with per-volume masks."""
    masks = subsample.volume_masks(val["volume"], mask_kind, acceleration, val["inputs"].shape[1])
    pred = training.predict(model, subsample.apply_mask(val["inputs"], masks))
    return evaluate.evaluate_volumes(val["targets"], pred, val["volume"])


def run_study(prepared_path, variants, accelerations, *, epochs: int, batch_size: int, learning_rate: float,
              seeds, mask_kind: str, l1: float = 1e-6, conv_filters: int = models.CONV_FILTERS,
              lr_schedule: str = "cosine", progress: bool = True) -> list[dict]:
    """Train every variant at every acceleration for every seed under one budget; evaluate on val.

    Same data, epochs, batch size, optimizer (Adam, ``learning_rate``, ``lr_schedule``) and, per
    seed, the same initial-weight seed and mask sequence for all variants. Returns one row per
    (variant, acceleration, seed): ``variant, acceleration, seed, params, dense_widths,
    train_seconds, samples_per_s, val_psnr, val_psnr_std2, val_ssim, val_nmse, val_psnr_seed,
    final_train_psnr_seed``. Checkpoints live in a scratch folder of the run, deleted afterwards.
    """
    import logging

    val = read_split(prepared_path, "val")
    with h5py.File(prepared_path, "r") as f:
        n = int(f.attrs["size"])
    rows = []
    root = scratch_dir(Path(prepared_path).parent, "07_study")  # in the run folder, not /tmp
    tf_logger = logging.getLogger("tensorflow")  # TF's "retracing" warning: expected, one model per run
    tf_level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)
    try:
        combos = [(v, a, s) for v in variants for a in accelerations for s in seeds]
        for variant, acc, seed in tqdm(combos, desc="study", disable=not progress):
            model = build_study_model(variant, n, l1=l1, seed=seed, conv_filters=conv_filters)
            history = training.train(model, prepared_path, root / f"{variant}_{acc_key(acc)}_seed{seed}",
                                     epochs=epochs, batch_size=batch_size, learning_rate=learning_rate, seed=seed,
                                     lr_schedule=lr_schedule, progress=False,
                                     mask_fn=subsample.make_mask_fn(mask_kind, acc, n, seed=seed))
            summary = history_summary(history)
            ev = val_metrics(model, val, acc, mask_kind)
            rows.append({"variant": variant, "acceleration": acc_key(acc), "seed": seed, "params": summary["params"],
                         "dense_widths": study_fc_widths(variant, n), "train_seconds": summary["train_seconds"],
                         "samples_per_s": summary["samples_per_s"], "val_psnr": ev["mean"]["psnr"],
                         "val_psnr_std2": ev["std2"]["psnr"], "val_ssim": ev["mean"]["ssim"],
                         "val_nmse": ev["mean"]["nmse"], "val_psnr_seed": ev["mean"]["psnr_seed"],
                         "final_train_psnr_seed": summary["final_train_psnr_seed"]})
            del model
    finally:
        tf_logger.setLevel(tf_level)
        shutil.rmtree(root)
    return rows


def summarize_seeds(rows: list[dict]) -> list[dict]:
    """One row per (variant, acceleration) over its seeds: ``val_psnr`` (mean), ``val_psnr_min``,
    ``val_psnr_max``, ``seed_spread`` (max − min, dB), ``val_ssim`` (mean), ``params``,
    ``train_seconds`` (mean), ``seeds``."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["variant"], r["acceleration"]), []).append(r)
    out = []
    for (variant, acc), group in groups.items():
        psnr = [r["val_psnr"] for r in group]
        out.append({"variant": variant, "acceleration": acc, "params": group[0]["params"],
                    "seeds": [r["seed"] for r in group], "val_psnr": float(np.mean(psnr)),
                    "val_psnr_min": float(min(psnr)), "val_psnr_max": float(max(psnr)),
                    "seed_spread": float(max(psnr) - min(psnr)),
                    "val_ssim": float(np.mean([r["val_ssim"] for r in group])),
                    "train_seconds": float(np.mean([r["train_seconds"] for r in group]))})
    return out


def study_figure(summary: list[dict], reference_psnr: float | None = None) -> plt.Figure:
    """Val PSNR (mean over seeds, bars from the lowest to the highest seed) against parameters
    (log axis) and against training time, one colour and marker per variant, filled at 1× and
    open at other accelerations; ``summary``: :func:`summarize_seeds` rows; ``reference_psnr``
    (e.g. the mean-image predictor's) as a dashed line, kept inside the axes."""
    from matplotlib.ticker import EngFormatter, LogLocator, NullFormatter

    fig, axes = plt.subplots(1, 2, figsize=(6.8, 3.4), sharey=True)
    variants = list(dict.fromkeys(r["variant"] for r in summary))
    style = {v: (f"C{i}", m) for i, (v, m) in enumerate(zip(variants, "osD^vP"))}
    for ax, xkey, xlabel in ((axes[0], "params", "parameters"), (axes[1], "train_seconds", "training time per run (s)")):
        for r in summary:
            color, marker = style[r["variant"]]
            err = [[r["val_psnr"] - r["val_psnr_min"]], [r["val_psnr_max"] - r["val_psnr"]]]
            ax.errorbar(r[xkey], r["val_psnr"], yerr=err, marker=marker, color=color, markersize=7, capsize=3,
                        linestyle="none", markerfacecolor=color if r["acceleration"] == "1x" else "white",
                        label=f"{r['variant']} {r['acceleration']}")
        if reference_psnr is not None:
            ax.axhline(reference_psnr, color="gray", linestyle="--", linewidth=1, label="mean training image")
        ax.set_xlabel(xlabel)
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("val PSNR (dB, fastMRI)")
    axes[0].set_xscale("log")
    axes[0].xaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axes[0].xaxis.set_major_formatter(EngFormatter())
    axes[0].xaxis.set_minor_formatter(NullFormatter())
    if reference_psnr is not None:  # the reference line stays visible above or below the points
        low = min([reference_psnr] + [r["val_psnr_min"] for r in summary])
        high = max([reference_psnr] + [r["val_psnr_max"] for r in summary])
        axes[0].set_ylim(low - 0.5, high + 0.5)
    handles, labels = axes[1].get_legend_handles_labels()
    fig.tight_layout()
    # the legend below the axes, in as many columns (at most 4) as fit the figure's width: the page
    # shows the figure with everything it draws, so a wider legend would widen the figure
    renderer = fig.canvas.get_renderer()
    for ncol in range(min(4, len(labels)), 0, -1):
        legend = fig.legend(handles, labels, ncol=ncol, loc="upper center", bbox_to_anchor=(0.5, 0.0),
                            frameon=False)
        if ncol == 1 or legend.get_window_extent(renderer).width <= fig.bbox.width:
            break
        legend.remove()
    return fig


# ---- parameter validation helpers ---------------------------------------------------------------

def require_groups(name: str, value, accelerations) -> list[list[int]]:
    """Validate ``train_groups`` against ``accelerations`` (see :func:`check_groups`)."""
    from automap_nb.orchestration.params import ParameterError

    try:
        return check_groups(value, accelerations)
    except ValueError as err:
        raise ParameterError(f"parameter {name!r}: {err}") from None


# ---- chapter 06 findings, written from the results ----------------------------------------------

def _fmt_db(value: float) -> str:
    return "∞ (exact)" if np.isinf(value) else f"{value:.2f} dB"


def _epochs(count: int) -> str:
    return f"{count} epoch" + ("" if count == 1 else "s")


def findings_06(metrics: dict, accelerations, params: dict, n_train: int, epochs: dict,
                tv_iterations: int | None = None, tv_grid: int | None = None) -> str:
    """A Markdown bullet list of what the run shows, every number taken from ``metrics``.

    ``params`` ``{method: parameter count}``, ``epochs`` ``{method: epochs}``, ``tv_iterations``
    and ``tv_grid`` (the number of λ values tried) describe TV's budget. States the best
    method per acceleration, U-Net against AUTOMAP (with the likely reasons when the U-Net wins),
    and whether the learned methods beat the zero-filled and TV baselines.
    """
    lines = []
    for acc in accelerations:
        key = acc_key(acc)
        psnr = {m: metrics[m][key]["mean"]["psnr"] for m in METHODS}
        ranking = sorted(METHODS, key=lambda m: -psnr[m])
        lines.append(f"- **{key}**: " + " > ".join(f"{METHOD_LABELS[m]} {_fmt_db(psnr[m])}" for m in ranking)
                     + " (mean PSNR over test volumes).")
    under = [a for a in accelerations if a != 1]
    unet_wins = [a for a in under if metrics["unet"][acc_key(a)]["mean"]["psnr"] > metrics["automap"][acc_key(a)]["mean"]["psnr"]]
    ratio = params["automap"] / max(1, params["unet"])
    if under and len(unet_wins) == len(under):
        lines.append(
            f"- The U-Net beats AUTOMAP at every undersampled acceleration, with {ratio:.1f}× fewer "
            f"parameters ({params['unet']:,} against {params['automap']:,}). Likely reasons: its input is "
            "already an image (the zero-filled inverse FFT), so it only has to remove aliasing, a local and "
            "translation-invariant correction that convolutions with skip connections express cheaply; "
            "AUTOMAP must learn the global Fourier inverse itself in dense layers whose "
            f"weights scale with n⁴, from only {n_train} training slices.")
    elif under and not unet_wins:
        lines.append(f"- AUTOMAP beats the U-Net at every undersampled acceleration, with {ratio:.1f}× the "
                     f"U-Net's parameters ({params['automap']:,} against {params['unet']:,}).")
    elif under:
        lines.append("- Neither learned method wins everywhere: the U-Net is ahead at "
                     + ", ".join(acc_key(a) for a in unet_wins) + " and AUTOMAP at the others.")
    for method in LEARNED:
        trivial = [a for a in accelerations
                   if metrics[method][acc_key(a)]["mean"]["psnr"] <= metrics["mean_image"][acc_key(a)]["mean"]["psnr"]]
        if trivial:
            lines.append(f"- {METHOD_LABELS[method]} does *not* beat the mean training image at "
                         + ", ".join(acc_key(a) for a in trivial) + ": there it has learned nothing from its input.")
    for method in LEARNED:
        worse = [a for a in accelerations
                 if metrics[method][acc_key(a)]["mean"]["psnr"] < metrics["zero_filled"][acc_key(a)]["mean"]["psnr"]]
        if worse:
            lines.append(f"- {METHOD_LABELS[method]} is *below* the zero-filled baseline at "
                         + ", ".join(acc_key(a) for a in worse)
                         + f" after {_epochs(epochs[method])} on {n_train} slices: under this profile's budget "
                           "it has not learned to beat a plain inverse FFT there.")
    tv_worse = [a for a in under if metrics["tv"][acc_key(a)]["mean"]["psnr"] < metrics["zero_filled"][acc_key(a)]["mean"]["psnr"]]
    if tv_worse:
        budget = "" if tv_iterations is None else f" ({tv_iterations} solver iterations, {tv_grid} λ value(s) tried)"
        lines.append("- TV is below zero-filled at " + ", ".join(acc_key(a) for a in tv_worse)
                     + f": with the λ chosen on the validation split{budget} it made the test images worse "
                       "than its zero-filled starting point.")
    return "\n".join(lines)


# ---- chapter 07 findings ------------------------------------------------------------------------

def findings_07(summary: list[dict], val_slices: int, val_volumes: int, mean_image_psnr: float) -> str:
    """A Markdown bullet list comparing the study's variants, every number taken from ``summary``
    (:func:`summarize_seeds` rows). Variants whose mean val PSNR is at or below ``mean_image_psnr``
    (the mean training image's) have not learned from their input: they are named and left out of
    every ranking. A difference between two variants is called real only when it is larger than
    the larger of their two seed spreads (max − min over seeds); with one seed, none is."""
    by = {(r["variant"], r["acceleration"]): r for r in summary}
    accs = list(dict.fromkeys(r["acceleration"] for r in summary))
    seeds = min(len(r["seeds"]) for r in summary)
    learned = {k: r["val_psnr"] > mean_image_psnr for k, r in by.items()}
    lines = []
    below = [f"`{v}` {a}" for (v, a), ok in learned.items() if not ok]
    if below:
        lines.append(f"- **Not learned**: {len(below)} of {len(summary)} variant/acceleration pairs "
                     f"({', '.join(below)}) are on average at or below the {mean_image_psnr:.2f} dB of predicting "
                     "the mean training image whatever the input. They are left out of the rankings below: "
                     "their numbers say nothing about the architecture, only that this budget was too small.")
    else:
        lines.append(f"- Every variant beats the mean training image ({mean_image_psnr:.2f} dB) at every "
                     "acceleration, averaged over seeds, so all of them learned something from their input.")
    for acc in accs:
        ranked = sorted((r for r in summary if r["acceleration"] == acc and learned[(r["variant"], acc)]),
                        key=lambda r: -r["val_psnr"])
        if ranked:
            lines.append(f"- **{acc}** (mean over {seeds} seeds, seed spread in brackets): " + " > ".join(
                f"`{r['variant']}` {r['val_psnr']:.2f} dB ({r['seed_spread']:.2f})" for r in ranked) + ".")

    def compare(a: str, b: str, what: str) -> None:
        for acc in accs:
            if (a, acc) not in by or (b, acc) not in by:
                continue
            if not (learned[(a, acc)] and learned[(b, acc)]):
                continue
            ra, rb = by[(a, acc)], by[(b, acc)]
            delta, spread = ra["val_psnr"] - rb["val_psnr"], max(ra["seed_spread"], rb["seed_spread"])
            real = seeds >= 2 and abs(delta) > spread
            verdict = (f"larger than the seed spread ({spread:.2f} dB): a real difference" if real else
                       f"within the seed spread ({spread:.2f} dB): no difference can be claimed" if seeds >= 2 else
                       "one seed only: no difference can be claimed")
            lines.append(f"- {what} at {acc}: `{a}` {'gains' if delta >= 0 else 'loses'} {abs(delta):.2f} dB "
                         f"against `{b}` with {ra['params'] / rb['params']:.2f}× the parameters and "
                         f"{ra['train_seconds'] / max(rb['train_seconds'], 1e-9):.2f}× the training time; "
                         f"{verdict}.")

    compare("original", "seed", "Widths (AUTOMAP's n² first layer against the seed's n²/4)")
    compare("smaller", "seed", "A further 4× narrower first dense layer")
    compare("one_dense", "seed", "One dense layer instead of two")
    compare("fullconv", "seed", "No dense layer (fully convolutional)")
    lines.append(f"- Validation: {val_slices} slices from {val_volumes} volume(s); {seeds} training run(s) per cell, "
                 "each with its own initial weights, data order and masks.")
    return "\n".join(lines)


def mean_image_reference(prepared_path, val: dict) -> dict:
    """Val metrics of a trivial predictor: the pixel-wise mean of the training targets, whatever
    the input. A variant at or below it has not learned anything from its input yet."""
    mean = np.broadcast_to(mean_target(prepared_path, "train")[..., None], val["targets"].shape)
    return evaluate.evaluate_volumes(val["targets"], mean, val["volume"])


def first_volumes(split: dict, count: int) -> dict:
    """The slices of the first ``count`` volumes (in file order) of a :func:`read_split` dict
    (``count == 0``: all). Used to bound the cost of tuning TV's λ on large validation splits."""
    if count == 0:
        return split
    keep = set(list(dict.fromkeys(split["volume"]))[:count])
    rows = np.array([v in keep for v in split["volume"]])
    return {k: (v[rows] if isinstance(v, np.ndarray) and len(v) == len(rows) else v) for k, v in split.items()}
