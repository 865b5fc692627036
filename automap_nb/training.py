"""Training AUTOMAP (or any image-output Keras model) on a prepared file, resumably.

Data: one of the two input pipelines of :mod:`automap_nb.data.pipeline` (``pipeline="numpy"``,
:class:`~automap_nb.data.pipeline.PreparedDataset`, re-exported here; or ``"device"``): one split of
``prepared.h5``, shuffled per epoch in training mode with the paper's reflection-tiling augmentation,
and the ``mask_fn`` / ``input_transform`` hooks.

Training (:func:`train`): Adam (lr 2e-4 as in the paper), MSE loss plus the model's own
regularisation losses (AUTOMAP's L1 activity penalty), the learning rate set per epoch by a falling
schedule (default ``"cosine"``: from ``lr`` down to ``lr/100`` over the run). After every epoch:
PSNR (MAX = 1, mean over slices) on train and val. After the last epoch, and after any epoch
that ends ``checkpoint_seconds`` (default 60 s) or more after the previous checkpoint: a checkpoint
``epoch-NNNN.keras`` (weights + optimizer state; the previous one is then deleted) and
``history.json`` up to that epoch, both written atomically (temp file + ``os.replace``).
``initial.keras`` keeps the untrained weights. (Saving every epoch cost ≈ 40 % of the training time
of a 64² run whose epochs last half a second.)

Resume: calling :func:`train` again with the same arguments and ``out_dir`` continues after the
last *checkpointed* epoch: the checkpoint of epoch k is written before the history that lists epoch
k, and deleted only after the history lists a later checkpointed epoch, so a kill at any instant
leaves a history of k epochs and ``epoch-k.keras`` (or only ``initial.keras`` when k = 0). Each epoch's data order,
augmentation and masks depend only on ``(seed, epoch)``, so a resumed run repeats exactly what an
uninterrupted one would have done.

Several devices (:mod:`automap_nb.distribute`, JAX): ``train(..., distribution=dist)`` with
``dist = distribute.setup(kind, model_shards, batch_size)`` and the model built under
``distribute.scope(dist)``: each batch is laid out over the mesh, each process draws only its rows
of it, and only process 0 writes ``initial.keras``, the checkpoints and ``history.json``. A
checkpoint holds full arrays, so a run resumes under any layout (or on one device).

Training PSNR is what Keras reports: the running mean over the epoch's (augmented) batches while
the weights change, as in the paper's Figure 3; validation PSNR is measured after the epoch.
"""

from __future__ import annotations

import contextlib
import math
import time
from pathlib import Path
from typing import Callable

import keras
import numpy as np
from tqdm import tqdm

from automap_nb import distribute, evaluate, models
from automap_nb.data import prepared
from automap_nb.data.pipeline import PIPELINES, EpochBatches, ImageBank, check_pipeline, wrap
from automap_nb.data.pipeline import PreparedDataset as PreparedDataset  # re-exported: benchmarks and tests use it
from automap_nb.results import atomic_path, read_json, remove_stale_temporaries, write_json

HISTORY_NAME = "history.json"
INITIAL_NAME = "initial.keras"
CHECKPOINT_GLOB = "epoch-*.keras"
SCHEDULES = ("cosine", "warmup-cosine", "exponential", "constant")
WARMUP_FRACTION = 0.05  # "warmup-cosine": linear warm-up over the first 5 % of the epochs
# logged per epoch as psnr / mse (train) and val_*; registered so that checkpoints compiled with it load
METRICS = (keras.saving.register_keras_serializable(package="automap_nb")(evaluate.psnr_max1_metric), "mse")


def compile_model(model: keras.Model, learning_rate: float, steps_per_execution: int = 1) -> keras.Model:
    """The one training recipe: Adam at ``learning_rate``, MSE loss (plus the model's own
    regularisation losses), :data:`METRICS`. Returns ``model``."""
    model.compile(optimizer=keras.optimizers.Adam(learning_rate), loss="mse", metrics=list(METRICS),
                  steps_per_execution=steps_per_execution)
    return model


def device_model(model: keras.Model, bank: ImageBank, steps_per_execution: int = 1) -> keras.Model:
    """The compiled ``model`` wrapped for the device pipeline (:func:`automap_nb.data.pipeline.wrap`):
    same optimizer object, loss and metrics."""
    return wrap(model, bank, loss="mse", metrics=list(METRICS), steps_per_execution=steps_per_execution)


