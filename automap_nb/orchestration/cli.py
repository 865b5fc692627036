"""The ``automap-nb`` command: sample data, preprocessing, notebook runs, the book, benchmarks.

Every sub-command turns the package's errors into a one-line ``automap-nb: error: …`` and exit
status 2, so a bad folder or parameter never ends in a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from automap_nb.orchestration import profiles
from automap_nb.orchestration.runner import REPO_ROOT

DEFAULT_SAMPLE_DIR = REPO_ROOT / "data" / "sample"


def sample_dir_for(profile: str) -> Path:
    """The embedded default data folder a profile uses when no ``--data-dir`` is given."""
    return {"quick": REPO_ROOT / "data" / "sample-quick", "gpu": REPO_ROOT / "data" / "sample-gpu"}.get(profile, DEFAULT_SAMPLE_DIR)


def _cmd_sample_data(args) -> None:
    from automap_nb.data.sample_data import build_sample_dataset
    from automap_nb.results import check_output_dir

    check_output_dir(args.out, "--out")
    start = time.perf_counter()
    paths = build_sample_dataset(args.out, volumes=args.volumes, slices=args.slices, seed=args.seed, force=args.force,
                                 progress=not args.quiet, compact=args.compact, workers=args.workers)
    size = sum(p.stat().st_size for p in paths) / 2**20
    print(f"{len(paths)} volumes in {args.out} ({size:.0f} MiB, {time.perf_counter() - start:.1f} s)")


def _cmd_prepare(args) -> None:
    from automap_nb.data.prepare import prepare_dataset
    from automap_nb.results import check_output_file

    _check_split(args.split)
    check_output_file(args.out, "--out")
    summary = prepare_dataset(args.data_dir, args.out, size=args.size, fractions=args.split, progress=not args.quiet,
                              val_dir=args.val_dir, test_dir=args.test_dir)
    for note in summary["split_notes"]:
        print(f"note: {note}")
    print(json.dumps({k: summary[k] for k in ("path", "size", "slices", "volumes", "kspace_scale", "sources")}))


def _check_split(split) -> None:
    from automap_nb.data.splits import check_fractions

    try:
        check_fractions(split)
    except ValueError as err:
        raise ValueError(f"--split: {err}") from None


def _ensure_sample_data(profile: str) -> Path:
    from automap_nb.data.sample_data import build_sample_dataset

    folder = sample_dir_for(profile)
    size = profiles.SAMPLE_DATA[profile]
    print(f"[automap-nb] sample data: {folder} ({size['volumes']} volumes × {size['slices']} slices)")
    workers = min(os.cpu_count() or 1, 32) if size.get("parallel") else 1
    build_sample_dataset(folder, volumes=size["volumes"], slices=size["slices"], seed=0, compact=size.get("compact", False),
                         workers=workers)
    return folder


def _run_profile(args, out: Path) -> str:
    """``--profile``, else (with ``--only``) the profile recorded in the run folder's ``run.json``, else the default."""
    from automap_nb.orchestration.runner import RECORD_NAME, read_record

    if args.profile is not None:
        return args.profile
    recorded = (read_record(out) or {}).get("profile") if args.only is not None else None
    if recorded:
        print(f"[automap-nb] profile: {recorded} (recorded in {Path(out) / RECORD_NAME})")
    return recorded or profiles.DEFAULT_PROFILE


def _is_sample_data(folder) -> bool:
    """Is ``folder`` the embedded sample data (built by ``sample_data``, which leaves its manifest there)?"""
    from automap_nb.data.sample_data import MANIFEST_NAME

    return folder is not None and (Path(folder) / MANIFEST_NAME).is_file()


def _one_process(command: str) -> None:
    """Refuse a command that runs in one process when the environment describes several."""
    from automap_nb.checks import env_processes

    count = env_processes()
    if count > 1:
        raise ValueError(f"automap-nb {command} runs in one process, the environment describes {count}: on several "
                         "processes use automap-nb train or bench (README, \"Training on many devices\")")


