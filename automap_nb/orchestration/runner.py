"""Executing the numbered notebooks with papermill into a run folder.

A run folder holds the executed notebooks (``NN_name.ipynb``), everything they wrote, and
``run.json`` (profile, parameters given to each notebook, timings, versions). Notebooks are
discovered by name (``notebooks/[0-9][0-9]_*.ipynb``) and each receives only the parameters its
own ``parameters`` cell declares, so a new chapter joins a run without any change here.

``run.json`` always describes the whole folder: a run with ``--only`` updates the records of the
notebooks it runs and keeps the others; a notebook is recorded as ``running`` (with the PID)
before it starts, so a run that was killed is visible as such (``automap-nb book`` refuses it).
A run folder belongs to one dataset: each record carries the data fingerprint
(:func:`data_fingerprint`), and a run on other data into a folder that already holds results is
refused before anything starts, so no chapter can reuse a model trained on other data.
Temporary work (``.scratch/``, ``.*.tmp-PID``) left by killed processes is removed at the start.
"""

from __future__ import annotations

import ast
import hashlib
import os
import platform
import sys
import time
from pathlib import Path

from automap_nb.orchestration import profiles
from automap_nb.orchestration.params import ParameterError
from automap_nb.results import SCRATCH_NAME, check_output_dir, read_json, remove_stale_temporaries, write_json

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
KERNEL_NAME = "automap-nb"
RECORD_NAME = "run.json"
DATA_KEYS = ("data_dir", "val_dir", "test_dir")


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


def plan_parameters(notebooks: list[Path], profile: str, run_dir: Path, data_dir: Path | None, overrides: dict,
                    val_dir: Path | None = None, test_dir: Path | None = None) -> dict[str, dict]:
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
    for key, folder in zip(DATA_KEYS, (data_dir, val_dir, test_dir)):
        if folder is not None:
            values[key] = str(folder)
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


def select_notebooks(notebooks: list[Path], only: list[str] | None) -> list[Path]:
    """The notebooks ``--only`` names: each prefix (``01``, ``03_train``) must match one or more."""
    if only is None:
        return notebooks
    if isinstance(only, str) or not only:
        raise ParameterError(f"--only needs one or more notebook numbers (e.g. 01 03), got {only!r}")
    chosen = []
    for prefix in only:
        if not isinstance(prefix, str) or not prefix.strip():
            raise ParameterError(f"--only: {prefix!r} is not a notebook number (e.g. 01 or 03)")
        matched = [nb for nb in notebooks if nb.name.startswith(prefix.strip())]
        if not matched:
            raise ParameterError(f"--only {prefix!r} matches no notebook; known: "
                                 f"{', '.join(nb.name.split('_')[0] for nb in notebooks)}")
        chosen += matched
    return [nb for nb in notebooks if nb in chosen]


def data_fingerprint(folders) -> str:
    """A short hash of the data a run reads: per ``*.h5`` file of each folder, its name, size and
    the first and last 64 KiB (cheap on a full fastMRI folder; a copy keeps it, a rewrite changes it)."""
    digest = hashlib.sha256()
    for folder in folders:
        digest.update(b"|")
        if folder is None:
            continue
        for path in sorted(Path(folder).glob("*.h5")):
            size = path.stat().st_size
            digest.update(f"{path.name}:{size}:".encode())
            with open(path, "rb") as handle:
                digest.update(handle.read(65536))
                if size > 65536:
                    handle.seek(max(65536, size - 65536))
                    digest.update(handle.read(65536))
    return digest.hexdigest()[:16]


def read_record(run_dir: str | Path) -> dict | None:
    """The run folder's ``run.json``, or None when there is none."""
    path = Path(run_dir) / RECORD_NAME
    if not path.is_file():
        return None
    try:
        return read_json(path)
    except ValueError as err:
        raise RunError(f"{path}: not a valid run record ({err})") from None


def recorded_data(run_dir: str | Path) -> dict:
    """``{data_dir, val_dir, test_dir}`` a run folder was run on (for ``--only`` without ``--data-dir``)."""
    record = read_record(run_dir) or {}
    return {key: record.get(key) for key in DATA_KEYS if record.get(key)}