def learning_rate_at(epoch: int, epochs: int, learning_rate: float, schedule="cosine") -> float:
    """Learning rate for 0-based ``epoch`` of ``epochs``.

    ``"cosine"``: ``lr · (0.01 + 0.99 · (1 + cos(π·epoch/epochs)) / 2)``, lr → lr/100;
    ``"warmup-cosine"``: linear from lr/w to lr over the first w = 5 % of the epochs, then cosine
    from lr to lr/100 over the rest;
    ``"exponential"``: ``lr · 0.1^(epoch/epochs)``, 10× lower by the end; ``"constant"``: lr;
    a callable: ``schedule(epoch, epochs, learning_rate)``.
    """
    if callable(schedule):
        return float(schedule(epoch, epochs, learning_rate))
    if schedule == "cosine":
        return learning_rate * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * epoch / epochs)))
    if schedule == "warmup-cosine":
        warmup = max(1, round(WARMUP_FRACTION * epochs))
        if epoch < warmup:
            return learning_rate * (epoch + 1) / warmup
        t = (epoch - warmup) / max(1, epochs - warmup)
        return learning_rate * (0.01 + 0.99 * 0.5 * (1.0 + math.cos(math.pi * t)))
    if schedule == "exponential":
        return learning_rate * 0.1**(epoch / epochs)
    if schedule == "constant":
        return float(learning_rate)
    raise ValueError(f"lr_schedule must be one of {SCHEDULES} or a callable, got {schedule!r}")


def describe_device() -> dict:
    """``{"backend", "device", "name"}``: the Keras backend and where it computes (GPU if visible)."""
    backend = keras.backend.backend()
    device, name = "CPU", "CPU"
    if backend == "tensorflow":
        import tensorflow as tf

        gpus = tf.config.list_physical_devices("GPU")
        if gpus:
            device = "GPU"
            name = tf.config.experimental.get_device_details(gpus[0]).get("device_name", gpus[0].name)
    elif backend == "jax":
        import jax

        first = jax.devices()[0]
        if first.platform != "cpu":
            device, name = first.platform.upper(), first.device_kind
    elif backend == "torch":
        import torch

        if torch.cuda.is_available():
            device, name = "GPU", torch.cuda.get_device_name(0)
    return {"backend": backend, "device": device, "name": name}


def native_bfloat16_cpu() -> bool:
    """True when this machine's CPU has bfloat16 dot-product instructions (AVX-512 BF16 or AMX)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:  # not Linux: no way to tell, so no
        return False
    return "avx512_bf16" in flags or "amx_bf16" in flags


def resolve_precision(precision: str) -> str:
    """A ``models.PRECISIONS`` key for ``precision``; ``"auto"`` picks where it was measured faster.

    ``"auto"``: ``"mixed_bfloat16"`` for TensorFlow on a CPU with native bfloat16 instructions
    (≈ 1.2× the samples/s of float32 for the 64² AUTOMAP on 2 CPU cores, ``benchmarks/history.md``), else
    ``"float32"`` (JAX's CPU backend was slower in bfloat16; GPUs keep the paper's float32 unless
    asked).
    """
    if precision == "auto":
        on_cpu = describe_device()["device"] == "CPU"
        fast = on_cpu and keras.backend.backend() == "tensorflow" and native_bfloat16_cpu()
        return "mixed_bfloat16" if fast else "float32"
    if precision not in models.PRECISIONS:
        raise ValueError(f"precision must be 'auto' or one of {list(models.PRECISIONS)}, got {precision!r}")
    return precision


def configure_determinism(seed: int) -> None:
    """Seed Python, numpy and the backend; with TensorFlow also enable deterministic ops."""
    keras.utils.set_random_seed(seed)
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        tf.config.experimental.enable_op_determinism()


def _save_model_atomic(model: keras.Model, path: Path) -> None:
    # outside the distribution: what saving creates stays in this process (under several processes
    # a laid-out creation would be a collective that the processes that do not save never join)
    with atomic_path(path) as tmp, distribute.outside():
        model.save(tmp)


def _checkpoint(out_dir: Path, epoch: int) -> Path:
    return out_dir / f"epoch-{epoch:04d}.keras"


def load_history(out_dir) -> dict | None:
    """The ``history.json`` of a training folder, or ``None`` if there is none yet."""
    path = Path(out_dir) / HISTORY_NAME
    return read_json(path) if path.is_file() else None


def checkpoint_path(out_dir, which: str = "final") -> Path:
    """Path of ``initial.keras`` (``which="initial"``) or of the last complete epoch's checkpoint."""
    out_dir = Path(out_dir)
    if which == "initial":
        path = out_dir / INITIAL_NAME
    elif which == "final":
        history = load_history(out_dir)
        if not history or not history["epochs"]:
            raise FileNotFoundError(f"{out_dir}: no completed epoch (train first)")
        path = _checkpoint(out_dir, history["epochs"][-1]["epoch"])
    else:
        raise ValueError(f"which must be 'initial' or 'final', got {which!r}")
    if not path.is_file():
        raise FileNotFoundError(f"{path}: checkpoint does not exist")
    return path