def _cmd_run(args) -> None:
    from automap_nb.orchestration.runner import recorded_data, run_notebooks
    from automap_nb.results import check_output_dir

    _one_process("run")  # papermill kernels are single processes

    out = check_output_dir(args.out or REPO_ROOT / "runs" / "default", "--out")
    args.profile = _run_profile(args, out)
    data = {"data_dir": args.data_dir, "val_dir": args.val_dir, "test_dir": args.test_dir}
    if args.data_dir is None and (args.val_dir or args.test_dir):
        raise ValueError("--val-dir/--test-dir need --data-dir (the training folder)")
    if args.data_dir is None and args.only is not None and recorded_data(out):
        data = recorded_data(out)  # --only continues the run on the data it was run on
        print(f"[automap-nb] data: {data['data_dir']} (recorded in {Path(out) / 'run.json'})")
    elif args.data_dir is None:
        data["data_dir"] = _ensure_sample_data(args.profile)
    from automap_nb.orchestration.runner import parse_value

    overrides = {key: parse_value(value.removeprefix(PROTECTED)) for key, value in args.parameters}
    overrides = {**sample_split(data, args.profile, args.only), **overrides}
    start = time.perf_counter()
    executed = run_notebooks(out, profile=args.profile, overrides=overrides, only=args.only, progress=not args.quiet, **data)
    print(f"[automap-nb] {len(executed)} notebooks executed into {Path(out).resolve()} "
          f"in {time.perf_counter() - start:.0f} s")


def sample_split(data: dict, profile: str, only=None) -> dict:
    """``{"split": …}``, the embedded data's own split (:data:`profiles.SAMPLE_DATA`), when ``data``'s
    training folder holds the sample data (whatever its name), no val/test folder is given and a
    notebook of the run (``only``: ``--only``'s prefixes) declares ``split``; else ``{}``."""
    from automap_nb.orchestration.runner import declared_parameters, list_notebooks, select_notebooks

    if data.get("val_dir") or data.get("test_dir") or not _is_sample_data(data["data_dir"]):
        return {}
    if not any("split" in declared_parameters(nb) for nb in select_notebooks(list_notebooks(), only)):
        return {}  # e.g. --only 08: chapter 02's split is already in the prepared file
    return {"split": profiles.SAMPLE_DATA[profile]["split"]}


def _cmd_book(args) -> None:
    from automap_nb.orchestration.book import build_book

    start = time.perf_counter()
    index = build_book(args.run, build_dir=args.build_dir, strict=not args.no_strict)
    print(f"[automap-nb] book built in {time.perf_counter() - start:.0f} s: {index}")


def _cmd_bench(args) -> None:
    from automap_nb.results import check_output_file

    if args.out:
        check_output_file(args.out, "--out")  # before the benchmark (and before importing Keras)
    from automap_nb import distribute

    distribute.initialize()  # several processes: join them before JAX computes anything
    from automap_nb.bench import format_table, run_benchmark, summarise, write_report

    if args.summarise:
        if not args.out:
            raise ValueError("--summarise needs --out STEM")
        for path in summarise(args.summarise, args.out, args.title or "Benchmark summary"):
            print(f"written: {path}")
        return

    result = run_benchmark(variant=args.variant, n=args.size, batch=args.batch, steps=args.steps, warmup=args.warmup,
                           repeats=args.repeats, precision=args.precision, data=args.data,
                           steps_per_execution=args.steps_per_execution, distribution=args.distribution,
                           model_shards=args.model_shards)
    if not distribute.is_writer():  # process 0 prints and writes for all
        return
    print(format_table(result))
    if args.out:
        title = args.title or (f"Benchmark: {result['variant']} on {result['device_name']} "
                               f"({result['backend']}, {result['precision']}, batch {result['batch']})")
        for path in write_report(result, args.out, title=title):
            print(f"written: {path}")


