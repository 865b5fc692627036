"""The paper's preprocessing (§3.1): fastMRI k-space → prepared (input, target) pairs at n × n.

Per slice: ``ifft2c(kspace)`` ``(640, W)`` → centre crop ``(320, 320)`` → Fourier downsampling to
``(n, n)`` (keeps the complex image) ; per volume: divide by the volume's largest magnitude, so
targets lie in [0, 1] and relative brightness between slices is kept. The network input is the
centred k-space of that downsampled complex image, times one dataset-wide ``kspace_scale``, as
(real, imaginary) channels. ``kspace_scale = 1 / RMS`` of the training images, which by Parseval
is also the RMS of their k-space, so the inputs have unit RMS over the training split.

:func:`prepare_dataset` writes the file :mod:`automap_nb.data.prepared` describes.
"""

from __future__ import annotations

import errno
import hashlib
import json
import os
import shutil
from pathlib import Path

import numpy as np
from tqdm import tqdm

from automap_nb import results
from automap_nb.data import mri_data, prepared, splits, transforms

CROP = mri_data.RECON_SIZE  # the paper crops to fastMRI's reconstruction grid


def preprocess_slice(kspace: np.ndarray, size: int, crop: int = CROP) -> np.ndarray:
    """k-space ``(rows, cols)`` → un-normalised complex64 image ``(size, size)``.

    ``downsample(center_crop(ifft2c(kspace), crop), size)``.
    """
    image = transforms.center_crop(transforms.ifft2c(kspace), (crop, crop))
    return transforms.downsample(image, size)


def _group(info: mri_data.VolumeInfo) -> str:
    return str(info.patient_id) if info.patient_id else info.name


def _check_fully_sampled(info: mri_data.VolumeInfo) -> None:
    if info.undersampled or "mask" in info.attrs or "acceleration" in info.attrs:
        raise mri_data.DataError(f"{info.path}: k-space is undersampled ({info.undersampled or 'mask/acceleration attribute'}: "
                                 "a test/challenge file); preparing training pairs needs fully sampled files")
    rows, cols = info.kspace_shape
    if rows < CROP or cols < CROP:
        raise mri_data.DataError(f"{info.path}: k-space {rows}×{cols} is smaller than the {CROP}×{CROP} crop")


FOLDER_OPTIONS = {"train": "--data-dir", "val": "--val-dir", "test": "--test-dir"}


def _index_folders(folders: dict) -> list[tuple[mri_data.VolumeInfo, str | None]]:
    """Every volume of every given folder with the split its folder fixes (None: hashed)."""
    seen: dict[Path, str] = {}
    for split, folder in folders.items():
        if folder is None:
            continue
        if not Path(folder).exists():  # before resolve(), which fails on a symbolic link loop
            what = f"{'data' if split == 'train' else split} folder ({FOLDER_OPTIONS[split]})"
            raise mri_data.DataError(f"{folder}: {mri_data.missing_reason(folder, what)}")
        resolved = Path(folder).resolve()
        if resolved in seen:
            raise ValueError(f"{FOLDER_OPTIONS[split]} {folder} is the same folder as {FOLDER_OPTIONS[seen[resolved]]}")
        seen[resolved] = split
    found, names, groups = [], {}, {}
    for split, folder in folders.items():
        if folder is None:
            continue
        fixed = None if split == "train" else split
        label = "data" if split == "train" else split
        for info in mri_data.index_folder(folder, what=f"{label} folder ({FOLDER_OPTIONS[split]})"):
            _check_fully_sampled(info)
            if info.name in names:
                raise mri_data.DataError(f"{info.path}: a file of the same name is in {FOLDER_OPTIONS[names[info.name]]} "
                                         f"({folders[names[info.name]]}); volume names must be unique")
            names[info.name] = split
            group = _group(info)
            if group in groups and groups[group][0] != split:
                other_split, other = groups[group]
                raise mri_data.DataError(f"{info.path}: patient {group!r} also has {other} in {FOLDER_OPTIONS[other_split]} "
                                         f"({folders[other_split]}); one patient's volumes must stay in one split")
            groups.setdefault(group, (split, info.name))
            found.append((info, fixed))
    return found


