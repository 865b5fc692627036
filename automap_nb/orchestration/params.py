"""Validation of notebook parameters, from one declared spec per chapter (:data:`SPECS`).

Papermill only *warns* about parameters a notebook does not declare, and injects any value type,
so the cell after each ``parameters`` cell runs ``globals().update(validate("NN_name", globals()))``:
each parameter is checked and converted (``Path`` for folders, ``int`` for integers) under its own
name, and a bad one fails the first cell with a one-line :class:`ParameterError` that names it.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from pathlib import Path

from automap_nb.checks import ParameterError, require_bool, require_choice, require_dir, require_float, require_int, require_list
from automap_nb.checks import require_file as require_file  # notebooks import it, and ParameterError, from here

# ---- one declared spec per chapter -------------------------------------------------------------
# A check is ``check(name, value) -> value``: a ``require_*`` of :mod:`automap_nb.checks` with its limits bound.

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

    return dict(run_dir=require_dir, seed=INDEX, train_variant=_variant(p), train_conv_filters=COUNT, train_epochs=COUNT,
                train_batch_size=COUNT, train_learning_rate=RATE, train_lr_schedule=choice(training.SCHEDULES),
                train_augment=require_bool, train_precision=choice(["auto", *models.PRECISIONS]), train_validate_every=COUNT,
                train_dc_phase=require_bool, train_pipeline=choice(_pipelines()),
                **_distribution(p, "train_distribution", "train_model_shards", "train_batch_size"))


def _variant(p) -> Callable:
    """Check of an AUTOMAP variant parameter: one of ``models.VARIANTS``, defined at the prepared file's n."""
    from automap_nb import models

    def check(name, value):
        checked(partial(models.count_params, n=_prepared_size(p["run_dir"])))(name,
                                                                              require_choice(name, value, sorted(models.VARIANTS)))
        return value

    return check


def _distribution(p, kind: str, shards: str, batch: str) -> dict:
    """Checks of a chapter's ``kind`` and ``shards`` parameters (:func:`automap_nb.distribute.check`), the
    batch parameter ``batch`` checked before them: each error names the parameter it is about."""
    from automap_nb import distribute

    def check_kind(name, value):
        value = require_choice(name, value, distribute.KINDS)
        if value != "none":
            checked(lambda v: distribute.check(v))(name, value)  # the backend
        return value

    def check_shards(name, value):
        value = COUNT(name, value)
        checked(lambda v: distribute.check(p[kind], v))(name, value)  # shards: the distribution, the devices
        checked(lambda b: distribute.check(p[kind], value, b))(batch, p[batch])  # the batch: the data axis
        return value

    return {kind: check_kind, shards: check_shards}


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
        subsample.KINDS), undersampling_groups=checked(lambda value: undersampling.check_groups(value, p["accelerations"])),
                train_variant=_variant(p), train_conv_filters=COUNT, train_dc_phase=require_bool,
                train_precision=choice(["auto", *models.PRECISIONS]), train_pipeline=choice(_pipelines()),
                automap_init=choice(["chapter03", "scratch"]), automap_epochs=COUNT, automap_learning_rate=RATE,
                automap_lr_schedule=choice(training.SCHEDULES), automap_augment=require_bool, unet_chans=COUNT,
                unet_residual=require_bool, unet_epochs=COUNT, unet_learning_rate=RATE, unet_augment=require_bool,
                unet_batch_size=COUNT, automap_batch_size=COUNT, tv_lambdas=list_of(partial(require_float, minimum=0)),
                tv_iterations=COUNT, tv_val_volumes=INDEX, seed=INDEX, keep_checkpoints=require_bool,
                **_distribution(p, "train_distribution", "train_model_shards", "automap_batch_size"))


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
                mask_kind=choice(subsample.KINDS), study_seeds=seeds,
                **_distribution(p, "study_distribution", "study_model_shards", "study_batch_size"))


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


def _ch10(p):
    from automap_nb import models, training
    from automap_nb.data import prepare, subsample

    def variant_of(kind):  # a variant of that kind, defined at the prepared file's n
        names = sorted(v for v, spec in models.VARIANTS.items() if spec["kind"] == kind)

        def check(name, value):
            checked(partial(models.count_params, n=_prepared_size(p["run_dir"])))(name, require_choice(name, value, names))
            return value

        return check

    def with_item(item, check):  # a list that must hold ``item`` (the reference of its comparisons)

        def list_check(name, value):
            value = require_list(name, value, check)
            if item not in value or len(set(value)) != len(value):
                raise ParameterError(f"parameter {name!r} must hold {item!r} once, and no item twice; got {value}")
            return value

        return list_check

    return dict(run_dir=require_dir, dautomap_variant=variant_of("dautomap"), dautomap_automap_variant=variant_of("automap"),
                dautomap_inits=with_item("idft", choice(models.TRANSFORM_INITS)),
                dautomap_accelerations=with_item(1, choice(sorted(subsample.CENTER_FRACTIONS))), dautomap_epochs=COUNT,
                dautomap_batch_size=COUNT, dautomap_learning_rate=RATE, dautomap_lr_schedule=choice(training.SCHEDULES),
                dautomap_conv_filters=COUNT, dautomap_dc_phase=require_bool, dautomap_validate_every=COUNT,
                dautomap_large_size=partial(require_int, minimum=8, maximum=prepare.CROP), dautomap_large_epochs=COUNT,
                mask_kind=choice(subsample.KINDS), seed=INDEX,
                **_distribution(p, "dautomap_distribution", "dautomap_model_shards", "dautomap_batch_size"))


#: ``{chapter: spec(p)}``: a chapter's spec ``{parameter: check}`` in its parameters cell's order; ``p``
#: holds the parameters checked so far, for checks that depend on an earlier one.
SPECS: dict[str, Callable[[dict], dict[str, Callable]]] = {
    "01_data_exploration": _ch01, "02_preprocessing": _ch02, "03_train_automap": _ch03, "04_weight_analysis": _ch04,
    "05_results": _ch05, "06_undersampling_baselines": _ch06, "07_architecture_study": _ch07, "08_stability": _ch08,
    "09_transfer": _ch09, "10_dautomap": _ch10
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