def _cmd_train(args) -> None:
    """Chapter 03's training, without the notebook: the parameters of a profile (and ``-p`` overrides), checked by
    chapter 03's spec, trained from ``RUN/prepared.h5`` into ``RUN/automap``, where chapter 03 then finds it done."""
    from automap_nb import distribute

    distribute.initialize()  # several processes: join them before JAX computes anything
    from automap_nb import models, training
    from automap_nb.data.prepared import PREPARED_NAME, read_header
    from automap_nb.orchestration.params import CHAPTERS, require_file, validate
    from automap_nb.orchestration.runner import parse_value

    values = {**profiles.PROFILES[args.profile], "run_dir": str(args.run)}
    names = set(CHAPTERS["03_train_automap"].knobs)
    for key, text in args.parameters:
        if key not in names:
            raise ValueError(f"-p {key}: not a parameter of chapter 03 (one of {sorted(names - {'run_dir'})})")
        values[key] = parse_value(text.removeprefix(PROTECTED))
    p = validate("03_train_automap", values)
    prepared = require_file("--run", p["run_dir"] / PREPARED_NAME)
    layout = distribute.setup(p["train_distribution"], p["train_model_shards"], p["train_batch_size"])
    with distribute.scope(layout):
        model = models.build_variant(p["train_variant"],
                                     read_header(prepared).n, seed=p["seed"], conv_filters=p["train_conv_filters"],
                                     precision=training.resolve_precision(p["train_precision"]), dc_phase=p["train_dc_phase"])
    history = training.train(model, prepared, p["run_dir"] / "automap", epochs=p["train_epochs"], batch_size=p["train_batch_size"],
                             learning_rate=p["train_learning_rate"], seed=p["seed"], lr_schedule=p["train_lr_schedule"],
                             augment=p["train_augment"], validate_every=p["train_validate_every"], pipeline=p["train_pipeline"],
                             distribution=layout, progress=not args.quiet)
    if distribute.is_writer():
        last = history["epochs"][-1]
        print(f"[automap-nb] {len(history['epochs'])} epochs in {p['run_dir'] / 'automap'} ({history['device']['distribution']}, "
              f"{history['device']['processes']} process(es)): loss {last['loss']:.4g}, val PSNR {last['val_psnr']:.2f} dB")


def _cmd_plan(args) -> None:
    if "keras" not in sys.modules and "KERAS_BACKEND" not in os.environ:
        # the planner builds nothing: Keras's numpy backend, without TensorFlow's start-up time and log
        os.environ["KERAS_BACKEND"] = "numpy"
        try:
            import keras  # noqa: F401
        finally:
            del os.environ["KERAS_BACKEND"]
    from automap_nb.models import VARIANTS
    from automap_nb.plan import format_plan, plan

    if args.variant not in VARIANTS:
        raise ValueError(f"--variant must be one of {sorted(VARIANTS)}, got {args.variant!r}")
    size = args.size if args.size is not None else VARIANTS[args.variant]["n"]
    if size is None:
        raise ValueError(f"--size is needed for variant {args.variant!r} (it is defined at any n)")
    result = plan(args.variant, size, devices=args.devices, precision=args.precision, batch=args.batch, layout=args.layout,
                  model_shards=args.model_shards, device=args.device, headroom=args.headroom)
    print(json.dumps(result, indent=1) if args.json else format_plan(result))


def _cmd_parameters(args) -> None:
    """Each chapter's parameters under ``--profile``, the paper's value beside each departure, and why."""
    import textwrap

    from automap_nb.orchestration import params

    chapters = [c for c in params.CHAPTERS if not args.chapters or c.startswith(tuple(args.chapters))]
    if not chapters:
        raise ValueError(f"no chapter starts with {' or '.join(args.chapters)} (chapters: {', '.join(params.CHAPTERS)})")
    for chapter in chapters:
        values = {name: knob.value(args.profile) for name, knob in params.CHAPTERS[chapter].knobs.items() if knob.paper is not None}
        rows = {row["parameter"]: row for row in profiles.departures(values, profile=args.profile)}
        print(f"{chapter}, --profile {args.profile} (a value with no note is the paper's; folders come from the run):")
        for name, value in values.items():
            if name not in rows:
                print(f"  {name} = {value!r}")
                continue
            row = rows[name]
            paper = row["the paper's setting"]
            print(f"  {name} = {value!r}, the paper {paper}")
            print(textwrap.fill(f"why: {row['why']}. cost: {row['cost']}", 110, initial_indent=" " * 6, subsequent_indent=" " * 6))


