"""Executing the numbered notebooks with papermill into a run folder.

A run folder holds the executed notebooks (``NN_name.ipynb``), everything they wrote, and
``run.json`` (profile, parameters given to each notebook, timings, versions). Notebooks are
discovered by name (``notebooks/[0-9][0-9]_*.ipynb``) and each receives only the parameters its
own ``parameters`` cell declares, so a new chapter joins a run without any change here.
"""

from __future__ import annotations

import ast
import os
import platform
import sys
import time
from pathlib import Path

from . import profiles
from .params import ParameterError
from .results import write_json

REPO_ROOT = Path(__file__).resolve().parent.parent
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
KERNEL_NAME = "automap-nb"


class RunError(RuntimeError):
    """A notebook failed; the message names the notebook, the cell and the error."""


def list_notebooks(notebooks_dir: str | Path = NOTEBOOKS_DIR) -> list[Path]:
    """The numbered notebooks of ``notebooks_dir`` in execution order."""
    found = sorted(Path(notebooks_dir).glob(NOTEBOOK_GLOB))
    if not found:
        raise RunError(f"{notebooks_dir}: no numbered notebooks ({NOTEBOOK_GLOB})")
    return found


def declared_parameters(notebook: str | Path) -> dict:
    """Names and default source text of the parameters a notebook's ``parameters`` cell declares."""
    import papermill

    params = papermill.inspect_notebook(str(notebook))
    return {name: info.get("default") for name, info in params.items()}


def parse_value(text: str):
    """A ``-p KEY VALUE`` value: a Python literal (``3``, ``2e-4``, ``True``, ``[4, 8]``) or a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def plan_parameters(notebooks: list[Path], profile: str, run_dir: Path, data_dir: Path | None,
                    overrides: dict) -> dict[str, dict]:
    """The parameters each notebook receives: profile values, then overrides, then paths.

    Raises :class:`ParameterError` for an unknown profile or an override that no notebook declares.
    """
    if profile not in profiles.PROFILES:
        raise ParameterError(f"profile must be one of {sorted(profiles.PROFILES)}, got {profile!r}")
    declared = {nb.name: declared_parameters(nb) for nb in notebooks}
    known = set().union(*declared.values())
    unknown = sorted(set(overrides) - known)
    if unknown:
        raise ParameterError(f"parameter(s) {unknown} are declared by no notebook; known: {sorted(known)}")
    values = {**profiles.PROFILES[profile], "profile": profile, **overrides, "run_dir": str(run_dir)}
    if data_dir is not None:
        values["data_dir"] = str(data_dir)
    return {name: {k: v for k, v in values.items() if k in params} for name, params in declared.items()}


def ensure_kernel(name: str = KERNEL_NAME) -> str:
    """Make sure a Jupyter kernel ``name`` runs *this* Python (installs it into ``sys.prefix``)."""
    from jupyter_client.kernelspec import KernelSpecManager, NoSuchKernel

    try:
        spec = KernelSpecManager().get_kernel_spec(name)
        if spec.argv and Path(spec.argv[0]).resolve() == Path(sys.executable).resolve():
            return name
    except NoSuchKernel:
        pass
    from ipykernel.kernelspec import install

    install(kernel_name=name, display_name="Python (automap-nb)", prefix=sys.prefix)
    return name


def run_notebooks(run_dir: str | Path, profile: str = profiles.DEFAULT_PROFILE,
                  data_dir: str | Path | None = None, overrides: dict | None = None,
                  notebooks_dir: str | Path = NOTEBOOKS_DIR, only: list[str] | None = None,
                  progress: bool = True) -> list[Path]:
    """Execute the numbered notebooks in order into ``run_dir``; stop at the first failure.

    ``only`` restricts the run to notebooks whose names start with one of the given prefixes
    (e.g. ``["01", "02"]``). Returns the executed notebooks' paths. Raises :class:`RunError`
    naming the notebook and cell when one fails (its executed copy keeps the traceback).
    """
    import papermill
    from papermill.exceptions import PapermillExecutionError

    run_dir = Path(run_dir).resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    notebooks = list_notebooks(notebooks_dir)
    if only:
        notebooks = [nb for nb in notebooks if any(nb.name.startswith(p) for p in only)]
        if not notebooks:
            raise ParameterError(f"--only {only} matches no notebook")
    plan = plan_parameters(notebooks, profile, run_dir,
                           Path(data_dir).resolve() if data_dir else None, dict(overrides or {}))
    kernel = ensure_kernel()
    # Kernels inherit this environment: keep TensorFlow's C++ start-up logging out of the book.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    record = {"profile": profile, "started": time.strftime("%Y-%m-%dT%H:%M:%S"),
              "python": platform.python_version(), "platform": platform.platform(),
              "keras_backend": os.environ.get("KERAS_BACKEND", "tensorflow"),
              "data_dir": str(Path(data_dir).resolve()) if data_dir else None, "notebooks": {}}
    executed = []
    for nb in notebooks:
        out = run_dir / nb.name
        print(f"[automap-nb] running {nb.name} → {out}", flush=True)
        start = time.perf_counter()
        try:
            papermill.execute_notebook(str(nb), str(out), parameters=plan[nb.name], kernel_name=kernel,
                                       cwd=str(nb.parent), progress_bar=progress, request_save_on_cell_execute=True)
        except PapermillExecutionError as err:
            _write_record(run_dir, record, nb.name, plan[nb.name], time.perf_counter() - start, "failed")
            raise RunError(f"{nb.name} failed in cell {err.exec_count}: {err.ename}: {err.evalue} "
                           f"(executed copy with the traceback: {out})") from None
        _write_record(run_dir, record, nb.name, plan[nb.name], time.perf_counter() - start, "ok")
        executed.append(out)
    return executed


def _write_record(run_dir: Path, record: dict, name: str, params: dict, seconds: float, status: str) -> None:
    record["notebooks"][name] = {"parameters": params, "seconds": round(seconds, 1), "status": status}
    write_json(run_dir / "run.json", record)
