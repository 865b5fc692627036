"""How fast does AUTOMAP learn? Validation and test PSNR against samples seen and seconds, per option.

Each option trains the 64² ``greenberg`` AUTOMAP from the same initial-weight seed with the project's
own trainer (``automap_nb.training.train``: the paper's augmentation, Adam, MSE + L1) on a prepared
file, records the validation PSNR after every epoch together with the samples seen and the
training seconds so far, and then scores the final model on the test split as chapters 05 and 06
do (fastMRI per-volume PSNR and SSIM, fully sampled and with chapter 06's 4× and 8× test masks).
The mean training image (and, undersampled, the zero-filled inverse FFT) on the same slices are
the references every option must beat. An option is a set of departures from :data:`BASE`:
conv-tail width, learning rate and schedule, batch size, input scale or whitening, precision,
loss, Adam's β₂, weight averaging (EMA), gradient clipping, how often the augmentation is applied,
training masks, or a start from another option's final weights (``init``: fine-tuning, as chapter
06 does).

    .venv/bin/python benchmarks/learning.py --prepared runs/default/prepared.h5 \\
        --out benchmarks/learning.json [--only NAME ...] [--samples 38400] [--seeds 0 1] [--jobs 4]

Writes the JSON (one record per option, sample budget and seed, with its curve) and a Markdown
table beside it (regenerated from the JSON, so the two always agree). Records already in the JSON
are kept unless rerun. ``--jobs N`` runs the options in N processes at once (a GPU has room for
many 64² runs); options with ``init`` run after the options they start from. Seconds are
wall-clock on whatever else the machine is doing: run it on an idle machine for timings; samples
seen do not depend on load.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
import types
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from automap_nb import baselines, evaluate, models, training  # noqa: E402
from automap_nb.data import augment, subsample  # noqa: E402
from automap_nb.data.prepared import mean_target, read_header, read_split  # noqa: E402
from automap_nb.results import read_json, write_json  # noqa: E402

#: What an option does unless it says otherwise (the 64² model as benchmarked first).
BASE = dict(variant="greenberg", conv_filters=16, learning_rate=1e-3, schedule="warmup-cosine", batch_size=32, input_scale=1.0,
            precision="float32", augment=1.0, orthogonal=False, loss="mse", l1=1e-6, beta_2=0.999, ema=None, clipnorm=None,
            warmup=0.05, lr_floor=0.01, masks=None, init=None, samples=None, whiten=0.0, dc_phase=False)
# chapter 03 of the cpu profile when the GPU sweep ran ("book"; its learning rate is 7e-4 since)
CPU_BOOK = dict(learning_rate=1.4e-3, batch_size=64, precision="mixed_bfloat16")
# chapter 06 of the cpu profile: fine-tune "book" on 4× and 8× masks
FINE_TUNE = dict(init="book", masks=[4, 8], learning_rate=5e-4, batch_size=32, precision="mixed_bfloat16", samples=3_840)

#: name → departures from BASE. ``augment``: the probability that a training sample is a random crop
#: of the reflection tiling (1 = the paper's augmentation, 0 = none); ``input_scale`` multiplies the
#: prepared k-space; ``warmup`` / ``lr_floor``: the warm-up fraction and the final lr over the peak of
#: "warmup-cosine"; ``whiten``: the power p of :func:`whitened_input`; ``dc_phase``: the
#: models' first layer :class:`automap_nb.models.AlignDCPhase`, as chapter 03 builds it; ``masks``: training
#: accelerations (a fresh random mask per sample); ``init``: the option whose final weights (same
#: seed) this one starts from; ``samples``: this option's own budget instead of ``--samples``.
OPTIONS: dict[str, dict] = {
    "f64-lr2e-4-cosine (as shipped)": dict(conv_filters=64, learning_rate=2e-4, schedule="cosine"),
    "f16-lr1e-3-constant": dict(schedule="constant"),
    "f16-lr1e-3-cosine": dict(schedule="cosine"),
    "f16-lr1e-3-warmup-cosine": dict(),
    "f16-lr2e-3-warmup-cosine": dict(learning_rate=2e-3),
    "f32-lr1e-3-warmup-cosine": dict(conv_filters=32),
    "f64-lr1e-3-warmup-cosine": dict(conv_filters=64),
    "f16-lr1e-3-warmup-cosine-input0.25": dict(input_scale=0.25),
    "f16-lr1e-3-warmup-cosine-input4": dict(input_scale=4.0),
    "f16-lr2e-3-warmup-cosine-input0.25": dict(learning_rate=2e-3, input_scale=0.25),
    "f16-lr1e-3-warmup-cosine-input0.0625": dict(input_scale=0.0625),
    "f16-lr2e-3-warmup-cosine-batch64": dict(learning_rate=2e-3, batch_size=64),
    "f16-lr1.4e-3-warmup-cosine-batch64": dict(learning_rate=1.4e-3, batch_size=64),
    "f16-lr1e-3-warmup-cosine-orthogonal": dict(orthogonal=True),
    "f16-lr1e-3-warmup-cosine-bf16": dict(precision="mixed_bfloat16"),
    "f16-lr1e-3-warmup-cosine-bf16-no-augment": dict(precision="mixed_bfloat16", augment=0.0),
    "f16-lr1.4e-3-warmup-cosine-bf16-batch64": dict(CPU_BOOK),
    "f16-lr2e-3-warmup-cosine-bf16-batch64": dict(CPU_BOOK, learning_rate=2e-3),
    "f16-lr2e-3-warmup-cosine-bf16-batch128": dict(CPU_BOOK, learning_rate=2e-3, batch_size=128),
    # ---- chapter 03 of the cpu profile ("book") and one change at a time (the GPU sweep) ----
    "book": dict(CPU_BOOK),
    "book-lr1e-3": dict(CPU_BOOK, learning_rate=1e-3),
    "book-lr2e-3-clip1": dict(CPU_BOOK, learning_rate=2e-3, clipnorm=1.0),
    "book-ema0.99": dict(CPU_BOOK, ema=0.99),
    "book-ema0.999": dict(CPU_BOOK, ema=0.999),
    "book-mae": dict(CPU_BOOK, loss="mae"),
    "book-no-l1": dict(CPU_BOOK, l1=0.0),
    "book-beta2-0.99": dict(CPU_BOOK, beta_2=0.99),
    "book-f8": dict(CPU_BOOK, conv_filters=8),
    "book-f32": dict(CPU_BOOK, conv_filters=32),
    "book-f64": dict(CPU_BOOK, conv_filters=64),
    "book-batch32-lr1e-3": dict(CPU_BOOK, batch_size=32, learning_rate=1e-3),
    "book-warmup0": dict(CPU_BOOK, warmup=0.0),
    "book-warmup0.15": dict(CPU_BOOK, warmup=0.15),
    "book-floor0.1": dict(CPU_BOOK, lr_floor=0.1),
    "book-augment0.5": dict(CPU_BOOK, augment=0.5),
    "book-augment0.8": dict(CPU_BOOK, augment=0.8),
    "book-masks1+4+8": dict(CPU_BOOK, masks=[1, 4, 8]),
    "book-2x-samples": dict(CPU_BOOK, samples=204_800),
    "book-lr2e-3-ema0.999": dict(CPU_BOOK, learning_rate=2e-3, ema=0.999),
    # ---- chapter 06 of the cpu profile: fine-tuning "book" on undersampled k-space ----
    "tune-book": dict(FINE_TUNE),
    "tune-4x-samples": dict(FINE_TUNE, samples=15_360),
    "tune-4x-samples-lr1e-3": dict(FINE_TUNE, samples=15_360, learning_rate=1e-3),
    "tune-4x-samples-lr2e-4": dict(FINE_TUNE, samples=15_360, learning_rate=2e-4),
    "tune-4x-samples-masks1+4+8": dict(FINE_TUNE, samples=15_360, masks=[1, 4, 8]),
    "tune-4x-samples-4x-only": dict(FINE_TUNE, samples=15_360, masks=[4]),
    "tune-10x-samples": dict(FINE_TUNE, samples=38_400),
    "tune-book-ema0.999": dict(FINE_TUNE, init="book-ema0.999"),
    # ---- the second GPU sweep: lower rates, AUTOMAP without the n²/4 bottleneck, equal CPU time ----
    "book-lr7e-4": dict(CPU_BOOK, learning_rate=7e-4),
    "book-lr5e-4": dict(CPU_BOOK, learning_rate=5e-4),
    "book-lr1e-3-f32": dict(CPU_BOOK, learning_rate=1e-3, conv_filters=32),
    "book-lr1e-3-no-l1": dict(CPU_BOOK, learning_rate=1e-3, l1=0.0),
    "book-lr1e-3-warmup0.15": dict(CPU_BOOK, learning_rate=1e-3, warmup=0.15),
    "book-batch128-lr1.4e-3": dict(CPU_BOOK, batch_size=128, samples=123_904),  # ≈ the samples batch 64 sees in equal CPU time
    "original-lr1e-3": dict(CPU_BOOK, variant="original", learning_rate=1e-3),
    "original-lr5e-4": dict(CPU_BOOK, variant="original", learning_rate=5e-4),
    # ---- on the CPU: chapter 03 at the 680 epochs (87,040 samples) that fit the book's budget ----
    "book-87k-lr7e-4": dict(CPU_BOOK, learning_rate=7e-4, samples=87_040),
    "book-87k-lr1e-3": dict(CPU_BOOK, learning_rate=1e-3, samples=87_040),
    "tune-lr1e-3-lr2e-4": dict(FINE_TUNE, init="book-lr1e-3", learning_rate=2e-4),
    "tune-lr1e-3-4x-samples-lr2e-4": dict(FINE_TUNE, init="book-lr1e-3", learning_rate=2e-4, samples=15_360),
    "tune-lr1e-3-4x-samples-lr1e-4": dict(FINE_TUNE, init="book-lr1e-3", learning_rate=1e-4, samples=15_360),
    "tune-original-4x-samples-lr2e-4": dict(FINE_TUNE, variant="original", init="original-lr1e-3", learning_rate=2e-4,
                                            samples=15_360),
    # ---- on the CPU: k-space divided by (its per-frequency RMS)^p, with lower rates to match ----
    "book-lr7e-4-whiten0.5": dict(CPU_BOOK, learning_rate=7e-4, whiten=0.5),
    "book-lr2e-4-whiten0.5": dict(CPU_BOOK, learning_rate=2e-4, whiten=0.5),
    "book-lr2e-4-whiten1": dict(CPU_BOOK, learning_rate=2e-4, whiten=1.0),
    "book-lr5e-5-whiten1": dict(CPU_BOOK, learning_rate=5e-5, whiten=1.0),
    # ---- on the CPU: k-space rotated so that its DC coefficient is real and positive ----
    "book-lr7e-4-dc-phase": dict(CPU_BOOK, learning_rate=7e-4, dc_phase=True),
    "tune-dc-phase": dict(FINE_TUNE, init="book-lr7e-4-dc-phase", learning_rate=2e-4, dc_phase=True),
    "tune-dc-phase-lr5e-4": dict(FINE_TUNE, init="book-lr7e-4-dc-phase", learning_rate=5e-4, dc_phase=True),
    "tune-dc-phase-lr1e-4": dict(FINE_TUNE, init="book-lr7e-4-dc-phase", learning_rate=1e-4, dc_phase=True),
    "tune-dc-phase-4x-samples": dict(FINE_TUNE, init="book-lr7e-4-dc-phase", learning_rate=2e-4, dc_phase=True, samples=15_360),
    "tune-dc-phase-4x-only": dict(FINE_TUNE, init="book-lr7e-4-dc-phase", learning_rate=2e-4, dc_phase=True, masks=[4]),
    "tune-dc-phase-8x-only": dict(FINE_TUNE, init="book-lr7e-4-dc-phase", learning_rate=2e-4, dc_phase=True, masks=[8]),
    "tune-dc-phase-4x-only-lr5e-4": dict(FINE_TUNE, init="book-lr7e-4-dc-phase", learning_rate=5e-4, dc_phase=True, masks=[4]),
    "tune-dc-phase-4x-only-2x-samples": dict(FINE_TUNE, init="book-lr7e-4-dc-phase", learning_rate=2e-4, dc_phase=True, masks=[4],
                                             samples=7_680),
    "tune-dc-phase-2x-samples": dict(FINE_TUNE, init="book-lr7e-4-dc-phase", learning_rate=2e-4, dc_phase=True, samples=7_680),
    "tune-dc-phase-masks1+4": dict(FINE_TUNE, init="book-lr7e-4-dc-phase", learning_rate=2e-4, dc_phase=True, masks=[1, 4]),
    "tune-lr7e-4": dict(FINE_TUNE, init="book-lr7e-4", learning_rate=2e-4),  # chapter 06 without dc_phase
    "book-lr1e-3-dc-phase": dict(CPU_BOOK, learning_rate=1e-3, dc_phase=True),
    "tune-lr1e-3-dc-phase-4x-only": dict(FINE_TUNE, init="book-lr1e-3-dc-phase", learning_rate=2e-4, dc_phase=True, masks=[4]),
    # chapter 06 without the reflection-tiling augmentation while fine-tuning (the k-space of the training slices
    # themselves, a fresh 4× or 8× mask per sample and epoch): same samples and cost; over tune-dc-phase, +1.0 / +0.8 dB
    # at 4× / 8× on validation and +1.9 / +2.5 dB on test (3 seeds), above zero-filled on test for every seed
    "tune-dc-phase-no-augment": dict(FINE_TUNE, init="book-lr7e-4-dc-phase", learning_rate=2e-4, dc_phase=True, augment=0.0),
    # chapter 03 at 640 epochs instead of 800 (≈ 50 s less of `make book`), and chapter 06's fine-tuning of it
    "book-dc-phase-640-epochs": dict(CPU_BOOK, learning_rate=7e-4, dc_phase=True, samples=81_920),
    "tune-dc-phase-640-no-augment": dict(FINE_TUNE, init="book-dc-phase-640-epochs", learning_rate=2e-4, dc_phase=True,
                                         augment=0.0),
}
for _name, _changes in OPTIONS.items():
    unknown = set(_changes) - set(BASE)
    if unknown:
        raise KeyError(f"option {_name!r}: unknown settings {sorted(unknown)}")
    if _changes.get("init") is not None and _changes["init"] not in OPTIONS:
        raise KeyError(f"option {_name!r}: init {_changes['init']!r} is not an option")
TEST_ACCELERATIONS = (4, 8)  # chapter 06's, with its per-volume test masks


def settings(name: str) -> dict:
    return {**BASE, **OPTIONS[name]}


def record_key(name: str, samples: int, seed: int) -> str:
    return f"{name} @ {samples:,}" + (f" seed {seed}" if seed else "")


def scaled_input(scale: float):
    """An ``input_transform`` multiplying the k-space input by ``scale`` (None for 1)."""
    if scale == 1.0:
        return None

    def transform(inputs):
        return (inputs * np.float32(scale)).astype(np.float32)

    transform.__name__ = f"input_times_{scale:g}"
    return transform


def whitened_input(prepared: Path, power: float):
    """An ``input_transform`` dividing each k-space frequency by (its RMS over the training inputs
    relative to the RMS over all frequencies)^``power`` (None for 0): 1 whitens the spectrum."""
    if power == 0.0:
        return None
    kspace = read_split(prepared, "train")["inputs"].astype(np.float64)
    rms = np.sqrt(np.mean(np.sum(kspace**2, axis=-1), axis=0))  # (n, n)
    divisor = ((rms / np.sqrt(np.mean(rms**2)))**power)[..., None].astype(np.float32)

    def transform(inputs):
        return (inputs / divisor).astype(np.float32)

    transform.__name__ = f"whiten_{power:g}"
    return transform


def warmup_cosine(warmup: float, floor: float):
    """``training.learning_rate_at``'s "warmup-cosine" with another warm-up fraction or final lr."""

    def schedule(epoch: int, epochs: int, lr: float) -> float:
        steps = round(warmup * epochs)
        if epoch < steps:
            return lr * (epoch + 1) / steps
        t = (epoch - steps) / max(1, epochs - steps)
        return lr * (floor + (1.0 - floor) * 0.5 * (1.0 + math.cos(math.pi * t)))

    schedule.__name__ = f"warmup{warmup:g}-cosine-floor{floor:g}"
    return schedule


