"""Chapter 07's experiment: AUTOMAP variants trained under one budget, compared on validation.

The variants are entries of :data:`automap_nb.models.VARIANTS` (:data:`STUDY_VARIANTS` lists the ones
this study compares), built by :func:`automap_nb.models.build_variant` and counted by
:func:`automap_nb.models.count_params` like every other model. :func:`run_study` trains each at
each acceleration for each seed, :func:`summarize_seeds` folds the seeds for the tables, and
:func:`learned_by_cell` / :func:`compare_learned` apply the book's one rule (:mod:`automap_nb.statistics`)
to the seeds pooled per volume: every variant is judged against the mean training image, and only
variants that passed are compared. The words are :func:`automap_nb.findings.architecture_verdict`;
the figures are :func:`automap_nb.figures.reconstruction.psnr_against_cost` and
:func:`automap_nb.figures.study.gain_intervals`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from tqdm import tqdm

from automap_nb import distribute, evaluate, models, statistics, training
from automap_nb.data import subsample
from automap_nb.data.prepared import read_header, read_split
from automap_nb.experiments.undersampling import acc_key, history_summary
from automap_nb.results import scratch_dir

#: The variants the study compares (all in :data:`automap_nb.models.VARIANTS`, at any even n):
#: AUTOMAP's widths, the paper's shrink, a further 4× narrower first layer, one dense layer, none.
STUDY_VARIANTS = ("original", "greenberg", "smaller", "one_dense", "fullconv")


def val_metrics(model, val: dict, acceleration, mask_kind: str) -> dict:
    """fastMRI-style metrics of ``model`` on the val split at ``acceleration`` with per-volume masks."""
    masks = subsample.volume_masks(val["volume"], mask_kind, acceleration, val["inputs"].shape[1])
    pred = training.predict(model, subsample.apply_mask(val["inputs"], masks))
    return evaluate.evaluate_volumes(val["targets"], pred, val["volume"])


def run_study(prepared_path, variants, accelerations, *, epochs: int, batch_size: int, learning_rate: float, seeds, mask_kind: str,
              l1: float = 1e-6, conv_filters: int = models.CONV_FILTERS, lr_schedule: str = "cosine", dc_phase: bool = False,
              pipeline: str = "numpy", progress: bool = True, distribution=None) -> list[dict]:
    """Train every variant (names of :data:`automap_nb.models.VARIANTS`, built by
    :func:`automap_nb.models.build_variant`) at every acceleration for every seed under one budget;
    evaluate on val.

    Same data, epochs, batch size, optimizer (Adam, ``learning_rate``, ``lr_schedule``) and, per
    seed, the same initial-weight seed and mask sequence for all variants; ``dc_phase``: every
    variant starts with :class:`automap_nb.models.AlignDCPhase`; ``pipeline``: as
    :func:`automap_nb.training.train`'s; ``distribution``: each model is built and trained under it
    (:func:`automap_nb.distribute.setup`). Returns one row per
    (variant, acceleration, seed): ``variant, acceleration, seed, params, dense_widths,
    train_seconds, samples_per_s, val_psnr, val_psnr_std2, val_ssim, val_nmse, val_psnr_max1,
    final_train_psnr_max1, per_volume`` (:func:`automap_nb.evaluate.evaluate_volumes`'s).
    Checkpoints live in a scratch folder of the run, deleted afterwards.
    """
    import logging

    val = read_split(prepared_path, "val", nonempty=True)
    n = read_header(prepared_path).n
    rows = []
    root = scratch_dir(Path(prepared_path).parent, "07_study")  # in the run folder, not /tmp
    tf_logger = logging.getLogger("tensorflow")  # TF's "retracing" warning: expected, one model per run
    tf_level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)
    try:
        combos = [(v, a, s) for v in variants for a in accelerations for s in seeds]
        for variant, acc, seed in tqdm(combos, desc="study", disable=not progress):
            with distribute.scope(distribution):  # the variables take the distribution's layouts as they are created
                model = models.build_variant(variant, n, l1=l1, seed=seed, conv_filters=conv_filters, dc_phase=dc_phase)
            mask_fn = subsample.make_mask_fn(mask_kind, acc, n, seed=seed)
            history = training.train(model, prepared_path, root / f"{variant}_{acc_key(acc)}_seed{seed}", epochs=epochs,
                                     batch_size=batch_size, learning_rate=learning_rate, seed=seed, lr_schedule=lr_schedule,
                                     progress=False, mask_fn=mask_fn, pipeline=pipeline, distribution=distribution)
            summary = history_summary(history)
            ev = val_metrics(model, val, acc, mask_kind)
            rows.append(
                dict(variant=variant, acceleration=acc_key(acc), seed=seed, params=summary["params"],
                     dense_widths=models.variant_fc_widths(variant, n), train_seconds=summary["train_seconds"],
                     samples_per_s=summary["samples_per_s"], val_psnr=ev["mean"]["psnr"], val_psnr_std2=ev["std2"]["psnr"],
                     val_ssim=ev["mean"]["ssim"], val_nmse=ev["mean"]["nmse"], val_psnr_max1=ev["mean"]["psnr_max1"],
                     final_train_psnr_max1=summary["final_train_psnr_max1"], per_volume=ev["per_volume"]))
            del model
    finally:
        tf_logger.setLevel(tf_level)
        shutil.rmtree(root)
    return rows


def summarize_seeds(rows: list[dict]) -> list[dict]:
    """One row per (variant, acceleration) over its seeds: ``val_psnr`` (mean), ``val_psnr_min``,
    ``val_psnr_max``, ``seed_spread`` (max − min, dB), ``val_ssim``, ``val_nmse`` (means), ``params``,
    ``train_seconds`` (mean), ``seeds``."""
    groups: dict[tuple, list[dict]] = {}
    for r in rows:
        groups.setdefault((r["variant"], r["acceleration"]), []).append(r)
    out = []
    for (variant, acc), group in groups.items():
        psnr = [r["val_psnr"] for r in group]
        out.append(
            dict(variant=variant, acceleration=acc, params=group[0]["params"], seeds=[r["seed"] for r in group],
                 val_psnr=float(np.mean(psnr)), val_psnr_min=float(min(psnr)), val_psnr_max=float(max(psnr)),
                 seed_spread=float(max(psnr) - min(psnr)), train_seconds=float(np.mean([r["train_seconds"] for r in group])),
                 **{f"val_{m}": float(np.mean([r[f"val_{m}"] for r in group]))
                    for m in ("ssim", "nmse")}))
    return out


def cell_name(variant: str, acceleration: str) -> str:
    """How the book names one variant at one acceleration: ``"original at 1x"``."""
    return f"{variant} at {acceleration}"


def pooled(rows: list[dict], variant: str, acceleration: str) -> dict:
    """The seeds of one (variant, acceleration) pooled per volume: ``{"per_volume": {volume: {metric:
    mean over the seeds}}, "seeds": [...]}``, the shape :mod:`automap_nb.statistics` reads. The
    volume stays the unit of every interval; averaging the seeds first takes out part of the
    run-to-run noise (initial weights, data order, masks) without counting a volume twice."""
    group = [r for r in rows if (r["variant"], r["acceleration"]) == (variant, acceleration)]
    if not group:
        raise ValueError(f"no study rows for {cell_name(variant, acceleration)}")
    volumes = set(group[0]["per_volume"])
    if any(set(r["per_volume"]) != volumes for r in group):
        raise ValueError(f"{cell_name(variant, acceleration)}: the seeds were evaluated on different volumes")
    metrics = list(statistics.HIGHER_IS_BETTER)
    per_volume = {v: {m: float(np.mean([r["per_volume"][v][m] for r in group])) for m in metrics} for v in sorted(volumes)}
    return {"per_volume": per_volume, "seeds": [r["seed"] for r in group]}


def learned_by_cell(rows: list[dict], mean_image: dict, split: str = "val") -> dict[str, statistics.Learned]:
    """The one learned rule (:func:`automap_nb.statistics.learned`) for every (variant, acceleration)
    of ``rows``, its seeds :func:`pooled`; ``mean_image``: the mean training image's
    :func:`~automap_nb.evaluate.evaluate_volumes` result on the same slices. Keys: :func:`cell_name`."""
    cells = dict.fromkeys((r["variant"], r["acceleration"]) for r in rows)
    return {cell_name(v, a): statistics.learned(pooled(rows, v, a), mean_image, split, model=cell_name(v, a)) for v, a in cells}


def compare_learned(rows: list[dict], learned: dict[str, statistics.Learned], split: str = "val") -> list[dict]:
    """Paired comparisons (:func:`automap_nb.statistics.compare`, seeds :func:`pooled`) of every two
    variants that passed the learned rule at the same acceleration, the one with the higher mean
    PSNR first; variants that did not pass are never compared. One ``{metric: Comparison}`` per pair."""
    cells = {cell_name(r["variant"], r["acceleration"]): (r["variant"], r["acceleration"]) for r in rows}
    passed = sorted((name for name in learned if learned[name].passed), key=lambda name: -learned[name].gain.mean_a)
    out = []
    for i, first in enumerate(passed):
        for second in passed[i + 1:]:
            if cells[first][1] == cells[second][1]:
                out.append(statistics.compare(pooled(rows, *cells[first]), pooled(rows, *cells[second]), split, first, second))
    return out
