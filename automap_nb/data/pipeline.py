"""The two training input pipelines, :data:`PIPELINES`: batches of one split of ``prepared.h5``.

Both share :class:`EpochBatches`: the per-epoch shuffle, the checks of the split and the batch, and
the per-sample ``numpy.random.Generator`` keyed by ``(seed, epoch, row)`` in training mode (masks
and crops change every epoch) and by ``(seed, row)`` otherwise (every method evaluated with the same
seed sees the same mask on the same slice; ``row`` = index in the file). Two hooks let other models
share them: ``mask_fn(rng, n) -> mask``, a 0/1 k-space mask broadcastable to ``(n, n)`` per sample
(undersampling), and, numpy only, ``input_transform(inputs) -> model_inputs``, which maps the k-space
batch ``(B, n, n, 2)`` to what the model eats (e.g. :func:`automap_nb.baselines.zero_filled_input`).

``"numpy"`` (:class:`PreparedDataset`) builds every example on the host: it reads the images with
h5py (the file is opened per batch, so it works with any number of worker threads or processes),
crops the reflection tiling, draws a mask and runs a numpy FFT, one sample at a time. That is fine
on 2 CPU cores and far too slow to feed a GPU. ``"device"`` (:func:`prepared_batches`) splits the work:

- **Host** (:class:`IndexBatches`, a ``keras.utils.PyDataset``): the same shuffle and the same
  per-sample generators as the numpy pipeline, drawing the same numbers in the same order: the crop offset
  (:func:`automap_nb.data.augment.crop_offset`) and then the mask (``mask_fn(rng, n)``). A batch is three
  small arrays, ``{"index": int32 (B,), "offset": int32 (B, 2), "mask": float32 (B, n)}``.
- **Device** (:class:`ImageBank`, a Keras layer holding every prepared image as one non-trainable
  float32 variable ``(N, n, n, 2)``, (real, imaginary)): gathers the rows, crops the reflection
  tiling by index arithmetic (tiling position ``p`` of an ``n``-long axis is image index ``p`` for
  ``p < n`` and ``2n − 1 − p`` after, so no ``2n × 2n`` mosaic is built), folds ``ifftshift`` into
  those indices, runs ``keras.ops.fft2`` and ``fftshift``, scales (orthonormal, times
  ``kspace_scale``), applies the column mask, and rebuilds the target ``|image|``. Everything is
  ``keras.ops`` (tested under TensorFlow and JAX; nothing backend-specific).

:class:`PipelineModel` wraps the model being trained: ``call`` builds the k-space inputs and the
targets on the device and runs the model; ``compute_loss`` and ``compute_metrics`` compare its two
outputs, so Keras compiles all of it into one train step. The wrapped model's weights (and the
optimizer, which the wrapper shares) are what training saves, so checkpoints are the same as with
the numpy pipeline.

Limits: masks must be column masks (shape ``(n,)`` or ``(1, n)``, as
:mod:`automap_nb.data.subsample` makes); ``input_transform`` (a numpy callable) is not supported.
Equality with the numpy pipeline is to float32 precision (the FFTs differ in rounding), which
``tests/test_pipeline.py`` checks.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Callable

import keras
import numpy as np
from keras import ops

from automap_nb.data import prepared, transforms
from automap_nb.data.augment import crop_offset, reflect_tile_crop

CACHE_BYTES = 256 * 2**20  # PreparedDataset keeps a split's images in memory up to this size


def check_pipeline(pipeline: str) -> str:
    """Return ``pipeline`` if it is ``"numpy"`` or ``"device"``, else raise a one-line error."""
    if pipeline not in PIPELINES:
        raise ValueError(f"pipeline must be one of {list(PIPELINES)}, got {pipeline!r}")
    return pipeline


def column_mask(mask, n: int) -> np.ndarray:
    """A ``mask_fn`` result as float32 ``(n,)``; only column masks ``(n,)`` / ``(1, n)`` are accepted."""
    arr = np.asarray(mask)
    if arr.shape not in ((n, ), (1, n)):
        raise ValueError(f"mask_fn returned a mask of shape {arr.shape}; pipeline='device' takes "
                         f"column masks of shape ({n},) or (1, {n})")
    return arr.reshape(n).astype(np.float32)


class EpochBatches(keras.utils.PyDataset):
    """What both pipelines share: ``rows`` split into batches of ``batch_size``, reshuffled per epoch
    from ``(seed, epoch)`` when ``training`` (the last incomplete batch dropped), in file order
    otherwise; the per-sample generator (:meth:`rng`); batch ``index`` is :meth:`batch_of` its
    :meth:`batch_rows`. Subclasses call :meth:`_setup` and define :meth:`batch_of`."""

    def _setup(self, rows: np.ndarray, batch_size: int, training: bool, augment: bool | None, seed: int, mask_fn, epoch: int,
               where: str) -> None:
        """Check the rows (``where`` names them in errors) against the batch size, then set the batching."""
        if isinstance(batch_size, bool) or not isinstance(batch_size, int) or batch_size < 1:
            raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
        if len(rows) == 0:
            raise ValueError(f"{where} has no slices")
        if training and len(rows) < batch_size:
            raise ValueError(f"{where} has {len(rows)} slices, fewer than batch_size {batch_size}")
        self.rows, self.batch_size, self.training, self.seed = rows, batch_size, training, seed
        self.augment = training if augment is None else augment
        self.mask_fn = mask_fn
        self.set_epoch(epoch)

    def rng(self, row) -> np.random.Generator:
        """The generator of one sample's draws (crop, then mask): see the module docstring."""
        return np.random.default_rng([self.seed, self.epoch, int(row)] if self.training else [self.seed, int(row)])

    def __getitem__(self, index: int):
        return self.batch_of(self.batch_rows(index))

    on_device = False  # True: batches of draws, the examples built on the device (PipelineModel)

    def fit_model(self, model: keras.Model, wrapped: Callable[[], keras.Model]) -> keras.Model:
        """What ``fit`` trains on these batches: ``model`` itself, or ``wrapped()`` (the model wrapped
        with the image bank, :func:`wrap`) when the examples are built on the device."""
        return wrapped() if self.on_device else model

    def set_epoch(self, epoch: int) -> None:
        """Fix the epoch whose order, augmentation and masks the next batches use."""
        self.epoch = int(epoch)
        if self.training:
            self.order = np.random.default_rng([self.seed, self.epoch]).permutation(self.rows)
        else:
            self.order = self.rows

    def __len__(self) -> int:
        if self.training:
            return len(self.order) // self.batch_size
        return math.ceil(len(self.order) / self.batch_size)

    @property
    def num_samples(self) -> int:
        """Samples seen per epoch (training drops the last incomplete batch)."""
        return min(len(self.order), len(self) * self.batch_size)

    def batch_rows(self, index: int) -> np.ndarray:
        """File rows of batch ``index`` of the current epoch (IndexError out of range)."""
        if not 0 <= index < len(self):
            raise IndexError(f"batch {index} out of range for {len(self)} batches")
        return self.order[index * self.batch_size:(index + 1) * self.batch_size]


