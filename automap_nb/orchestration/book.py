"""Building the Jupyter Book (v1) from a run's executed notebooks, without re-executing them.

The book's sources are staged in ``_build/source``: ``_config.yml``, ``_toc.yml`` and ``book/``
from the repository, and the run's executed ``NN_*.ipynb`` as ``notebooks/``. ``_toc.yml`` globs
``notebooks/*``, so every chapter of the run gets a page. The build runs with ``-W`` (warnings,
e.g. a missing glue key or a broken reference, are errors) and writes ``_build/html``.

The build folder is the book's own: on first use it receives a marker file
(:data:`BUILD_MARKER`), and a folder that is not empty and has no marker is refused rather than
overwritten, so ``--build-dir`` can never delete a user's files. The new ``html`` replaces the old
one only after a successful build. A run is built only when it is complete and consistent: every
chapter recorded ``ok`` in ``run.json``, every cell of every executed notebook completed, and all
chapters computed from the same data and the same values of the parameters they share.

What the reader sees is settled while staging (:func:`stage_sources`):

- **maths offline**: MathJax is copied from a Python package (``jupyter-server-mathjax``, the
  Jupyter project's packaging of MathJax 2.7) into the site's ``_static/mathjax/``; no page loads
  anything from the network (:func:`mathjax_dir`);
- **bookkeeping cells**: papermill's injected ``parameters`` cell (it shows the build machine's
  paths) and the notebook's own defaults cell are removed; the validation cell after them is
  collapsed; results that are only the repr of a path (``PosixPath('/tmp/…')``) are dropped
  (:func:`tidy_notebook`);
- **quoted numbers and the edition**: :mod:`automap_nb.reference` (numbers quoted from the paper
  and fastMRI) and :mod:`automap_nb.orchestration.edition` (how this edition was built, read from the run's
  files) become MyST substitutions, ``{{ key }}`` in any page.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

from automap_nb import reference
from automap_nb.orchestration import edition
from automap_nb.orchestration.runner import NOTEBOOK_GLOB, REPO_ROOT, RunError, read_record
from automap_nb.results import atomic_path, remove_stale_temporaries

BUILD_MARKER = ".automap-nb-book"
ASSETS = "_assets"  # staged static files (MathJax, the book's CSS); Sphinx copies them into _static/
MATHJAX_CONFIG = "TeX-AMS-MML_HTMLorMML-full"
HIDDEN_TAGS = {"parameters": "remove-cell", "injected-parameters": "remove-cell"}
PATH_REPR = re.compile(r"^(Posix|Windows)?Path\('.*'\)$")


class BookError(RuntimeError):
    """The book could not be built; the message says why."""


def claim_build_dir(build_dir: Path) -> None:
    """Make sure ``build_dir`` is the book's to overwrite: absent, empty, or marked by an earlier build."""
    if build_dir.exists() and not build_dir.is_dir():
        raise BookError(f"--build-dir {build_dir}: exists and is not a folder")
    if build_dir.is_dir() and not (build_dir / BUILD_MARKER).is_file() and any(build_dir.iterdir()):
        raise BookError(f"--build-dir {build_dir}: folder is not empty and was not made by `automap-nb book` "
                        f"(no {BUILD_MARKER}); its files would be overwritten: give a new or empty folder")
    try:
        build_dir.mkdir(parents=True, exist_ok=True)
        (build_dir / BUILD_MARKER).write_text("Built by `automap-nb book`: source/ and html/ are rewritten by every build.\n")
    except OSError as err:
        raise BookError(f"--build-dir {build_dir}: cannot write ({err.strerror})") from None


def _rerun_hint(run_dir: Path, names, profile: str | None = None) -> str:
    """The command that reruns chapters ``names`` with the run's recorded ``profile`` (a rerun with another
    profile would mix profiles in one folder)."""
    numbers = " ".join(sorted({name.split("_")[0] for name in names}))
    return f"rerun them: automap-nb run --out {run_dir}{f' --profile {profile}' if profile else ''} --only {numbers}"