def load_checkpoint(out_dir, which: str = "final", compile: bool = True) -> keras.Model:
    """Load the ``initial`` or ``final`` model of a training folder (``safe_mode=True``)."""
    return keras.saving.load_model(checkpoint_path(out_dir, which), compile=compile, safe_mode=True)


def _restore(model: keras.Model, path: Path) -> None:
    """Copy weights and optimizer state of checkpoint ``path`` into the compiled ``model``."""
    saved = keras.saving.load_model(path, safe_mode=True)
    model.set_weights(saved.get_weights())
    if saved.optimizer is None or not saved.optimizer.built:
        return
    if not model.optimizer.built:
        model.optimizer.build(model.trainable_variables)
    if len(saved.optimizer.variables) != len(model.optimizer.variables):
        raise ValueError(f"{path}: optimizer state does not match the model's optimizer")
    for target, value in zip(model.optimizer.variables, saved.optimizer.variables):
        target.assign(value)
    del saved


def _check_config(out_dir: Path, old: dict, new: dict) -> None:
    for key, value in new.items():
        if key in old and old[key] != value:
            raise ValueError(f"{out_dir}: was trained with {key}={old[key]!r}, now {key}={value!r}; "
                             "use another folder or delete it to start over")


def train(model: keras.Model, prepared_path, out_dir, epochs: int, batch_size: int = 32, learning_rate: float = 2e-4, seed: int = 0,
          lr_schedule="cosine", augment: bool = True, mask_fn: Callable | None = None, input_transform: Callable | None = None,
          progress: bool = True, verbose: int = 0, workers: int = 1, deterministic: bool = True, checkpoint_seconds: float = 60.0,
          pipeline: str = "numpy", validate_every: int = 1, distribution=None) -> dict:
    """Train ``model`` on the train split of ``prepared_path``, validating on val; resumable.

    ``model`` maps the (possibly transformed) inputs to ``(B, n, n, 1)``; build it after
    ``keras.utils.set_random_seed(seed)`` (or with ``models.build_variant(..., seed=seed)``) for
    reproducible initial weights. ``out_dir`` receives ``initial.keras``, ``epoch-NNNN.keras`` and
    ``history.json``; an existing folder is resumed (same arguments required). ``progress``: a
    tqdm bar over epochs; ``verbose``: Keras's own per-epoch bar (0, 1 or 2). ``deterministic``:
    seed everything and enable TensorFlow's deterministic ops. ``checkpoint_seconds``: a checkpoint
    (and the history up to it) is written after the first epoch that ends at least this long after
    the previous one, and after the last epoch; 0 checkpoints every epoch. A kill loses at most that
    much work (a checkpoint of a 12.7M-parameter model with Adam's state is ≈ 150 MB).
    ``pipeline``: ``"numpy"`` (:class:`PreparedDataset`, the default) or ``"device"``
    (:mod:`automap_nb.data.pipeline`: images on the device, crops, masks and FFT inside the compiled
    step; same examples to float32 precision, ``input_transform`` not supported).
    ``validate_every``: validate after every k-th epoch and after the last one; the other epochs'
    ``val_*`` are NaN and their ``eval_seconds`` 0 (needs ``verbose=0`` and ``workers=1``). Training
    itself is the same whatever k.
    ``distribution``: ``None`` (one device) or :func:`automap_nb.distribute.setup`'s distribution,
    under whose scope ``model`` was built; ``batch_size`` is then the global batch (a multiple of
    the data axis; needs ``verbose=0`` and ``workers=1``). A validation batch that the data axis
    does not divide (the split's last) runs replicated. ``history["device"]["distribution"]``
    records the mesh (:func:`automap_nb.distribute.describe`) and the number of processes.

    Returns the history: ``{"config": {...}, "device": {...}, "epochs": [per-epoch records]}``
    with ``epoch`` (1-based), ``lr``, ``loss``, ``mse``, ``psnr``, ``val_loss``, ``val_mse``,
    ``val_psnr``, ``train_seconds``, ``samples``, ``samples_per_s``, ``eval_seconds``.
    """
    if isinstance(epochs, bool) or not isinstance(epochs, int) or epochs < 1:
        raise ValueError(f"epochs must be a positive integer, got {epochs!r}")
    if not (isinstance(learning_rate, (int, float)) and learning_rate > 0):
        raise ValueError(f"learning_rate must be a positive number, got {learning_rate!r}")
    learning_rate_at(0, epochs, learning_rate, lr_schedule)  # validates the schedule
    if isinstance(validate_every, bool) or not isinstance(validate_every, int) or validate_every < 1:
        raise ValueError(f"validate_every must be a positive integer, got {validate_every!r}")
    if validate_every > 1 and (verbose or workers > 1):
        raise ValueError(f"validate_every={validate_every} needs verbose=0 and workers=1 (Keras's fit validates every epoch)")
    if distribution is not None:
        if verbose or workers > 1:
            raise ValueError("a distribution needs verbose=0 and workers=1 (each process draws its own rows of each batch)")
        distribute.check(distribute.describe(distribution)["kind"], _model_shards(distribution), batch_size)
        distribute.check_model(model, distribution)
    writer = distribute.is_writer()  # several processes: only process 0 writes
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    if writer:  # another process's temporary file is not stale
        remove_stale_temporaries(out_dir)
    if deterministic:
        configure_determinism(seed)
    data = dict(seed=seed, mask_fn=mask_fn, input_transform=input_transform, workers=workers)
    Dataset = PIPELINES[check_pipeline(pipeline)]  # the one choice of pipeline: its batches know how to fit
    train_data = Dataset(prepared_path, "train", batch_size, training=True, augment=augment, **data)
    val_data = Dataset(prepared_path, "val", batch_size, training=False, **data)
    n = train_data.n
    if tuple(model.output_shape[1:]) != (n, n, 1):
        raise ValueError(f"model output shape {model.output_shape[1:]} != targets' {(n, n, 1)} "
                         f"in {prepared_path}")
    config = dict(model=model.name, params=int(model.count_params()), n=n, epochs=epochs, batch_size=batch_size,
                  learning_rate=float(learning_rate), seed=seed,
                  lr_schedule=lr_schedule if isinstance(lr_schedule, str) else getattr(lr_schedule, "__name__", "callable"),
                  augment=bool(augment), mask_fn=getattr(mask_fn, "__name__", None) if mask_fn else None,
                  input_transform=getattr(input_transform, "__name__", None) if input_transform else None,
                  train_slices=len(train_data.rows), val_slices=len(val_data.rows),
                  data_fingerprint=prepared.read_header(prepared_path).fingerprint, pipeline=pipeline)
    history = load_history(out_dir) or {"config": config, "epochs": []}
    _check_config(out_dir, history["config"], config)
    done, has_initial = len(history["epochs"]), (out_dir / INITIAL_NAME).is_file()
    distribute.barrier("train: folder read")  # every process decided from the same folder before process 0 writes
    with distribute.scope(distribution):  # optimizer state and restored checkpoints take the variables' layouts
        compile_model(model, learning_rate)
        if done:
            _restore(model, _checkpoint(out_dir, done))
        elif has_initial:
            _restore(model, out_dir / INITIAL_NAME)
        else:
            model.optimizer.build(model.trainable_variables)  # zero Adam state saved with the weights
            if writer:
                _save_model_atomic(model, out_dir / INITIAL_NAME)
        history["device"] = {
            **describe_device(), "distribution": distribute.describe(distribution), "processes": distribute.process_count()
        }
        if done < epochs:
            schedule = lambda epoch: learning_rate_at(epoch, epochs, learning_rate, lr_schedule)  # noqa: E731
            with tqdm(total=epochs, initial=done, desc="train", unit="epoch", disable=not (progress and writer)) as bar:
                recorder = _EpochRecorder(train_data, out_dir, history, schedule, bar, epochs, checkpoint_seconds, writer)
                fit_model = train_data.fit_model(model, lambda: device_model(model, ImageBank.from_prepared(prepared_path)))
                if verbose or workers > 1:  # Keras's own bar, or PyDataset's worker threads: fit
                    fit_model.fit(train_data, validation_data=val_data, initial_epoch=done, epochs=epochs, shuffle=False,
                                  callbacks=[recorder], verbose=verbose)  # PreparedDataset shuffles
                else:
                    _run_epochs(fit_model, train_data, val_data, recorder, done, epochs, validate_every, distribution)
    distribute.barrier("train: done")  # process 0's last checkpoint and history are written
    return history


