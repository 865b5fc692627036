"""Check the carried wheel set of benchmarks/gpu_edition.sh (and gpu.sh) in .whl/.

Here, before a GPU session:   python3 benchmarks/check_wheels.py            (lists .whl/, its size; exit 1 if unfit)
There, after the install:     python3 benchmarks/check_wheels.py --installed  (warns where a carried wheel's
                              requirements are not met by what is importable: the image plus $SITE)

The GPU machine (KINDS.md, 2026-11) has Python 3.12 on x86-64 with JAX, numpy, scipy, pandas, matplotlib,
h5py, scikit-image, scikit-learn, numba, PyYAML, requests, aiohttp, click, tqdm, rich, psutil, pygments,
python-dateutil, attrs, jinja2, joblib and typing-extensions, but none of the packages below and no network.
Each is carried as a cp312 manylinux (or pure-Python) wheel at constraints.txt's version. Download them with
    python3 benchmarks/check_wheels.py --download
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LIMIT = 64 * 2**20  # what a device call carries: the working tree and .whl/ together

# Canonical names of the wheels gpu_edition.sh installs; the root each is needed for.
# yapf: disable
WHEELS = {
    # benchmarks/gpu.sh: Keras 3 on the image's JAX
    "keras": "keras", "namex": "keras", "optree": "keras",
    # automap_nb.orchestration.runner: papermill and a Jupyter kernel
    "papermill": "papermill", "entrypoints": "papermill", "tenacity": "papermill",
    "nbclient": "papermill", "nbformat": "papermill", "fastjsonschema": "nbformat", "jsonschema": "nbformat",
    "jsonschema-specifications": "jsonschema", "referencing": "jsonschema", "rpds-py": "jsonschema",
    "jupyter-client": "nbclient", "jupyter-core": "nbclient", "platformdirs": "jupyter-core",
    "traitlets": "nbclient", "pyzmq": "jupyter-client", "tornado": "jupyter-client",
    "ipykernel": "kernel", "comm": "ipykernel", "debugpy": "ipykernel", "nest-asyncio2": "ipykernel",
    "matplotlib-inline": "ipykernel", "ipython": "ipykernel", "ipython-pygments-lexers": "ipython",
    "jedi": "ipython", "parso": "jedi", "pexpect": "ipython", "ptyprocess": "pexpect",
    "prompt-toolkit": "ipython", "wcwidth": "prompt-toolkit", "stack-data": "ipython",
    "asttokens": "stack-data", "executing": "stack-data", "pure-eval": "stack-data",
    # the chapters' `from myst_nb import glue` (installed without its Sphinx needs; glue imports docutils)
    "myst-nb": "chapters' glue", "docutils": "myst-nb glue",
    # automap_nb.data.sample_data (nilearn's bundled MNI template) and chapter 06's TV baseline (sigpy)
    "nilearn": "sample data", "nibabel": "nilearn", "sigpy": "chapter 06 TV", "pywavelets": "sigpy",
}
PLATFORMS = ["manylinux_2_28_x86_64", "manylinux_2_27_x86_64", "manylinux_2_26_x86_64", "manylinux_2_17_x86_64",
             "manylinux2014_x86_64", "manylinux_2_5_x86_64", "manylinux1_x86_64"]
# yapf: enable


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def pins() -> dict[str, str]:
    out = {}
    for line in (ROOT / "constraints.txt").read_text().splitlines():
        if "==" in line and not line.startswith("#"):
            name, version = line.strip().split("==")
            out[canonical(name)] = version
    return out


def wheel_fits(filename: str) -> bool:
    """Installable by CPython 3.12 on x86-64 Linux (glibc ≤ 2.39): pure, cp312, or abi3 from an older cp3."""
    tags = filename[:-4].split("-")[-3:]
    ok_py = any(t in ("py3", "py2", "cp312") for t in tags[0].split("."))
    ok_py = ok_py or (tags[1] == "abi3" and any(re.fullmatch(r"cp3(\d+)", t) and int(t[3:]) <= 12 for t in tags[0].split(".")))
    ok_plat = any(p == "any" or re.fullmatch(r"manylinux(1|2010|2014|_2_(\d+))_x86_64", p) and
                  (not p.startswith("manylinux_2_") or int(p.split("_")[2]) <= 39) for p in tags[2].split("."))
    return ok_py and ok_plat


def listing(folder: Path) -> int:
    expected = pins()
    wheels = sorted(folder.glob("*.whl"))
    by_name: dict[str, list[Path]] = {}
    for w in wheels:
        by_name.setdefault(canonical(w.name.split("-")[0]), []).append(w)
    total = sum(w.stat().st_size for w in wheels)
    for w in wheels:
        name, version = canonical(w.name.split("-")[0]), w.name.split("-")[1]
        notes = []
        if name not in WHEELS:
            notes.append("not needed by gpu_edition.sh")
        if name in expected and expected[name] != version:
            notes.append(f"constraints.txt pins {expected[name]}")
        if not wheel_fits(w.name):
            notes.append("NOT for cp312 x86-64")
        print(f"{w.stat().st_size / 2**20:8.2f} MiB  {w.name}" + (f"  ({'; '.join(notes)})" if notes else ""))
    tracked = 0
    try:
        files = subprocess.run(["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True).stdout
        tracked = sum((ROOT / f).stat().st_size for f in files.decode().split("\0") if f and (ROOT / f).is_file())
    except (OSError, subprocess.CalledProcessError):
        pass
    print(f"{total / 2**20:8.2f} MiB  in {len(wheels)} wheels ({folder}); tracked files {tracked / 2**20:.2f} MiB; "
          f"a device call carries at most {LIMIT / 2**20:.0f} MiB")
    problems = []
    missing = sorted(set(WHEELS) - set(by_name))
    if missing:
        problems.append(f"missing wheel(s) that gpu_edition.sh installs: {', '.join(missing)} "
                        f"(python3 benchmarks/check_wheels.py --download)")
    twice = sorted(n for n, ws in by_name.items() if len(ws) > 1)
    if twice:
        problems.append(f"more than one wheel of {', '.join(twice)} (pip install stops): keep one")
    unfit = [w.name for w in wheels if not wheel_fits(w.name)]
    if unfit:
        problems.append(f"not installable on the GPU machine's Python 3.12 / x86-64: {', '.join(unfit)}")
    if total + tracked > LIMIT * 0.9:
        problems.append(f"wheels + tracked files {(total + tracked) / 2**20:.1f} MiB leave under 10% of the "
                        f"{LIMIT / 2**20:.0f} MiB a device call carries")
    for p in problems:
        print(f"check_wheels: {p}", file=sys.stderr)
    return 1 if problems else 0


def download(folder: Path) -> int:
    expected, have = pins(), {canonical(w.name.split("-")[0]) for w in folder.glob("*.whl")}
    specs = [f"{n}=={expected[n]}" if n in expected else n for n in WHEELS if n not in have]
    if not specs:
        print("check_wheels: nothing to download")
        return 0
    platforms = [a for p in PLATFORMS for a in ("--platform", p)]
    return subprocess.run([
        sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:", "--python-version", "3.12", "--implementation",
        "cp", *platforms, "-d",
        str(folder), *specs
    ]).returncode


def installed(folder: Path) -> int:
    """Each carried wheel's requirements (for this Python), checked against the distributions on sys.path."""
    from importlib import metadata

    from packaging.requirements import Requirement

    present = {canonical(d.metadata["Name"]): d.version for d in metadata.distributions() if d.metadata["Name"]}
    problems = []
    for w in sorted(folder.glob("*.whl")):
        with zipfile.ZipFile(w) as z:
            meta = z.read(next(n for n in z.namelist() if n.endswith(".dist-info/METADATA"))).decode()
        name = canonical(w.name.split("-")[0])
        if name == "myst-nb":
            continue  # installed for its glue alone (see WHEELS)
        for line in meta.splitlines():
            if not line.startswith("Requires-Dist:"):
                continue
            req = Requirement(line.split(":", 1)[1].strip())
            if req.marker and not req.marker.evaluate({"extra": ""}):
                continue
            have = present.get(canonical(req.name))
            if have is None:
                problems.append(f"{name} needs {req}: not installed")
            elif not req.specifier.contains(have, prereleases=True):
                problems.append(f"{name} needs {req}: {have} is installed")
    for p in problems:
        print(f"check_wheels: {p}")
    print(f"check_wheels: {len(problems)} unmet requirement(s) of the carried wheels on Python {sys.version.split()[0]}")
    return 1 if problems else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dir", default=str(ROOT / ".whl"), help="the wheel folder (default .whl/)")
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--download", action="store_true", help="pip download the missing wheels, then check")
    mode.add_argument("--installed", action="store_true", help="check the requirements of the installed set")
    args = parser.parse_args(argv)
    folder = Path(args.dir)
    if args.installed:
        return installed(folder)
    if args.download:
        folder.mkdir(exist_ok=True)
        if download(folder):
            print("check_wheels: pip download failed", file=sys.stderr)
            return 1
    if not folder.is_dir():
        print(f"check_wheels: {folder} does not exist (python3 benchmarks/check_wheels.py --download)", file=sys.stderr)
        return 1
    return listing(folder)


if __name__ == "__main__":
    sys.exit(main())
