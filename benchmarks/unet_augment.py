"""Does chapter 06's U-Net learn better with or without the paper's reflection-tiling crops?

Trains the U-Net exactly as the cpu profile's chapter 06 does (one model for 1×, 4× and 8× masks,
16 channels, residual, 8 epochs, batch 8, Adam 1e-3) once with the crops and once on the training
slices as they are, per seed, and scores both at 4× and 8× with fastMRI's per-volume PSNR on the
validation split (where the choice is made) and the test split (reported), with chapter 06's
per-volume masks. Writes OUT.json and OUT.md.

    .venv/bin/python benchmarks/unet_augment.py --prepared runs/default/prepared.h5 \
        --out benchmarks/unet-augment --seeds 0 1
"""

from __future__ import annotations

import argparse
import platform
import tempfile
import time
from pathlib import Path

from automap_nb import baselines, evaluate, training
from automap_nb.data import subsample
from automap_nb.data.prepared import read_split
from automap_nb.experiments import undersampling
from automap_nb.results import write_json, write_text_atomic

RECIPE = dict(mask_kind="random", variant="greenberg", unet_chans=16, epochs=8, batch_size=8, learning_rate=1e-3,
              unet_residual=True)
GROUP = [1, 4, 8]
ACCELERATIONS = (4, 8)


def score(model, split: dict) -> dict:
    """fastMRI per-volume PSNR (mean over volumes) at each of ACCELERATIONS, with the per-volume masks."""
    n, out = split["inputs"].shape[1], {}
    for acc in ACCELERATIONS:
        masks = subsample.volume_masks(split["volume"], RECIPE["mask_kind"], acc, n)
        zero_filled = baselines.zero_filled_input(split["kspace_scale"])(subsample.apply_mask(split["inputs"], masks))
        recon = training.predict(model, zero_filled)[..., 0]  # the U-Net's input, as in training
        out[f"{acc}x"] = float(evaluate.evaluate_volumes(split["targets"], recon, split["volume"])["mean"]["psnr"])
    return out


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--prepared", type=Path, required=True)
    parser.add_argument("--out", type=Path, default=Path("benchmarks/unet-augment"))
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    args = parser.parse_args(argv)
    if not args.prepared.is_file():
        parser.error(f"--prepared: {args.prepared} does not exist")
    splits = {name: read_split(args.prepared, name) for name in ("val", "test")}
    runs = []
    with tempfile.TemporaryDirectory(prefix="unet-augment-") as work:
        for seed in args.seeds:
            for augment in (True, False):
                start = time.perf_counter()
                model, _ = undersampling.train_method("unet", GROUP, args.prepared,
                                                      Path(work) / f"{augment}-{seed}", seed=seed, progress=False, augment=augment,
                                                      **RECIPE)
                row = dict(seed=seed, augment=augment, seconds=round(time.perf_counter() - start, 1),
                           **{f"{name} {acc}": v
                              for name, split in splits.items()
                              for acc, v in score(model, split).items()})
                print(f"[unet_augment] {row}", flush=True)
                runs.append(row)
    columns = [f"{name} {acc}x" for name in splits for acc in ACCELERATIONS]
    means = {}
    for augment in (True, False):
        rows = [r for r in runs if r["augment"] == augment]
        means[augment] = {c: sum(r[c] for r in rows) / len(rows) for c in columns}
    record = dict(prepared=str(args.prepared), recipe=RECIPE, group=GROUP, runs=runs, machine=platform.machine(),
                  means={"crops": means[True], "no crops": means[False]})
    write_json(args.out.with_suffix(".json"), record)
    lines = [
        "# Chapter 06's U-Net with and without the reflection-tiling crops (`benchmarks/unet_augment.py`)", "",
        f"Prepared file `{args.prepared}`; the cpu profile's U-Net recipe ({RECIPE}, masks {GROUP}); fastMRI per-volume "
        f"PSNR (dB), chapter 06's per-volume masks; seeds {args.seeds}. The choice is made on validation.", "",
        "| crops | seed | " + " | ".join(columns) + " | s |", "| --- | --- | " + " | ".join("---" for _ in columns) + " | --- |"
    ]
    for r in runs:
        cells = " | ".join(f"{r[c]:.2f}" for c in columns)
        lines.append(f"| {'yes' if r['augment'] else 'no'} | {r['seed']} | {cells} | {r['seconds']:.0f} |")
    for augment in (True, False):
        cells = " | ".join(f"{means[augment][c]:.2f}" for c in columns)
        lines.append(f"| {'yes' if augment else 'no'} | mean | {cells} | |")
    write_text_atomic(args.out.with_suffix(".md"), "\n".join(lines) + "\n")
    print(f"written: {args.out.with_suffix('.json')}, {args.out.with_suffix('.md')}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