@contextlib.contextmanager
def recipe(opt: dict):
    """Within the block, ``training`` compiles with ``opt``'s loss and optimizer and applies the
    augmentation with probability ``opt["augment"]`` (the defaults leave the trainer as it is)."""
    compile_model, augment_module = training.compile_model, training.augment_module

    def compile_with_options(model, learning_rate, steps_per_execution=1):
        extra = dict(beta_2=opt["beta_2"])
        if opt["ema"]:
            extra.update(use_ema=True, ema_momentum=opt["ema"])
        if opt["clipnorm"]:
            extra.update(clipnorm=opt["clipnorm"])
        model.compile(optimizer=keras.optimizers.Adam(learning_rate, **extra), loss=opt["loss"], metrics=list(training.METRICS),
                      steps_per_execution=steps_per_execution)
        return model

    def sometimes(image, rng):
        return augment.reflect_tile_crop(image, rng) if rng.random() < opt["augment"] else image

    training.compile_model = compile_with_options
    if 0 < opt["augment"] < 1:
        training.augment_module = types.SimpleNamespace(reflect_tile_crop=sometimes)
    try:
        yield
    finally:
        training.compile_model, training.augment_module = compile_model, augment_module


def split_scores(model, split: dict, transform) -> dict:
    """fastMRI per-volume PSNR / SSIM of ``model`` on ``split`` (test or val, as ``read_split``
    gives it), fully sampled and with chapter 06's per-volume masks: ``{"1x": {"psnr", "ssim",
    "psnr_max1"}, "4x": …, "8x": …}``."""
    n, out = split["inputs"].shape[1], {}
    for acc in (1, *TEST_ACCELERATIONS):
        inputs = split["inputs"]
        if acc != 1:
            inputs = subsample.apply_mask(inputs, subsample.volume_masks(split["volume"], "random", acc, n))
        pred = training.predict(model, transform(inputs) if transform else inputs)
        mean = evaluate.evaluate_volumes(split["targets"], pred, split["volume"])["mean"]
        out[f"{acc}x"] = {k: round(float(mean[k]), 4) for k in ("psnr", "ssim", "psnr_max1")}
    return out


