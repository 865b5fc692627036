"""The seed's preprocessing (§3.1): fastMRI k-space → prepared (input, target) pairs at n × n.

Per slice: ``ifft2c(kspace)`` ``(640, W)`` → centre crop ``(320, 320)`` → Fourier downsampling to
``(n, n)`` (keeps the complex image) ; per volume: divide by the volume's largest magnitude, so
targets lie in [0, 1] and relative brightness between slices is kept. The network input is the
centred k-space of that downsampled complex image, times one dataset-wide ``kspace_scale``, as
(real, imaginary) channels. ``kspace_scale = 1 / RMS`` of the training images, which by Parseval
is also the RMS of their k-space, so the inputs have unit RMS over the training split.

:func:`prepare_dataset` writes the file described in CONTRIBUTING.md atomically (temp + rename).
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import h5py
import numpy as np
from tqdm import tqdm

from . import mri_data, splits, transforms

PREPARED_NAME = "prepared.h5"
CROP = 320


def preprocess_slice(kspace: np.ndarray, size: int, crop: int = CROP) -> np.ndarray:
    """k-space ``(rows, cols)`` → un-normalised complex64 image ``(size, size)``.

    ``downsample(center_crop(ifft2c(kspace), crop), size)``.
    """
    image = transforms.center_crop(transforms.ifft2c(kspace), (crop, crop))
    return transforms.downsample(image, size)


def _group(info: mri_data.VolumeInfo) -> str:
    return str(info.patient_id) if info.patient_id else info.name


def _check_fully_sampled(info: mri_data.VolumeInfo) -> None:
    if "mask" in info.attrs or "acceleration" in info.attrs:
        raise mri_data.DataError(
            f"{info.path}: k-space is undersampled (test/challenge file with a mask); "
            "preparing training pairs needs fully sampled files"
        )
    rows, cols = info.kspace_shape
    if rows < CROP or cols < CROP:
        raise mri_data.DataError(f"{info.path}: k-space {rows}×{cols} is smaller than the {CROP}×{CROP} crop")


def prepare_dataset(
    data_dir: str | Path,
    out_path: str | Path,
    size: int = 128,
    fractions=splits.DEFAULT_FRACTIONS,
    progress: bool = True,
) -> dict:
    """Preprocess every slice of every file in ``data_dir`` into ``out_path`` (HDF5).

    All files are checked before anything is written; the output appears only when complete.
    Returns a summary: counts per split, ``kspace_scale``, notes from the split assignment.
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 2 <= size <= CROP:
        raise ValueError(f"size must be an integer in [2, {CROP}], got {size!r}")
    volumes = mri_data.index_folder(data_dir)
    for info in volumes:
        _check_fully_sampled(info)
    assignment, moved = splits.assign_splits([_group(v) for v in volumes], fractions)
    notes = [f"{', '.join(v.name for v in volumes if _group(v) == group)}: {note}" for group, note in moved.items()]
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    tmp_path = out_path.with_name(f".{out_path.name}.tmp-{os.getpid()}")
    total = sum(v.num_slices for v in volumes)
    try:
        with h5py.File(tmp_path, "w") as f:
            scale = _write_images(f, volumes, assignment, size, total, progress)
            _write_inputs(f, scale, size)
            f.attrs.update({
                "size": size, "crop": CROP, "kspace_scale": scale,
                "source_dir": str(Path(data_dir).resolve()),
                "normalisation": "per-volume: complex image / max |image| of the volume",
                "split_fractions": json.dumps(list(splits.check_fractions(fractions))),
            })
        os.replace(tmp_path, out_path)
    finally:
        if tmp_path.exists():
            tmp_path.unlink()
    counts = {s: 0 for s in splits.SPLITS}
    for info in volumes:
        counts[assignment[_group(info)]] += info.num_slices
    volume_counts = {s: sum(assignment[_group(v)] == s for v in volumes) for s in splits.SPLITS}
    return {"path": str(out_path), "size": size, "slices": counts, "volumes": volume_counts,
            "kspace_scale": scale, "split_notes": notes}


