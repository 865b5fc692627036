"""The prepared file, ``prepared.h5``: the one module that knows its datasets and attributes.

Datasets, one row per slice (``N`` rows, any mix of splits):

- ``images``  ``(N, n, n)`` complex64: the normalised complex image (unaugmented);
- ``targets`` ``(N, n, n, 1)`` float32: ``|images|``;
- ``inputs``  ``(N, n, n, 2)`` float32: (real, imaginary) of ``fft2c(images) · kspace_scale``
  (:func:`automap_nb.data.transforms.image_to_example` rebuilds a pair from an augmented or masked image);
- ``volume`` ``(N,)`` bytes (source file name), ``slice`` ``(N,)`` int32, ``split`` ``(N,)`` bytes
  (``train``, ``val`` or ``test``, assigned per volume).

Attributes: ``size`` (n) and ``kspace_scale`` always; ``fingerprint`` (a hash of the content:
training refuses to resume on another file's data); files from fastMRI folders also keep ``crop``,
``source_dir``, ``val_dir``, ``test_dir``, ``split_sources`` (JSON), ``split_fractions`` and
``normalisation`` (:func:`automap_nb.data.prepare.prepare_dataset`). Every file is written atomically.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np

from automap_nb.data import splits, transforms
from automap_nb.results import atomic_path

PREPARED_NAME = "prepared.h5"
META = ("volume", "slice", "split")


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


def read_split(path: str | Path, split: str) -> dict:
    """One split in memory: ``images``, ``inputs``, ``targets``, ``volume`` (str), ``slice`` and the
    attribute ``kspace_scale``. For the small evaluation splits; training reads batches lazily."""
    if split not in splits.SPLITS:
        raise ValueError(f"split must be one of {splits.SPLITS}, got {split!r}")
    header = read_header(path, needs=("images", "inputs", "targets", *META))
    index = header.rows(split)
    with h5py.File(path, "r") as f:
        out = {
            key: f[key][index] if len(index) else np.zeros((0) + f[key].shape[1:], f[key].dtype)
            for key in ("images", "inputs", "targets", "slice")
        }
        out["volume"] = f["volume"][()][index].astype(str)
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


@contextmanager
def create(path: str | Path, volume, slice_index, split, n: int):
    """Stream a prepared file: yields the open file and its ``images`` ``(N, n, n)`` and ``targets``
    ``(N, n, n, 1)`` datasets to fill (``N = len(volume)``; ``volume``, ``slice_index`` and ``split``
    are written now). Call :func:`finish` inside the block; the file appears at ``path`` only if the
    block ends without an error."""
    with atomic_path(path) as tmp, h5py.File(tmp, "w") as f:
        total = len(volume)
        images = f.create_dataset("images", (total, n, n), np.complex64, chunks=(1, n, n))
        targets = f.create_dataset("targets", (total, n, n, 1), np.float32, chunks=(1, n, n, 1))
        f.create_dataset("volume", data=np.asarray(volume, dtype=bytes))
        f.create_dataset("slice", data=np.asarray(slice_index, np.int32))
        f.create_dataset("split", data=np.asarray(split, dtype=bytes))
        yield f, images, targets


def finish(f: h5py.File, kspace_scale: float, attrs: dict, chunk: int = 256) -> None:
    """Write ``inputs`` from the filled ``images`` of :func:`create`'s file, then the attributes."""
    images = f["images"]
    n = images.shape[-1]
    inputs = f.create_dataset("inputs", (len(images), n, n, 2), np.float32, chunks=(1, n, n, 2))
    for start in range(0, len(images), chunk):
        batch = images[start:start + chunk]
        inputs[start:start + len(batch)] = transforms.image_to_example(batch, kspace_scale)[0]
    f.attrs.update({**attrs, "size": n, "kspace_scale": float(kspace_scale)})


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
