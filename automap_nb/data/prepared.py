"""The prepared file, ``prepared.h5``: the one module that knows its datasets and attributes.

Datasets, one row per slice (``N`` rows, any mix of splits):

- ``images``  ``(N, n, n)`` complex64: the normalised complex image (unaugmented);
- ``targets`` ``(N, n, n, 1)`` float32: ``|images|``;
- ``inputs``  ``(N, n, n, 2)`` float32: (real, imaginary) of ``fft2c(images) · kspace_scale``
  (:func:`automap_nb.data.transforms.image_to_example` rebuilds a pair from an augmented or masked image);
- ``volume`` ``(N,)`` bytes (source file name, UTF-8; any name the file system allows), ``slice`` ``(N,)``
  int32, ``split`` ``(N,)`` bytes (``train``, ``val`` or ``test``, assigned per volume).

Attributes: ``size`` (n) and ``kspace_scale`` always; ``fingerprint`` (a hash of the content:
training refuses to resume on another file's data); files from fastMRI folders also keep ``crop``,
``source_dir``, ``val_dir``, ``test_dir``, ``split_sources`` (JSON), ``split_fractions`` and
``normalisation`` (:func:`automap_nb.data.prepare.prepare_dataset`). Every file is written atomically,
with its space reserved on disk before HDF5 writes any data: a full disk fails early and cleanly (:func:`create`).
An empty split reads as arrays with no rows.
"""

from __future__ import annotations

import errno
import io
import os
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from automap_nb.data import splits, transforms
from automap_nb.results import atomic_path

PREPARED_NAME = "prepared.h5"
META = ("volume", "slice", "split")


def encode_names(names) -> np.ndarray:
    """Volume names (str or bytes) as the ``volume`` dataset stores them: the file name's bytes (UTF-8 for
    UTF-8 names; any other name the file system allows byte for byte, :func:`os.fsencode`)."""
    return np.array([os.fsencode(v) if isinstance(v, str) else bytes(v) for v in names], dtype=bytes)


def decode_names(stored: np.ndarray) -> np.ndarray:
    """The ``volume`` dataset's bytes back as str (:func:`os.fsdecode`: the file's name as Python spells it)."""
    return np.array([os.fsdecode(bytes(v)) for v in stored], dtype=str)


@dataclass(frozen=True)
class Header:
    """What a reader needs before the arrays: ``n``, ``kspace_scale``, ``fingerprint`` (or None)
    and each row's split."""

    path: Path
    n: int
    kspace_scale: float
    fingerprint: str | None
    split: np.ndarray  # (N,) str

    def rows(self, split: str) -> np.ndarray:
        """File rows of ``split``, in file order."""
        return np.flatnonzero(self.split == split)


def _missing(path: Path) -> FileNotFoundError:
    return FileNotFoundError(f"{path}: prepared file does not exist (run chapter 02 or `automap-nb prepare`)")


def read_header(path: str | Path, needs=("images", "inputs", "targets", "split")) -> Header:
    """Check that ``path`` is a prepared file with the datasets ``needs`` and read its :class:`Header`."""
    path = Path(path)
    if not path.is_file():
        raise _missing(path)
    with h5py.File(path, "r") as f:
        missing = sorted(set(needs) - set(f))
        if missing:
            raise ValueError(f"{path}: not a prepared file, missing datasets {missing}")
        if "kspace_scale" not in f.attrs or "size" not in f.attrs:
            raise ValueError(f"{path}: not a prepared file, missing attribute 'size' or 'kspace_scale'")
        fingerprint = f.attrs.get("fingerprint")
        return Header(path, int(f.attrs["size"]), float(f.attrs["kspace_scale"]),
                      fingerprint.decode() if isinstance(fingerprint, bytes) else fingerprint, f["split"][()].astype(str))


