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

Nothing is lost when runs meet or fail:

- a run folder has one writer at a time: ``run`` holds a lock on ``RUN/.lock`` (``flock``, released by
  the kernel when the process dies) that names its PID and host; a second run meets it with a one-line
  error naming them, and the lock of a killed run is taken over;
- every chapter's parameters are checked with its spec (:data:`automap_nb.orchestration.params.CHAPTERS`)
  before the first notebook starts (:func:`check_parameters`);
- a notebook executes into ``.NN_name.ipynb.tmp-PID.ipynb`` and is renamed to ``NN_name.ipynb`` only
  when it completed; a failed (or interrupted) run moves its copy to ``logs/NN_name.failed.ipynb`` and
  its results JSON, if it wrote one, to ``logs/NN_name.failed.json``, and puts the previous good
  ``NN_name.json`` back (kept as a hard link while the chapter runs; after ``kill -9`` the next run puts
  it back). ``run.json`` records the failure (``failed``, ``failed_copy``, ``error``) and, under
  ``kept``, the record of the good notebook still in place.
"""

from __future__ import annotations

import ast
import errno
import fcntl
import hashlib
import json
import os
import platform
import re
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

from automap_nb import results
from automap_nb.checks import ParameterError, one_line
from automap_nb.orchestration import params, profiles
from automap_nb.results import SCRATCH_NAME, check_output_dir, read_json, remove_stale_temporaries, write_json

REPO_ROOT = Path(__file__).resolve().parents[2]
NOTEBOOKS_DIR = REPO_ROOT / "notebooks"
NOTEBOOK_GLOB = "[0-9][0-9]_*.ipynb"
KERNEL_NAME = "automap-nb"
RECORD_NAME = "run.json"
LOCK_NAME = ".lock"
DATA_KEYS = ("data_dir", "val_dir", "test_dir")
SET_BY_OPTIONS = {  # parameters that options set (``-p`` would be ignored)
    "run_dir": "--out", "data_dir": "--data-dir", "val_dir": "--val-dir", "test_dir": "--test-dir", "profile": "--profile"
}


class RunError(RuntimeError):
    """A notebook failed; the message names the notebook, the cell and the error."""


#: Seconds a kernel may take to answer when it starts (papermill's default, 60, is too short on two
#: busy cores: TensorFlow's import alone can take tens of seconds there while another run trains).
KERNEL_START_TIMEOUT_S = 300


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
    """A ``-p KEY VALUE`` value: a Python literal (``3``, ``-1e-3``, ``True``, ``[4, 8]``) or a string."""
    try:
        return ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return text


def plan_parameters(notebooks: list[Path], profile: str, run_dir: Path, data_dir: Path | None, overrides: dict,
                    val_dir: Path | None = None, test_dir: Path | None = None) -> dict[str, dict]:
    """The parameters each notebook receives: profile values, then overrides, then paths.

    Raises :class:`ParameterError` for an unknown profile, an override that no notebook declares, or
    one that an option sets (``run_dir`` is ``--out``, ``data_dir`` is ``--data-dir``, …).
    """
    if profile not in profiles.PROFILES:
        raise ParameterError(f"profile must be one of {sorted(profiles.PROFILES)}, got {profile!r}")
    clash = sorted(set(overrides) & set(SET_BY_OPTIONS))
    if clash:
        key = clash[0]
        raise ParameterError(f"parameter {key!r} is set by {SET_BY_OPTIONS[key]}, not by -p (got -p {key} {overrides[key]!r})")
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
    from automap_nb.data.mri_data import DataError, missing_reason

    digest = hashlib.sha256()
    for folder in folders:
        digest.update(b"|")
        if folder is None:
            continue
        for path in sorted(Path(folder).glob("*.h5")):
            if not path.exists():
                raise DataError(f"{path}: {missing_reason(path)}")
            size = path.stat().st_size
            digest.update(os.fsencode(path.name) + f":{size}:".encode())
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
    (see :mod:`automap_nb.data.splits`). Everything is checked before the first notebook starts: the
    output folder, the folders, every chapter's parameters (:func:`check_parameters`), that no other
    run holds the folder (:class:`RunLock`), that it holds no results from other data or another
    profile; a check that fails leaves no folder it created. Returns the executed notebooks' paths.
    Raises :class:`RunError` naming the notebook and cell when one fails (its executed copy, with the
    traceback, is ``logs/NN_name.failed.ipynb``; the previous good notebook and JSON stay in place).
    """
    from automap_nb.data.mri_data import missing_reason

    run_dir = check_output_dir(run_dir, "--out").resolve()
    notebooks = select_notebooks(list_notebooks(notebooks_dir), only)
    for key, value in zip(DATA_KEYS, (data_dir, val_dir, test_dir)):
        if value is not None and not Path(value).is_dir():
            raise ParameterError(f"--{key.replace('_', '-')} {value}: "
                                 f"{'is not a folder' if Path(value).exists() else missing_reason(value, 'folder')}")
    folders = {key: Path(value).resolve() if value else None for key, value in zip(DATA_KEYS, (data_dir, val_dir, test_dir))}
    plan = plan_parameters(notebooks, profile, run_dir, folders["data_dir"], dict(overrides or {}), folders["val_dir"],
                           folders["test_dir"])
    unused = [key for key in ("val_dir", "test_dir") if folders[key] and not any(key in p for p in plan.values())]
    if unused:
        raise ParameterError(f"--{unused[0].replace('_', '-')} is read by none of the notebooks run "
                             f"({', '.join(nb.name for nb in notebooks)}); it is used by chapters 01-02")
    fingerprint = data_fingerprint(folders.values())
    created = results.missing_parents(run_dir / "x")
    run_dir.mkdir(parents=True, exist_ok=True)
    lock = RunLock(run_dir)
    try:
        lock.acquire()
        check_parameters(notebooks, plan)
        previous = read_record(run_dir)
        _check_same_data(run_dir, previous, fingerprint, folders)
        _check_same_profile(run_dir, previous, profile, notebooks)
    except BaseException:
        lock.release(remove=bool(created))
        results.remove_empty_folders(created)
        raise
    try:
        return _execute_all(run_dir, notebooks, plan, profile, previous, folders, fingerprint, progress)
    finally:
        lock.release()


