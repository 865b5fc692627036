"""Writing a chapter's results (``run_dir/NN_name.json``) atomically, numpy types included."""

from __future__ import annotations

import json
import math
import os
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


def write_text_atomic(path: str | Path, text: str) -> Path:
    """Write ``text`` to ``path`` via a temporary file in the same folder, flushed to disk, then a
    rename: readers see the old file or the new one, never a half-written one."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp-{os.getpid()}")
    with open(tmp, "w") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
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