def read_rows(path: str | Path, rows=None, keys=("inputs", "targets")) -> dict[str, np.ndarray]:
    """Datasets ``keys`` at file rows ``rows`` (any order; returned in that order), or whole (``None``)."""
    with h5py.File(path, "r") as f:
        if rows is None:
            return {key: f[key][()] for key in keys}
        rows = np.asarray(rows)
        sort = np.argsort(rows)  # h5py reads increasing indices only
        return {key: f[key][rows[sort]][np.argsort(sort)] for key in keys}


def read_split(path: str | Path, split: str, nonempty: bool = False) -> dict:
    """One split in memory: ``images``, ``inputs``, ``targets``, ``volume`` (str), ``slice`` and the
    attribute ``kspace_scale``. For the small evaluation splits; training reads batches lazily.
    An empty split reads as arrays with no rows; with ``nonempty``, it is a one-line ``ValueError``
    (for a chapter that needs the split)."""
    if split not in splits.SPLITS:
        raise ValueError(f"split must be one of {splits.SPLITS}, got {split!r}")
    header = read_header(path, needs=("images", "inputs", "targets", *META))
    index = header.rows(split)
    if nonempty and not len(index):
        raise ValueError(f"{path}: the {split} split is empty (prepare with a non-zero {split} fraction, or --{split}-dir)")
    with h5py.File(path, "r") as f:
        out = {
            key: f[key][index] if len(index) else np.zeros((0, ) + f[key].shape[1:], f[key].dtype)
            for key in ("images", "inputs", "targets", "slice")
        }
        out["volume"] = decode_names(f["volume"][()][index])
    out["kspace_scale"] = header.kspace_scale
    return out


def mean_target(path: str | Path, split: str = "train", chunk: int = 256) -> np.ndarray:
    """The mean target image ``(n, n)`` float32 over one split, read in chunks.

    Predicting it for every input is the trivial baseline a learned model must beat.
    """
    rows = read_header(path, needs=("targets", "split")).rows(split)
    if not len(rows):
        raise ValueError(f"{path}: the {split!r} split is empty")
    with h5py.File(path, "r") as f:
        total = np.zeros(f["targets"].shape[1:3], np.float64)
        for start in range(0, len(rows), chunk):
            total += f["targets"][rows[start:start + chunk]][..., 0].sum(axis=0)
    return (total / len(rows)).astype(np.float32)


def write(path: str | Path, images: np.ndarray, meta: dict, kspace_scale: float, attrs: dict) -> Path:
    """Write a prepared file from complex images ``(N, n, n)`` in memory, atomically.

    ``inputs`` and ``targets`` are built with ``kspace_scale``; ``meta``: ``volume``, ``slice`` and
    ``split`` arrays ``(N,)``, stored as bytes, int32 and bytes; ``attrs``: the file's attributes (``size`` and
    ``kspace_scale`` are set here). For files made from other images or another prepared file.
    """
    with create(path, meta["volume"], meta["slice"], meta["split"], images.shape[-1]) as (f, stored, targets):
        stored[...] = images
        targets[...] = np.abs(images).astype(np.float32)[..., None]
        finish(f, kspace_scale, attrs)
    return Path(path)


ROW_DATASETS = {"images": (np.complex64, ()), "targets": (np.float32, (1, )), "inputs": (np.float32, (2, ))}
METADATA_MARGIN = 2**20  # bytes reserved beyond the datasets for what HDF5 adds when filling them (attributes)