def _model_shards(distribution) -> int:
    """The ``"model"`` axis of a distribution's mesh (1 when it has none)."""
    mesh = distribution.device_mesh
    return int(mesh.shape[list(mesh.axis_names).index("model")]) if "model" in mesh.axis_names else 1


def _batch(data) -> tuple:
    """``(inputs, targets)`` of one PyDataset item (``(inputs,)`` has no targets)."""
    data = tuple(data) if isinstance(data, (tuple, list)) else (data, )
    return data[0], (data[1] if len(data) > 1 else None)


def _run_epochs(model: keras.Model, train_data, val_data, recorder: "_EpochRecorder", done: int, epochs: int,
                validate_every: int = 1, distribution=None) -> None:
    """Epochs ``done … epochs − 1`` as ``fit`` runs them, one compiled step per batch.

    The same compiled train and test steps, batches, order and callback hooks as
    ``model.fit(train_data, validation_data=val_data, shuffle=False, callbacks=[recorder])``, and
    the same logs (running means over the epoch's batches, then over the validation batches), but
    without ``fit``'s per-epoch set-up of iterators and callback lists: with a few batches per
    epoch (130 training slices, batch 32) that set-up cost ≈ 20 % of the training time on 2 CPU
    cores (``benchmarks/learning.md``). Validation runs after every ``validate_every``-th epoch and
    after the last. Under a ``distribution``, each process draws its rows of each batch
    (:func:`automap_nb.distribute.local_rows`); a batch the data axis does not divide runs replicated.
    """

    def run(step, data) -> dict:  # every log averaged over the samples, as Keras's metrics do
        sums, count = {}, 0
        for i in range(len(data)):
            rows = data.batch_rows(i)
            part = distribute.local_rows(distribution, len(rows))
            with distribute.outside() if part is None else contextlib.nullcontext():
                inputs, targets = _batch(data.batch_of(rows if part is None else rows[part]))
                logs = step(inputs, targets, return_dict=True)
            size = len(rows)  # the global batch's samples (the logs are its means)
            for key, value in logs.items():
                sums[key] = sums.get(key, 0.0) + float(value) * size
            count += size
        return {key: total / count for key, total in sums.items()}

    recorder.set_model(model)
    for epoch in range(done, epochs):
        recorder.on_epoch_begin(epoch)
        logs = run(model.train_on_batch, train_data)
        if (epoch + 1) % validate_every == 0 or epoch + 1 == epochs:
            recorder.on_test_begin()
            logs.update({f"val_{k}": v for k, v in run(model.test_on_batch, val_data).items()})
        recorder.on_epoch_end(epoch, logs)