def _execute_all(run_dir: Path, notebooks: list[Path], plan: dict, profile: str, previous: dict | None, folders: dict,
                 fingerprint: str, progress: bool) -> list[Path]:
    kernel = ensure_kernel()
    remove_stale_temporaries(run_dir)  # .NAME.tmp-PID files of killed writers
    remove_stale_temporaries(run_dir / SCRATCH_NAME, "*-*")  # temporary training folders of killed runs
    _restore_kept_results(run_dir)  # results JSON of chapters whose run was killed
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
        print(f"[automap-nb] running {nb.name} → {run_dir / nb.name}", flush=True)
        executed.append(_execute(nb, run_dir, plan[nb.name], kernel, record, profile, fingerprint, progress))
    return executed


def _execute(nb: Path, run_dir: Path, parameters: dict, kernel: str, record: dict, profile: str, fingerprint: str,
             progress: bool) -> Path:
    """Execute one notebook into a temporary copy; rename it to ``run_dir/nb.name`` when it completed."""
    import papermill
    from nbclient.exceptions import CellTimeoutError, DeadKernelError
    from papermill.exceptions import PapermillExecutionError

    out, tmp = run_dir / nb.name, run_dir / f".{nb.name}.tmp-{os.getpid()}.ipynb"
    log = run_dir / LOG_DIR / f"{nb.stem}.kernel.log"
    kept = _keep_results(run_dir, nb.stem)
    good = record["notebooks"].get(nb.name)
    good = good.get("kept") if good and good.get("status") != "ok" else good
    good = good if good and good.get("status") == "ok" and out.is_file() else None
    start = time.perf_counter()
    _write_record(run_dir, record, nb.name, parameters, 0.0, "running", profile, fingerprint, kept=good)
    log.parent.mkdir(parents=True, exist_ok=True)
    log.unlink(missing_ok=True)
    try:
        papermill.execute_notebook(str(nb), str(tmp), parameters=parameters, kernel_name=kernel, cwd=str(nb.parent),
                                   progress_bar=progress, request_save_on_cell_execute=True, start_timeout=KERNEL_START_TIMEOUT_S,
                                   kernel_manager_class=_kernel_manager_logging_to(log))
    except (DeadKernelError, CellTimeoutError) as err:
        error = f"the kernel died or timed out ({type(err).__name__}: {one_line(err)[:200]}); its log: {log}"
        _keep_failure(run_dir, nb, tmp, kept, record, parameters, start, "failed", profile, fingerprint, good, error)
        raise RunError(f"{nb.name}: {error}") from None
    except PapermillExecutionError as err:
        error = f"failed in cell {err.exec_count}: {err.ename}: {one_line(err.evalue)}"
        copy = _keep_failure(run_dir, nb, tmp, kept, record, parameters, start, "failed", profile, fingerprint, good, error)
        raise RunError(f"{nb.name} {error} (executed copy with the traceback: {copy})") from None
    except BaseException as err:
        _keep_failure(run_dir, nb, tmp, kept, record, parameters, start, "interrupted", profile, fingerprint, good,
                      type(err).__name__)
        raise
    os.replace(tmp, out)
    if kept is not None:
        kept.unlink(missing_ok=True)
    _write_record(run_dir, record, nb.name, parameters, time.perf_counter() - start, "ok", profile, fingerprint)
    return out


