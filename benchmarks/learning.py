"""How fast does AUTOMAP learn on this machine? PSNR against samples seen and seconds, per option.

Each option trains the 64² ``seed`` AUTOMAP from the same initial-weight seed with the project's
own trainer (``automap_nb.training.train``: the seed's augmentation, Adam, MSE + L1) on a prepared
file, and records the validation PSNR after every epoch together with the samples seen and the
training seconds so far. The mean training image's validation PSNR on the same slices is the
reference every option must beat.

    .venv/bin/python benchmarks/learning.py --prepared runs/default/prepared.h5 \\
        --out benchmarks/learning.json [--only NAME ...] [--samples 38400]

Writes the JSON (one record per option with its curve) and ``learning.md`` beside it (a table
regenerated from the JSON, so the two always agree). Options already in the JSON are kept unless
rerun with ``--only`` (an option is keyed by its name and sample budget). Seconds are wall-clock on
whatever else the machine is doing: run it on an idle machine for timings; samples seen do not
depend on load.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from automap_nb import evaluate, models, training  # noqa: E402
from automap_nb.data.prepared import mean_target, read_split  # noqa: E402
from automap_nb.results import write_json  # noqa: E402

# name → (conv filters, learning rate, schedule, batch size, k-space input scale); the input scale
# multiplies the prepared k-space (whose scale makes the training images' RMS 1) before the model.
OPTIONS = {
    "f64-lr2e-4-cosine (as shipped)": (64, 2e-4, "cosine", 32, 1.0), "f16-lr1e-3-constant": (16, 1e-3, "constant", 32, 1.0),
    "f16-lr1e-3-cosine": (16, 1e-3, "cosine", 32, 1.0), "f16-lr1e-3-warmup-cosine": (16, 1e-3, "warmup-cosine", 32, 1.0),
    "f16-lr2e-3-warmup-cosine": (16, 2e-3, "warmup-cosine", 32, 1.0), "f32-lr1e-3-warmup-cosine": (32, 1e-3, "warmup-cosine", 32,
                                                                                                   1.0),
    "f64-lr1e-3-warmup-cosine": (64, 1e-3, "warmup-cosine", 32,
                                 1.0), "f16-lr1e-3-warmup-cosine-input0.25": (16, 1e-3, "warmup-cosine", 32, 0.25),
    "f16-lr1e-3-warmup-cosine-input4": (16, 1e-3, "warmup-cosine", 32,
                                        4.0), "f16-lr2e-3-warmup-cosine-input0.25": (16, 2e-3, "warmup-cosine", 32, 0.25),
    "f16-lr1e-3-warmup-cosine-input0.0625": (16, 1e-3, "warmup-cosine", 32,
                                             0.0625), "f16-lr2e-3-warmup-cosine-batch64": (16, 2e-3, "warmup-cosine", 64, 1.0),
    "f16-lr1.4e-3-warmup-cosine-batch64": (16, 1.4e-3, "warmup-cosine", 64,
                                           1.0), "f16-lr1e-3-warmup-cosine-orthogonal": (16, 1e-3, "warmup-cosine", 32, 1.0),
    "f16-lr1e-3-warmup-cosine-bf16": (16, 1e-3, "warmup-cosine", 32,
                                      1.0), "f16-lr1e-3-warmup-cosine-bf16-no-augment": (16, 1e-3, "warmup-cosine", 32, 1.0),
    "f16-lr1.4e-3-warmup-cosine-bf16-batch64": (16, 1.4e-3, "warmup-cosine", 64,
                                                1.0), "f16-lr2e-3-warmup-cosine-bf16-batch64": (16, 2e-3, "warmup-cosine", 64, 1.0),
    "f16-lr2e-3-warmup-cosine-bf16-batch128": (16, 2e-3, "warmup-cosine", 128, 1.0)
}
# options whose dense kernels start orthogonal (gain 1) instead of Glorot-uniform
ORTHOGONAL = {"f16-lr1e-3-warmup-cosine-orthogonal"}
# options whose layers compute in bfloat16 (``models.build_variant(precision="mixed_bfloat16")``)
BFLOAT16 = {name for name in OPTIONS if "-bf16" in name}
# options trained on the training slices as they are, without the seed's augmentation
NO_AUGMENT = {"f16-lr1e-3-warmup-cosine-bf16-no-augment"}


def scaled_input(scale: float):
    """An ``input_transform`` multiplying the k-space input by ``scale`` (None for 1)."""
    if scale == 1.0:
        return None

    def transform(inputs):
        return (inputs * np.float32(scale)).astype(np.float32)

    transform.__name__ = f"input_times_{scale:g}"
    return transform


def run_option(name: str, prepared: Path, samples: int, seed: int) -> dict:
    filters, lr, schedule, batch, input_scale = OPTIONS[name]
    val = read_split(prepared, "val")
    n = val["inputs"].shape[1]
    train_slices = int(len(read_split(prepared, "train")["volume"]))
    per_epoch = (train_slices // batch) * batch
    epochs = max(1, round(samples / per_epoch))
    model = models.build_variant("seed", n, seed=seed, conv_filters=filters,
                                 precision="mixed_bfloat16" if name in BFLOAT16 else "float32")
    if name in ORTHOGONAL:
        for layer in model.layers:
            if layer.name.startswith("dense_"):
                layer.kernel.assign(keras.initializers.Orthogonal(seed=seed)(layer.kernel.shape))
    out = Path(tempfile.mkdtemp(prefix="learning-"))
    load_before = os.getloadavg()[0]
    try:
        start = time.perf_counter()
        history = training.train(model, prepared, out, epochs=epochs, batch_size=batch, learning_rate=lr, seed=seed,
                                 lr_schedule=schedule, progress=True, checkpoint_seconds=3600, augment=name not in NO_AUGMENT,
                                 input_transform=scaled_input(input_scale))
        wall = time.perf_counter() - start
    finally:
        shutil.rmtree(out, ignore_errors=True)
    seen, seconds, curve = 0, 0.0, []
    for e in history["epochs"]:
        seen += e["samples"]
        seconds += e["train_seconds"]
        curve.append(
            dict(epoch=e["epoch"], samples=seen, seconds=round(seconds, 2), val_psnr=round(e["val_psnr"], 3),
                 train_psnr=round(e["psnr"], 3)))
    steady = [e["samples_per_s"] for e in history["epochs"][1:]] or [history["epochs"][0]["samples_per_s"]]
    return dict(option=name, conv_filters=filters, learning_rate=lr, schedule=schedule, batch_size=batch, input_scale=input_scale,
                params=models.count_params("seed", n, conv_filters=filters),
                gmac_per_sample=models.count_macs("seed", n, conv_filters=filters) / 1e9, epochs=epochs, samples=seen,
                train_seconds=round(seconds, 1), wall_seconds=round(wall, 1), samples_per_s=round(float(np.median(steady)), 1),
                load_average=[round(load_before, 2), round(os.getloadavg()[0], 2)
                              ], final_val_psnr=curve[-1]["val_psnr"], best_val_psnr=max(c["val_psnr"] for c in curve), curve=curve)


def psnr_at(curve: list[dict], key: str, value: float) -> float | None:
    """Validation PSNR of the last epoch with ``curve[key] <= value`` (None if none)."""
    points = [c["val_psnr"] for c in curve if c[key] <= value]
    return points[-1] if points else None


def write_markdown(report: dict, path: Path) -> None:
    ref = report["mean_image_val_psnr_seed"]
    lines = [
        "# How fast AUTOMAP learns here (`benchmarks/learning.py`)", "",
        f"Prepared file `{report['prepared']}` (n = {report['n']}, {report['train_slices']} training slices, "
        f"{report['val_slices']} validation slices); {report['machine']}; Keras {report['keras']} / "
        f"{report['backend']}. Validation seed PSNR (MAX = 1, mean over slices); the mean training image "
        f"scores **{ref:.2f} dB** on the same slices. Seconds are training seconds (validation excluded).", "",
        "| option | conv filters | lr | schedule | samples/s | load | samples | s | val PSNR at 12,800 samples "
        "| val PSNR at 60 s | final val PSNR | over mean image |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |"
    ]
    for r in report["options"].values():
        at_samples, at_60 = psnr_at(r["curve"], "samples", 12800), psnr_at(r["curve"], "seconds", 60)
        fmt = lambda v: "—" if v is None else f"{v:.2f}"  # noqa: E731
        load = r.get("load_average")
        load = "not recorded" if load is None else f"{load[0]:.1f} → {load[1]:.1f}"
        lines.append(f"| {r['option']} | {r['conv_filters']} | {r['learning_rate']:g} | {r['schedule']} | "
                     f"{r['samples_per_s']:.0f} | {load} | {r['samples']:,} | {r['train_seconds']:.0f} | {fmt(at_samples)} | "
                     f"{fmt(at_60)} | {r['final_val_psnr']:.2f} | {r['final_val_psnr'] - ref:+.2f} dB |")
    lines += [
        "", "Load: the 1-minute load average before and after the option ran. Above 2 (the core count), "
        "other work shared the machine and that option's samples/s and seconds are too low; its PSNR at a "
        "given number of samples does not depend on load. Curves (every option's validation PSNR per "
        f"epoch, with samples and seconds) are in `{Path(report['json']).name}`."
    ]
    path.write_text("\n".join(lines) + "\n")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepared", type=Path, default=Path("runs/default/prepared.h5"))
    parser.add_argument("--out", type=Path, default=Path("benchmarks/learning.json"))
    parser.add_argument("--only", nargs="+", choices=sorted(OPTIONS), metavar="NAME")
    parser.add_argument("--samples", type=int, default=38_400, help="samples seen per option")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not args.prepared.is_file():
        parser.error(f"--prepared {args.prepared}: no such file (run `automap-nb run --only 01 02` first)")
    report = json.loads(args.out.read_text()) if args.out.is_file() else {"options": {}}
    report.setdefault("options", {})
    val = read_split(args.prepared, "val")
    mean = mean_target(args.prepared, "train")
    report.update(
        dict(prepared=str(args.prepared), json=str(args.out), n=int(val["inputs"].shape[1]),
             train_slices=int(len(read_split(args.prepared, "train")["volume"])), val_slices=len(val["volume"]),
             mean_image_val_psnr_seed=float(np.mean([evaluate.psnr_seed(t, mean) for t in val["targets"][..., 0]])),
             machine=f"{os.cpu_count()} CPU cores ({platform.machine()})", keras=keras.__version__, backend=keras.backend.backend(),
             samples_per_option=args.samples))
    for name in args.only or OPTIONS:
        key = f"{name} @ {args.samples:,}"
        print(f"[learning] {key}", flush=True)
        result = report["options"][key] = run_option(name, args.prepared, args.samples, args.seed)
        print(
            f"[learning] {key}: {result['final_val_psnr']:.2f} dB after {result['samples']:,} samples, "
            f"{result['train_seconds']:.0f} s", flush=True)
        write_json(args.out, report)
        write_markdown(report, args.out.with_suffix(".md"))
    if not args.only and not report["options"]:
        parser.error("no option ran")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