def reference_scores(prepared: Path, split: dict) -> dict:
    """The trivial predictors on ``split``'s slices (test or val): the mean training image, and zero-filled."""
    n = split["inputs"].shape[1]
    out = {"mean_image": {k: round(float(v), 4) for k, v in baselines.mean_image_metrics(prepared, split)["mean"].items()}}
    for acc in TEST_ACCELERATIONS:
        masks = subsample.volume_masks(split["volume"], "random", acc, n)
        zf = baselines.zero_filled(subsample.apply_mask(split["inputs"], masks), split["kspace_scale"])
        mean = evaluate.evaluate_volumes(split["targets"], zf, split["volume"])["mean"]
        out[f"zero_filled_{acc}x"] = {k: round(float(mean[k]), 4) for k in ("psnr", "ssim", "psnr_max1")}
    return out


def run_option(name: str, prepared: Path, samples: int, seed: int, models_dir: Path) -> dict:
    opt = settings(name)
    samples = opt["samples"] or samples
    val, test = read_split(prepared, "val"), read_split(prepared, "test")
    n = val["inputs"].shape[1]
    per_epoch = (read_header(prepared).rows("train").size // opt["batch_size"]) * opt["batch_size"]
    epochs = max(1, round(samples / per_epoch))
    model = models.build_variant(opt["variant"], n, l1=opt["l1"], seed=seed, conv_filters=opt["conv_filters"],
                                 precision=opt["precision"], dc_phase=opt["dc_phase"])
    if opt["orthogonal"]:
        for layer in model.layers:
            if layer.name.startswith("dense_"):
                layer.kernel.assign(keras.initializers.Orthogonal(seed=seed)(layer.kernel.shape))
    if opt["init"]:
        model.load_weights(models_dir / f"{opt['init']}-seed{seed}.weights.h5")
    schedule = opt["schedule"]
    if schedule == "warmup-cosine" and (opt["warmup"], opt["lr_floor"]) != (BASE["warmup"], BASE["lr_floor"]):
        schedule = warmup_cosine(opt["warmup"], opt["lr_floor"])
    mask_fn = subsample.make_mask_fn("random", opt["masks"], n, seed=seed) if opt["masks"] else None
    transform = scaled_input(opt["input_scale"])
    if opt["whiten"]:
        if transform is not None:
            raise ValueError(f"option {name!r}: input_scale and whiten do not combine")
        transform = whitened_input(prepared, opt["whiten"])
    out = Path(tempfile.mkdtemp(prefix="learning-"))
    load_before = os.getloadavg()[0]
    try:
        start = time.perf_counter()
        with recipe(opt):
            history = training.train(model, prepared, out, epochs=epochs, batch_size=opt["batch_size"],
                                     learning_rate=opt["learning_rate"], seed=seed, lr_schedule=schedule, progress=False,
                                     checkpoint_seconds=3600, augment=opt["augment"] > 0, mask_fn=mask_fn,
                                     input_transform=transform)
        wall = time.perf_counter() - start
    finally:
        shutil.rmtree(out, ignore_errors=True)
    if opt["ema"]:  # the averaged weights replace the last ones, as fit does at the end
        model.optimizer.finalize_variable_values(model.trainable_variables)
    models_dir.mkdir(parents=True, exist_ok=True)
    model.save_weights(models_dir / f"{name}-seed{seed}.weights.h5")
    seen, seconds, curve = 0, 0.0, []
    for e in history["epochs"]:
        seen += e["samples"]
        seconds += e["train_seconds"]
        curve.append(
            dict(epoch=e["epoch"], samples=seen, seconds=round(seconds, 2), val_psnr=round(e["val_psnr"], 3),
                 train_psnr=round(e["psnr"], 3)))
    val_pred = training.predict(model, transform(val["inputs"]) if transform else val["inputs"])
    val_psnr = float(np.mean([evaluate.psnr_max1(t, p) for t, p in zip(val["targets"][..., 0], val_pred[..., 0])]))
    steady = [e["samples_per_s"] for e in history["epochs"][1:]] or [history["epochs"][0]["samples_per_s"]]
    record = dict(option=name, seed=seed, **{k: opt[k] for k in BASE if k != "samples"})
    record["params"] = models.count_params(opt["variant"], n, conv_filters=opt["conv_filters"])
    record["gmac_per_sample"] = models.count_macs(opt["variant"], n, conv_filters=opt["conv_filters"]) / 1e9
    record.update(epochs=epochs, samples=seen, train_seconds=round(seconds, 1), wall_seconds=round(wall, 1))
    record.update(samples_per_s=round(float(np.median(steady)), 1),
                  load_average=[round(load_before, 2), round(os.getloadavg()[0], 2)])
    record.update(final_val_psnr=round(val_psnr, 3), best_val_psnr=max(c["val_psnr"] for c in curve))
    record.update(test=split_scores(model, test, transform), val=split_scores(model, val, transform))
    record.update(device=history.get("device", {}), backend=keras.backend.backend())
    record["curve"] = thin_curve(curve)
    return record


def psnr_at(curve: list[dict], key: str, value: float) -> float | None:
    """Validation PSNR of the last epoch with ``curve[key] <= value`` (None if none)."""
    points = [c["val_psnr"] for c in curve if c[key] <= value]
    return points[-1] if points else None


def write_markdown(report: dict, path: Path) -> None:
    ref = report["mean_image_val_psnr_max1"]
    tests = report.get("test_references")
    lines = [
        f"# How fast AUTOMAP learns (`benchmarks/{Path(__file__).name}`)", "",
        f"Prepared file `{report['prepared']}` (n = {report['n']}, {report['train_slices']} training slices, "
        f"{report['val_slices']} validation slices); {report['machine']}; Keras {report['keras']} / "
        f"{report['backend']}. Validation PSNR (MAX = 1, mean over slices); the mean training image "
        f"scores **{ref:.2f} dB** on the same slices. Seconds are training seconds (validation excluded)."
    ]
    if tests:
        zf = " and ".join(f"{tests[f'zero_filled_{a}x']['psnr']:.2f} dB at {a}×" for a in TEST_ACCELERATIONS)
        lines += [
            "", f"Test split ({report['test_slices']} slices): fastMRI per-volume PSNR / SSIM, as chapters 05 and 06 report "
            f"them. The mean training image scores **{tests['mean_image']['psnr']:.2f} dB / {tests['mean_image']['ssim']:.3f}**; "
            f"zero-filled scores **{zf}** with chapter 06's test masks. The RNG seed follows the option's name where it is not 0."
        ]
    vals = report.get("val_references")
    if vals:
        zf = " and ".join(f"{vals[f'zero_filled_{a}x']['psnr']:.2f} dB at {a}×" for a in TEST_ACCELERATIONS)
        lines += [
            "", f"Validation at 4× and 8× (where recorded): the same fastMRI per-volume PSNR on the validation split "
            f"with its own per-volume masks, the split on which the settings are chosen; zero-filled scores {zf} there."
        ]
    lines += summary_by_option(report)
    lines += [
        "", "Every run:", "", "| option | conv filters | lr | batch | samples/s | load | samples | s | val PSNR at 12,800 samples "
        "| final val PSNR | over mean image | test 1× PSNR / SSIM | test 4× | test 8× |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    ]
    for r in report["options"].values():
        at_samples = psnr_at(r["curve"], "samples", 12800)
        fmt = lambda v: "—" if v is None else f"{v:.2f}"  # noqa: E731
        load = r.get("load_average")
        load = "not recorded" if load is None else f"{load[0]:.1f} → {load[1]:.1f}"
        test = r.get("test", {})
        t1 = f"{test['1x']['psnr']:.2f} / {test['1x']['ssim']:.3f}" if test else "—"
        label = r["option"] + (f" (seed {r['seed']})" if r.get("seed") else "")
        lines.append(f"| {label} | {r['conv_filters']} | {r['learning_rate']:g} | {r['batch_size']} | "
                     f"{r['samples_per_s']:.0f} | {load} | {r['samples']:,} | {r['train_seconds']:.0f} | {fmt(at_samples)} | "
                     f"{r['final_val_psnr']:.2f} | {r['final_val_psnr'] - ref:+.2f} dB | {t1} | "
                     f"{fmt(test.get('4x', {}).get('psnr'))} | {fmt(test.get('8x', {}).get('psnr'))} |")
    lines += [
        "", "Load: the 1-minute load average before and after the option ran. Above the core count, "
        "other work shared the machine and that option's samples/s and seconds are too low; its PSNR at a "
        "given number of samples does not depend on load. Curves (every option's validation PSNR per "
        f"epoch, with samples and seconds) and every option's settings are in `{Path(report['json']).name}`."
    ]
    path.write_text("\n".join(lines) + "\n")


def summary_by_option(report: dict) -> list[str]:
    """Markdown lines: one row per option and budget with the mean over its seeds (runs with a test score)."""
    groups: dict[tuple, list[dict]] = {}
    for r in report["options"].values():
        if r.get("test"):
            groups.setdefault((r["option"], r["samples"]), []).append(r)
    if not groups:
        return []
    lines = [
        "", "Mean over seeds (test: fastMRI per-volume PSNR; 4× and 8× with chapter 06's test masks). `book` is "
        "chapter 03 of the cpu profile as it was when the sweep ran (16 conv filters, batch 64, bfloat16, "
        "lr 1.4e-3 warmup-cosine), `tune-book` chapter 06's fine-tuning of it (4× and 8× masks, batch 32, "
        "lr 5e-4, 3,840 samples):", "",
        "| option | changes from `book` or `tune-book` | samples | seeds | val PSNR | val 4× / 8× | test 1× | test SSIM | test 4× "
        "| test 8× |", "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    ]
    for (name, samples), runs in groups.items():
        base = {**BASE, **(FINE_TUNE if settings(name)["init"] else CPU_BOOK)}
        changes = ", ".join(f"{k}={v}" for k, v in settings(name).items() if k != "samples" and base.get(k) != v) or "—"
        mean = lambda get, runs=runs: float(np.mean([get(r) for r in runs]))  # noqa: E731
        val = (f"{mean(lambda r: r['val']['4x']['psnr']):.2f} / {mean(lambda r: r['val']['8x']['psnr']):.2f}" if all(
            r.get("val") for r in runs) else "—")
        lines.append(f"| {name} | {changes} | {samples:,} | {len(runs)} | {mean(lambda r: r['final_val_psnr']):.2f} | {val} | "
                     f"{mean(lambda r: r['test']['1x']['psnr']):.2f} | {mean(lambda r: r['test']['1x']['ssim']):.3f} | "
                     f"{mean(lambda r: r['test']['4x']['psnr']):.2f} | {mean(lambda r: r['test']['8x']['psnr']):.2f} |")
    return lines


def thin_curve(curve: list[dict], points: int = 100) -> list[dict]:
    """At most about ``points`` evenly spaced epochs of ``curve``, the last one always kept."""
    step = max(1, len(curve) // points)
    return [c for i, c in enumerate(curve) if i % step == step - 1 or i == len(curve) - 1]


def run_in_processes(names: list[str], args, jobs: int) -> dict:
    """Run ``names`` in ``jobs`` child processes (options with ``init`` after the rest); their records.

    With ``args.budget``, no option of the first wave starts after 60 % of it and none of the
    second after all of it (an option that started runs to its end)."""
    records, work = {}, Path(tempfile.mkdtemp(prefix="learning-jobs-"))
    waves = [[n for n in names if not settings(n)["init"]], [n for n in names if settings(n)["init"]]]
    start = time.time()
    try:
        for w, wave in enumerate(waves):
            children = []
            deadline = [] if args.budget is None else ["--deadline", str(start + args.budget * (0.6 if w == 0 else 1.0))]
            for j in range(min(jobs, len(wave))):
                part = work / f"wave{w}-job{j}.json"
                command = [
                    sys.executable, __file__, "--prepared",
                    str(args.prepared), "--out",
                    str(part), "--samples",
                    str(args.samples), "--models",
                    str(args.models), "--seeds", *map(str, args.seeds), *deadline, "--only", *wave[j::jobs]
                ]
                children.append((part, subprocess.Popen(command)))
            failed = [str(part) for part, child in children if child.wait() != 0]
            for part, _ in children:
                if part.is_file():
                    records.update(read_json(part)["options"])
            if failed:
                raise RuntimeError(f"{len(failed)} job(s) failed: {', '.join(failed)} (see their output above)")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return records


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepared", type=Path, default=Path("runs/default/prepared.h5"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/learning.json"))
    parser.add_argument("--only", nargs="+", choices=sorted(OPTIONS), metavar="NAME")
    parser.add_argument("--samples", type=int, default=38_400, help="samples seen per option (unless it sets its own)")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0], help="initial-weight and data-order seeds")
    parser.add_argument("--jobs", type=int, default=1, help="options run in this many processes at once")
    parser.add_argument("--models", type=Path, help="folder for final weights (init); default: a temporary one")
    parser.add_argument("--budget", type=float, help="with --jobs: seconds after which no option starts (see run_in_processes)")
    parser.add_argument("--deadline", type=float, help="a Unix time after which no option starts")
    args = parser.parse_args(argv)
    if not args.prepared.is_file():
        parser.error(f"--prepared {args.prepared}: no such file (run `automap-nb run --only 01 02` first)")
    if args.jobs < 1:
        parser.error(f"--jobs must be at least 1, got {args.jobs}")
    names = args.only or list(OPTIONS)
    missing = {settings(n)["init"] for n in names} - {None} - set(names)
    if missing and args.models is None:
        parser.error(f"options {sorted(missing)} are started from but not run: add them to --only, or give --models")
    temporary = args.models is None
    args.models = args.models or Path(tempfile.mkdtemp(prefix="learning-models-"))
    report = read_json(args.out) if args.out.is_file() else {"options": {}}
    report.setdefault("options", {})
    val, test = read_split(args.prepared, "val"), read_split(args.prepared, "test")
    mean = mean_target(args.prepared, "train")
    report.update(
        dict(prepared=str(args.prepared), json=str(args.out), n=int(val["inputs"].shape[1]), train_slices=int(
            read_header(args.prepared).rows("train").size), val_slices=len(val["volume"]), test_slices=len(test["volume"]),
             mean_image_val_psnr_max1=float(np.mean([evaluate.psnr_max1(t, mean) for t in val["targets"][..., 0]])),
             test_references=reference_scores(args.prepared, test), val_references=reference_scores(args.prepared, val),
             machine=f"{os.cpu_count()} CPU cores ({platform.machine()})", keras=keras.__version__, backend=keras.backend.backend(),
             samples_per_option=args.samples))
    try:
        if args.jobs > 1:
            report["options"].update(run_in_processes(names, args, args.jobs))
        else:
            order = sorted(names, key=lambda n: settings(n)["init"] is not None)
            for name in order:
                for seed in args.seeds:
                    key = record_key(name, settings(name)["samples"] or args.samples, seed)
                    if args.deadline is not None and time.time() > args.deadline:
                        print(f"[learning] {key}: skipped (past the deadline)", flush=True)
                        continue
                    if settings(name)["init"] and not (args.models / f"{settings(name)['init']}-seed{seed}.weights.h5").is_file():
                        print(f"[learning] {key}: skipped ({settings(name)['init']} seed {seed} did not run)", flush=True)
                        continue
                    print(f"[learning] {key}", flush=True)
                    result = report["options"][key] = run_option(name, args.prepared, args.samples, seed, args.models)
                    print(
                        f"[learning] {key}: val {result['final_val_psnr']:.2f} dB, test " +
                        ", ".join(f"{a} {v['psnr']:.2f}" for a, v in result["test"].items()) +
                        f" after {result['samples']:,} samples, {result['train_seconds']:.0f} s", flush=True)
                    write_json(args.out, report)
        write_json(args.out, report)
        write_markdown(report, args.out.with_suffix(".md"))
    finally:
        if temporary:
            shutil.rmtree(args.models, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
