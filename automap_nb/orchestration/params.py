"""Validation of notebook parameters, from one declared spec per chapter (:data:`SPECS`).

Papermill only *warns* about parameters a notebook does not declare, and injects any value type,
so the cell after each ``parameters`` cell runs ``globals().update(validate("NN_name", globals()))``:
each parameter is checked and converted (``Path`` for folders, ``int`` for integers) under its own
name, and a bad one fails the first cell with a one-line :class:`ParameterError` that names it.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from functools import partial
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


# ---- one declared spec per chapter -------------------------------------------------------------
# A check is ``check(name, value) -> value``: a ``require_*`` above with its limits bound.

COUNT = partial(require_int, minimum=1)  # epochs, batch sizes, widths, numbers of items
INDEX = partial(require_int, minimum=0)  # seeds, indices, "0 = all"
RATE = partial(require_float, minimum=0, exclusive_minimum=True)  # learning rates
FRACTION = partial(require_float, minimum=0, maximum=1, exclusive_minimum=True)


def choice(choices) -> Callable:
    return partial(require_choice, choices=choices)


def list_of(check: Callable) -> Callable:
    return partial(require_list, check=check)


def optional(check: Callable) -> Callable:
    """``check``, with ``None`` (not given) allowed."""
    return lambda name, value: None if value is None else check(name, value)


def checked(function: Callable) -> Callable:
    """A check from ``function(value) -> value`` that raises ``ValueError``; its message gets the parameter's name."""

    def check(name, value):
        try:
            return function(value)
        except ValueError as err:
            raise ParameterError(f"parameter {name!r}: {err}") from None

    return check


FOLDERS = dict(data_dir=require_dir, val_dir=optional(require_dir), test_dir=optional(require_dir),
               run_dir=partial(require_dir, must_exist=False))


def _ch01(p):
    return {**FOLDERS, "example_volume": INDEX, "seed": INDEX}  # example_volume < volumes: checked once indexed


def _ch02(p):
    from automap_nb.data import prepare, splits

    return dict(**FOLDERS, size=partial(require_int, minimum=2, maximum=prepare.CROP), split=checked(splits.check_fractions),
                seed=INDEX)


#: set by the runner's check of a whole run before it starts (:func:`automap_nb.orchestration.runner.check_parameters`):
#: the size ``n`` of the prepared file a chapter of that run will write, which later chapters are checked against
PLANNED_PREPARED_SIZE: int | None = None


def _prepared_size(run_dir: Path) -> int:
    from automap_nb.data import prepared

    if PLANNED_PREPARED_SIZE is not None:
        return PLANNED_PREPARED_SIZE
    return prepared.read_header(require_file("run_dir", run_dir / prepared.PREPARED_NAME), needs=("split", )).n


def _ch03(p):
    from automap_nb import models, training

    def variant(name, value):  # one of models.VARIANTS, defined at the prepared file's n
        n = _prepared_size(p["run_dir"])
        checked(partial(models.count_params, n=n))(name, require_choice(name, value, sorted(models.VARIANTS)))
        return value

    return dict(run_dir=require_dir, seed=INDEX, train_variant=variant, train_conv_filters=COUNT, train_epochs=COUNT,
                train_batch_size=COUNT, train_learning_rate=RATE, train_lr_schedule=choice(training.SCHEDULES),
                train_augment=require_bool, train_precision=choice(["auto", *models.PRECISIONS]), train_validate_every=COUNT,
                train_dc_phase=require_bool, train_pipeline=choice(_pipelines()))


def _pipelines() -> list[str]:  # training input pipelines (automap_nb.data.pipeline; imported when a chapter is checked)
    from automap_nb.data.pipeline import PIPELINES

    return list(PIPELINES)


def _ch04(p):
    return {"run_dir": require_dir, "seed": INDEX, "weights_units_shown": partial(require_int, minimum=1, maximum=16)}


def _ch05(p):
    return dict(run_dir=require_dir, seed=INDEX, results_examples=partial(require_int, minimum=1, maximum=16),
                train_batch_size=COUNT)