def _check_same_data(run_dir: Path, record: dict | None, fingerprint: str, folders: dict) -> None:
    if not record:
        return
    done = [name for name, nb in record.get("notebooks", {}).items() if nb.get("data_fingerprint") not in (None, fingerprint)]
    legacy = [name for name, nb in record.get("notebooks", {}).items() if "data_fingerprint" not in nb]
    old = {key: record.get(key) for key in DATA_KEYS}
    new = {key: str(value) if value else None for key, value in folders.items()}
    if done or (legacy and old != new):
        where = ", ".join(f"{k}={v}" for k, v in old.items() if v) or "unknown data"
        raise RunError(f"{run_dir} holds results computed from other data ({where}, fingerprint "
                       f"{record.get('data_fingerprint')}); this run reads {new['data_dir']} (fingerprint {fingerprint}): "
                       "use another --out, or delete the folder to start over")


LOG_DIR = "logs"

# What a reader of the book should not see goes to the kernel's log, not into the executed notebook:
# - ``capture_fd_output=False``: output written by C/C++ code straight to file descriptors 1 and 2
#   (TensorFlow/absl ``I0000`` and oneDNN lines) is not forwarded into cell outputs;
# - ``sys.stderr`` is the process's own stderr (the log file): progress bars (tqdm writes to
#   ``sys.stderr``), Python warnings and library log records land in the log. Cell errors still
#   reach the notebook and papermill (they travel as error messages, not as stderr text);
# - the root logger writes to that stderr too: TensorFlow's logger, finding no root handler in an
#   interactive kernel, would otherwise add its own handler on *stdout*, and its warnings (e.g.
#   "5 out of the last 6 calls … triggered tf.function retracing") would print into the page.
# Interactive use (JupyterLab) is untouched: these arguments are given only to the runner's kernels.
KERNEL_ARGUMENTS = ("--IPKernelApp.capture_fd_output=False",
                    "--IPKernelApp.exec_lines=import logging, sys; sys.stderr = sys.__stderr__; "
                    "logging.basicConfig(stream=sys.__stderr__)")


def _kernel_manager_logging_to(log_path: Path):
    """A kernel manager class whose kernels write their stderr (ipykernel's start-up warnings,
    TensorFlow's C++ ``I0000`` lines, progress bars, Python warnings, crash messages) to
    ``log_path`` instead of the terminal or the executed notebook (see :data:`KERNEL_ARGUMENTS`)."""
    from jupyter_client import AsyncKernelManager

    class _LoggingKernelManager(AsyncKernelManager):

        async def start_kernel(self, **kw):
            log_path.parent.mkdir(parents=True, exist_ok=True)
            with open(log_path, "ab") as handle:  # the kernel keeps its own copy of the descriptor
                kw.setdefault("stderr", handle)
                kw["extra_arguments"] = [*kw.get("extra_arguments", []), *KERNEL_ARGUMENTS]
                return await super().start_kernel(**kw)

    return _LoggingKernelManager


