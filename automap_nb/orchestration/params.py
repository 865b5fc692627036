"""Validation of notebook parameters.

Papermill only *warns* about parameters a notebook does not declare, and injects any value type,
so every notebook validates its ``parameters`` cell right after it with these helpers. Each raises
:class:`ParameterError` with a one-line message naming the parameter, so a bad rerun fails loudly
at the first cell instead of deep inside training.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Iterable


class ParameterError(ValueError):
    """A notebook or CLI parameter has a bad value. The message names the parameter."""


def require_int(name: str, value: Any, minimum: int | None = None, maximum: int | None = None) -> int:
    """Return ``value`` as an int, or raise if it is not an integer within ``[minimum, maximum]``."""
    if isinstance(value, bool) or not isinstance(value, (int,)) and not (
        isinstance(value, float) and value.is_integer()
    ):
        raise ParameterError(f"parameter {name!r} must be an integer, got {value!r}")
    value = int(value)
    if minimum is not None and value < minimum:
        raise ParameterError(f"parameter {name!r} must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise ParameterError(f"parameter {name!r} must be <= {maximum}, got {value}")
    return value


def require_float(
    name: str, value: Any, minimum: float | None = None, maximum: float | None = None,
    exclusive_minimum: bool = False,
) -> float:
    """Return ``value`` as a float, or raise if it is not a finite number in range."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise ParameterError(f"parameter {name!r} must be a number, got {value!r}")
    value = float(value)
    if value != value or value in (float("inf"), float("-inf")):
        raise ParameterError(f"parameter {name!r} must be finite, got {value}")
    if minimum is not None:
        if exclusive_minimum and value <= minimum:
            raise ParameterError(f"parameter {name!r} must be > {minimum}, got {value}")
        if not exclusive_minimum and value < minimum:
            raise ParameterError(f"parameter {name!r} must be >= {minimum}, got {value}")
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


def require_list(name: str, value: Any, check, min_len: int = 1) -> list:
    """Validate a list parameter item by item with ``check(item_name, item)`` (another ``require_*``).

    Items are named ``name[i]`` in errors, e.g. ``parameter 'accelerations[1]' must be one of …``.
    """
    if not isinstance(value, (list, tuple)) or len(value) < min_len:
        raise ParameterError(f"parameter {name!r} must be a list of at least {min_len} item(s), got {value!r}")
    return [check(f"{name}[{i}]", item) for i, item in enumerate(value)]


def require_dir(name: str, value: Any, must_exist: bool = True) -> Path:
    """Return ``value`` as a :class:`Path` to a directory (created if ``must_exist`` is False)."""
    if not isinstance(value, (str, os.PathLike)) or not str(value):
        raise ParameterError(f"parameter {name!r} must be a folder path, got {value!r}")
    path = Path(value).expanduser()
    if must_exist:
        if not path.is_dir():
            raise ParameterError(f"parameter {name!r}: folder {str(path)!r} does not exist")
    else:
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