def _ch06(p):
    from automap_nb import models, training
    from automap_nb.data import subsample
    from automap_nb.experiments import undersampling

    return dict(run_dir=require_dir, accelerations=list_of(choice(sorted(subsample.CENTER_FRACTIONS))), mask_kind=choice(
        subsample.KINDS), train_groups=checked(lambda value: undersampling.check_groups(value, p["accelerations"])),
                train_variant=choice(sorted(models.VARIANTS)), train_conv_filters=COUNT, train_dc_phase=require_bool,
                train_precision=choice(["auto", *models.PRECISIONS]), train_pipeline=choice(_pipelines()),
                automap_init=choice(["chapter03", "scratch"]), automap_epochs=COUNT, automap_learning_rate=RATE,
                automap_lr_schedule=choice(training.SCHEDULES), automap_augment=require_bool, unet_chans=COUNT,
                unet_residual=require_bool, unet_epochs=COUNT, unet_learning_rate=RATE, unet_augment=require_bool,
                baseline_batch_size=COUNT, automap_batch_size=COUNT, tv_lambdas=list_of(partial(require_float, minimum=0)),
                tv_iterations=COUNT, tv_val_volumes=INDEX, seed=INDEX, keep_checkpoints=require_bool)


def _ch07(p):
    from automap_nb import training
    from automap_nb.data import subsample
    from automap_nb.experiments import architecture

    def even(name, value):  # fullconv halves the grid; at most the prepared file's n
        value = require_int(name, value, minimum=8, maximum=_prepared_size(p["run_dir"]))
        if value % 2:
            raise ParameterError(f"parameter {name!r} must be even (fullconv halves the grid), got {value}")
        return value

    def seeds(name, value):
        value = require_list(name, value, INDEX)
        if len(set(value)) != len(value):
            raise ParameterError(f"parameter {name!r} has repeated seeds: {value}")
        return value

    return dict(run_dir=require_dir, study_size=even, study_variants=list_of(choice(architecture.STUDY_VARIANTS)),
                study_accelerations=list_of(choice(sorted(subsample.CENTER_FRACTIONS))), study_epochs=COUNT,
                study_learning_rate=RATE, study_lr_schedule=choice(training.SCHEDULES), study_batch_size=COUNT,
                study_conv_filters=COUNT, study_dc_phase=require_bool, study_pipeline=choice(_pipelines()),
                mask_kind=choice(subsample.KINDS), study_seeds=seeds)


def _ch08(p):
    from automap_nb.data import subsample

    return dict(run_dir=require_dir, stability_slices=COUNT, stability_budgets=list_of(FRACTION), stability_steps=COUNT,
                stability_step_size=FRACTION, stability_momentum=partial(require_float, minimum=0, maximum=0.999),
                mask_kind=choice(subsample.KINDS), seed=INDEX)


def _ch09(p):
    from automap_nb import training
    from automap_nb.experiments import transfer

    def modes(name, value):  # the scratch run is the reference of every transfer mode
        value = require_list(name, value, choice(list(transfer.MODES)))
        if "scratch" not in value or len(value) < 2:
            raise ParameterError(f"parameter {name!r} must include 'scratch' (the reference) and at least one transfer mode")
        return value

    return dict(run_dir=require_dir, transfer_train_crops=COUNT, transfer_val_crops=COUNT, transfer_test_crops=COUNT,
                transfer_modes=modes, transfer_epochs=COUNT,
                transfer_batch_size=lambda name, value: require_int(name, value, minimum=1, maximum=p["transfer_train_crops"]),
                transfer_learning_rate=RATE, transfer_lr_schedule=choice(training.SCHEDULES), seed=INDEX)


#: ``{chapter: spec(p)}``: a chapter's spec ``{parameter: check}`` in its parameters cell's order; ``p``
#: holds the parameters checked so far, for checks that depend on an earlier one.
SPECS: dict[str, Callable[[dict], dict[str, Callable]]] = {
    "01_data_exploration": _ch01, "02_preprocessing": _ch02, "03_train_automap": _ch03, "04_weight_analysis": _ch04,
    "05_results": _ch05, "06_undersampling_baselines": _ch06, "07_architecture_study": _ch07, "08_stability": _ch08,
    "09_transfer": _ch09
}


def validate(chapter: str, namespace: dict) -> dict:
    """``chapter``'s parameters (:data:`SPECS`), read from ``namespace`` (a notebook's ``globals()``),
    checked and converted in order: ``globals().update(validate("03_train_automap", globals()))``."""
    values = {}
    for name, check in SPECS[chapter](values).items():
        if name not in namespace:
            raise ParameterError(f"parameter {name!r} of {chapter} is not set")
        values[name] = check(name, namespace[name])
    return values


def chapter03_checkpoint(run_dir: Path, which: str = "final", name: str = "run_dir") -> Path:
    """Chapter 03's ``initial`` or ``final`` checkpoint in ``run_dir/automap``, else an error naming ``name``."""
    from automap_nb import training

    try:
        return training.checkpoint_path(run_dir / "automap", which)
    except FileNotFoundError as err:
        raise ParameterError(f"parameter {name!r}: {err} (run chapter 03 first)") from None