def _check_compact_size(folder, size: int) -> None:
    """Compact sample data (``automap-nb sample-data --compact``) keep only the k-space that prepared
    sizes up to ``sample_data.COMPACT_MAX_SIZE`` need: a larger ``size`` would silently prepare
    band-limited images, so it is refused in one line naming the folder."""
    from automap_nb.data import sample_data

    manifest = sample_data.read_manifest(folder) if folder is not None else None
    if manifest is not None and manifest.get("compact") and size > sample_data.COMPACT_MAX_SIZE:
        raise ValueError(f"{folder}: compact sample data serve prepared sizes up to {sample_data.COMPACT_MAX_SIZE}, got size "
                         f"{size}; rebuild it without --compact (automap-nb sample-data)")


def describe_sources(folders: dict, fractions) -> dict:
    """Where each split comes from, in words (for ``split_sources`` and the book)."""
    own = [s for s in ("val", "test") if folders.get(s) is not None]
    hashed = splits.fractions_for_training_folder(fractions, own)
    train_dir = Path(folders["train"]).resolve()
    out = {}
    for split, frac in zip(splits.SPLITS, hashed):
        if folders.get(split) is not None and split != "train":
            out[split] = f"every volume of {Path(folders[split]).resolve()}"
        elif own or frac < 1:
            out[split] = f"{100 * frac:.3g} % of the volumes of {train_dir} (by patient hash)"
        else:
            out[split] = f"every volume of {train_dir}"
    return out


