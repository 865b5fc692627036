"""Every chapter's parameters, declared once (:data:`CHAPTERS`), and their validation (:func:`validate`).

A chapter lists its parameters in its ``parameters`` cell's order. Each is declared as a :class:`Knob` in the
first chapter that uses it: its check, the paper's value, each profile's value where that is not the paper's,
and, where a profile departs from the paper, why and at what cost. A later chapter that reads it says
:data:`EARLIER`. The profiles (:data:`automap_nb.orchestration.profiles.PROFILES`), the departures tables the
chapters glue and the checks all derive from this table, so "chapter 06 under cpu" is read in one place: its
entry below (a value not given for ``cpu`` is the paper's), or ``automap-nb parameters 06 --profile cpu``.

Papermill only *warns* about parameters a notebook does not declare, and injects any value type, so the cell
after each ``parameters`` cell runs ``validate("NN_name", globals())``: each parameter is checked and converted
(``Path`` for folders, ``int`` for integers) under its own name, and a bad one fails the first cell with a
one-line :class:`ParameterError` that names it.
"""

from __future__ import annotations

import copy
import importlib
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from automap_nb.checks import ParameterError, require_bool, require_choice, require_dir, require_float, require_int, require_list
from automap_nb.checks import require_file as require_file  # notebooks import it, and ParameterError, from here
from automap_nb.data import prepare, splits, subsample

# ---- the checks: ``check(name, value) -> value`` (the ``require_*`` of automap_nb.checks, limits bound) -------

COUNT = partial(require_int, minimum=1)  # epochs, batch sizes, widths, numbers of items
INDEX = partial(require_int, minimum=0)  # seeds, indices, "0 = all"
RATE = partial(require_float, minimum=0, exclusive_minimum=True)  # learning rates
FRACTION = partial(require_float, minimum=0, maximum=1, exclusive_minimum=True)
BOOL = require_bool


def between(low: int, high: int) -> Callable:
    return partial(require_int, minimum=low, maximum=high)


def _package(module: str):  # a module of the package, imported when a value is checked (most import Keras)
    return importlib.import_module(f"automap_nb.{module}")


def choice(choices) -> Callable:
    """One of ``choices``: a list, or a function giving it (read when a value is checked)."""
    return lambda name, value: require_choice(name, value, choices() if callable(choices) else choices)


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


class needs:  # lower case: it reads as a marker in the table, ``Knob(needs(lambda p: check), …)``
    """A check that reads parameters checked before it: ``needs(lambda p: check)``, ``p`` the values so far."""

    def __init__(self, make: Callable[[dict], Callable]):
        self.make = make


ACCELERATION = choice(sorted(subsample.CENTER_FRACTIONS))
MASK_KIND = choice(subsample.KINDS)
SCHEDULE = choice(lambda: _package("training").SCHEDULES)
PRECISION = choice(lambda: ["auto", *_package("models").PRECISIONS])
PIPELINE = choice(lambda: list(_package("data.pipeline").PIPELINES))  # training input pipelines
STUDY_VARIANT = choice(lambda: _package("experiments.architecture").STUDY_VARIANTS)
TRANSFORM_INIT = choice(lambda: _package("models").TRANSFORM_INITS)

#: set by the runner's check of a whole run before it starts (:func:`automap_nb.orchestration.runner.check_parameters`):
#: the size ``n`` of the prepared file a chapter of that run will write, which later chapters are checked against
PLANNED_PREPARED_SIZE: int | None = None


def _prepared_size(run_dir: Path) -> int:
    from automap_nb.data import prepared

    if PLANNED_PREPARED_SIZE is not None:
        return PLANNED_PREPARED_SIZE
    return prepared.read_header(require_file("run_dir", run_dir / prepared.PREPARED_NAME), needs=("split", )).n


def variant(kind: str | None = None) -> needs:
    """An AUTOMAP-family variant (of ``kind``, ``"automap"`` or ``"dautomap"``, if given) defined at the prepared file's n."""

    def make(p):

        def check(name, value):
            models = _package("models")
            names = sorted(v for v, spec in models.VARIANTS.items() if kind in (None, spec["kind"]))
            checked(partial(models.count_params, n=_prepared_size(p["run_dir"])))(name, require_choice(name, value, names))
            return value

        return check

    return needs(make)