def run_notebooks(run_dir: str | Path, profile: str = profiles.DEFAULT_PROFILE, data_dir: str | Path | None = None,
                  overrides: dict | None = None, notebooks_dir: str | Path = NOTEBOOKS_DIR, only: list[str] | None = None,
                  progress: bool = True, val_dir: str | Path | None = None, test_dir: str | Path | None = None) -> list[Path]:
    """Execute the numbered notebooks in order into ``run_dir``; stop at the first failure.

    ``only`` restricts the run to notebooks whose names start with one of the given prefixes
    (e.g. ``["01", "02"]``). ``val_dir``/``test_dir``: fastMRI's own folders for those splits
    (see :mod:`automap_nb.data.splits`). Everything is checked before the folder is created: the output
    folder, the parameters, and that the folder holds no results from other data. Returns the
    executed notebooks' paths. Raises :class:`RunError` naming the notebook and cell when one
    fails (its executed copy keeps the traceback).
    """
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    run_dir = check_output_dir(run_dir, "--out").resolve()
    notebooks = select_notebooks(list_notebooks(notebooks_dir), only)
    folders = {key: Path(value).resolve() if value else None for key, value in zip(DATA_KEYS, (data_dir, val_dir, test_dir))}
    for key, folder in folders.items():
        if folder is not None and not folder.is_dir():
            raise ParameterError(f"--{key.replace('_', '-')} {folder}: "
                                 f"{'is not a folder' if folder.exists() else 'folder does not exist'}")
    plan = plan_parameters(notebooks, profile, run_dir, folders["data_dir"], dict(overrides or {}), folders["val_dir"],
                           folders["test_dir"])
    unused = [key for key in ("val_dir", "test_dir") if folders[key] and not any(key in p for p in plan.values())]
    if unused:
        raise ParameterError(f"--{unused[0].replace('_', '-')} is read by none of the notebooks run "
                             f"({', '.join(nb.name for nb in notebooks)}); it is used by chapters 01-02")
    fingerprint = data_fingerprint(folders.values())
    previous = read_record(run_dir)
    _check_same_data(run_dir, previous, fingerprint, folders)
    kernel = ensure_kernel()
    run_dir.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(run_dir)  # .NAME.tmp-PID files of killed writers
    remove_stale_temporaries(run_dir / SCRATCH_NAME, "*-*")  # temporary training folders of killed runs
    # Kernels inherit this environment: keep TensorFlow's C++ start-up logging out of the book.
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    os.environ[profiles.PROFILE_ENV] = profile  # profiles.departures gives this profile's reasons
    record = previous or {"notebooks": {}}
    record.update(profile=profile, started=time.strftime("%Y-%m-%dT%H:%M:%S"), python=platform.python_version(),
                  platform=platform.platform(), keras_backend=os.environ.get("KERAS_BACKEND", "tensorflow"),
                  **{key: str(folder) if folder else None
                     for key, folder in folders.items()}, data_fingerprint=fingerprint)
    record.setdefault("notebooks", {})
    executed = []
    for nb in notebooks:
        out = run_dir / nb.name
        print(f"[automap-nb] running {nb.name} → {out}", flush=True)
        start = time.perf_counter()
        _write_record(run_dir, record, nb.name, plan[nb.name], 0.0, "running", profile, fingerprint)
        log = run_dir / LOG_DIR / f"{nb.stem}.kernel.log"
        log.unlink(missing_ok=True)
        try:
            papermill.execute_notebook(str(nb), str(out), parameters=plan[nb.name], kernel_name=kernel, cwd=str(nb.parent),
                                       progress_bar=progress, request_save_on_cell_execute=True,
                                       kernel_manager_class=_kernel_manager_logging_to(log))
        except (DeadKernelError, CellTimeoutError) as err:
            _write_record(run_dir, record, nb.name, plan[nb.name], time.perf_counter() - start, "failed", profile, fingerprint)
            raise RunError(f"{nb.name}: the kernel died or timed out ({type(err).__name__}: "
                           f"{_one_line(err)[:200]}); its log: {log}") from None
        except PapermillExecutionError as err:
            _write_record(run_dir, record, nb.name, plan[nb.name], time.perf_counter() - start, "failed", profile, fingerprint)
            raise RunError(f"{nb.name} failed in cell {err.exec_count}: {err.ename}: {_one_line(err.evalue)} "
                           f"(executed copy with the traceback: {out})") from None
        except BaseException:
            _write_record(run_dir, record, nb.name, plan[nb.name], time.perf_counter() - start, "interrupted", profile, fingerprint)
            raise
        _write_record(run_dir, record, nb.name, plan[nb.name], time.perf_counter() - start, "ok", profile, fingerprint)
        executed.append(out)
    return executed


def _one_line(text: str) -> str:
    return " ".join(str(text).split())


def _write_record(run_dir: Path, record: dict, name: str, params: dict, seconds: float, status: str, profile: str,
                  fingerprint: str) -> None:
    entry = dict(parameters=params, seconds=round(seconds, 1), status=status, profile=profile, data_fingerprint=fingerprint)
    if status == "running":
        entry["pid"] = os.getpid()
    latest = read_record(run_dir) or {}  # a concurrent run may have recorded other notebooks meanwhile
    record["notebooks"] = {**record["notebooks"], **latest.get("notebooks", {}), name: entry}
    write_json(run_dir / RECORD_NAME, record)