@contextmanager
def create(path: str | Path, volume, slice_index, split, n: int):
    """Stream a prepared file: yields the open file and its ``images`` ``(N, n, n)`` and ``targets``
    ``(N, n, n, 1)`` datasets to fill (``N = len(volume)``; ``volume``, ``slice_index`` and ``split``
    are written now). Call :func:`finish` inside the block; the file appears at ``path`` only if the
    block ends without an error.

    A full disk never reaches HDF5 half-way (HDF5 cannot close a file after a failed write and may
    crash the process at exit): the file's structure is built in memory, written to disk by Python,
    and the disk blocks of all its data are reserved (``posix_fallocate``) before HDF5 opens it to
    fill it; a full disk fails there, with ``OSError`` ENOSPC, before any data are written."""
    total = len(volume)
    shapes = {key: ((total, n, n, *tail), np.dtype(dtype)) for key, (dtype, tail) in ROW_DATASETS.items()}
    memory = io.BytesIO()
    with h5py.File(memory, "w") as f:
        for key, (shape, dtype) in shapes.items():
            _contiguous_dataset(f, key, shape, dtype)
        f.create_dataset("volume", data=encode_names(volume))
        f.create_dataset("slice", data=np.asarray(slice_index, np.int32))
        f.create_dataset("split", data=np.asarray(split, dtype=bytes))
    data_bytes = sum(int(np.prod(shape)) * dtype.itemsize for shape, dtype in shapes.values())
    with atomic_path(path) as tmp:
        with open(tmp, "wb") as handle:
            image = memory.getvalue()
            handle.write(image)
            _reserve_blocks(handle, len(image) + data_bytes + METADATA_MARGIN)
        with h5py.File(tmp, "r+") as f:
            yield f, f["images"], f["targets"]


def _contiguous_dataset(f: h5py.File, key: str, shape: tuple, dtype) -> None:
    """A contiguous dataset, allocated (at the file's end) when first written, with no fill value written."""
    dcpl = h5py.h5p.create(h5py.h5p.DATASET_CREATE)
    dcpl.set_fill_time(h5py.h5d.FILL_TIME_NEVER)
    h5py.h5d.create(f.id, key.encode(), h5py.h5t.py_create(dtype, logical=True), h5py.h5s.create_simple(shape), dcpl=dcpl).close()


def _reserve_blocks(handle, size: int) -> None:
    """Allocate the disk blocks of the open file ``handle`` up to ``size`` bytes (``OSError`` ENOSPC when
    the disk cannot hold them). File systems without ``fallocate`` keep the file as it is (no guarantee there)."""
    handle.flush()
    try:
        os.posix_fallocate(handle.fileno(), 0, size)
    except OSError as err:
        if err.errno not in (errno.EOPNOTSUPP, errno.EINVAL):
            raise


def finish(f: h5py.File, kspace_scale: float, attrs: dict, chunk: int = 256) -> None:
    """Fill ``inputs`` from the filled ``images`` of :func:`create`'s file, then write the attributes."""
    images, inputs = f["images"], f["inputs"]
    for start in range(0, len(images), chunk):
        batch = images[start:start + chunk]
        inputs[start:start + len(batch)] = transforms.image_to_example(batch, kspace_scale)[0]
    f.attrs.update({**attrs, "size": images.shape[-1], "kspace_scale": float(kspace_scale)})


def downsample(src: str | Path, dst: str | Path, size: int) -> Path:
    """Write a copy of prepared file ``src`` at a smaller grid ``size``; returns ``dst``.

    Images are Fourier-cropped (:func:`automap_nb.data.transforms.downsample`, which composes:
    cropping 320 → n → size equals cropping 320 → size) and renormalised per volume (max magnitude
    1); ``kspace_scale`` is recomputed as 1 / RMS of the training images.
    """
    src = Path(src)
    header = read_header(src, needs=("images", *META))
    if isinstance(size, bool) or not isinstance(size, int) or not 2 <= size <= header.n:
        raise ValueError(f"size must be an integer in [2, {header.n}] (the size of {src.name}), got {size!r}")
    with h5py.File(src, "r") as f:
        images = f["images"][()]
        meta = {k: f[k][()] for k in META}
        attrs = dict(f.attrs)
    small = transforms.downsample(images, size)
    for name in np.unique(meta["volume"]):
        rows = meta["volume"] == name
        small[rows], _ = transforms.normalize(small[rows])
    scale = float(1.0 / np.sqrt(np.mean(np.abs(small[meta["split"] == b"train"])**2)))
    return write(dst, small.astype(np.complex64), meta, scale,
                 {**attrs, "derived_from": f"{src.name} (size {header.n}) by Fourier cropping"})
