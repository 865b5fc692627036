"""Chapter 10's experiment: dAUTOMAP (:func:`automap_nb.models.build_dautomap`) against AUTOMAP.

- :func:`size_table`: parameters and multiply-accumulates per slice of AUTOMAP (the paper's and the
  original widths) and dAUTOMAP at several grid sizes, counted from layer shapes
  (:func:`automap_nb.models.count_params`, :func:`automap_nb.models.count_macs`); :func:`size_pivots`
  lays them out for the book.
- :func:`train_model`: one model trained by :func:`automap_nb.training.train` with a fresh random
  mask per sample from the chapter's accelerations (as chapter 06 trains one model for several).
  Every model of a comparison gets the same epochs, batch size, schedule and data order: equal samples.
- :func:`test_metrics`: fastMRI's per-volume metrics on the test split under chapter 06's
  per-volume masks (:func:`automap_nb.data.subsample.volume_masks`), with zero-filled and the mean
  training image on the same slices; :func:`chapter06_results` reads chapter 06's methods on those
  slices from its JSON, after checking that they are the same slices and masks.
- :func:`compare_pairs`: the paired comparisons over test volumes (:func:`automap_nb.statistics.compare`).
- :func:`prepare_like`: the same data prepared again at a larger grid (same folders, same split).
- :func:`stability_beside_chapter08`: chapter 08's adversarial search run on a dAUTOMAP, paired with
  chapter 08's AUTOMAP and inverse FFT on the same slices.

Shapes: k-space inputs ``(N, n, n, 2)``, targets ``(N, n, n, 1)``, reconstructions ``(N, n, n)``.
The words are in :mod:`automap_nb.findings`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from automap_nb import baselines, distribute, evaluate, models, statistics, training
from automap_nb.data import prepared, subsample
from automap_nb.experiments.undersampling import acc_key
from automap_nb.results import read_json

#: Grid sizes of the size table: the book's, the paper's, and fastMRI's crop (AUTOMAP cannot go there).
SIZES = (64, 128, 256, 320)
#: Rows of the size table: ``{variant: label}``.
TABLE_VARIANTS = {"greenberg": "AUTOMAP, the paper's widths", "original": "AUTOMAP, original widths", "dautomap": "dAUTOMAP"}
#: Bytes per parameter of float32 weights with Adam's two moments.
BYTES_WITH_ADAM = 12
#: Chapter 06's methods that chapter 10 reads from its JSON, and how the book names them.
CHAPTER06_METHODS = {"tv": "TV", "unet": "U-Net", "automap": "AUTOMAP (chapter 06)"}

#: How the book names the dAUTOMAP of each ``transform_init``.
INIT_LABELS = {"idft": "dAUTOMAP", "random": "dAUTOMAP, random start"}


def size_table(sizes=SIZES, conv_filters: int = models.CONV_FILTERS) -> list[dict]:
    """Rows ``{model, n, parameters, MACs per slice, weights + Adam (GB)}`` (float32)."""
    rows = []
    for variant, label in TABLE_VARIANTS.items():
        for n in sizes:
            params = models.count_params(variant, n, conv_filters)
            rows.append({
                "model": label, "n": n, "parameters": params, "MACs per slice": models.count_macs(variant, n, conv_filters),
                "weights + Adam (GB)": BYTES_WITH_ADAM * params / 1e9
            })
    return rows


def _short(value: float) -> str:
    """``12,695,297 → "12.7 M"``, ``7,864,555,265 → "7.86 G"``, ``174,401 → "174 k"``."""
    for factor, unit in ((1e9, "G"), (1e6, "M"), (1e3, "k")):
        if value >= factor:
            return f"{value / factor:.3g} {unit}"
    return f"{value:.3g}"


def size_pivots(rows: list[dict]) -> dict[str, dict]:
    """:func:`size_table`'s rows as two ``{model: {"n²": text}}`` tables for a pandas DataFrame:
    ``"parameters"`` (with the GB of float32 weights and Adam's moments) and ``"GMAC"`` per slice."""
    out = {"parameters": {}, "GMAC": {}}
    for r in rows:
        out["parameters"].setdefault(r["model"],
                                     {})[f"{r['n']}²"] = f"{_short(r['parameters'])} ({r['weights + Adam (GB)']:.3g} GB)"
        out["GMAC"].setdefault(r["model"], {})[f"{r['n']}²"] = f"{r['MACs per slice'] / 1e9:.3g}"
    return out


def prepare_like(prepared_path, out_path, size: int, progress: bool = True) -> Path:
    """Prepare the data behind ``prepared_path`` again at grid ``size`` into ``out_path``: the same
    folders and split fractions (read from its attributes), so the same volumes land in each split.
    At the file's own grid nothing is written and ``prepared_path`` itself is returned."""
    import json

    import h5py

    from automap_nb.data import prepare

    if prepared.read_header(prepared_path).n == size:
        return Path(prepared_path)
    with h5py.File(prepared_path, "r") as f:
        attrs = {key: f.attrs.get(key, "") for key in ("source_dir", "val_dir", "test_dir", "split_fractions")}
    folders = {key: (attrs[key].decode() if isinstance(attrs[key], bytes) else attrs[key]) or None for key in attrs}
    if folders["source_dir"] is None or folders["split_fractions"] is None:
        raise ValueError(f"{prepared_path}: no source_dir or split_fractions attribute; rerun chapter 02")
    prepare.prepare_dataset(folders["source_dir"], out_path, size=size, fractions=json.loads(folders["split_fractions"]),
                            progress=progress, val_dir=folders["val_dir"], test_dir=folders["test_dir"])
    return Path(out_path)


def train_model(variant: str, prepared_path, out_dir, *, accelerations, epochs: int, batch_size: int, learning_rate: float,
                lr_schedule: str, conv_filters: int, dc_phase: bool, seed: int, transform_init: str | None = None,
                validate_every: int = 1, progress: bool = True, distribution=None):
    """Build ``variant`` at the prepared file's ``n`` (seeded) and train it on its train split with a
    fresh random mask per sample drawn from ``accelerations``. dAUTOMAP variants take
    ``transform_init`` and the file's ``kspace_scale`` (the inverse-DFT start's gain).
    ``distribution``: :func:`automap_nb.distribute.setup`'s layout, under which the model is built
    and trained (``None``: one device). Returns ``(model with its final weights, training history)``."""
    header = prepared.read_header(prepared_path)
    extra = {}
    if models.VARIANTS[variant]["kind"] == "dautomap":
        extra = dict(transform_init=transform_init or "idft", kspace_scale=header.kspace_scale)
    with distribute.scope(distribution):  # the variables take the layout as they are created
        model = models.build_variant(variant, header.n, seed=seed, conv_filters=conv_filters, dc_phase=dc_phase, **extra)
    mask_fn = subsample.make_mask_fn("random", list(accelerations), header.n, seed=seed)
    history = training.train(model, prepared_path, out_dir, epochs=epochs, batch_size=batch_size, learning_rate=learning_rate,
                             seed=seed, mask_fn=mask_fn, lr_schedule=lr_schedule, validate_every=validate_every, progress=progress,
                             distribution=distribution)
    return model, history


def curve(history: dict) -> dict:
    """A history's learning curve at its validated epochs: cumulative ``samples`` and training
    ``seconds``, and ``val_psnr`` (PSNR, MAX = 1, fully sampled validation slices)."""
    epochs = history["epochs"]
    samples, seconds = np.cumsum([e["samples"] for e in epochs]), np.cumsum([e["train_seconds"] for e in epochs])
    kept = [i for i, e in enumerate(epochs) if np.isfinite(e["val_psnr"])]
    return dict(samples=[int(samples[i]) for i in kept], seconds=[float(seconds[i]) for i in kept],
                val_psnr=[float(epochs[i]["val_psnr"]) for i in kept])


def masked_inputs(split: dict, acceleration, mask_kind: str) -> np.ndarray:
    """The split's k-space under chapter 06's per-volume mask of ``acceleration`` (1: unchanged)."""
    if acceleration == 1:
        return split["inputs"]
    n = split["inputs"].shape[1]
    return subsample.apply_mask(split["inputs"], subsample.volume_masks(split["volume"], mask_kind, acceleration, n))


def test_metrics(trained: dict, prepared_path, test: dict, accelerations, mask_kind: str) -> tuple[dict, dict]:
    """``trained`` ``{label: model}`` on the test split ``test`` at every acceleration, with
    ``"zero-filled"`` and ``"mean training image"`` on the same slices and masks. Returns
    ``(metrics {label: {acc_key: evaluate_volumes}}, recon {acc_key: {label: (N, n, n)}})``."""
    targets, volumes = test["targets"][..., 0], test["volume"]
    mean_image = np.broadcast_to(prepared.mean_target(prepared_path, "train"), targets.shape).astype(np.float32)
    metrics, recon = {}, {}
    for acc in accelerations:
        key, inputs = acc_key(acc), masked_inputs(test, acc, mask_kind)
        recon[key] = {"mean training image": mean_image, "zero-filled": baselines.zero_filled(inputs, test["kspace_scale"])}
        recon[key].update({label: training.predict(model, inputs)[..., 0] for label, model in trained.items()})
        for label, images in recon[key].items():
            metrics.setdefault(label, {})[key] = evaluate.evaluate_volumes(targets, images, volumes)
    return metrics, recon


def chapter06_results(path: str | Path, test: dict, accelerations, mask_kind: str) -> dict:
    """Chapter 06's per-volume results of :data:`CHAPTER06_METHODS` on this chapter's test slices:
    ``{label: {acc_key: result}}``. A ``ValueError`` naming the file when chapter 06 ran on another
    grid, other volumes, another mask kind, or without one of ``accelerations``."""
    record = read_json(path)
    n, volumes = test["inputs"].shape[1], sorted(set(test["volume"]))
    if record.get("n") != n or sorted(record.get("test_volumes", [])) != volumes or record.get("mask_kind") != mask_kind:
        raise ValueError(f"{path}: chapter 06 ran on other test slices or masks (n {record.get('n')}, mask "
                         f"{record.get('mask_kind')!r}) than chapter 10 (n {n}, mask {mask_kind!r}); rerun chapter 06")
    missing = [acc_key(a) for a in accelerations if acc_key(a) not in record.get("accelerations", [])]
    if missing:
        raise ValueError(f"{path}: chapter 06 has no results at {missing}; rerun it with those accelerations")
    return {
        label: {acc_key(a): record["results"][method][acc_key(a)]
                for a in accelerations}
        for method, label in CHAPTER06_METHODS.items()
    }


def compare_pairs(metrics: dict, pairs, accelerations, split: str = "test", exact: str = "zero-filled") -> dict:
    """``{acc_key: {"a − b": {metric: Comparison}}}`` for every ``(a, b)`` of ``pairs`` (labels of
    ``metrics``) at every acceleration where both have results; not against ``exact`` at 1× (the
    inverse FFT of fully sampled k-space is the target itself, not a method to beat)."""
    out = {}
    for acc in accelerations:
        key = acc_key(acc)
        out[key] = {
            f"{a} − {b}": statistics.compare(metrics[a][key], metrics[b][key], split, a, b)
            for a, b in pairs if key in metrics[a] and key in metrics[b] and not (acc == 1 and exact in (a, b))
        }
    return {key: by_pair for key, by_pair in out.items() if by_pair}


def learned(metrics: dict, labels, split: str = "test") -> dict[str, statistics.Learned]:
    """The one learned rule for every model of ``labels`` at 1× against the mean training image."""
    key = acc_key(1)
    return {
        label: statistics.learned(metrics[label][key], metrics["mean training image"][key], split, model=label)
        for label in labels
    }


def comparisons_json(comparisons: dict) -> dict:
    """:func:`compare_pairs`'s result as plain dicts for the results JSON."""
    return {
        key: {pair: {m: c.to_dict()
                     for m, c in by_metric.items()}
              for pair, by_metric in by_pair.items()}
        for key, by_pair in comparisons.items()
    }


#: Chapter 08's methods each group of :func:`stability_beside_chapter08` is paired with.
STABILITY_REFERENCES = {"1×": ("automap", "ifft"), "4×": ("unet", "zero_filled", "tv")}


def stability_beside_chapter08(model, test: dict, chapter08: dict, seed: int = 0) -> tuple[list[dict], dict]:
    """Chapter 08's adversarial search (:func:`automap_nb.experiments.stability.run_group`: the same test
    slices, budgets, steps, step size and momentum, and at 4× the same per-volume masks, read from its
    JSON ``chapter08``) run on ``model`` fully sampled (group ``"1×"``) and at 4× (``"4×"``), and its
    worst amplification at the largest budget paired slice by slice (one slice per test volume) with
    chapter 08's methods of that group (:data:`STABILITY_REFERENCES`). The perturbations tried for
    ``model`` are random noise and its own search. Returns ``(summary rows, {group: {method:
    interval}})`` (:func:`automap_nb.statistics.paired_interval`; ``a`` is ``model``)."""
    from automap_nb.experiments import stability

    where = {(v, int(s)): i for i, (v, s) in enumerate(zip(test["volume"], test["slice"]))}
    missing = [s for s in chapter08["slices"] if (s["volume"], s["slice"]) not in where]
    if missing:
        raise ValueError(f"chapter 08's slices {missing} are not in this test split; rerun chapter 08")
    rows = [where[(s["volume"], s["slice"])] for s in chapter08["slices"]]
    scale, n = test["kspace_scale"], test["inputs"].shape[1]
    y = (test["inputs"][rows] / scale).astype(np.float32)  # k-space in image units, as chapter 08
    masks = {"1×": None, "4×": subsample.volume_masks(test["volume"][rows], chapter08["mask_kind"], 4, n).astype(np.float32)}
    top = max(chapter08["budgets"])
    theirs = {(r["group"], r["method"]): r for r in chapter08["summary"] if r["budget"] == top}
    summary, comparisons = [], {}
    for group, mask in masks.items():
        result = stability.run_group(lambda m: {"dautomap": stability.model_operator(model, scale, m)}, ["dautomap"], y,
                                     chapter08["budgets"], mask=mask, steps=chapter08["steps"], step_size=chapter08["step_size"],
                                     momentum=chapter08["momentum"], seed=seed)
        rows_here = stability.summary_rows(group, result, test["targets"][rows, ..., 0])
        ours = next(r for r in rows_here if r["budget"] == top)
        comparisons[group] = {
            m: {**statistics.paired_interval(ours["amp_worst_slices"], theirs[(group, m)]["amp_worst_slices"]), "budget": top}
            for m in STABILITY_REFERENCES[group] if (group, m) in theirs
        }
        summary += rows_here
    return summary, comparisons


def runs_rows(trained: dict, curves: dict) -> list[dict]:
    """One row per trained model (``trained`` ``{label: model}``, ``curves`` ``{label: curve(history)}``):
    parameters, samples seen, training seconds, samples per second and the last validation PSNR."""
    return [{
        "model": label, "parameters": int(trained[label].count_params()), "samples": c["samples"][-1],
        "training s": c["seconds"][-1], "samples / s": c["samples"][-1] / c["seconds"][-1],
        "last val PSNR (dB, MAX = 1)": c["val_psnr"][-1]
    } for label, c in curves.items() if label in trained]