def check_run_complete(run_dir: Path, repo_root: Path = REPO_ROOT) -> list[Path]:
    """The run's executed notebooks, after checking that the run is complete and consistent.

    Raises :class:`BookError` (one line, naming the notebooks and how to fix it) when a chapter is
    missing, did not finish (killed, failed, cells pending), or was computed from other data or
    other values of a shared parameter than the rest of the run.
    """
    if not run_dir.is_dir():
        raise BookError(f"--run {run_dir}: {'is not a folder' if run_dir.exists() else 'folder does not exist'}")
    executed = sorted(run_dir.glob(NOTEBOOK_GLOB))
    if not executed:
        raise BookError(f"{run_dir}: no executed notebooks in the run folder (run `automap-nb run` first)")
    expected = sorted(p.name for p in (repo_root / "notebooks").glob(NOTEBOOK_GLOB))
    missing = sorted(set(expected) - {p.name for p in executed})
    if missing:
        raise BookError(f"{run_dir}: the run has no executed {', '.join(missing)}")
    try:
        record = read_record(run_dir) or {}
    except RunError as err:
        raise BookError(str(err)) from None
    notebooks = record.get("notebooks", {})
    unfinished = {}
    for nb in executed:
        status = notebooks.get(nb.name, {}).get("status", "ok" if not record else "not recorded")
        if status != "ok":
            unfinished[nb.name] = status
            continue
        try:
            cells = json.loads(nb.read_text())["cells"]
        except (ValueError, KeyError) as err:
            raise BookError(f"{nb}: not a readable notebook ({err})") from None
        pending = [
            c for c in cells
            if c.get("cell_type") == "code" and c.get("metadata", {}).get("papermill", {}).get("status", "completed") != "completed"
        ]
        if pending:
            unfinished[nb.name] = f"{len(pending)} cell(s) not completed"
    if unfinished:
        what = ", ".join(f"{name} ({status})" for name, status in unfinished.items())
        raise BookError(f"{run_dir}: the run is incomplete: {what}; {_rerun_hint(run_dir, unfinished, record.get('profile'))}")
    fingerprints = {name: nb.get("data_fingerprint") for name, nb in notebooks.items() if nb.get("data_fingerprint")}
    if len(set(fingerprints.values())) > 1:
        latest = record.get("data_fingerprint")
        stale = [name for name, fp in fingerprints.items() if fp != latest]
        raise BookError(f"{run_dir}: {', '.join(sorted(stale))} computed from other data than the rest of the run; " +
                        _rerun_hint(run_dir, stale, record.get("profile")))
    values: dict[str, dict] = {}
    for name, nb in sorted(notebooks.items()):
        for key, value in nb.get("parameters", {}).items():
            values.setdefault(key, {})[name] = value
    for key, by_notebook in values.items():
        distinct = {json.dumps(v, sort_keys=True) for v in by_notebook.values()}
        if len(distinct) > 1:
            shown = ", ".join(f"{name}: {value!r}" for name, value in by_notebook.items())
            raise BookError(f"{run_dir}: chapters ran with different values of parameter {key!r} ({shown}); " +
                            _rerun_hint(run_dir, by_notebook, record.get("profile")))
    return executed


def stage_sources(run_dir: Path, build_dir: Path, repo_root: Path = REPO_ROOT) -> Path:
    """Copy the book's sources and the run's executed notebooks into ``build_dir/source``."""
    executed = check_run_complete(run_dir, repo_root)
    claim_build_dir(build_dir)
    source = build_dir / "source"
    if source.exists():
        shutil.rmtree(source)
    (source / "notebooks").mkdir(parents=True)
    for name in ("_config.yml", "_toc.yml"):
        shutil.copy2(repo_root / name, source / name)
    shutil.copytree(repo_root / "book", source / "book", ignore=shutil.ignore_patterns("static"))
    assets = source / ASSETS
    shutil.copytree(repo_root / "book" / "static", assets)
    shutil.copytree(mathjax_dir(), assets / "mathjax")
    for nb in executed:
        notebook = json.loads(nb.read_text())
        (source / "notebooks" / nb.name).write_text(json.dumps(tidy_notebook(notebook), indent=1, ensure_ascii=False))
    try:
        this_edition = edition.substitutions(run_dir)
    except edition.EditionError as err:
        raise BookError(str(err)) from None
    write_config(source / "_config.yml", {**reference.substitutions(), **this_edition})
    return source