class PreparedDataset(EpochBatches):
    """The ``"numpy"`` pipeline: batches ``(inputs (B, n, n, 2), targets (B, n, n, 1))`` of one split of ``prepared.h5``.

    ``training=True``: the order is reshuffled for every epoch (see :meth:`set_epoch`), the
    reflection-tiling augmentation is applied (unless ``augment=False``) and the last incomplete
    batch is dropped. ``training=False``: file order, no augmentation, all slices. ``mask_fn`` and
    ``input_transform``: see the module docstring. Extra keyword arguments (``workers``,
    ``use_multiprocessing``, ``max_queue_size``) go to :class:`keras.utils.PyDataset`.
    """

    def __init__(self, path, split: str, batch_size: int = 32, training: bool = False, augment: bool | None = None, seed: int = 0,
                 mask_fn: Callable | None = None, input_transform: Callable | None = None, epoch: int = 0, **kwargs):
        super().__init__(**kwargs)
        self.path, self.split, self.input_transform = Path(path), split, input_transform
        header = prepared.read_header(self.path)
        self.n, self.kspace_scale = header.n, header.kspace_scale
        self._setup(header.rows(split), batch_size, training, augment, seed, mask_fn, epoch, f"{self.path}: split {split!r}")
        # a split whose images fit in CACHE_BYTES (complex64) is read once, not once per batch
        small = len(self.rows) * 8 * self.n * self.n <= CACHE_BYTES
        self._cache = {int(r): i for i, r in enumerate(self.rows)} if small else None
        self._cached_images = prepared.read_rows(self.path, self.rows, ["images"])["images"] if small else None

    def load_rows(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Examples for file rows ``rows`` (any order) → ``(inputs, targets)`` in that order."""
        rows = np.asarray(rows)
        rebuild = self.augment or self.mask_fn is not None
        if rebuild and self._cache is not None:
            images = self._cached_images[[self._cache[int(r)] for r in rows]]
        elif rebuild:
            images = prepared.read_rows(self.path, rows, ["images"])["images"]
        else:
            inputs, targets = prepared.read_rows(self.path, rows).values()
        if rebuild:  # per-sample random draws, then one batched FFT
            crops, masks = [], []
            for image, row in zip(images, rows):
                rng = self.rng(row)
                crops.append(reflect_tile_crop(image, rng) if self.augment else image)
                mask = self.mask_fn(rng, self.n) if self.mask_fn is not None else None
                masks.append(np.ones(self.n, bool) if mask is None else np.broadcast_to(mask, (self.n, )))
            mask = np.stack(masks)[:, None, :] if self.mask_fn is not None else None
            inputs, targets = transforms.image_to_example(np.stack(crops), self.kspace_scale, mask)
        if self.input_transform is not None:
            inputs = self.input_transform(inputs)
        return inputs, targets

    batch_of = load_rows


class IndexBatches(EpochBatches):
    """Host side of the device pipeline: per-sample draws as small arrays, one dict per batch.

    ``rows``: the rows of the image bank this split uses (file rows of ``prepared.h5``); ``n``:
    the image size. ``training``, ``augment``, ``seed``, ``mask_fn``, ``epoch`` and the batching
    (shuffle per epoch, last incomplete batch dropped when training) are exactly those of
    :class:`PreparedDataset`; ``where`` names the rows in errors. Extra keyword arguments go to ``PyDataset``.
    """

    def __init__(self, rows, n: int, batch_size: int = 32, training: bool = False, augment: bool | None = None, seed: int = 0,
                 mask_fn: Callable | None = None, epoch: int = 0, where: str = "rows", **kwargs):
        super().__init__(**kwargs)
        rows = np.asarray(rows, dtype=np.int64)
        assert rows.ndim == 1, f"rows must be a 1-D list of row numbers, got shape {rows.shape}"
        self.n = int(n)
        self._setup(rows, batch_size, training, augment, seed, mask_fn, epoch, where)

    def draw(self, rows) -> dict:
        """The draws for bank rows ``rows``: ``{"index", "offset", "mask"}`` (see the module docstring)."""
        rows = np.asarray(rows)
        offset = np.zeros((len(rows), 2), np.int32)
        mask = np.ones((len(rows), self.n), np.float32)
        if self.augment or self.mask_fn is not None:
            for k, row in enumerate(rows):
                rng = self.rng(row)
                if self.augment:
                    offset[k] = crop_offset(rng, self.n, self.n)
                if self.mask_fn is not None:
                    mask[k] = column_mask(self.mask_fn(rng, self.n), self.n)
        return {"index": rows.astype(np.int32), "offset": offset, "mask": mask}

    batch_of = draw
    on_device = True


class ImageBank(keras.layers.Layer):
    """Device side: every image as one float32 variable ``(N, n, n, 2)``; batches built with ``keras.ops``.

    ``images``: complex ``(N, n, n)`` (or float ``(N, n, n, 2)`` as (real, imaginary));
    ``kspace_scale``: as in ``prepared.h5``. The layer computes in float32 whatever the global
    dtype policy (mixed bf16 casts at the model's first layer, as with the numpy pipeline).
    """

    def __init__(self, images, kspace_scale: float, **kwargs):
        kwargs.setdefault("name", "image_bank")
        super().__init__(dtype="float32", **kwargs)
        images = np.asarray(images)
        if np.iscomplexobj(images):
            images = np.stack([images.real, images.imag], axis=-1)
        if images.ndim != 4 or images.shape[1] != images.shape[2] or images.shape[3] != 2:
            raise ValueError(f"images must be complex (N, n, n) or float (N, n, n, 2), got shape {images.shape}")
        if not (np.isfinite(kspace_scale) and kspace_scale > 0):
            raise ValueError(f"kspace_scale must be a positive number, got {kspace_scale!r}")
        self.count, self.n = int(images.shape[0]), int(images.shape[1])
        self.kspace_scale = float(kspace_scale)
        self.images = keras.Variable(images.astype(np.float32), trainable=False, dtype="float32", name="images")
        n = self.n
        self._ifftshift = np.roll(np.arange(n), -(n // 2)).astype(np.int32)  # out[k] = in[(k + n//2) % n]
        self._fftshift = np.roll(np.arange(n), n // 2).astype(np.int32)  # out[k] = in[(k - n//2) % n]
        self.built = True

    @classmethod
    def from_prepared(cls, path) -> "ImageBank":
        """All images of ``prepared.h5`` (every split: bank row = file row)."""
        header = prepared.read_header(path, needs=("images", "split"))
        images = prepared.read_rows(path, None, ["images"])["images"]
        scale = header.kspace_scale
        return cls(images, scale)

    def _crop(self, batch, shifted: bool):
        """Crops of the reflection tiling for ``batch`` → float32 ``(B, n, n, 2)``.

        ``shifted``: return ``ifftshift`` of the crop (the FFT's input) instead of the crop.
        """
        n = self.n
        index = ops.cast(batch["index"], "int32")
        offset = ops.cast(batch["offset"], "int32")
        base = ops.convert_to_tensor(self._ifftshift if shifted else np.arange(n, dtype=np.int32))
        rows = offset[:, 0:1] + base[None, :]  # (B, n) positions in the 2n-long tiling
        cols = offset[:, 1:2] + base[None, :]
        rows = ops.where(rows < n, rows, 2 * n - 1 - rows)  # mirrored half
        cols = ops.where(cols < n, cols, 2 * n - 1 - cols)
        images = ops.reshape(ops.take(self.images, index, axis=0), (-1, 2))  # (B·n·n, 2)
        start = ops.arange(ops.shape(index)[0], dtype="int32") * (n * n)
        flat = start[:, None, None] + rows[:, :, None] * n + cols[:, None, :]  # (B, n, n)
        return ops.reshape(ops.take(images, ops.reshape(flat, (-1, )), axis=0), (-1, n, n, 2))

    def kspace(self, batch):
        """Model inputs: (real, imaginary) of ``fft2c(crop) · kspace_scale · mask``, ``(B, n, n, 2)``."""
        x = self._crop(batch, shifted=True)
        real, imag = ops.fft2((x[..., 0], x[..., 1]))
        shift = ops.convert_to_tensor(self._fftshift)
        scale = self.kspace_scale / self.n  # orthonormal: 1 / sqrt(n · n)
        mask = ops.cast(batch["mask"], "float32")[:, None, :] * scale
        real = ops.take(ops.take(real, shift, axis=1), shift, axis=2) * mask
        imag = ops.take(ops.take(imag, shift, axis=1), shift, axis=2) * mask
        return ops.stack([real, imag], axis=-1)

    def targets(self, batch):
        """Targets ``|crop|``, float32 ``(B, n, n, 1)``."""
        x = self._crop(batch, shifted=False)
        return ops.sqrt(ops.sum(ops.square(x), axis=-1, keepdims=True))

    def call(self, batch):
        return self.kspace(batch)


class PipelineModel(keras.Model):
    """Trains ``model`` on batches of :class:`IndexBatches`, building each example on the device.

    ``call(batch)`` returns ``(model(bank.kspace(batch)), bank.targets(batch))``; the loss and the
    metrics compare the two (the ``y`` a batch would carry is ignored; batches carry none). The
    targets come out of ``call`` because it is where every backend maps the variables (the JAX
    trainer empties them during ``fit``, so ``compute_metrics`` could not read the images).
    Variables: ``model``'s plus the bank's images (non-trainable).
    """

    def __init__(self, model: keras.Model, bank: ImageBank, **kwargs):
        kwargs.setdefault("name", f"{model.name}_device_pipeline")
        # float32: under a mixed policy the wrapper must not autocast the images or the masks;
        # the wrapped model casts its own inputs to its compute dtype
        super().__init__(dtype="float32", **kwargs)
        shape = tuple(model.input_shape[1:])
        if shape != (bank.n, bank.n, 2):
            raise ValueError(f"model input shape {shape} != the bank's k-space {(bank.n, bank.n, 2)}")
        self.inner, self.bank = model, bank
        self.built = True

    def call(self, batch, training=None):
        return self.inner(self.bank.kspace(batch), training=training), self.bank.targets(batch)

    def compute_loss(self, x=None, y=None, y_pred=None, sample_weight=None, training=True):
        prediction, targets = y_pred
        return super().compute_loss(x, targets, prediction, sample_weight, training=training)

    def compute_metrics(self, x, y, y_pred, sample_weight=None):
        prediction, targets = y_pred
        return super().compute_metrics(x, targets, prediction, sample_weight)


def wrap(model: keras.Model, bank: ImageBank, loss="mse", metrics=None, steps_per_execution: int = 1) -> PipelineModel:
    """A compiled :class:`PipelineModel` sharing the compiled ``model``'s optimizer object.

    Sharing the optimizer keeps one Adam state: saving ``model`` (with its optimizer) after
    training the wrapper saves what the wrapper trained. ``loss``/``metrics``: as for ``compile``.
    """
    if model.optimizer is None:
        raise ValueError("model must be compiled before it is wrapped (its optimizer is shared)")
    wrapper = PipelineModel(model, bank)
    wrapper.compile(optimizer=model.optimizer, loss=loss, metrics=metrics, steps_per_execution=steps_per_execution)
    return wrapper


def prepared_batches(path, split: str, batch_size: int = 32, training: bool = False, augment: bool | None = None, seed: int = 0,
                     mask_fn: Callable | None = None, input_transform: Callable | None = None, epoch: int = 0,
                     **kwargs) -> IndexBatches:
    """:class:`IndexBatches` over one split of ``prepared.h5``: the device twin of :class:`PreparedDataset`.

    Takes ``PreparedDataset``'s arguments; ``input_transform`` must be ``None``. The result also
    has ``kspace_scale`` and ``split``.
    """
    if input_transform is not None:
        raise ValueError("input_transform is a numpy hook: it cannot run with pipeline='device' "
                         "(use pipeline='numpy')")
    header = prepared.read_header(path, needs=("images", "split"))
    batches = IndexBatches(header.rows(split), header.n, batch_size, training=training, augment=augment, seed=seed, mask_fn=mask_fn,
                           epoch=epoch, where=f"{path}: split {split!r}", **kwargs)
    batches.kspace_scale, batches.split = header.kspace_scale, split
    return batches


#: the training input pipelines: name → the batches of one split of ``prepared.h5`` (the same arguments)
PIPELINES = {"numpy": PreparedDataset, "device": prepared_batches}


def examples(bank: ImageBank, batch: dict) -> tuple[np.ndarray, np.ndarray]:
    """``(inputs, targets)`` of one batch as numpy arrays (eagerly; for tests and inspection)."""
    return (keras.ops.convert_to_numpy(bank.kspace(batch)), keras.ops.convert_to_numpy(bank.targets(batch)))
