"""One-line checks of a parameter's value, for every boundary: notebook parameters
(:mod:`automap_nb.orchestration.params`), the CLI and the package's public entry points.

A check ``require_*(name, value, ...)`` returns the value (converted where it says so) or raises a
:class:`ParameterError` whose one-line message names the parameter. This module imports nothing of
the package, so every layer (``data/`` included) may use it; functions behind a boundary trust their
callers.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any


class ParameterError(ValueError):
    """A notebook or CLI parameter has a bad value. The message names the parameter."""


def require_int(name: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an int, or raise if it is not an integer within ``[minimum, maximum]``."""
    if isinstance(value, bool) or not (isinstance(value, int) or isinstance(value, float) and value.is_integer()):
        raise ParameterError(f"parameter {name!r} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ParameterError(f"parameter {name!r} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ParameterError(f"parameter {name!r} must be <= {maximum}, got {value}")
    return value


def require_float(name: str, value: Any, minimum: float | None = None, maximum: float | None = None,
                  exclusive_minimum: bool = False) -> float:
    """Return ``value`` as a float, or raise if it is not a finite number in range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParameterError(f"parameter {name!r} must be a number, got {value!r}")
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ParameterError(f"parameter {name!r} must be finite, got {value}")
    if minimum is not None and (value <= minimum if exclusive_minimum else value < minimum):
        raise ParameterError(f"parameter {name!r} must be {'>' if exclusive_minimum else '>='} {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ParameterError(f"parameter {name!r} must be <= {maximum}, got {value}")
    return value


def require_choice(name: str, value: Any, choices: Iterable[Any]) -> Any:
    """Return ``value`` if it is one of ``choices``, else raise naming the allowed values."""
    choices = list(choices)
    if value not in choices:
        raise ParameterError(f"parameter {name!r} must be one of {choices}, got {value!r}")
    return value


def require_bool(name: str, value: Any) -> bool:
    """Return ``value`` if it is a bool, else raise."""
    if not isinstance(value, bool):
        raise ParameterError(f"parameter {name!r} must be True or False, got {value!r}")
    return value


def require_list(name: str, value: Any, check: Callable) -> list:
    """A non-empty list checked item by item with ``check(name, item)``; items are named ``name[i]`` in errors."""
    if not isinstance(value, (list, tuple)) or not value:
        raise ParameterError(f"parameter {name!r} must be a non-empty list, got {value!r}")
    return [check(f"{name}[{i}]", item) for i, item in enumerate(value)]


def require_dir(name: str, value: Any, must_exist: bool = True) -> Path:
    """Return ``value`` as a :class:`Path` to a directory (created if ``must_exist`` is False)."""
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise ParameterError(f"parameter {name!r} must be a folder path, got {value!r}")
    path = Path(value).expanduser()
    if must_exist and not path.is_dir():
        raise ParameterError(f"parameter {name!r}: folder {str(path)!r} does not exist")
    if path.exists() and not path.is_dir():
        raise ParameterError(f"parameter {name!r}: {str(path)!r} exists and is not a folder")
    path.mkdir(parents=True, exist_ok=True)
    return path


def require_file(name: str, value: Any) -> Path:
    """Return ``value`` as a :class:`Path` to an existing file, else raise."""
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise ParameterError(f"parameter {name!r} must be a file path, got {value!r}")
    path = Path(value).expanduser()
    if not path.is_file():
        raise ParameterError(f"parameter {name!r}: file {str(path)!r} does not exist")
    return path


def one_line(text) -> str:
    """``text`` (or an exception's message) on one line, runs of whitespace as one space."""
    return " ".join(str(text).split())


def env_processes() -> int:
    """How many processes the environment describes: ``JAX_NUM_PROCESSES``, else ``SLURM_NTASKS``, else 1
    (here, not in :mod:`automap_nb.distribute`, so that a command can refuse several processes in one
    line without importing Keras)."""
    for name in ("JAX_NUM_PROCESSES", "SLURM_NTASKS"):
        text = os.environ.get(name, "").strip()
        if text:
            if not text.isdigit() or int(text) < 1:
                raise ValueError(f"environment variable {name} must be a positive integer, got {text!r}")
            return int(text)
    return 1