class _EpochRecorder(keras.callbacks.Callback):
    """Per epoch: set the lr and the data epoch; at its end record, checkpoint, write the history."""

    def __init__(self, train_data: EpochBatches, out_dir: Path, history: dict, schedule, bar, epochs: int,
                 checkpoint_seconds: float, writer: bool = True):
        super().__init__()
        self.writer = writer  # False in every process but process 0 of a multi-process run
        self.train_data, self.out_dir, self.history = train_data, out_dir, history
        self.schedule, self.bar = schedule, bar
        self.epochs, self.checkpoint_seconds = epochs, checkpoint_seconds
        self.pending: list[dict] = []  # epochs done since the last checkpoint
        self.last_checkpoint = time.perf_counter()
        self.last_val_psnr = math.nan

    def on_epoch_begin(self, epoch, logs=None):
        self.lr = float(self.schedule(epoch))
        self.model.optimizer.learning_rate = self.lr
        self.train_data.set_epoch(epoch)
        self.start, self.val_start = time.perf_counter(), None

    def on_test_begin(self, logs=None):  # fit's validation at the end of the epoch
        if self.val_start is None:
            self.val_start = time.perf_counter()

    def on_epoch_end(self, epoch, logs=None):
        end = time.perf_counter()
        val_start = self.val_start or end
        samples = self.train_data.num_samples
        record = dict(epoch=epoch + 1, lr=self.lr, loss=logs["loss"], mse=logs["mse"], psnr=logs["psnr_max1_metric"],
                      val_loss=logs.get("val_loss", math.nan), val_mse=logs.get("val_mse", math.nan),
                      val_psnr=logs.get("val_psnr_max1_metric", math.nan), train_seconds=val_start - self.start, samples=samples,
                      samples_per_s=samples / (val_start - self.start), eval_seconds=end - val_start)
        record = {k: (v if k in ("epoch", "samples") else float(v)) for k, v in record.items()}
        if not math.isfinite(record["loss"]):
            raise FloatingPointError(f"epoch {epoch + 1}: training loss is {record['loss']} (lr {self.lr:g})")
        self.pending.append(record)
        if epoch + 1 == self.epochs or end - self.last_checkpoint >= self.checkpoint_seconds:
            checkpoint = _checkpoint(self.out_dir, epoch + 1)
            self.history["epochs"] += self.pending
            self.pending = []
            if self.writer:
                _save_model_atomic(getattr(self.model, "inner", self.model), checkpoint)  # 1. the checkpoint of epoch k
                write_json(self.out_dir / HISTORY_NAME, self.history)  # 2. the history lists epoch k
                for old in self.out_dir.glob(CHECKPOINT_GLOB):  # 3. only then the older checkpoint goes
                    if old != checkpoint:
                        old.unlink()
            self.last_checkpoint = time.perf_counter()
        self.bar.update(1)
        if math.isfinite(record["val_psnr"]):
            self.last_val_psnr = record["val_psnr"]
        self.bar.set_postfix(loss=f"{record['loss']:.4g}", val_psnr=f"{self.last_val_psnr:.2f}")


