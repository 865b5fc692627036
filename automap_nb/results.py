"""Files of a run folder: atomic writes (:func:`atomic_path`, the one temp-then-rename of the package),
a chapter's results as JSON (``run_dir/NN_name.json``, numpy types included), temporary work, and
checks of output paths before any work."""

from __future__ import annotations

import json
import math
import os
import re
import shutil
from contextlib import contextmanager
from pathlib import Path

import numpy as np


def _plain(value):
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, np.ndarray):
        return _plain(value.tolist())
    if isinstance(value, np.generic):
        return _plain(value.item())
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "inf" / "nan": JSON has no literal for them
    if isinstance(value, Path):
        return str(value)
    return value


@contextmanager
def atomic_path(path: str | Path):
    """Yield a temporary path beside ``path`` to write to; rename it to ``path`` when the block ends
    without an error, delete it otherwise (KeyboardInterrupt too). Readers see the old file or the
    new one, never half of one. The temporary name, ``.NAME.tmp-PID.SUFFIX``, keeps ``path``'s
    suffix (Keras needs ``.keras``) and the writer's PID (:func:`remove_stale_temporaries`)."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}{path.suffix}")
    try:
        yield tmp
        os.replace(tmp, path)
    finally:
        if tmp.is_dir() and not tmp.is_symlink():
            shutil.rmtree(tmp)
        else:
            tmp.unlink(missing_ok=True)


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` atomically (:func:`atomic_path`), flushed to disk first."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(path) as tmp, open(tmp, "w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    return path


def write_json(path: str | Path, data: dict) -> Path:
    """Write ``data`` as indented JSON via a temporary file and a rename; returns the path.

    numpy scalars and arrays become plain numbers and lists; non-finite floats become the strings
    ``"inf"``, ``"-inf"`` or ``"nan"`` (read them back with :func:`read_json`).
    """
    return write_text_atomic(path, json.dumps(_plain(data), indent=2))


def read_json(path: str | Path) -> dict:
    """Read a results file, turning ``"inf"``/``"-inf"``/``"nan"`` strings back into floats."""

    def restore(value):
        if isinstance(value, dict):
            return {k: restore(v) for k, v in value.items()}
        if isinstance(value, list):
            return [restore(v) for v in value]
        if value in ("inf", "-inf", "nan"):
            return float(value)
        return value

    return restore(json.loads(Path(path).read_text()))


# ---- temporary work and output paths --------------------------------------------------------------

SCRATCH_NAME = ".scratch"


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` runs on this machine (this process counts as running)."""
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # exists, owned by someone else
    return True


def _owner_pid(path: Path) -> int | None:
    """The PID in a temporary name (``….tmp-1234``, ``….tmp-1234.keras``, ``06_training-1234``), else None."""
    found = re.search(r"-(\d+)(\.[A-Za-z0-9]+)?$", path.name)
    return int(found.group(1)) if found else None


def remove_stale_temporaries(folder: str | Path, pattern: str = ".*.tmp-*") -> list[Path]:
    """Delete temporary files or folders matching ``pattern`` in ``folder`` whose writer process
    (the PID in their name) no longer runs, e.g. after ``kill -9``. Returns what was removed.
    Those of running processes (a concurrent run) are left alone."""
    removed = []
    folder = Path(folder)
    if not folder.is_dir():
        return removed
    for path in sorted(folder.glob(pattern)):
        pid = _owner_pid(path)
        if pid is None or pid_alive(pid):
            continue
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
        else:
            path.unlink(missing_ok=True)
        removed.append(path)
    return removed


def scratch_dir(run_dir: str | Path, prefix: str) -> Path:
    """A new folder ``run_dir/.scratch/PREFIX-PID`` for temporary work of this process.

    Temporary work lives inside the run folder (on the disk the user chose for the run, never in
    ``/tmp``); folders left by killed processes are removed here and by the next ``automap-nb run``.
    The caller deletes the folder when done.
    """
    root = Path(run_dir) / SCRATCH_NAME
    root.mkdir(parents=True, exist_ok=True)
    remove_stale_temporaries(root, "*-*")
    path = root / f"{prefix}-{os.getpid()}"
    if path.exists():
        shutil.rmtree(path)
    path.mkdir()
    return path


class OutputPathError(ValueError):
    """An output path that cannot be written; the message names the option and the path."""


def check_output_file(path: str | Path, option: str = "--out") -> Path:
    """Check *before any work* that a file can be written at ``path``.

    Raises :class:`OutputPathError` naming ``option`` when ``path`` is an existing folder, when a
    component of its parent is a regular file, or when the nearest existing parent folder is not
    writable. Creates nothing.
    """
    path = Path(path).expanduser()
    if str(path).endswith(os.sep) or path.is_dir():
        raise OutputPathError(f"{option} {path}: is a folder; give a file path, e.g. {path / 'out.h5'}")
    _check_parent_writable(path.parent, option, path)
    return path


def check_output_dir(path: str | Path, option: str = "--out") -> Path:
    """Check before any work that ``path`` is (or can be created as) a writable folder."""
    path = Path(path).expanduser()
    if path.exists() and not path.is_dir():
        raise OutputPathError(f"{option} {path}: exists and is not a folder")
    _check_parent_writable(path, option, path)
    return path


def _check_parent_writable(folder: Path, option: str, path: Path) -> None:
    existing = folder
    while not existing.exists():
        if existing.is_symlink():
            raise OutputPathError(f"{option} {path}: {existing} is a broken symbolic link")
        existing = existing.parent
    if not existing.is_dir():
        raise OutputPathError(f"{option} {path}: {existing} is a file, not a folder")
    if not os.access(existing, os.W_OK | os.X_OK) or _read_only_mount(existing):
        raise OutputPathError(f"{option} {path}: folder {existing} is not writable")


def _read_only_mount(folder: Path) -> bool:
    """True when ``folder`` lies on a file system mounted read-only (root ignores permissions)."""
    return bool(os.statvfs(folder).f_flag & os.ST_RDONLY)


def missing_parents(path: str | Path) -> list[Path]:
    """The folders above ``path`` that do not exist yet, outermost first (to remove them again
    with :func:`remove_empty_folders` when the work fails)."""
    missing = []
    folder = Path(path).parent.absolute()
    while not folder.exists():
        missing.append(folder)
        folder = folder.parent
    return list(reversed(missing))


def remove_empty_folders(folders: list[Path]) -> None:
    """Remove the folders of :func:`missing_parents` again, innermost first, if they are empty."""
    for folder in reversed(folders):
        if folder.is_dir() and not any(folder.iterdir()):
            folder.rmdir()