def _results_json(run_dir: Path, stem: str) -> Path:
    return run_dir / f"{stem}.json"


def _keep_results(run_dir: Path, stem: str) -> Path | None:
    """A hard link (else a copy) ``.NN_name.json.kept-PID`` of the chapter's results JSON, if there is one:
    the chapter replaces its JSON by rename, so the link keeps the previous version for a failed run."""
    current = _results_json(run_dir, stem)
    if not current.is_file():
        return None
    kept = run_dir / f".{current.name}.kept-{os.getpid()}"
    kept.unlink(missing_ok=True)
    try:
        os.link(current, kept)
    except OSError:  # a file system without hard links
        shutil.copy2(current, kept)
    return kept


def _put_back(run_dir: Path, stem: str, kept: Path | None) -> None:
    """After a failed run of chapter ``stem``: move the JSON it wrote (if any) to ``logs/`` and put the kept one back."""
    current = _results_json(run_dir, stem)
    kept = kept if kept is not None and kept.exists() else None
    if kept is not None and current.is_file() and os.path.samefile(current, kept):
        kept.unlink()  # the failed run did not rewrite it (rename() would do nothing: both names are one file)
        return
    if current.is_file():
        (run_dir / LOG_DIR).mkdir(exist_ok=True)
        os.replace(current, run_dir / LOG_DIR / f"{stem}.failed.json")
    if kept is not None:
        os.replace(kept, current)


def _restore_kept_results(run_dir: Path) -> None:
    """Put back the results JSON kept by runs that were killed (``.NN_name.json.kept-PID``, PID not running)."""
    for kept in sorted(run_dir.glob(".*.json.kept-*")):
        found = re.fullmatch(r"\.(.+)\.json\.kept-(\d+)", kept.name)
        if found and not results.pid_alive(int(found.group(2))):
            _put_back(run_dir, found.group(1), kept)


def _keep_failure(run_dir: Path, nb: Path, tmp: Path, kept: Path | None, record: dict, parameters: dict, start: float, status: str,
                  profile: str, fingerprint: str, good: dict | None, error: str) -> Path | None:
    """Move a failed run's notebook to ``logs/NN_name.failed.ipynb``, put the good JSON back, record the failure."""
    copy = None
    if tmp.exists():
        copy = run_dir / LOG_DIR / f"{nb.stem}.failed.ipynb"
        copy.parent.mkdir(exist_ok=True)
        os.replace(tmp, copy)
    _put_back(run_dir, nb.stem, kept)
    _write_record(run_dir, record, nb.name, parameters,
                  time.perf_counter() - start, status, profile, fingerprint, kept=good,
                  failed_copy=str(copy.relative_to(run_dir)) if copy else None, error=error)
    return copy


def _write_record(run_dir: Path, record: dict, name: str, params: dict, seconds: float, status: str, profile: str, fingerprint: str,
                  **extra) -> None:
    entry = dict(parameters=params, seconds=round(seconds, 1), status=status, profile=profile, data_fingerprint=fingerprint)
    if status == "running":
        entry["pid"] = os.getpid()
    entry.update({key: value for key, value in extra.items() if value is not None})
    record["notebooks"] = {**record["notebooks"], name: entry}
    write_json(run_dir / RECORD_NAME, record)


# ---- one writer per run folder -------------------------------------------------------------------


