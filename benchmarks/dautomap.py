"""dAUTOMAP and AUTOMAP on this CPU for the same training seconds: PSNR against seconds and samples.

Trains each ``--models`` entry (``VARIANT[:START]``: a variant of ``automap_nb.models``, and for a
dAUTOMAP its transform's start, ``idft`` or ``random``) on a prepared file for ``--seconds`` of
training (host batches and train steps, the first step's compilation included; the validation probes
are not counted), then scores it on the test split as chapters 05, 06 and 10 do: fastMRI per-volume
PSNR and SSIM, fully sampled (1×) and under chapter 06's per-volume random 4× and 8× masks, against
the mean training image and zero-filled on the same slices. The paired per-volume PSNR gain over the
mean image goes through the project's "learned" rule (``statistics.learned``), the difference to
zero-filled through ``statistics.compare`` (at 1× zero-filled is the exact inverse FFT, the ceiling,
not a baseline). One model serves every acceleration: each training sample gets a fresh random mask
drawn from ``--accelerations`` (as chapter 06 trains one model on several). The recipe is the
project's: ``training.PreparedDataset`` (the paper's reflection-tiling augmentation),
``training.compile_model`` (Adam, MSE + L1), here at a constant learning rate. The validation PSNR
(MAX = 1, 1×) is probed every ``--probe-seconds``: PSNR against seconds and samples seen.

    .venv/bin/python benchmarks/dautomap.py [--prepared runs/default/prepared.h5] [--seconds 60] \\
        [--models dautomap-residual:idft dautomap-residual:random greenberg] [--no-gain] [--out benchmarks/dautomap]

Writes ``OUT.json`` (everything) and ``OUT.md`` (dated tables, machine, versions). Seconds are
wall-clock on whatever else the machine does: the Markdown gives the load average before each run.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime
import os
import sys
import time
from importlib import metadata
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import keras  # noqa: E402
import numpy as np  # noqa: E402

from automap_nb import baselines, evaluate, models, statistics, training  # noqa: E402
from automap_nb.bench import machine_info  # noqa: E402
from automap_nb.data import subsample  # noqa: E402
from automap_nb.data.prepared import read_split  # noqa: E402
from automap_nb.experiments import dautomap  # noqa: E402
from automap_nb.results import write_json, write_text_atomic  # noqa: E402

TEST_ACCELERATIONS = (1, 4, 8)


def masked(split: dict, acc: int) -> np.ndarray:
    """The split's k-space under chapter 06's per-volume random mask (1×: unchanged), as chapter 10 masks it."""
    return dautomap.masked_inputs(split, acc, "random")


def scores(result: dict) -> dict:
    return {k: round(float(result["mean"][k]), 4) for k in ("psnr", "ssim", "psnr_max1")}


def train_for(model: keras.Model, args, seed: int, val: dict) -> dict:
    """Train ``model`` for ``args.seconds`` of training, or for ``args.samples`` samples when given
    (equal samples: the result then does not depend on the machine's load); returns the run's
    figures and its curve."""
    n = val["inputs"].shape[1]
    training.compile_model(model, args.learning_rate)
    mask_fn = subsample.make_mask_fn("random", list(args.accelerations), n, seed=seed)
    data = training.PreparedDataset(args.prepared, "train", args.batch_size, training=True, seed=seed, mask_fn=mask_fn)

    def probe(seconds: float, samples: int) -> dict:
        pred = training.predict(model, val["inputs"])[..., 0]
        psnr = float(np.mean([evaluate.psnr_max1(t[..., 0], p) for t, p in zip(val["targets"], pred)]))
        return {"seconds": round(seconds, 2), "samples": samples, "val_psnr_max1": round(psnr, 3)}

    curve, spent, samples, steps, epoch, first_step = [probe(0.0, 0)], 0.0, 0, 0, 0, 0.0
    next_probe = args.probe_seconds

    def done() -> bool:
        return samples >= args.samples if args.samples else spent >= args.seconds

    while not done():
        data.set_epoch(epoch)
        for i in range(len(data)):
            start = time.perf_counter()
            x, y = data[i]
            model.train_on_batch(x, y)
            spent += time.perf_counter() - start
            first_step = first_step if steps else spent  # includes tracing and compilation
            samples, steps = samples + len(x), steps + 1
            if spent >= next_probe or done():
                curve.append(probe(spent, samples))
                next_probe += args.probe_seconds
            if done():
                break
        epoch += 1
    return {
        "train_seconds": round(spent, 2), "steps": steps, "samples": samples, "epochs_started": epoch,
        "first_step_seconds": round(first_step, 2), "samples_per_s": round(samples / spent, 1), "curve": curve
    }


def run(args) -> dict:
    val, test = read_split(args.prepared, "val", nonempty=True), read_split(args.prepared, "test", nonempty=True)
    n = test["inputs"].shape[1]
    mean_image = baselines.mean_image_metrics(args.prepared, test)
    references = {"mean_image": scores(mean_image)}
    zero_filled = {}
    for acc in TEST_ACCELERATIONS:
        image = baselines.zero_filled(masked(test, acc), test["kspace_scale"])
        zero_filled[acc] = evaluate.evaluate_volumes(test["targets"], image, test["volume"])
        references[f"zero_filled_{acc}x"] = scores(zero_filled[acc])
    runs = {}
    for name in args.models:
        variant, _, init = name.partition(":")
        extra = {}
        if models.VARIANTS[variant]["kind"] == "dautomap":  # the chapter's inverse-DFT gain (models.TRANSFORM_GAIN)
            extra = dict(transform_init=init or "idft", kspace_scale=test["kspace_scale"] if args.gain else None)
        load = os.getloadavg()[0]
        model = models.build_variant(variant, n, seed=args.seed, conv_filters=args.conv_filters, dc_phase=args.dc_phase, **extra)
        record = {"model": name, "params": model.count_params(), "load_average_1min_before": round(load, 2)}
        record.update(train_for(model, args, args.seed, val))
        for acc in TEST_ACCELERATIONS:
            result = evaluate.evaluate_volumes(test["targets"], training.predict(model, masked(test, acc)), test["volume"])
            learned = statistics.learned(result, mean_image, "test", name)
            record[f"test_{acc}x"] = {**scores(result), "learned": dataclasses.asdict(learned)}
            if acc > 1:
                versus = statistics.compare(result, zero_filled[acc], "test", name, "zero-filled", metrics=("psnr", ))
                record[f"test_{acc}x"]["vs_zero_filled_psnr"] = dataclasses.asdict(versus["psnr"])
        runs[name] = record
        print(
            f"{name}: {record['samples']} samples in {record['train_seconds']} s; test PSNR " +
            ", ".join(f"{acc}x {record[f'test_{acc}x']['psnr']:.2f} dB" for acc in TEST_ACCELERATIONS), flush=True)
    versions = {"keras": keras.__version__, "backend": keras.backend.backend()}
    for package in ("tensorflow", "jax"):
        try:
            versions[package] = metadata.version(package)
        except metadata.PackageNotFoundError:
            versions[package] = None
    return {
        "date": datetime.date.today().isoformat(), "prepared": str(args.prepared), "n": n,
        "test_volumes": zero_filled[1]["volumes"], "test_slices": int(len(test["inputs"])), "settings": {
            "seconds": args.seconds, "samples": args.samples, "batch_size": args.batch_size, "learning_rate": args.learning_rate,
            "schedule": "constant", "conv_filters": args.conv_filters, "dc_phase": args.dc_phase,
            "train_accelerations": list(args.accelerations), "inverse_dft_gain": args.gain, "precision": "float32",
            "seed": args.seed
        }, "machine": machine_info(), "versions": versions, "references": references, "runs": runs
    }


def markdown(result: dict) -> str:
    s, m, v = result["settings"], result["machine"], result["versions"]
    ref = result["references"]
    under = [a for a in TEST_ACCELERATIONS if a > 1]
    gain = "with" if s.get("inverse_dft_gain") else "without"
    lines = [
        f"# dAUTOMAP and AUTOMAP on {m['cpus']} CPU cores at {result['n']}² ({result['date']})", "",
        f"`benchmarks/dautomap.py` on `{Path(result['prepared']).name}` at {result['n']}²: test split, "
        f"{result['test_volumes']} volumes ({result['test_slices']} slices), fastMRI per-volume PSNR (dB) / SSIM. "
        f"Each model (`variant:transform start`): {s['conv_filters']}-filter conv tail, "
        f"{(format(s['samples'], ',') + ' samples') if s.get('samples') else format(s['seconds'], 'g') + ' s'} of training "
        f"(batch {s['batch_size']}, Adam {s['learning_rate']:g} constant, float32, DC phase "
        f"{'aligned' if s['dc_phase'] else 'not aligned'}, a fresh random mask per sample from "
        f"{' / '.join(f'{a}×' for a in s['train_accelerations'])}, the paper's augmentation), dAUTOMAP's inverse-DFT "
        f"start {gain} the `kspace_scale` gain (`models.TRANSFORM_GAIN`). Undersampled columns use chapter 06's "
        f"per-volume random test masks. Gain over the mean image: the mean paired per-volume PSNR difference with its "
        f"bootstrap interval and the project's \"learned\" verdict (`statistics.learned`); Δ zero-filled: the same "
        f"against zero-filled (`statistics.compare`). At 1× zero-filled is the exact inverse FFT, the ceiling.", "",
        "| model | params | samples (samples/s) | 1× PSNR / SSIM | 1× gain over mean image | " +
        " | ".join(f"{a}× PSNR / SSIM | Δ zero-filled {a}×" for a in under) + " |", "| --- " * (5 + 2 * len(under)) + "|"
    ]
    for name, r in result["runs"].items():
        cells = []
        for acc in TEST_ACCELERATIONS:
            t = r[f"test_{acc}x"]
            c = t["learned"]["gain"] if acc == 1 else t["vs_zero_filled_psnr"]
            verdict = f"{c['difference']:+.2f} [{c['low']:+.2f}, {c['high']:+.2f}]"
            cells += [f"{t['psnr']:.2f} / {t['ssim']:.3f}", verdict + (f": {t['learned']['status']}" if acc == 1 else "")]
        row = [name, f"{r['params']:,}", f"{r['samples']:,} ({r['samples_per_s']:.0f})", *cells]
        lines.append("| " + " | ".join(row) + " |")
    for label, key in (("zero-filled", "zero_filled_{}x"), ("mean training image", "mean_image")):
        cells = [f"{ref[key.format(a)]['psnr']:.2f} / {ref[key.format(a)]['ssim']:.3f} | —" for a in TEST_ACCELERATIONS]
        lines.append(f"| {label} | 0 | — | " + " | ".join(cells) + " |")
    lines += [
        "", "Validation PSNR (MAX = 1, 1×) against training seconds and samples seen:", "",
        "| model | seconds → validation PSNR (samples seen) |", "| --- | --- |"
    ]
    for name, r in result["runs"].items():
        curve = ", ".join(f"{p['seconds']:.0f} s → {p['val_psnr_max1']:.2f} ({p['samples']:,})" for p in r["curve"])
        lines.append(f"| {name} | {curve} |")
    loads = ", ".join(f"{r['load_average_1min_before']:.2f}" for r in result["runs"].values())
    lines += [
        "", f"Machine: {m['cpu_model']}, {m['cpus']} logical CPUs (1-minute load average before each run: {loads}); "
        f"{m['platform']}, Python {m['python']}; Keras {v['keras']} ({v['backend']} backend), TensorFlow {v['tensorflow']}, "
        f"JAX {v['jax']}.", ""
    ]
    return "\n".join(lines)


def main(argv=None) -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--prepared", type=Path, default=Path("runs/default/prepared.h5"))
    p.add_argument("--seconds", type=float, default=60.0, help="training seconds per model")
    p.add_argument("--samples", type=int, default=None, help="train for this many samples instead of --seconds")
    p.add_argument("--models", nargs="+", default=["dautomap-residual:idft", "dautomap-residual:random", "greenberg"],
                   help="VARIANT[:START] (START: a dAUTOMAP's transform_init, models.TRANSFORM_INITS)")
    p.add_argument("--no-gain", dest="gain", action="store_false",
                   help="dAUTOMAP's inverse-DFT start without the kspace_scale gain (as built before chapter 10)")
    p.add_argument("--accelerations", nargs="+", type=int, default=[1, 4], help="training masks: one drawn per sample")
    p.add_argument("--conv-filters", type=int, default=16)
    p.add_argument("--batch-size", type=int, default=32)
    p.add_argument("--learning-rate", type=float, default=1e-3)
    p.add_argument("--dc-phase", action="store_true", help="start with the DC-phase alignment layer")
    p.add_argument("--probe-seconds", type=float, default=10.0, help="validation probe interval")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", type=Path, default=Path("benchmarks/dautomap"), help="writes OUT.json and OUT.md")
    args = p.parse_args(argv)
    if not args.prepared.is_file():
        p.error(f"--prepared {args.prepared}: no such file (run `automap-nb prepare` or chapter 02 first)")
    result = run(args)
    out = args.out.with_suffix("") if args.out.suffix in (".json", ".md") else args.out
    write_json(f"{out}.json", result)
    write_text_atomic(f"{out}.md", markdown(result))
    print(f"wrote {out}.json and {out}.md")


if __name__ == "__main__":
    main()