def _folder_options(p) -> None:
    p.add_argument("--val-dir", type=Path, help="a folder whose volumes are all the val split (monitoring, tuning)")
    p.add_argument(
        "--test-dir", type=Path, help="a folder whose volumes are all the test split (reported numbers); "
        "fastMRI's convention: --data-dir singlecoil_train --test-dir singlecoil_val")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="automap-nb", description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("sample-data", help="write the embedded sample data (fastMRI single-coil schema)")
    p.add_argument("--out", type=Path, default=DEFAULT_SAMPLE_DIR, help="output folder (default: data/sample)")
    p.add_argument("--volumes", type=int, default=profiles.SAMPLE_DATA["cpu"]["volumes"])
    p.add_argument("--slices", type=int, default=profiles.SAMPLE_DATA["cpu"]["slices"])
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--force", action="store_true", help="rewrite volumes that already exist")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    p.add_argument(
        "--compact", action="store_true", help="k-space kept in the band that prepared sizes "
        "n <= 128 use, gzip-compressed: same schema, about 3x less disk (the gpu profile's data)")
    p.add_argument("--workers", type=int, default=1, help="processes building volumes in parallel")
    p.set_defaults(func=_cmd_sample_data)

    p = sub.add_parser("prepare", help="preprocess a fastMRI folder into a prepared HDF5 file")
    p.add_argument("--data-dir", type=Path, required=True,
                   help="folder of fastMRI single-coil .h5 files (the training folder, e.g. singlecoil_train)")
    _folder_options(p)
    p.add_argument("--out", type=Path, required=True, help="prepared file to write (.h5)")
    p.add_argument("--size", type=int, default=128, help="matrix size n of inputs and targets (default 128)")
    p.add_argument("--split", type=float, nargs=3, default=[0.9, 0.05, 0.05], metavar=("TRAIN", "VAL", "TEST"),
                   help="fractions, per patient hash, for the splits that have no folder of their own")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_prepare)

    p = sub.add_parser("run", help="execute the numbered notebooks with papermill into a run folder")
    p.add_argument("--profile", choices=sorted(profiles.PROFILES),
                   help=f"default: with --only, the run's recorded profile, else {profiles.DEFAULT_PROFILE}")
    p.add_argument(
        "--data-dir", type=Path, help="fastMRI folder (default: the embedded sample data, built if absent; "
        "with --only: the folder the run was made from)")
    _folder_options(p)
    p.add_argument("--out", type=Path, help="run folder (default: runs/default)")
    p.add_argument("-p", "--parameter", dest="parameters", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                   help="override a notebook parameter (Python literal or string; negative numbers too: -p KEY -1e-3)")
    p.add_argument("--only", nargs="+", metavar="NN", help="run only notebooks whose names start with these prefixes")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("book", help="build the Jupyter Book from a run's executed notebooks")
    p.add_argument("--run", type=Path, default=REPO_ROOT / "runs" / "default")
    p.add_argument("--build-dir", type=Path, default=REPO_ROOT / "_build")
    p.add_argument("--no-strict", action="store_true", help="do not turn warnings into errors")
    p.set_defaults(func=_cmd_book)

    p = sub.add_parser("parameters", help="each chapter's parameters under a profile, and why it departs from the paper")
    p.add_argument("chapters", nargs="*", metavar="NN", help="chapters whose names start with these prefixes (default: all)")
    p.add_argument("--profile", choices=sorted(profiles.PROFILES), default=profiles.DEFAULT_PROFILE)
    p.set_defaults(func=_cmd_parameters)

    p = sub.add_parser("bench", help="training, inference and input-pipeline throughput of an AUTOMAP variant")
    p.add_argument("--variant", default="greenberg")
    p.add_argument("--size", type=int, default=None, help="matrix size n (default: the variant's, else 64)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=10, help="steps per timed run")
    p.add_argument("--warmup", type=int, default=2, help="untimed steps first (compilation)")
    p.add_argument("--repeats", type=int, default=3, help="timed runs; the median is reported")
    p.add_argument("--precision", choices=["fp32", "bf16"], default="fp32", help="bf16: mixed_bfloat16")
    p.add_argument("--data", choices=["device", "arrays"], default="device",
                   help="device: the device input pipeline (default); arrays: host arrays, the model alone")
    p.add_argument("--steps-per-execution", type=int, default=1)
    p.add_argument("--distribution", choices=["none", "data", "model"], default="none",
                   help="layout of training over the devices (JAX; automap_nb.distribute; default none: one device)")
    p.add_argument("--model-shards", type=int, default=1, help="devices per model replica under --distribution model")
    p.add_argument("--out", type=Path, help="write the figures to OUT.json and OUT.md (.json/.md suffix dropped)")
    p.add_argument("--title", help="title of the .md report (default: variant, device, precision, batch)")
    p.add_argument("--summarise", nargs="+", type=Path, metavar="FILE.json",
                   help="no benchmark: gather earlier --out results into one table at --out")
    p.set_defaults(func=_cmd_bench)

    p = sub.add_parser("train", help="train chapter 03's AUTOMAP into RUN/automap, on one process or several (JAX)")
    p.add_argument("--run", type=Path, required=True, help="run folder holding prepared.h5 (chapter 02 or automap-nb prepare)")
    p.add_argument("--profile", choices=sorted(profiles.PROFILES), default=profiles.DEFAULT_PROFILE,
                   help=f"chapter 03's values (default {profiles.DEFAULT_PROFILE})")
    p.add_argument("-p", "--parameter", dest="parameters", nargs=2, action="append", default=[], metavar=("KEY", "VALUE"),
                   help="override a chapter 03 parameter, e.g. -p train_distribution model -p train_model_shards 8")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_train)

    p = sub.add_parser("plan", help="memory of a variant's training per device under each layout, and which devices it fits")
    p.add_argument("--variant", required=True, help="a key of automap_nb.models.VARIANTS")
    p.add_argument("--size", type=int, default=None, help="matrix size n (default: the variant's own, if it has one)")
    p.add_argument("--devices", type=int, default=1, help="devices D (default 1)")
    p.add_argument("--precision", default="float32", help="float32 (default) | mixed_bfloat16 | bfloat16")
    p.add_argument("--batch", type=int, default=32, help="global batch size (default 32)")
    p.add_argument("--layout", default=None, help="none | data | model (default: all three)")
    p.add_argument("--model-shards", type=int, default=None, help="K under the model layout, dividing D (default: D)")
    p.add_argument("--device", default=None, help="check one device only: H100-80GB | H200-141GB | A100-40GB | A100-80GB | host")
    p.add_argument("--headroom", type=float, default=0.1, help="fraction of each device's memory kept free (default 0.1)")
    p.add_argument("--json", action="store_true", help="print the plan as JSON (bytes) instead of the table")
    p.set_defaults(func=_cmd_plan)
    return parser