def shards_of(distribution: str) -> needs:
    """Devices per model replica, checked against the chapter's ``distribution`` and the devices
    (:func:`automap_nb.distribute.check`); the batch is checked by :func:`batch_fits`."""

    def make(p):

        def check(name, value):
            value = COUNT(name, value)
            checked(lambda v: _package("distribute").check(p[distribution], v))(name, value)
            return value

        return check

    return needs(make)


def distribution(name, value):
    """How training spreads over devices (:data:`automap_nb.distribute.KINDS`); other than "none" needs JAX."""
    value = choice(lambda: _package("distribute").KINDS)(name, value)
    if value != "none":
        checked(lambda v: _package("distribute").check(v))(name, value)  # the backend
    return value


def batch_fits(prefix: str, batch: str) -> Callable[[dict], None]:
    """A chapter check: ``batch`` divides over the data axis of ``prefix``'s distribution (``prefix_distribution``,
    ``prefix_model_shards``); the error names ``batch``."""

    def check(p):
        kind, shards = p[f"{prefix}_distribution"], p[f"{prefix}_model_shards"]
        checked(lambda b: _package("distribute").check(kind, shards, b))(batch, p[batch])

    return check


def _groups(p):  # chapter 06: the groups of accelerations that share a model cover ``accelerations`` once
    return checked(lambda value: _package("experiments.undersampling").check_groups(value, p["accelerations"]))


def _study_size(p):

    def check(name, value):  # fullconv halves the grid; at most the prepared file's n
        value = require_int(name, value, minimum=8, maximum=_prepared_size(p["run_dir"]))
        if value % 2:
            raise ParameterError(f"parameter {name!r} must be even (fullconv halves the grid), got {value}")
        return value

    return check


def _seeds(name, value):
    value = require_list(name, value, INDEX)
    if len(set(value)) != len(value):
        raise ParameterError(f"parameter {name!r} has repeated seeds: {value}")
    return value


def _transfer_modes(name, value):  # the scratch run is the reference of every transfer mode
    value = require_list(name, value, choice(lambda: list(_package("experiments.transfer").MODES)))
    if "scratch" not in value or len(value) < 2:
        raise ParameterError(f"parameter {name!r} must include 'scratch' (the reference) and at least one transfer mode")
    return value


def with_item(item, check: Callable) -> Callable:
    """A list checked item by item that holds ``item`` (the reference of its comparisons) once, and no item twice."""

    def list_check(name, value):
        value = require_list(name, value, check)
        if item not in value or len(set(value)) != len(value):
            raise ParameterError(f"parameter {name!r} must hold {item!r} once, and no item twice; got {value}")
        return value

    return list_check


# ---- the table ---------------------------------------------------------------------------------------------

PROFILE_NAMES = ("quick", "cpu", "gpu", "paper")  # described in automap_nb.orchestration.profiles
_PAPER = object()  # a profile's value not given: the paper's


@dataclass(frozen=True)
class Knob:
    """One notebook parameter. ``paper`` is the paper's value (the ``paper`` profile's); ``None`` for a parameter no
    profile sets (a folder the runner passes, or the notebook's own default). ``quick``, ``cpu`` and ``gpu`` default
    to the paper's value; ``why``/``cost`` say why a profile departs from it and what that costs (``gpu_why``/
    ``gpu_cost``, ``cost`` if not given: the ``gpu`` profile's own reason, where it differs)."""
    check: Callable | needs
    paper: object = None
    quick: object = _PAPER
    cpu: object = _PAPER
    gpu: object = _PAPER
    why: str = ""
    cost: str = ""
    gpu_why: str = ""
    gpu_cost: str = ""

    def value(self, profile: str):
        value = getattr(self, profile)
        return copy.deepcopy(self.paper if value is _PAPER else value)


class Chapter:
    """A chapter's parameters in its parameters cell's order (:class:`Knob`, or :data:`EARLIER`), and
    ``across``: checks ``check(values)`` of several parameters, run after each is checked."""

    def __init__(self, across: tuple[Callable[[dict], None], ...] = (), **knobs: Knob):
        self.knobs, self.across = knobs, across