def _write_images(f, volumes, assignment, size, total, progress) -> float:
    """Write images/targets/volume/slice/split; return kspace_scale from the training images."""
    images = f.create_dataset("images", (total, size, size), np.complex64, chunks=(1, size, size))
    targets = f.create_dataset("targets", (total, size, size, 1), np.float32, chunks=(1, size, size, 1))
    f.create_dataset("volume", data=np.array([v.name.encode() for v in volumes for _ in range(v.num_slices)]))
    f.create_dataset("slice", data=np.concatenate([np.arange(v.num_slices, dtype=np.int32) for v in volumes]))
    f.create_dataset("split", data=np.array(
        [assignment[_group(v)].encode() for v in volumes for _ in range(v.num_slices)]))
    row, train_sq, train_count = 0, 0.0, 0
    bar = tqdm(total=total, desc="prepare", unit="slice", disable=not progress)
    for info in volumes:
        stack = np.stack([preprocess_slice(mri_data.read_kspace_slice(info, i), size)
                          for i in range(info.num_slices)])
        try:
            stack, _ = transforms.normalize(stack)
        except ValueError as err:
            raise mri_data.DataError(f"{info.path}: {err}") from None
        images[row:row + len(stack)] = stack
        targets[row:row + len(stack)] = np.abs(stack)[..., None]
        if assignment[_group(info)] == "train":
            train_sq += float(np.sum(np.abs(stack) ** 2))
            train_count += stack.size
        row += len(stack)
        bar.update(len(stack))
    bar.close()
    if train_count == 0:
        raise ValueError("the training split is empty: cannot compute kspace_scale")
    return float(1.0 / np.sqrt(train_sq / train_count))


def _write_inputs(f, scale: float, size: int, chunk: int = 256) -> None:
    images = f["images"]
    inputs = f.create_dataset("inputs", (len(images), size, size, 2), np.float32, chunks=(1, size, size, 2))
    for start in range(0, len(images), chunk):
        batch = images[start:start + chunk]
        inputs[start:start + len(batch)] = transforms.image_to_example(batch, scale)[0]


def read_split(path: str | Path, split: str) -> dict:
    """Load one split of a prepared file into memory: ``images``, ``inputs``, ``targets``,
    ``volume`` (str), ``slice``, and the attribute ``kspace_scale``. For the small evaluation
    splits; training reads lazily through :mod:`automap_nb.training`."""
    if split not in splits.SPLITS:
        raise ValueError(f"split must be one of {splits.SPLITS}, got {split!r}")
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: prepared file does not exist (run chapter 02 or `automap-nb prepare`)")
    with h5py.File(path, "r") as f:
        index = np.flatnonzero(f["split"][()] == split.encode())
        out = {key: f[key][index] if len(index) else np.zeros((0,) + f[key].shape[1:], f[key].dtype)
               for key in ("images", "inputs", "targets", "slice")}
        out["volume"] = np.array([v.decode() for v in f["volume"][()][index]])
        out["kspace_scale"] = float(f.attrs["kspace_scale"])
    return out


def mean_target(path: str | Path, split: str = "train", chunk: int = 256) -> np.ndarray:
    """The mean target image ``(n, n)`` over one split, read in chunks (never the whole split).

    Predicting it for every input is the trivial baseline a learned model must beat.
    """
    with h5py.File(path, "r") as f:
        rows = np.flatnonzero(f["split"][()] == split.encode())
        if not len(rows):
            raise ValueError(f"{path}: the {split!r} split is empty")
        total = np.zeros(f["targets"].shape[1:3], np.float64)
        for start in range(0, len(rows), chunk):
            total += f["targets"][rows[start:start + chunk]][..., 0].sum(axis=0)
    return (total / len(rows)).astype(np.float32)
