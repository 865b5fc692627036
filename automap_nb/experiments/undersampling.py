"""Chapter 06's experiment: reconstructions of undersampled k-space, four methods side by side.

Every method sees the same test slices with the same per-volume masks
(:func:`automap_nb.data.subsample.volume_masks`): zero-filled, TV (:mod:`automap_nb.baselines`), a
U-Net on the zero-filled magnitude (:mod:`automap_nb.models.unet`) and AUTOMAP
(:mod:`automap_nb.models`), the last two trained with :func:`automap_nb.training.train` once per
group of accelerations (:func:`train_all`); then :func:`reconstruct_all`, the tables
(:func:`results_table`, :func:`metrics_json`) and the paired comparisons over test volumes
(:func:`compare_all`, :func:`automap_learned`; their words are in :mod:`automap_nb.findings`). The figures are
in :mod:`automap_nb.figures.reconstruction` and :func:`automap_nb.figures.mri.undersampling_masks`.
Shapes: k-space inputs ``(N, n, n, 2)``, targets ``(N, n, n, 1)``, reconstructions ``(N, n, n)``
float32 magnitudes.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import numpy as np

from automap_nb import baselines, distribute, evaluate, models, statistics, training
from automap_nb.data import prepared, subsample
from automap_nb.models import unet
from automap_nb.results import scratch_dir

METHODS = ("mean_image", "zero_filled", "tv", "unet", "automap")
METHOD_LABELS = dict(mean_image="mean training image", zero_filled="zero-filled", tv="TV (sigpy)", unet="U-Net", automap="AUTOMAP")
LEARNED = ("unet", "automap")


def acc_key(acceleration) -> str:
    """JSON/table key of an acceleration: ``4 → "4x"``."""
    return f"{acceleration:g}x"


def group_label(group) -> str:
    """Label of a training group of accelerations: ``[4, 8] → "4x+8x"``."""
    return "+".join(acc_key(a) for a in group)


def check_groups(groups, accelerations) -> list[list[int]]:
    """Validate ``undersampling_groups``: lists of accelerations covering each evaluated one exactly once."""
    if not isinstance(groups, (list, tuple)) or not groups:
        raise ValueError(f"undersampling_groups must be a non-empty list of lists, got {groups!r}")
    groups = [list(g) if isinstance(g, (list, tuple)) else None for g in groups]
    if any(g is None or not g for g in groups):
        raise ValueError(f"undersampling_groups must be a list of non-empty lists, got {groups!r}")
    flat = [a for g in groups for a in g]
    if sorted(flat) != sorted(accelerations):
        raise ValueError(f"undersampling_groups {groups} must cover accelerations {list(accelerations)} exactly once")
    return groups


def build_method_model(method: str, n: int, variant: str, unet_chans: int, seed: int, unet_residual: bool = False,
                       conv_filters: int = models.CONV_FILTERS, init_from=None, precision: str = "float32", dc_phase: bool = False):
    """A model for ``method`` (``"unet"`` or ``"automap"``) at grid ``n`` (seeded).

    ``init_from``: for AUTOMAP, a training folder (chapter 03's ``run_dir/automap``) whose final
    weights the model starts from instead of random ones; it must hold the same architecture.
    ``precision``: AUTOMAP's ``models.PRECISIONS`` key (the U-Net computes in float32);
    ``dc_phase``: AUTOMAP starts with :class:`automap_nb.models.AlignDCPhase`.
    """
    if method == "automap":
        model = models.build_variant(variant, n, seed=seed, conv_filters=conv_filters, precision=precision, dc_phase=dc_phase)
        if init_from is not None:
            _load_matching_weights(model, init_from)
        return model
    if method == "unet":
        import keras

        keras.utils.set_random_seed(seed)
        return unet.build_unet(n, in_chans=1, chans=unet_chans, num_pool=unet.max_pool_levels(n), residual=unet_residual)
    raise ValueError(f"method must be one of {list(LEARNED)}, got {method!r}")


def _load_matching_weights(model, folder) -> None:
    """Copy the final weights of training folder ``folder`` into ``model`` (same layers and shapes)."""
    try:
        source = training.load_checkpoint(folder, "final", compile=False)
    except FileNotFoundError as err:
        raise FileNotFoundError(f"cannot start AUTOMAP from chapter 03's model: {err}") from None
    mine = [tuple(w.shape) for w in model.weights]
    theirs = [tuple(w.shape) for w in source.weights]
    if models.has_dc_phase(model) != models.has_dc_phase(source):  # a weightless layer: the shapes cannot tell
        raise ValueError(f"{folder}: its model was built with dc_phase={models.has_dc_phase(source)}, the one asked "
                         f"for here with dc_phase={models.has_dc_phase(model)}; use chapter 03's train_dc_phase")
    if mine != theirs:
        raise ValueError(f"{folder}: its model ({source.name}, {source.count_params():,} parameters) does not "
                         f"match the one asked for here ({model.name}, {model.count_params():,}); use the same "
                         "train_variant and train_conv_filters as chapter 03, or automap_init='scratch'")
    model.set_weights(source.get_weights())


def train_method(method: str, group, prepared_path, out_dir, *, mask_kind: str, variant: str, unet_chans: int, epochs: int,
                 batch_size: int, learning_rate: float, seed: int, unet_residual: bool = False, progress: bool = True,
                 conv_filters: int = models.CONV_FILTERS, init_from=None, lr_schedule: str = "cosine", precision: str = "float32",
                 dc_phase: bool = False, pipeline: str = "numpy", augment: bool = True, distribution=None):
    """Train ``method`` on the train split with per-sample masks from the accelerations in ``group``.

    Returns ``(model with the final weights, history dict from training.train)``. U-Net inputs go
    through :func:`automap_nb.baselines.zero_filled_input`; AUTOMAP eats the masked k-space itself and, with
    ``init_from`` (a training folder), starts from that folder's final weights (fine-tuning).
    ``pipeline`` (AUTOMAP only; :func:`automap_nb.training.train`): ``"device"`` builds AUTOMAP's masked
    k-space inside the compiled step; the U-Net's zero-filled inputs are a numpy transform, so it
    always uses the ``"numpy"`` pipeline. ``augment``: the paper's reflection-tiling crops of the
    training images (:func:`automap_nb.training.train`); without them, the slices as they are.
    ``distribution`` (AUTOMAP only; :func:`automap_nb.distribute.setup`): AUTOMAP is built, started
    from ``init_from`` and trained under it; the U-Net trains on one device.
    """
    header = prepared.read_header(prepared_path)
    n, kspace_scale = header.n, header.kspace_scale
    distribution = distribution if method == "automap" else None
    with distribute.scope(distribution):  # the variables take the distribution's layouts as they are created
        model = build_method_model(method, n, variant, unet_chans, seed, unet_residual, conv_filters,
                                   init_from if method == "automap" else None, precision=precision, dc_phase=dc_phase)
    mask_fn = subsample.make_mask_fn(mask_kind, list(group), n, seed=seed)
    transform = baselines.zero_filled_input(kspace_scale) if method == "unet" else None
    history = training.train(model, prepared_path, out_dir, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                             seed=seed, mask_fn=mask_fn, lr_schedule=lr_schedule, input_transform=transform, progress=progress,
                             pipeline=pipeline if method == "automap" else "numpy", augment=augment, distribution=distribution)
    return model, history


def history_summary(history: dict) -> dict:
    """Compact record of a training run: parameters, epochs, time, final train/val PSNR (MAX = 1)."""
    epochs, seconds = history["epochs"], float(sum(e["train_seconds"] for e in history["epochs"]))
    return dict(params=history["config"]["params"], epochs=len(epochs), train_seconds=seconds,
                samples_per_s=float(np.mean([e["samples_per_s"] for e in epochs])), final_train_psnr_max1=epochs[-1]["psnr"],
                final_val_psnr_max1=epochs[-1]["val_psnr"], learning_rate=history["config"]["learning_rate"],
                mask_fn=history["config"]["mask_fn"], train_slices=history["config"]["train_slices"],
                batch_size=history["config"]["batch_size"], device=history.get("device", {}))


def method_settings(p: dict, distribution=None) -> dict:
    """:func:`train_all`'s keyword arguments (but ``keep_checkpoints``) from chapter 06's checked
    parameters ``p``: the shared ones, ``unet={...}`` and ``automap={...}``; ``distribution``: AUTOMAP's."""
    unet = dict(epochs=p["unet_epochs"], learning_rate=p["unet_learning_rate"], batch_size=p["unet_batch_size"],
                augment=p["unet_augment"])
    automap = dict(epochs=p["automap_epochs"], learning_rate=p["automap_learning_rate"], batch_size=p["automap_batch_size"],
                   lr_schedule=p["automap_lr_schedule"], conv_filters=p["train_conv_filters"], dc_phase=p["train_dc_phase"],
                   precision=training.resolve_precision(p["train_precision"]), pipeline=p["train_pipeline"],
                   augment=p["automap_augment"], distribution=distribution,
                   init_from=p["run_dir"] / "automap" if p["automap_init"] == "chapter03" else None)
    return dict(mask_kind=p["mask_kind"], variant=p["train_variant"], seed=p["seed"], unet_chans=p["unet_chans"],
                unet_residual=p["unet_residual"], unet=unet, automap=automap)


#: :func:`training_table`'s column names
TRAINING_LABELS = {
    "params": "parameters", "train_seconds": "training (s)", "samples_per_s": "samples / s",
    "final_train_psnr_max1": "final train PSNR (dB, MAX = 1)", "final_val_psnr_max1": "final val PSNR (dB, MAX = 1)",
    "learning_rate": "learning rate", "train_slices": "training slices", "batch_size": "batch"
}


def training_table(summaries: dict):
    """:func:`train_all`'s summaries as a text table, one column per trained model (the group names
    the masks' accelerations, so the mask function and the device are left out)."""
    import pandas as pd

    from automap_nb import tables

    rows = [{"method": METHOD_LABELS[m], "group": g, **{k: v
                                                        for k, v in s.items() if k not in ("device", "mask_fn")}}
            for m, by_group in summaries.items() for g, s in by_group.items()]
    formats = {
        "parameters": tables.COUNT, "training (s)": tables.significant, "samples / s": tables.significant,
        "final train PSNR (dB, MAX = 1)": tables.PSNR, "final val PSNR (dB, MAX = 1)": tables.PSNR, "learning rate": tables.RATE
    }
    return tables.as_text(pd.DataFrame(rows).rename(columns=TRAINING_LABELS), formats).set_index("method").T


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
                with distribute.scope(per_method[method].get("distribution")):  # laid out as it was trained
                    trained[method][1] = training.load_checkpoint(init_from, "final", compile=False)
                method_groups = [[a for a in g if a != 1] for g in groups]
                method_groups = [g for g in method_groups if g]
            for group in method_groups:
                out = root / f"{method}_{group_label(group)}"
                model, history = train_method(method, group, prepared_path, out, progress=progress, **kwargs, **per_method[method])
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


def reconstruct_all(test: dict, accelerations, mask_kind: str, tv_lambdas: dict, tv_iterations: int, trained: dict,
                    mean_image: np.ndarray, timing_repeats: int = 10, progress: bool = True) -> dict:
    """Every method at every acceleration on the same test slices and per-volume masks.

    ``test``: :func:`automap_nb.data.prepared.read_split` output; ``tv_lambdas`` ``{acc: λ}``;
    ``trained`` ``{method: {acc: model}}``; ``mean_image`` ``(n, n)``: the mean training target,
    the trivial "reconstruction" that ignores the input (``prepared.mean_target``). Returns ``{"recon": {acc: {method: (N, n, n)}},
    "metrics": {method: {acc_key: evaluate_volumes(...)}}, "seconds_per_slice": {method:
    {acc_key: s}}, "masks": {acc: (N, n)}, "achieved": {acc_key: {volume: acceleration}}}``.

    Times are per slice, one slice at a time, on this machine: zero-filled and TV in a loop;
    networks ``training.time_inference`` at batch 1 (median of ``timing_repeats``), the U-Net's
    including its zero-filled input.
    """
    inputs, targets, volumes = test["inputs"], test["targets"], test["volume"]
    n, scale = inputs.shape[1], test["kspace_scale"]
    out = dict(recon={}, metrics={m: {} for m in METHODS}, seconds_per_slice={m: {} for m in METHODS}, masks={}, achieved={})
    for acc in accelerations:
        key = acc_key(acc)
        masks = subsample.volume_masks(volumes, mask_kind, acc, n)
        masked = subsample.apply_mask(inputs, masks)
        out["masks"][acc] = masks
        out["achieved"][key] = {v: subsample.achieved_acceleration(masks[list(volumes).index(v)]) for v in dict.fromkeys(volumes)}
        recon = dict(mean_image=np.broadcast_to(mean_image, targets.shape[:3]).astype(np.float32),
                     zero_filled=baselines.zero_filled(masked, scale))
        zf_seconds = _time_per_slice(lambda x: baselines.zero_filled(x[None], scale), masked)
        recon["tv"], tv_seconds = baselines.tv_reconstruct(masked, masks, scale, tv_lambdas[acc], tv_iterations, progress=progress,
                                                           desc=f"TV {key}")
        seconds = dict(mean_image=_time_per_slice(lambda x: np.array(mean_image), masked), zero_filled=zf_seconds, tv=tv_seconds)
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
    """Rows ``{method, acceleration, achieved ×, NMSE, PSNR, SSIM, PSNR (MAX = 1), ms / slice}`` (fastMRI
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
            rows.append({**row, "PSNR (dB, MAX = 1)": mean["psnr_max1"], "ms / slice": 1000.0 * seconds[method][key]})
    return rows


def spread_table(metrics: dict, metric: str = "psnr", fmt: str = "{:.2f}") -> dict:
    """``{acc_key: {method label: "mean ± 2 std"}}`` of ``metric`` over the test volumes (the mean
    alone below :data:`MIN_VOLUMES_FOR_SPREAD` volumes), for a pandas DataFrame."""
    out = {}
    for method, by_acc in metrics.items():
        for key, ev in by_acc.items():
            text = fmt.format(ev["mean"][metric])
            if ev["volumes"] >= MIN_VOLUMES_FOR_SPREAD and np.isfinite(ev["std2"][metric]):
                text += " ± " + fmt.format(ev["std2"][metric])
            out.setdefault(key, {})[METHOD_LABELS.get(method, method)] = text
    return out


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
    return {m: {k: {**ev, "seconds_per_slice": seconds[m][k]} for k, ev in by_acc.items()} for m, by_acc in metrics.items()}


# ---- paired comparisons over the test volumes (the words are in automap_nb.findings) ----------------

#: The pairs chapter 06 compares at every acceleration, ``(a, b)``: the difference is ``a − b``.
#: The methods are named by :data:`PAIR_LABELS` in the comparisons (and so in the book's sentences).
PAIRS = (("automap", "zero_filled"), ("automap", "tv"), ("automap", "unet"), ("automap", "mean_image"), ("unet", "tv"))
PAIR_LABELS = {**METHOD_LABELS, "tv": "TV"}


def pair_key(a: str, b: str) -> str:
    """JSON key of a compared pair: ``("automap", "tv") → "automap_vs_tv"``."""
    return f"{a}_vs_{b}"


def compare_all(metrics: dict, accelerations, split: str = "test", pairs=PAIRS) -> dict:
    """:func:`automap_nb.statistics.compare` for every pair of ``pairs`` at every acceleration, on the
    volumes of ``metrics`` (``{method: {acc_key: evaluate_volumes(...)}}``, the same slices and masks
    for every method): ``{acc_key: {pair_key: {metric: Comparison}}}``, methods named by
    :data:`PAIR_LABELS`."""
    out = {}
    for acc in accelerations:
        key = acc_key(acc)
        out[key] = {
            pair_key(a, b): statistics.compare(metrics[a][key], metrics[b][key], split, PAIR_LABELS[a], PAIR_LABELS[b])
            for a, b in pairs
        }
    return out


def comparisons_json(comparisons: dict) -> dict:
    """:func:`compare_all`'s result as plain dicts (``Comparison.to_dict``) for the results JSON."""
    out = {}
    for key, by_pair in comparisons.items():
        out[key] = {pair: {m: c.to_dict() for m, c in by_metric.items()} for pair, by_metric in by_pair.items()}
    return out


def exact_methods(accelerations) -> dict:
    """``{acc_key: label}`` of the method that is exact at an acceleration: zero-filled at 1×
    (the inverse FFT of fully sampled k-space is the target, up to float32 round-off)."""
    return {acc_key(a): PAIR_LABELS["zero_filled"] for a in accelerations if a == 1}


def automap_learned(metrics: dict, accelerations, split: str = "test") -> statistics.Learned:
    """The learned rule (:func:`automap_nb.statistics.learned`) for AUTOMAP at the lowest acceleration
    (1×: chapter 03's model itself when chapter 06 fine-tunes it) against the mean training image."""
    key = acc_key(min(accelerations))
    return statistics.learned(metrics["automap"][key], metrics["mean_image"][key], split, model=f"AUTOMAP at {key}")


def first_volumes(split: dict, count: int) -> dict:
    """The slices of the first ``count`` volumes (in file order) of a :func:`automap_nb.data.prepared.read_split`
    dict (``count == 0``: all). Used to bound the cost of tuning TV's λ on large validation splits."""
    if count == 0:
        return split
    keep = set(list(dict.fromkeys(split["volume"]))[:count])
    rows = np.array([v in keep for v in split["volume"]])
    return {k: (v[rows] if isinstance(v, np.ndarray) and len(v) == len(rows) else v) for k, v in split.items()}