def predict(model: keras.Model, inputs: np.ndarray, batch_size: int = 32) -> np.ndarray:
    """Model outputs for ``inputs`` ``(N, n, n, 2)`` → ``(N, n, n, 1)`` float32, in batches."""
    return np.asarray(model.predict(inputs, batch_size=batch_size, verbose=0), dtype=np.float32)


def layer_outputs(initial: keras.Model, final: keras.Model, inputs: np.ndarray, batch_size: int = 32) -> dict:
    """Each weighted layer's linear output with its initial and its trained weights, on the same inputs.

    ``initial``/``final``: the same architecture before and after training; ``inputs`` ``(N, n, n, 2)``.
    For every layer of ``final`` with weights, ``x`` is that layer's input in ``final`` on ``inputs``;
    the layer is applied to ``x`` without its activation and activity penalty, in float32, once with
    ``initial``'s weights and once with ``final``'s. Returns ``{layer: (z0, z)}`` (numpy arrays), for
    :func:`automap_nb.figures.weights.output_change`.
    """
    names = [layer.name for layer in final.layers if layer.get_weights()]
    probe = keras.Model(final.inputs, [final.get_layer(name).input for name in names])
    xs = probe.predict(inputs, batch_size=batch_size, verbose=0)
    xs = xs if isinstance(xs, (list, tuple)) else [xs]
    out = {}
    for name, x in zip(names, xs):
        layer = final.get_layer(name)
        config = {**layer.get_config(), "activation": "linear", "activity_regularizer": None, "dtype": "float32"}
        linear = type(layer).from_config(config)
        linear.build(x.shape)
        outputs = []
        for weights in (initial.get_layer(name).get_weights(), layer.get_weights()):
            linear.set_weights(weights)
            outputs.append(np.concatenate([np.asarray(linear(x[i:i + batch_size])) for i in range(0, len(x), batch_size)]))
        out[name] = tuple(outputs)
    return out


def time_inference(model: keras.Model, inputs: np.ndarray, batch_size: int = 1, repeats: int = 20, warmup: int = 3) -> dict:
    """Inference time on ``inputs[:batch_size]``: median over ``repeats`` calls after ``warmup``.

    Returns ``{"ms_per_slice", "ms_per_batch", "batch_size", "repeats"}``; each call returns numpy
    arrays, so the time includes the device synchronisation and the copy back.
    """
    batch = np.asarray(inputs[:batch_size])
    if len(batch) < batch_size:
        raise ValueError(f"inputs has {len(inputs)} samples, fewer than batch_size {batch_size}")
    for _ in range(warmup):
        model.predict_on_batch(batch)
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.predict_on_batch(batch)
        times.append(time.perf_counter() - start)
    ms = 1000.0 * float(np.median(times))
    return {"ms_per_slice": ms / batch_size, "ms_per_batch": ms, "batch_size": batch_size, "repeats": repeats}