def mathjax_dir() -> Path:
    """The MathJax 2.7 tree shipped by the ``jupyter-server-mathjax`` package (a dependency)."""
    import importlib.util

    spec = importlib.util.find_spec("jupyter_server_mathjax")
    if spec is None or spec.origin is None:
        raise BookError("jupyter-server-mathjax is not installed (it provides the book's offline MathJax): "
                        "make install, or pip install jupyter-server-mathjax")
    folder = Path(spec.origin).parent / "static"
    if not (folder / "MathJax.js").is_file() or not (folder / "config" / f"{MATHJAX_CONFIG}.js").is_file():
        raise BookError(f"{folder}: no MathJax.js or config/{MATHJAX_CONFIG}.js in jupyter-server-mathjax")
    return folder


def tidy_notebook(notebook: dict) -> dict:
    """The executed notebook as the book shows it: bookkeeping cells removed or collapsed.

    Cells tagged ``parameters`` (the defaults) and ``injected-parameters`` (papermill's values,
    with the machine's paths) get ``remove-cell``; the first code cell after them (imports and
    parameter validation, by convention) gets ``hide-input``; an ``execute_result`` that is only
    the repr of a path is dropped. Changes a copy; the run's notebook is not touched.
    """
    notebook = json.loads(json.dumps(notebook))
    after_parameters = False
    for cell in notebook["cells"]:
        if cell.get("cell_type") != "code":
            continue
        tags = cell.setdefault("metadata", {}).setdefault("tags", [])
        hidden = [HIDDEN_TAGS[tag] for tag in tags if tag in HIDDEN_TAGS]
        if hidden:
            tags.extend(t for t in hidden if t not in tags)
            after_parameters = True
            continue
        if after_parameters:
            if not {"remove-input", "remove-cell", "hide-input", "hide-cell"} & set(tags):
                tags.append("hide-input")
            after_parameters = False
        cell["outputs"] = [
            o for o in cell.get("outputs", [])
            if not (o.get("output_type") == "execute_result" and set(o.get("data", {})) == {"text/plain"}
                    and PATH_REPR.match("".join(o["data"]["text/plain"]).strip()))
        ]
    return notebook


def write_config(path: Path, substitutions: dict[str, str]) -> None:
    """Add the MyST substitutions to the staged ``_config.yml``."""
    import yaml

    config = yaml.safe_load(path.read_text())
    parse = config.setdefault("parse", {})
    extensions = parse.setdefault("myst_enable_extensions", [])
    if "substitution" not in extensions:
        extensions.append("substitution")
    parse["myst_substitutions"] = {**parse.get("myst_substitutions", {}), **substitutions}
    path.write_text(yaml.safe_dump(config, sort_keys=False, allow_unicode=True))


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
    remove_stale_temporaries(build_dir, ".html.tmp-*")
    command = [_jupyter_book(), "build", str(source), "--path-output", str(source), "--builder", "html"]
    if strict:
        command += ["-W", "-n", "--keep-going"]
    result = subprocess.run(command, capture_output=True, text=True)
    if result.returncode != 0:
        log = re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr).strip().splitlines()
        problems = [line for line in log if "WARNING" in line or "ERROR" in line or "Error" in line]
        shown = "\n".join((problems or log)[-15:])
        raise BookError(f"jupyter-book build failed (exit {result.returncode}):\n{shown}")
    if not (source / "_build" / "html" / "index.html").is_file():
        raise BookError(f"jupyter-book reported success but {source / '_build' / 'html' / 'index.html'} is missing")
    with atomic_path(html) as fresh:  # the old book stays until the new one is complete
        shutil.copytree(source / "_build" / "html", fresh)
        if html.exists():
            shutil.rmtree(html)
    return html / "index.html"