class RunLock:
    """The run folder's lock, ``RUN/.lock``: an exclusive ``flock`` (the kernel releases it when the
    process dies, so the lock of a killed run is simply taken over) on a file that names the holder
    (PID, host, start time, command) for the one-line error a second run meets. Where the file
    system has no ``flock``, the recorded PID decides: a live process on this host holds the folder."""

    def __init__(self, run_dir: Path):
        self.run_dir, self.path, self.fd = Path(run_dir), Path(run_dir) / LOCK_NAME, None

    def acquire(self) -> None:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        holder = self._holder(fd)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as err:
            if err.errno in (errno.EWOULDBLOCK, errno.EAGAIN) or self._alive(holder):
                os.close(fd)
                raise RunError(f"{self.run_dir}: in use by another `automap-nb run` ({self._describe(holder)}); "
                               "wait for it to finish, or give another --out") from None
        if holder.get("pid") and holder.get("pid") != os.getpid():
            print(f"[automap-nb] {self.run_dir.name}: taking over the lock of a run that did not finish ({self._describe(holder)})")
        me = dict(pid=os.getpid(), host=socket.gethostname(), since=time.strftime("%Y-%m-%dT%H:%M:%S"), command=" ".join(sys.argv))
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(me).encode(), 0)
        self.fd = fd

    def release(self, remove: bool = False) -> None:
        """Give the folder back (the file stays, emptied: it is locked, never replaced); ``remove``: delete it."""
        if self.fd is None:
            return
        if remove:
            self.path.unlink(missing_ok=True)
        else:
            os.ftruncate(self.fd, 0)
        os.close(self.fd)
        self.fd = None

    @staticmethod
    def _holder(fd: int) -> dict:
        text = os.pread(fd, 4096, 0).decode("utf-8", "replace")
        try:
            holder = json.loads(text) if text.strip() else {}
        except ValueError:
            return {"unreadable": text[:80]}
        return holder if isinstance(holder, dict) else {}

    @staticmethod
    def _alive(holder: dict) -> bool:
        pid = holder.get("pid")
        return isinstance(pid, int) and pid != os.getpid() and holder.get("host") == socket.gethostname() and results.pid_alive(pid)

    @staticmethod
    def _describe(holder: dict) -> str:
        if not holder.get("pid"):
            return "holder unknown"
        since = holder.get("since", "?")
        return f"pid {holder['pid']} on host {holder.get('host', '?')}, since {since}: {holder.get('command', '')}"


# ---- every chapter's parameters, before the first notebook starts ---------------------------------


def check_parameters(notebooks: list[Path], plan: dict[str, dict]) -> None:
    """Validate the parameters every chapter of this run will get, with its spec in
    :data:`automap_nb.orchestration.params.CHAPTERS`, before the first notebook starts; a bad value is a
    :class:`ParameterError` ``"NN_name: parameter 'x' …"``. A chapter gets the values of ``plan`` and, for
    the rest, its ``parameters`` cell's defaults. Checks that read the prepared file (its size ``n``)
    use the ``size`` of the chapter in this run that writes it, when there is one. Runs in a separate
    Python process: the specs import Keras, whose start-up noise and memory stay out of the runner."""
    jobs = {}
    for nb in notebooks:
        if nb.stem not in params.CHAPTERS:
            continue
        values = {}
        for name, text in declared_parameters(nb).items():
            try:
                values[name] = ast.literal_eval(text) if text is not None else None
            except (ValueError, SyntaxError):
                raise RunError(f"{nb}: the default of parameter {name!r} is not a Python literal ({text!r})") from None
        jobs[nb.stem] = {**values, **plan[nb.name]}
    if not jobs:
        return
    size = next((values["size"] for values in jobs.values() if "size" in values), None)
    request = json.dumps({"jobs": jobs, "prepared_size": size})
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run([sys.executable, "-c", "from automap_nb.orchestration.runner import _check_parameters_main as m; m()"],
                          input=request, capture_output=True, text=True, cwd=notebooks[0].parent, env=env)
    answer = done.stdout.strip().splitlines()[-1:] if done.returncode == 0 else []
    if not answer:
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise RunError(f"checking the parameters failed (exit status {done.returncode}): {last}")
    error = json.loads(answer[0]).get("error")
    if error:
        raise ParameterError(error)


def _check_parameters_main() -> None:
    """:func:`check_parameters`' worker: reads ``{"jobs": {chapter: values}, "prepared_size": n}`` on stdin,
    prints ``{"error": message or null}``."""
    request = json.loads(sys.stdin.read())
    params.PLANNED_PREPARED_SIZE = request["prepared_size"]
    error = None
    for chapter, values in request["jobs"].items():
        try:
            params.validate(chapter, values)
        except (ValueError, OSError) as err:  # ParameterError, and what a check that reads a file raises
            error = f"{chapter}: {one_line(err)}"
            break
    print(json.dumps({"error": error}))


def _check_same_profile(run_dir: Path, record: dict | None, profile: str, notebooks: list[Path]) -> None:
    """Refuse to mix profiles in one run folder: chapters not rerun now must have run with ``profile``."""
    running = {nb.name for nb in notebooks}
    others = {
        name: nb.get("profile")
        for name, nb in (record or {}).get("notebooks", {}).items()
        if name not in running and nb.get("status") == "ok" and nb.get("profile") not in (None, profile)
    }
    if others:
        theirs = sorted(set(others.values()))[0]
        raise RunError(f"{run_dir}: {', '.join(sorted(others))} ran with --profile {theirs}; running "
                       f"{', '.join(sorted(running))} with --profile {profile} would mix profiles in one folder: "
                       f"add --profile {theirs}, or rerun every chapter")
