"""Chapter 07's experiment: AUTOMAP variants trained under one budget, compared on validation.

The variants are entries of :data:`automap_nb.models.VARIANTS` (:data:`STUDY_VARIANTS` lists the ones
this study compares), built by :func:`automap_nb.models.build_variant` and counted by
:func:`automap_nb.models.count_params` like every other model. :func:`run_study` trains each at
each acceleration for each seed, :func:`summarize_seeds` folds the seeds, :func:`findings` says
what the numbers show; the figure is :func:`automap_nb.figures.reconstruction.psnr_against_cost`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
from tqdm import tqdm

from automap_nb import evaluate, models, training
from automap_nb.data import subsample
from automap_nb.data.prepared import read_header, read_split
from automap_nb.experiments.undersampling import acc_key, history_summary
from automap_nb.results import scratch_dir

#: The variants the study compares (all in :data:`automap_nb.models.VARIANTS`, at any even n):
#: AUTOMAP's widths, the seed's shrink, a further 4× narrower first layer, one dense layer, none.
STUDY_VARIANTS = ("original", "seed", "smaller", "one_dense", "fullconv")


def val_metrics(model, val: dict, acceleration, mask_kind: str) -> dict:
    """fastMRI-style metrics of ``model`` on the val split at ``acceleration`` with per-volume masks."""
    masks = subsample.volume_masks(val["volume"], mask_kind, acceleration, val["inputs"].shape[1])
    pred = training.predict(model, subsample.apply_mask(val["inputs"], masks))
    return evaluate.evaluate_volumes(val["targets"], pred, val["volume"])


def run_study(prepared_path, variants, accelerations, *, epochs: int, batch_size: int, learning_rate: float, seeds, mask_kind: str,
              l1: float = 1e-6, conv_filters: int = models.CONV_FILTERS, lr_schedule: str = "cosine", dc_phase: bool = False,
              pipeline: str = "numpy", progress: bool = True) -> list[dict]:
    """Train every variant (names of :data:`automap_nb.models.VARIANTS`, built by
    :func:`automap_nb.models.build_variant`) at every acceleration for every seed under one budget;
    evaluate on val.

    Same data, epochs, batch size, optimizer (Adam, ``learning_rate``, ``lr_schedule``) and, per
    seed, the same initial-weight seed and mask sequence for all variants; ``dc_phase``: every
    variant starts with :class:`automap_nb.models.AlignDCPhase`; ``pipeline``: as
    :func:`automap_nb.training.train`'s. Returns one row per
    (variant, acceleration, seed): ``variant, acceleration, seed, params, dense_widths,
    train_seconds, samples_per_s, val_psnr, val_psnr_std2, val_ssim, val_nmse, val_psnr_seed,
    final_train_psnr_seed``. Checkpoints live in a scratch folder of the run, deleted afterwards.
    """
    import logging

    val = read_split(prepared_path, "val")
    n = read_header(prepared_path).n
    rows = []
    root = scratch_dir(Path(prepared_path).parent, "07_study")  # in the run folder, not /tmp
    tf_logger = logging.getLogger("tensorflow")  # TF's "retracing" warning: expected, one model per run
    tf_level = tf_logger.level
    tf_logger.setLevel(logging.ERROR)
    try:
        combos = [(v, a, s) for v in variants for a in accelerations for s in seeds]
        for variant, acc, seed in tqdm(combos, desc="study", disable=not progress):
            model = models.build_variant(variant, n, l1=l1, seed=seed, conv_filters=conv_filters, dc_phase=dc_phase)
            mask_fn = subsample.make_mask_fn(mask_kind, acc, n, seed=seed)
            history = training.train(model, prepared_path, root / f"{variant}_{acc_key(acc)}_seed{seed}", epochs=epochs,
                                     batch_size=batch_size, learning_rate=learning_rate, seed=seed, lr_schedule=lr_schedule,
                                     progress=False, mask_fn=mask_fn, pipeline=pipeline)
            summary = history_summary(history)
            ev = val_metrics(model, val, acc, mask_kind)
            rows.append(
                dict(variant=variant, acceleration=acc_key(acc), seed=seed, params=summary["params"],
                     dense_widths=models.variant_fc_widths(variant, n), train_seconds=summary["train_seconds"],
                     samples_per_s=summary["samples_per_s"], val_psnr=ev["mean"]["psnr"], val_psnr_std2=ev["std2"]["psnr"],
                     val_ssim=ev["mean"]["ssim"], val_nmse=ev["mean"]["nmse"], val_psnr_seed=ev["mean"]["psnr_seed"],
                     final_train_psnr_seed=summary["final_train_psnr_seed"]))
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
        out.append(
            dict(variant=variant, acceleration=acc, params=group[0]["params"], seeds=[r["seed"] for r in group],
                 val_psnr=float(np.mean(psnr)), val_psnr_min=float(min(psnr)), val_psnr_max=float(max(psnr)),
                 seed_spread=float(max(psnr) - min(psnr)), val_ssim=float(np.mean([r["val_ssim"] for r in group])),
                 train_seconds=float(np.mean([r["train_seconds"] for r in group]))))
    return out


def findings(summary: list[dict], val_slices: int, val_volumes: int, mean_image_psnr: float) -> str:
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
            lines.append(f"- **{acc}** (mean over {seeds} seeds, seed spread in brackets): " +
                         " > ".join(f"`{r['variant']}` {r['val_psnr']:.2f} dB ({r['seed_spread']:.2f})" for r in ranked) + ".")

    def compare(a: str, b: str, what: str) -> None:
        for acc in accs:
            if (a, acc) not in by or (b, acc) not in by:
                continue
            if not (learned[(a, acc)] and learned[(b, acc)]):
                continue
            ra, rb = by[(a, acc)], by[(b, acc)]
            delta, spread = ra["val_psnr"] - rb["val_psnr"], max(ra["seed_spread"], rb["seed_spread"])
            real = seeds >= 2 and abs(delta) > spread
            verdict = (f"larger than the seed spread ({spread:.2f} dB): a real difference"
                       if real else f"within the seed spread ({spread:.2f} dB): no difference can be claimed"
                       if seeds >= 2 else "one seed only: no difference can be claimed")
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