def main(argv: list[str] | None = None) -> int:
    from automap_nb.checks import one_line
    from automap_nb.data.mri_data import DataError
    from automap_nb.orchestration.book import BookError
    from automap_nb.orchestration.runner import RunError

    parser = build_parser()
    args = parser.parse_args(protect_parameter_values(sys.argv[1:] if argv is None else list(argv)))
    try:
        args.func(args)
    except (DataError, RunError, BookError, ValueError, FileNotFoundError, FileExistsError) as err:
        parser.exit(2, f"automap-nb: error: {one_line(err)}\n")
    except OSError as err:  # a full disk, a read-only folder: name the path, no traceback
        where = f"{err.filename}: " if err.filename else ""
        parser.exit(2, f"automap-nb: error: {where}{err.strerror or one_line(err)}\n")
    return 0


PROTECTED = " "  # put before a -p value that starts with "-", removed again by _cmd_run


def protect_parameter_values(argv: list[str]) -> list[str]:
    """argparse reads the VALUE of ``-p KEY VALUE`` as an option when it starts with ``-`` and is not a
    plain negative number (``-1e-3``, ``-inf``); prefixed with :data:`PROTECTED` it stays a value."""
    out = list(argv)
    for i in range(len(out) - 2):
        if out[i] in ("-p", "--parameter") and out[i + 2][:1] == "-" and out[i + 2][1:2] in (*"0123456789.", "i", "n"):
            out[i + 2] = PROTECTED + out[i + 2]
    return out
