"""Building the Jupyter Book (v1) from a run's executed notebooks, without re-executing them.

The book's sources are staged in ``_build/source``: ``_config.yml``, ``_toc.yml`` and ``book/``
from the repository, and the run's executed ``NN_*.ipynb`` as ``notebooks/``. ``_toc.yml`` globs
``notebooks/*``, so every chapter of the run gets a page. The build runs with ``-W`` (warnings,
e.g. a missing glue key or a broken reference, are errors) and writes ``_build/html``.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

from .runner import NOTEBOOK_GLOB, REPO_ROOT


class BookError(RuntimeError):
    """The book could not be built; the message says why."""


def stage_sources(run_dir: Path, build_dir: Path, repo_root: Path = REPO_ROOT) -> Path:
    """Copy the book's sources and the run's executed notebooks into ``build_dir/source``."""
    executed = sorted(run_dir.glob(NOTEBOOK_GLOB))
    if not executed:
        raise BookError(f"{run_dir}: no executed notebooks in the run folder (run `automap-nb run` first)")
    expected = sorted(p.name for p in (repo_root / "notebooks").glob(NOTEBOOK_GLOB))
    missing = sorted(set(expected) - {p.name for p in executed})
    if missing:
        raise BookError(f"{run_dir}: the run has no executed {', '.join(missing)}")
    source = build_dir / "source"
    if source.exists():
        shutil.rmtree(source)
    (source / "notebooks").mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(repo_root / name, source / name)
    shutil.copytree(repo_root / "book", source / "book")
    for nb in executed:
        shutil.copy2(nb, source / "notebooks" / nb.name)
    return source


def _jupyter_book() -> str:
    """The ``jupyter-book`` executable of this environment."""
    beside = Path(sys.executable).parent / "jupyter-book"
    found = str(beside) if beside.is_file() else shutil.which("jupyter-book")
    if not found:
        raise BookError("jupyter-book is not installed in this environment (pip install 'jupyter-book<2')")
    return found


def build_book(run_dir: str | Path, build_dir: str | Path = REPO_ROOT / "_build", strict: bool = True) -> Path:
    """Build the HTML book from ``run_dir``; return the path of ``index.html``.

    Raises :class:`BookError` if the run is incomplete or jupyter-book fails (with ``strict``,
    on any warning).
    """
    run_dir, build_dir = Path(run_dir).resolve(), Path(build_dir).resolve()
    source = stage_sources(run_dir, build_dir)
    html = build_dir / "html"
    if html.exists():
        shutil.rmtree(html)
    command = [_jupyter_book(), "build", str(source), "--path-output", str(source),
               "--builder", "html"]
    if strict:
        command += ["-W", "-n", "--keep-going"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        log = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr).strip().splitlines()
        problems = [line for line in log if "WARNING" in line or "ERROR" in line or "Error" in line]
        shown = "\n".join((problems or log)[-15:])
        raise BookError(f"jupyter-book build failed (exit {result.returncode}):\n{shown}")
    shutil.copytree(source / "_build" / "html", html)
    index = html / "index.html"
    if not index.is_file():
        raise BookError(f"jupyter-book reported success but {index} is missing")
    return index