EARLIER = Knob(check=None)  # declared by an earlier chapter: that declaration holds
FOLDERS = dict(data_dir=Knob(require_dir), val_dir=Knob(optional(require_dir)), test_dir=Knob(optional(require_dir)))
NEW_RUN_DIR = Knob(partial(require_dir, must_exist=False))  # chapters 01-02 create the run folder
RUN_DIR = Knob(require_dir)

# yapf: disable
CHAPTERS: dict[str, Chapter] = {
    "01_data_exploration": Chapter(
        **FOLDERS,
        run_dir=NEW_RUN_DIR,
        example_volume=Knob(INDEX),
        seed=Knob(INDEX, paper=0),
    ),
    "02_preprocessing": Chapter(
        **FOLDERS,
        run_dir=NEW_RUN_DIR,
        size=Knob(between(2, prepare.CROP), paper=128, quick=32, cpu=64,
            why="a 128² greenberg-201m is far too slow to train on a few CPU cores",
            cost="4× fewer pixels, less detail; PSNR values are not comparable with 128² ones"),
        split=Knob(checked(splits.check_fractions)),
        seed=EARLIER,
    ),
    # the paper trains AUTOMAP at 128² for 300 epochs, batch 32, Adam at 2e-4 on a falling rate, in float32
    "03_train_automap": Chapter(
        across=(batch_fits("train", "train_batch_size"), ),
        run_dir=RUN_DIR,
        seed=EARLIER,
        train_variant=Knob(variant(), paper="greenberg-201m", quick="greenberg", cpu="greenberg",
            why="greenberg-201m exists at 128² only; `greenberg` keeps its width ratios (2n² → n²/4 → n²) at any n",
            cost="none in design; fewer parameters because n is smaller"),
        train_conv_filters=Knob(COUNT, paper=64, quick=8, cpu=16,
            why="the 5×5 64→64 convolution is almost all of the arithmetic at small n; a narrower tail sees several "
            "times more samples per second (benchmarks/learning.md)",
            cost="a conv tail with less capacity to refine the image (PSNR at equal samples: benchmarks/learning.md)"),
        train_epochs=Knob(COUNT, paper=300, quick=2, cpu=640, gpu=40,
            why="the wall-clock budget of the whole book on 2 CPU cores",
            cost="the cpu profile sees 81,920 samples instead of the paper's ≈ 15.4 million; more helps: the same "
            "schedule over 800 epochs scored 26.53 dB on validation against 640's 26.03 (seed 0, benchmarks/learning.md, on the "
            "earlier 16-volume sample data)",
            gpu_why="the whole book on one H100 within one 15-minute lease (the estimate is in benchmarks/gpu-edition-attempts.md)",
            gpu_cost="≈ 170,000 samples seen instead of the paper's ≈ 15.4 million (1.1 %): not converged"),
        train_batch_size=Knob(COUNT, paper=32, quick=4, cpu=64,
            why="each optimizer step updates all 12,595,649 weights of the 64² model (12,588,032 of them in the two "
            "dense layers) and Adam's state, whatever the batch: a batch of 64 spreads that cost over twice the samples, so more "
            "samples fit the budget (benchmarks/learning.md, 16 filters, bfloat16, 2 CPU cores: 278 samples/s at batch 64 "
            "against 230 at batch 32, under 1-minute loads of 1.1-3.2 and 0.6-1.8)",
            cost="none measured: at an equal 102,400 samples and lr 1e-3, batch 64 scored 21.98 dB on the test split "
            "against batch 32's 21.39 (mean of 2 seeds; benchmarks/learning-gpu.md)"),
        train_learning_rate=Knob(RATE, paper=2e-4, cpu=7e-4, gpu=5e-4,
            why="at the paper's 2e-4 the network is still close to the mean image when the budget ends; of 5e-4, "
            "7e-4, 1e-3 and 1.4e-3 at 102,400 samples, 7e-4 scored best on validation (23.25 dB against 22.59 for 1.4e-3, mean "
            "of 2 seeds; test split 22.24 against 21.52; benchmarks/learning-gpu.md)",
            cost="none measured at this budget; the paper's rate may suit long runs",
            gpu_why="a 40-epoch budget: on CPU the paper's rate stayed near the mean image in short runs "
            "(benchmarks/learning.md)",
            gpu_cost="not measured on a GPU"),
        train_lr_schedule=Knob(SCHEDULE, paper="cosine", cpu="warmup-cosine", gpu="warmup-cosine",
            why="a short linear warm-up lets the higher rate start stably; the paper's schedule is a falling curve "
            "whose form it does not give",
            cost="none measured"),
        train_augment=Knob(BOOL, paper=True),
        train_precision=Knob(PRECISION, paper="float32", cpu="auto",
            why="'auto' computes in bfloat16 (weights, optimizer state, loss and L1 penalty stay float32) where the "
            "CPU has bfloat16 instructions, for more samples per second; elsewhere float32. No controlled comparison is "
            "recorded: benchmarks/learning.md (64² model, 16 filters, batch 32, 2 CPU cores) has 230 samples/s in bfloat16 (load "
            "0.6-1.8) and 65-224 in float32 (loads not recorded)",
            cost="none measured: validation PSNR after 12,800 samples was 20.66 dB against float32's 20.65 "
            "(benchmarks/learning.md, 64² model, 16 filters, batch 32, lr 1e-3)"),
        train_validate_every=Knob(COUNT, paper=1, cpu=8,
            why="validating the 90 validation slices takes more than half as long as an epoch of 2 training batches "
            "on 2 CPU cores (chapter 03 prints both times for its run): after every epoch it would add more than half to the "
            "training time",
            cost="fewer points on the validation curve (chapter 03 says how many); training is unchanged"),
        train_dc_phase=Knob(BOOL, paper=False, quick=True, cpu=True, gpu=True,
            why="the scanner leaves each slice with an arbitrary global phase; AUTOMAP outputs one real channel, so "
            "it must learn a magnitude that ignores that phase. Rotating each k-space so its DC coefficient is real (a "
            "weightless first layer; the magnitude target does not change) puts almost all of the image's energy in the real "
            "part (chapter 03 measures how much) and leaves a nearly linear task: at 102,400 samples (chapter 03's budget then), "
            "validation 26.27 dB (mean of 3 seeds) against 23.26 without it, test split 24.28 against 22.24 "
            "(benchmarks/learning.md, on the earlier 16-volume sample data: 10 validation and 20 test slices)",
            cost="a network that no longer sees the global phase: it cannot be compared weight for weight with the "
            "paper's, and a perturbation of the DC coefficient also turns the rest of the input",
            gpu_why="as the cpu profile: a slice's global phase carries nothing its magnitude target needs; measured "
            "on 2 CPU cores at 64² (benchmarks/learning.md), not yet on a GPU at 128²",
            gpu_cost="a network that no longer sees the global phase: it cannot be compared weight for weight with "
            "the paper's"),
        train_pipeline=Knob(PIPELINE, paper="numpy", gpu="device",
            why="the host-side numpy pipeline kept an H200 7-15 % busy on the greenberg-201m model at 128² "
            "(the numpy pipeline); on the device: 4,347 samples/s (benchmarks/gpu-edition-attempts.md)",
            cost="none to the method: the same crops, masks and order, float32 rounding of the FFT aside "
            "(tests/test_pipeline.py)"),
        train_distribution=Knob(distribution, paper="none"),
        train_model_shards=Knob(shards_of("train_distribution"), paper=1),
    ),
    "04_weight_analysis": Chapter(
        run_dir=RUN_DIR,
        seed=EARLIER,
        weights_units_shown=Knob(between(1, 16), paper=4, quick=2),
    ),
    "05_results": Chapter(
        run_dir=RUN_DIR,
        seed=EARLIER,
        results_examples=Knob(between(1, 16), paper=4, quick=2),
        train_batch_size=EARLIER,
    ),
    # fastMRI's baselines: a 32-channel U-Net, TV by BART's 200 iterations; AUTOMAP at 4×/8× trained as in 03
    "06_undersampling_baselines": Chapter(
        across=(batch_fits("train", "automap_batch_size"), ),
        run_dir=RUN_DIR,
        accelerations=Knob(list_of(ACCELERATION), paper=[1, 4, 8]),
        mask_kind=Knob(MASK_KIND, paper="random"),
        undersampling_groups=Knob(needs(_groups), paper=[[1], [4, 8]], quick=[[1, 4, 8]], cpu=[[1, 4, 8]], gpu=[[1, 4, 8]],
            why="one AUTOMAP and one U-Net for all accelerations saves a training run each",
            cost="the 1× model also serves 4× and 8×"),
        train_variant=EARLIER,
        train_conv_filters=EARLIER,
        train_dc_phase=EARLIER,
        train_precision=EARLIER,
        train_pipeline=EARLIER,
        automap_init=Knob(choice(["chapter03", "scratch"]), paper="scratch", quick="chapter03", cpu="chapter03",
            gpu="chapter03",
            why="reuses chapter 03's trained AUTOMAP instead of training a second one from scratch",
            cost="AUTOMAP at 4×/8× starts from a network trained on fully sampled k-space"),
        automap_epochs=Knob(COUNT, paper=100, quick=1, cpu=30, gpu=4,
            why="the wall-clock budget",
            cost="AUTOMAP at 4×/8× is fine-tuned briefly, not trained to convergence",
            gpu_why="the 15-minute budget"),
        automap_learning_rate=Knob(RATE, paper=2e-4, quick=1e-3,
            why="the paper's rate learns too slowly for this budget",
            cost="none measured"),
        automap_lr_schedule=Knob(SCHEDULE, paper="cosine", cpu="warmup-cosine",
            why="as chapter 03",
            cost="none measured"),
        automap_augment=Knob(BOOL, paper=True, quick=False, cpu=False,
            why="fine-tuning chapter 03's model on the training slices as they are, without the reflection-tiling "
            "crops: +1.0 dB at 4× and +0.8 dB at 8× on validation over fine-tuning with them (3 seeds, benchmarks/learning.md, "
            "tune-dc-phase-no-augment)",
            cost="the fine-tuning sees only the 130 training slices' own fields of view; longer fine-tuning could "
            "overfit them"),
        unet_chans=Knob(COUNT, paper=32, quick=4, cpu=16,
            why="the wall-clock budget (fastMRI's U-Net has 32)",
            cost="a smaller U-Net"),
        unet_residual=Knob(BOOL, paper=False, quick=True, cpu=True, gpu=True,
            why="the input (the zero-filled image) is added to the output, so a briefly trained U-Net starts from "
            "zero-filled and learns a correction to it (the plain network's cost at this budget is not measured)",
            cost="not fastMRI's exact baseline",
            gpu_why="as cpu: a briefly trained U-Net starts from its zero-filled input (not measured on a GPU)"),
        unet_epochs=Knob(COUNT, paper=50, quick=1, cpu=8, gpu=4,
            why="the wall-clock budget",
            cost="the U-Net is not trained to convergence",
            gpu_why="the 15-minute budget"),
        unet_learning_rate=Knob(RATE, paper=1e-3),
        unet_augment=Knob(BOOL, paper=False),
        unet_batch_size=Knob(COUNT, paper=32, quick=4, cpu=8,
            why="smaller batches give more optimizer steps in a short budget",
            cost="none measured"),
        automap_batch_size=Knob(COUNT, paper=32, quick=4),
        tv_lambdas=Knob(list_of(partial(require_float, minimum=0)), paper=[1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2],
            quick=[1e-2], cpu=[1e-3, 3e-3, 1e-2, 3e-2], gpu=[1e-3, 3e-3, 1e-2],
            why="a shorter λ grid for the budget",
            cost="λ is chosen more coarsely"),
        tv_iterations=Knob(COUNT, paper=200, quick=10, cpu=100, gpu=100,
            why="the wall-clock budget (fastMRI's BART baseline runs 200)",
            cost="TV is less converged"),
        tv_val_volumes=Knob(INDEX, paper=8, quick=0, cpu=2, gpu=1,
            why="the wall-clock budget: TV solves one slice at a time on the CPU for every λ of the grid and every "
            "acceleration, so λ is tuned on the first few validation volumes (0: all of them, when the split is that small)",
            cost="λ is chosen on fewer slices than the paper's setting",
            gpu_why="TV runs on the CPU: 1 val volume (32 slices) tunes λ within the budget",
            gpu_cost="λ is tuned on fewer slices"),
        seed=EARLIER,
        keep_checkpoints=Knob(BOOL, paper=False),
        train_distribution=EARLIER,
        train_model_shards=EARLIER,
    ),
    "07_architecture_study": Chapter(
        across=(batch_fits("study", "study_batch_size"), ),
        run_dir=RUN_DIR,
        study_size=Knob(needs(_study_size), paper=64, quick=16, cpu=32,
            why="the wall-clock budget",
            cost="the study runs at a coarser grid than chapter 03"),
        study_variants=Knob(list_of(STUDY_VARIANT), paper=["original", "greenberg", "smaller", "one_dense", "fullconv"],
            cpu=["greenberg", "original", "fullconv"], gpu=["greenberg", "original", "fullconv"],
            why="the wall-clock budget: the three variants that answer the paper's question (two FC designs and none)",
            cost="the narrower and single-layer FC variants are not studied"),
        study_accelerations=Knob(list_of(ACCELERATION), paper=[1, 4], cpu=[1], gpu=[1],
            why="the wall-clock budget: each acceleration is one more training run per variant and seed",
            cost="the study answers the paper's fully sampled question only"),
        study_epochs=Knob(COUNT, paper=50, quick=1, cpu=24, gpu=4,
            why="the wall-clock budget",
            cost="short budgets favour variants that learn fast",
            gpu_why="the 15-minute budget: 6 runs of 4 epochs"),
        study_learning_rate=Knob(RATE, paper=2e-4, quick=1e-3, cpu=1e-3, gpu=1e-3,
            why="the paper's rate learns too slowly for this budget",
            cost="none measured"),
        study_lr_schedule=Knob(SCHEDULE, paper="cosine", cpu="warmup-cosine", gpu="warmup-cosine",
            why="as chapter 03",
            cost="none measured"),
        study_batch_size=Knob(COUNT, paper=32, quick=4, cpu=16,
            why="smaller batches give more optimizer steps in a short budget",
            cost="none measured"),
        study_conv_filters=Knob(COUNT, paper=64, quick=8, cpu=8,
            why="as chapter 03's conv filters",
            cost="as chapter 03's conv filters"),
        study_dc_phase=Knob(BOOL, paper=False, quick=True, cpu=True, gpu=True,
            why="as chapter 03's `train_dc_phase`: every variant sees k-space with its DC phase removed",
            cost="as chapter 03's `train_dc_phase`"),
        study_pipeline=Knob(PIPELINE, paper="numpy", gpu="device",
            why="as chapter 03's train_pipeline",
            cost="none to the method"),
        mask_kind=EARLIER,
        study_seeds=Knob(_seeds, paper=[0, 1]),
        study_distribution=Knob(distribution, paper="none"),
        study_model_shards=Knob(shards_of("study_distribution"), paper=1),
    ),
    # chapters 08-10 go past the paper: their `paper` values are the full-scale settings for a GPU
    "08_stability": Chapter(
        run_dir=RUN_DIR,
        stability_slices=Knob(COUNT, paper=8, quick=3, cpu=6, gpu=3,
            why="the wall-clock budget: every slice is searched at every budget for every method",
            cost="the comparisons are paired over fewer test volumes (one slice each): wider intervals"),
        stability_budgets=Knob(list_of(FRACTION), paper=[0.0025, 0.005, 0.01, 0.02, 0.05], quick=[0.01, 0.05],
            cpu=[0.005, 0.01, 0.02, 0.05], gpu=[0.005, 0.01, 0.02, 0.05],
            why="the wall-clock budget: one budget fewer",
            cost="the curves start at a larger perturbation"),
        stability_steps=Knob(COUNT, paper=100, quick=3, cpu=30, gpu=50,
            why="the wall-clock budget",
            cost="a shorter search finds a weaker worst case (a lower bound either way)"),
        stability_step_size=Knob(FRACTION, paper=0.2),
        stability_momentum=Knob(partial(require_float, minimum=0, maximum=0.999), paper=0.9),  # Antun et al.
        mask_kind=EARLIER,
        seed=EARLIER,
    ),
    "09_transfer": Chapter(
        run_dir=RUN_DIR,
        transfer_train_crops=Knob(COUNT, paper=2048, quick=8, cpu=64, gpu=256,
            why="the wall-clock budget",
            cost="fewer distinct training images of the new class"),
        transfer_val_crops=Knob(COUNT, paper=128, quick=4, cpu=16, gpu=64,
            why="the wall-clock budget (validated after every epoch)",
            cost="noisier learning curves"),
        transfer_test_crops=Knob(COUNT, paper=128, quick=2, cpu=16, gpu=64,
            why="the wall-clock budget",
            cost="noisier test metrics"),
        transfer_modes=Knob(_transfer_modes, paper=["all", "conv_tail", "dense", "scratch"]),
        transfer_epochs=Knob(COUNT, paper=30, quick=1, cpu=5, gpu=4,
            why="the wall-clock budget: four runs of the chapter 03 network",
            cost="each mode sees a few thousand samples at most: early learning only"),
        transfer_batch_size=Knob(needs(lambda p: between(1, p["transfer_train_crops"])), paper=32, quick=4, cpu=16,
            why="smaller batches give more optimizer steps in a short budget",
            cost="none measured"),
        transfer_learning_rate=Knob(RATE, paper=2e-4, quick=1e-3, cpu=1e-3, gpu=5e-4,
            why="as chapter 03: the paper's rate learns too slowly for this budget",
            cost="none measured"),
        transfer_lr_schedule=Knob(SCHEDULE, paper="cosine", cpu="warmup-cosine", gpu="warmup-cosine",
            why="as chapter 03",
            cost="none measured"),
        seed=EARLIER,
    ),
    # the dAUTOMAP authors' network by the paper's training recipe (as chapter 03), at 128² and the authors' 256²
    "10_dautomap": Chapter(
        across=(batch_fits("dautomap", "dautomap_batch_size"), ),
        run_dir=RUN_DIR,
        dautomap_variant=Knob(variant("dautomap"), paper="dautomap"),
        dautomap_automap_variant=Knob(variant("automap"), paper="greenberg-201m", quick="greenberg", cpu="greenberg",
            why="as chapter 03's train_variant: greenberg-201m exists at 128² only",
            cost="none in design; fewer parameters because n is smaller"),
        dautomap_inits=Knob(with_item("idft", TRANSFORM_INIT), paper=["idft", "random"]),
        dautomap_accelerations=Knob(with_item(1, ACCELERATION), paper=[1, 4, 8]),
        dautomap_epochs=Knob(COUNT, paper=300, quick=2, cpu=24, gpu=4,
            why="the wall-clock budget of the whole book on 2 CPU cores",
            cost="far from convergence: the comparison is of what equal budgets buy, not of trained networks",
            gpu_why="the 15-minute budget: 3 runs of 4 epochs at 128²",
            gpu_cost="far from convergence"),
        dautomap_batch_size=Knob(COUNT, paper=32, quick=4),
        dautomap_learning_rate=Knob(RATE, paper=2e-4, quick=1e-3, cpu=1e-3, gpu=1e-3,
            why="a short budget: as chapter 07's study, the paper's 2e-4 stays near the mean image in short runs",
            cost="not the paper's rate"),
        dautomap_lr_schedule=Knob(SCHEDULE, paper="cosine", quick="constant", cpu="constant", gpu="constant",
            why="a short budget: at 128² after 3,072-3,328 samples a decaying rate left dAUTOMAP at or below "
            "zero-filled at 4×, the constant rate above it (benchmarks/dautomap.md)",
            cost="not the paper's schedule"),
        dautomap_conv_filters=Knob(COUNT, paper=64, quick=8, cpu=16,
            why="as chapter 03's train_conv_filters",
            cost="a narrower conv tail for both networks"),
        dautomap_dc_phase=Knob(BOOL, paper=False, quick=True, cpu=True, gpu=True,
            why="as chapter 03's train_dc_phase",
            cost="networks that do not see the global phase"),
        dautomap_validate_every=Knob(COUNT, paper=1, cpu=4,
            why="validation costs training time in a short budget",
            cost="fewer points on the learning curves"),
        dautomap_large_size=Knob(between(8, prepare.CROP), paper=256, quick=48, cpu=128, gpu=128,
            why="the 2-core budget: 128² is the paper's own grid",
            cost="the authors' 256² is left to a GPU",
            gpu_why="the GPU edition's compact sample data keep only the k-space that n ≤ 128 needs; dAUTOMAP at "
            "256² (the paper profile) needs full-size files (automap-nb sample-data without --compact, ≈ 11 GB)",
            gpu_cost="the larger grid repeats the edition's 128²; 256² is not shown"),
        dautomap_large_epochs=Knob(COUNT, paper=300, quick=2, cpu=24, gpu=4,
            why="the wall-clock budget of the whole book on 2 CPU cores",
            cost="far from convergence at the large grid",
            gpu_why="the 15-minute budget",
            gpu_cost="far from convergence"),
        mask_kind=EARLIER,
        seed=EARLIER,
        dautomap_distribution=Knob(distribution, paper="none"),
        dautomap_model_shards=Knob(shards_of("dautomap_distribution"), paper=1),
    ),
}
# yapf: enable


