"""The ``automap-nb`` command: sample data, preprocessing, notebook runs, the book, benchmarks.

Every sub-command turns the package's errors into a one-line ``automap-nb: error: …`` and exit
status 2, so a bad folder or parameter never ends in a traceback.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

from . import profiles
from .runner import REPO_ROOT

DEFAULT_SAMPLE_DIR = REPO_ROOT / "data" / "sample"


def sample_dir_for(profile: str) -> Path:
    """The embedded default data folder a profile uses when no ``--data-dir`` is given."""
    return DEFAULT_SAMPLE_DIR if profile != "quick" else REPO_ROOT / "data" / "sample-quick"


def _cmd_sample_data(args) -> None:
    from .sample_data import build_sample_dataset

    start = time.perf_counter()
    paths = build_sample_dataset(args.out, volumes=args.volumes, slices=args.slices, seed=args.seed,
                                 force=args.force, progress=not args.quiet)
    size = sum(p.stat().st_size for p in paths) / 2**20
    print(f"{len(paths)} volumes in {args.out} ({size:.0f} MiB, {time.perf_counter() - start:.1f} s)")


def _cmd_prepare(args) -> None:
    from .prepare import prepare_dataset

    summary = prepare_dataset(args.data_dir, args.out, size=args.size, fractions=args.split,
                              progress=not args.quiet)
    for note in summary["split_notes"]:
        print(f"note: {note}")
    print(json.dumps({k: summary[k] for k in ("path", "size", "slices", "volumes", "kspace_scale")}))


def _ensure_sample_data(profile: str) -> Path:
    from .sample_data import build_sample_dataset

    folder = sample_dir_for(profile)
    size = profiles.SAMPLE_DATA[profile]
    print(f"[automap-nb] sample data: {folder} ({size['volumes']} volumes × {size['slices']} slices)")
    build_sample_dataset(folder, volumes=size["volumes"], slices=size["slices"], seed=0)
    return folder


def _cmd_run(args) -> None:
    from .runner import run_notebooks

    data_dir = args.data_dir or _ensure_sample_data(args.profile)
    out = args.out or REPO_ROOT / "runs" / "default"
    overrides = {key: _parse(value) for key, value in args.parameters}
    start = time.perf_counter()
    executed = run_notebooks(out, profile=args.profile, data_dir=data_dir, overrides=overrides,
                             only=args.only, progress=not args.quiet)
    print(f"[automap-nb] {len(executed)} notebooks executed into {Path(out).resolve()} "
          f"in {time.perf_counter() - start:.0f} s")


def _parse(value: str):
    from .runner import parse_value

    return parse_value(value)


def _cmd_book(args) -> None:
    from .book import build_book

    start = time.perf_counter()
    index = build_book(args.run, build_dir=args.build_dir, strict=not args.no_strict)
    print(f"[automap-nb] book built in {time.perf_counter() - start:.0f} s: {index}")


def _cmd_bench(args) -> None:
    from .bench import format_table, run_benchmark

    result = run_benchmark(variant=args.variant, n=args.size, batch=args.batch, steps=args.steps)
    print(format_table(result))
    if args.out:
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(result, indent=2))
        print(f"written: {args.out}")


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
    p.set_defaults(func=_cmd_sample_data)

    p = sub.add_parser("prepare", help="preprocess a fastMRI folder into a prepared HDF5 file")
    p.add_argument("--data-dir", type=Path, required=True, help="folder of fastMRI single-coil .h5 files")
    p.add_argument("--out", type=Path, required=True, help="prepared file to write (.h5)")
    p.add_argument("--size", type=int, default=128, help="matrix size n of inputs and targets (default 128)")
    p.add_argument("--split", type=float, nargs=3, default=[0.9, 0.05, 0.05], metavar=("TRAIN", "VAL", "TEST"))
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_prepare)

    p = sub.add_parser("run", help="execute the numbered notebooks with papermill into a run folder")
    p.add_argument("--profile", choices=sorted(profiles.PROFILES), default=profiles.DEFAULT_PROFILE)
    p.add_argument("--data-dir", type=Path, help="fastMRI folder (default: the embedded sample data, built if absent)")
    p.add_argument("--out", type=Path, help="run folder (default: runs/default)")
    p.add_argument("-p", "--parameter", dest="parameters", nargs=2, action="append", default=[],
                   metavar=("KEY", "VALUE"), help="override a notebook parameter (Python literal or string)")
    p.add_argument("--only", nargs="+", metavar="NN", help="run only notebooks whose names start with these prefixes")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_run)

    p = sub.add_parser("book", help="build the Jupyter Book from a run's executed notebooks")
    p.add_argument("--run", type=Path, default=REPO_ROOT / "runs" / "default")
    p.add_argument("--build-dir", type=Path, default=REPO_ROOT / "_build")
    p.add_argument("--no-strict", action="store_true", help="do not turn warnings into errors")
    p.set_defaults(func=_cmd_book)

    p = sub.add_parser("bench", help="training and inference throughput of an AUTOMAP variant")
    p.add_argument("--variant", default="seed")
    p.add_argument("--size", type=int, default=None, help="matrix size n (default: the variant's, else 64)")
    p.add_argument("--batch", type=int, default=32)
    p.add_argument("--steps", type=int, default=10)
    p.add_argument("--out", type=Path, help="write the figures as JSON here")
    p.set_defaults(func=_cmd_bench)
    return parser


def main(argv: list[str] | None = None) -> int:
    from .book import BookError
    from .mri_data import DataError
    from .runner import RunError

    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        args.func(args)
    except (DataError, RunError, BookError, ValueError, FileNotFoundError, FileExistsError) as err:
        parser.exit(2, f"automap-nb: error: {err}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