def prepare_dataset(data_dir: str | Path, out_path: str | Path, size: int = 128, fractions=splits.DEFAULT_FRACTIONS,
                    progress: bool = True, val_dir: str | Path | None = None, test_dir: str | Path | None = None) -> dict:
    """Preprocess every slice of every file in ``data_dir`` (and ``val_dir``/``test_dir``) into
    ``out_path`` (HDF5).

    Splits: ``val_dir``/``test_dir``, when given, fill the val/test split with all their volumes;
    the splits without a folder are hashed out of ``data_dir`` (see :mod:`automap_nb.data.splits`).
    ``kspace_scale`` always comes from the training split. The output path is checked and every
    file is checked before anything is written; the output appears only when complete (temporary
    file + rename), and a failure leaves no file and no folder that was not there before.
    Returns a summary: counts per split, ``kspace_scale``, notes from the split assignment,
    ``sources`` (where each split came from) and ``fingerprint`` (of the prepared data).
    """
    if isinstance(size, bool) or not isinstance(size, (int, np.integer)) or not 2 <= size <= CROP:
        raise ValueError(f"size must be an integer in [2, {CROP}], got {size!r}")
    fractions = splits.check_fractions(fractions)
    for folder in (data_dir, val_dir, test_dir):
        _check_compact_size(folder, size)
    out_path = results.check_output_file(out_path, "output file")
    folders = {"train": data_dir, "val": val_dir, "test": test_dir}
    found = _index_folders(folders)
    volumes = [info for info, _ in found]
    own = [s for s in ("val", "test") if folders[s] is not None]
    hashed = [info for info, fixed in found if fixed is None]
    assignment, moved = splits.assign_splits([_group(v) for v in hashed], splits.fractions_for_training_folder(fractions, own))
    split_of = [fixed or assignment[_group(info)] for info, fixed in found]
    notes = [f"{', '.join(v.name for v in hashed if _group(v) == group)}: {note}" for group, note in moved.items()]
    sources = describe_sources(folders, fractions)
    _check_free_space(out_path, sum(v.num_slices for v in volumes), size)
    created = results.missing_parents(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    results.remove_stale_temporaries(out_path.parent, f".{out_path.name}.tmp-*")
    done = False
    try:
        try:
            with prepared.create(out_path, [v.name for v in volumes for _ in range(v.num_slices)],
                                 np.concatenate([np.arange(v.num_slices) for v in volumes]),
                                 [split for v, split in zip(volumes, split_of) for _ in range(v.num_slices)],
                                 size) as (f, images, targets):
                scale, fingerprint = _write_images(images, targets, volumes, split_of, size, progress)
                prepared.finish(
                    f, scale, {
                        "crop": CROP, "source_dir": str(
                            Path(data_dir).resolve()), "val_dir": str(Path(val_dir).resolve()) if val_dir is not None else "",
                        "test_dir": str(Path(test_dir).resolve()) if test_dir is not None else "",
                        "split_sources": json.dumps(sources),
                        "normalisation": "per-volume: complex image / max |image| of the volume", "split_fractions": json.dumps(
                            list(fractions)), "fingerprint": fingerprint
                    })
        except OSError as err:  # h5py's write errors (a full disk): name the file, one line
            if err.errno == errno.ENOSPC or "errno = 28" in str(err):
                raise results.OutputPathError(f"{out_path}: the disk of {out_path.parent} is full (no space left on device) "
                                              "while writing the prepared file; nothing was written") from None
            raise results.OutputPathError(f"{out_path}: cannot write the prepared file "
                                          f"({mri_data.h5_reason(err)})") from None
        done = True
    finally:
        if not done:
            results.remove_empty_folders(created)
    counts = {s: 0 for s in splits.SPLITS}
    volume_counts = {s: 0 for s in splits.SPLITS}
    for info, split in zip(volumes, split_of):
        counts[split] += info.num_slices
        volume_counts[split] += 1
    return dict(path=str(out_path), size=size, slices=counts, volumes=volume_counts, kspace_scale=scale, split_notes=notes,
                sources=sources, fingerprint=fingerprint)


def _check_free_space(out_path: Path, slices: int, size: int) -> None:
    """Refuse before any work when the disk cannot hold the prepared file (HDF5 can crash the
    process when a write fails half-way on a full disk)."""
    needed = slices * size * size * (8 + 4 + 8) + slices * 64 + 2**20  # images, targets, inputs, metadata
    existing = out_path.parent
    while not existing.exists():
        existing = existing.parent
    free = shutil.disk_usage(existing).free
    if free < needed * 1.1:
        raise results.OutputPathError(f"{out_path}: not enough free space on the disk of {existing} "
                                      f"(the prepared file needs about {needed / 2**20:.1f} MiB, {free / 2**20:.1f} MiB free)")


def _write_images(images, targets, volumes, split_of, size, progress) -> tuple[float, str]:
    """Fill the ``images`` and ``targets`` datasets volume by volume; return ``kspace_scale`` from the
    training images and a fingerprint (SHA-256 of the images, names, slices and splits)."""
    digest = hashlib.sha256(f"size={size};crop={CROP}".encode())
    row, train_sq, train_count = 0, 0.0, 0
    bar = tqdm(total=len(images), desc="prepare", unit="slice", disable=not progress)
    for info, split in zip(volumes, split_of):
        kspaces = [mri_data.read_kspace_slice(info, i) for i in range(info.num_slices)]
        mri_data.check_slice_energies(info.path, [np.sum(np.abs(k.astype(np.complex128))**2) for k in kspaces])
        stack = np.stack([preprocess_slice(k, size) for k in kspaces])
        del kspaces
        try:
            stack, _ = transforms.normalize(stack)
        except ValueError as err:
            raise mri_data.DataError(f"{info.path}: {err}") from None
        images[row:row + len(stack)] = stack
        targets[row:row + len(stack)] = np.abs(stack)[..., None]
        digest.update(os.fsencode(info.name) + f":{info.num_slices}:{split};".encode())  # any file name, byte for byte
        digest.update(np.ascontiguousarray(stack).tobytes())
        if split == "train":
            train_sq += float(np.sum(np.abs(stack)**2))
            train_count += stack.size
        row += len(stack)
        bar.update(len(stack))
    bar.close()
    if train_count == 0:
        raise ValueError("the training split is empty: cannot compute kspace_scale")
    return float(1.0 / np.sqrt(train_sq / train_count)), digest.hexdigest()[:16]