def _declare(chapters: dict[str, Chapter]) -> dict[str, Knob]:
    """``{name: Knob}`` of every parameter a profile sets, each declared once; :data:`EARLIER` resolved in place.
    A profile departing from the paper without a reason (or a reason with no departure) is an error here."""
    knobs: dict[str, Knob] = {}
    for chapter, spec in chapters.items():
        for name, knob in spec.knobs.items():
            if knob is EARLIER:
                if name not in knobs:
                    raise AssertionError(f"{chapter}: {name!r} is EARLIER but no earlier chapter declares it")
                spec.knobs[name] = knobs[name]
                continue
            if knob.paper is None:
                continue
            if name in knobs:
                raise AssertionError(f"{chapter}: {name!r} is declared twice (say EARLIER)")
            differs = {p for p in PROFILE_NAMES if knob.value(p) != knob.paper}
            undocumented = {"cpu", "gpu"} & differs if not knob.why else set()
            if knob.gpu_why:
                undocumented.discard("gpu")
            if undocumented or (knob.why and not differs) or (knob.gpu_why and "gpu" not in differs):
                raise AssertionError(f"{chapter}: {name!r}: a departure from the paper needs why and cost, and only a departure")
            knobs[name] = knob
    return knobs


KNOBS = _declare(CHAPTERS)


def profile_values(profile: str) -> dict[str, object]:
    """``{parameter: value}`` of ``profile``, for every parameter a profile sets."""
    return {name: knob.value(profile) for name, knob in KNOBS.items()}


def departure_reasons(profile: str = "") -> dict[str, tuple[str, str]]:
    """``{parameter: (why, cost)}`` for every parameter on which a profile departs from the paper; ``profile``'s
    own reasons (``gpu_why``) where it has them."""
    reasons = {name: (knob.why, knob.cost) for name, knob in KNOBS.items() if knob.why}
    if profile == "gpu":
        reasons.update({name: (knob.gpu_why, knob.gpu_cost or knob.cost) for name, knob in KNOBS.items() if knob.gpu_why})
    return reasons


def validate(chapter: str, namespace: dict) -> dict:
    """``chapter``'s parameters (:data:`CHAPTERS`), read from ``namespace`` (a notebook's ``globals()``),
    checked and converted in order: ``ran_with = validate("03_train_automap", globals())``."""
    values = {}
    for name, knob in CHAPTERS[chapter].knobs.items():
        if name not in namespace:
            raise ParameterError(f"parameter {name!r} of {chapter} is not set")
        check = knob.check.make(values) if isinstance(knob.check, needs) else knob.check
        values[name] = check(name, namespace[name])
    for check in CHAPTERS[chapter].across:
        check(values)
    return values


def chapter03_checkpoint(run_dir: Path, which: str = "final", name: str = "run_dir") -> Path:
    """Chapter 03's ``initial`` or ``final`` checkpoint in ``run_dir/automap``, else an error naming ``name``."""
    from automap_nb import training

    try:
        return training.checkpoint_path(run_dir / "automap", which)
    except FileNotFoundError as err:
        raise ParameterError(f"parameter {name!r}: {err} (run chapter 03 first)") from None
