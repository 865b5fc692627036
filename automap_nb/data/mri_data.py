"""Reading fastMRI single-coil knee files (HDF5) and folders of them.

The schema (fastMRI, single-coil):

- ``kspace``: ``(slices, 640, W)`` complex64, centred; the readout axis (640) is 2× oversampled.
- ``reconstruction_esc``: ``(slices, 320, 320)`` float32, ``|centre-crop(ifft2c(kspace))|``
  (train/val files only); ``reconstruction_rss`` in files derived from multi-coil data.
- ``ismrmrd_header``: ISMRMRD XML with the encoding and recon matrix sizes.
- attributes ``acquisition``, ``max``, ``norm``, ``patient_id``; test/challenge files (undersampled)
  also a ``mask`` dataset (length W, the sampled columns; fastMRI's loader reads ``hf["mask"]``)
  and attributes ``acceleration``, ``num_low_frequency``.

Nothing is loaded eagerly: :func:`index_folder` reads shapes and headers, and
:func:`read_kspace_slice` reads one slice through h5py when it is needed. Every problem with a
file raises :class:`DataError` with a one-line message that names the file (and the slice).

What counts as implausible k-space (each a :class:`DataError` naming file and slice):

- NaN or Inf; a slice whose k-space is all zero;
- phase-encode columns that are entirely zero inside the central half of the k-space width: a fully
  sampled acquisition has noise everywhere, zeroed columns mean undersampled (test) data;
- one k-space sample holding more than :data:`MAX_SAMPLE_ENERGY_FRACTION` of its slice's energy
  (the DC sample of an MR slice holds 10-25 %; a corrupt huge value holds ~100 %);
- (per volume, :func:`check_slice_energies`) a slice with more than :data:`MAX_SLICE_ENERGY_RATIO`
  times the median energy of the volume's other slices: after the per-volume normalisation the other
  slices would be black.

What is refused before any array is read (each a :class:`DataError` naming the file):

- declared shapes beyond sane bounds (:func:`check_declared_shapes`): more than :data:`MAX_SLICES`
  slices, or a k-space or target axis longer than :data:`MAX_MATRIX` or than twice the header's encoded
  (k-space) or recon (target) size on that axis: a 8 KB file may declare a 300 GB dataset;
- datasets whose bytes are not in the file: HDF5 external storage, virtual datasets, external links
  (they would read files outside the data folder that the run's data fingerprint does not cover);
- a symbolic link loop or a broken link (named as such, not as a missing file).

A target slice (``reconstruction_esc``) with NaN or Inf is an error naming the file and slice.
"""

from __future__ import annotations

import errno
import os
import re
import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

ISMRMRD_NS = "http://www.ismrm.org/ISMRMRD"
TARGET_KEYS = ("reconstruction_esc", "reconstruction_rss")
RECON_SIZE = 320  # fastMRI knee reconstructions are RECON_SIZE × RECON_SIZE (the centre of the FFT)
UNDERSAMPLING_ATTRS = ("acceleration", "num_low_frequency", "mask")
STRING_ATTRS = ("acquisition", "patient_id")
MAX_SAMPLE_ENERGY_FRACTION = 0.9
MAX_SLICE_ENERGY_RATIO = 1e4
MAX_SLICES = 1024  # fastMRI volumes have 10-50 slices
MAX_MATRIX = 4096  # longest k-space or image axis accepted (fastMRI: 640 × 368 k-space, 320 × 320 targets)
MAX_HEADER_BYTES = 2**20  # an ISMRMRD header is a few KiB
# what h5py raises on unreadable or corrupt metadata (object headers, attributes, datatypes)
_H5_ERRORS = (OSError, KeyError, RuntimeError, ValueError, TypeError)


class DataError(ValueError):
    """A data folder or file that cannot be used. The message names the file (and slice)."""


@dataclass(frozen=True)
class VolumeInfo:
    """What :func:`read_volume_info` learns about one file without reading its arrays."""

    path: Path
    num_slices: int
    kspace_shape: tuple[int, int]
    target_key: str | None
    acquisition: str | None
    patient_id: str | None
    encoding_size: tuple[int, int, int]
    recon_size: tuple[int, int, int]
    padding_left: int
    padding_right: int
    attrs: dict = field(default_factory=dict, compare=False)
    undersampled: str | None = None  # why the file looks undersampled (a test/challenge file), else None

    @property
    def name(self) -> str:
        return self.path.name


def _text(root: ET.Element, path: str, where: str) -> str:
    query = "/".join(f"ns:{part}" for part in path.split("/"))
    node = root.find(query, {"ns": ISMRMRD_NS})
    if node is None or node.text is None:
        raise DataError(f"{where}: ismrmrd_header has no element {path!r}")
    return node.text.strip()


def _int(root: ET.Element, path: str, where: str) -> int:
    text = _text(root, path, where)
    try:
        return int(float(text))
    except ValueError:
        raise DataError(f"{where}: ismrmrd_header element {path!r} is not a number: {text!r}") from None


def parse_ismrmrd_header(xml: bytes | str, where: str = "header") -> dict:
    """Parse the fields of an ISMRMRD XML header that fastMRI uses.

    Returns ``encoding_size`` and ``recon_size`` as (x, y, z), and ``padding_left`` /
    ``padding_right``: the range of phase-encode columns actually acquired, computed as fastMRI
    does (``enc_y // 2 - center`` and ``padding_left + maximum + 1`` of
    ``encodingLimits/kspace_encoding_step_1``). ``where`` names the file in error messages.
    """
    try:
        root = ET.fromstring(xml)
    except (ET.ParseError, ValueError) as err:
        raise DataError(f"{where}: ismrmrd_header is not valid XML ({err})") from None
    enc = "encoding/encodedSpace/matrixSize"
    rec = "encoding/reconSpace/matrixSize"
    encoding_size = tuple(_int(root, f"{enc}/{axis}", where) for axis in "xyz")
    recon_size = tuple(_int(root, f"{rec}/{axis}", where) for axis in "xyz")
    limits = "encoding/encodingLimits/kspace_encoding_step_1"
    center = _int(root, f"{limits}/center", where)
    maximum = _int(root, f"{limits}/maximum", where)
    padding_left = encoding_size[1] // 2 - center
    return {
        "encoding_size": encoding_size, "recon_size": recon_size, "padding_left": padding_left,
        "padding_right": padding_left + maximum + 1
    }


def h5_reason(err: BaseException) -> str:
    """HDF5's own reason from an h5py error: the text in its outermost parentheses
    (``Unable to synchronously open file (file signature not found)`` → ``file signature not found``),
    else the whole message, on one line."""
    text = " ".join(str(err).split())
    found = re.search(r"\((.*)\)", text)
    reason = found.group(1) if found else text
    return reason or type(err).__name__


def missing_reason(path: str | Path, what: str = "file") -> str:
    """Why ``path`` cannot be opened although named: ``"is a symbolic link loop"``, ``"is a broken
    symbolic link (to …)"`` or ``"{what} does not exist"`` (``Path.exists`` says False for all three)."""
    path = Path(path)
    try:
        os.stat(path)
    except OSError as err:
        if err.errno == errno.ELOOP:
            return "is a symbolic link loop"
        if path.is_symlink():
            return f"is a broken symbolic link (to {os.readlink(path)})"
        return f"{what} does not exist"
    return f"{what} exists"


def _open(path: Path) -> h5py.File:
    if not path.exists():
        raise DataError(f"{path}: {missing_reason(path)}")
    if path.is_dir():
        raise DataError(f"{path}: is a folder, not an HDF5 file")
    try:
        return h5py.File(path, "r")
    except OSError as err:
        if isinstance(err, PermissionError):
            raise DataError(f"{path}: cannot be read (permission denied)") from None
        raise DataError(f"{path}: not a readable HDF5 file ({h5_reason(err)})") from None


def _attr(value, where: str = "file", key: str = "attribute"):
    if isinstance(value, bytes):
        try:
            return value.decode("utf-8")
        except UnicodeDecodeError:
            raise DataError(f"{where}: attribute {key!r} is not UTF-8 text: {value[:40]!r}") from None
    if isinstance(value, np.generic):
        return value.item()
    return value


def _read_attrs(f: h5py.File, where: str) -> dict:
    """The file's attributes as plain Python values; the ones the code uses must have their type."""
    attrs = {}
    for key in f.attrs.keys():
        try:
            value = f.attrs[key]
        except (*_H5_ERRORS, UnicodeDecodeError) as err:
            raise DataError(f"{where}: attribute {key!r} cannot be read ({h5_reason(err)})") from None
        attrs[key] = _attr(value, where, key)
    for key in STRING_ATTRS:
        value = attrs.get(key)
        if isinstance(value, np.ndarray) and value.size == 1:
            value = attrs[key] = _attr(value.reshape(-1)[0], where, key)
        if value is not None and not isinstance(value, str):
            raise DataError(f"{where}: attribute {key!r} must be text, got {type(value).__name__} {value!r:.40}")
    return attrs


def _header_bytes(f: h5py.File, path: Path) -> bytes | str:
    """The ``ismrmrd_header`` dataset as XML text (bytes scalar, str, or a one-element array)."""
    where = str(path)
    dataset = _dataset(f, "ismrmrd_header", path)
    if dataset.size * dataset.dtype.itemsize > MAX_HEADER_BYTES:
        raise DataError(f"{where}: 'ismrmrd_header' declares {dataset.shape} × {dataset.dtype}: not one XML text "
                        f"(at most {MAX_HEADER_BYTES} bytes)")
    value = dataset[()]
    if isinstance(value, np.ndarray) and value.size == 1:
        value = value.reshape(-1)[0]
    if isinstance(value, np.bytes_):
        value = bytes(value)
    if not isinstance(value, (bytes, str)):
        raise DataError(f"{where}: 'ismrmrd_header' must be XML text, got {type(value).__name__} "
                        f"of dtype {getattr(value, 'dtype', '?')}")
    return value


def _undersampling(f: h5py.File, attrs: dict) -> str | None:
    """Why a file is a test/challenge (undersampled) file, or None."""
    if "mask" in f:
        return "it has a 'mask' dataset"
    found = [key for key in UNDERSAMPLING_ATTRS if key in attrs]
    if found:
        return f"it has the attribute(s) {found}"
    return None


def read_volume_info(path: str | Path) -> VolumeInfo:
    """Check one file against the single-coil schema and return its :class:`VolumeInfo`.

    Reads shapes, dtypes, attributes and the header only. Raises :class:`DataError` for a missing
    or unreadable file, a missing ``kspace`` or ``ismrmrd_header``, a ``kspace`` that is not a
    complex array of rank 3, a target whose shape does not match, or a header that does not parse.
    """
    path = Path(path)
    with _open(path) as f:
        try:
            return _volume_info(f, path)
        except DataError:
            raise
        except _H5_ERRORS as err:  # corrupt object headers surface when a dataset is opened
            raise DataError(f"{path}: corrupt HDF5 metadata ({h5_reason(err)})") from None


def _dataset(f: h5py.File, key: str, path: Path) -> h5py.Dataset:
    """``f[key]``, refused unless it is a dataset whose bytes are in this file (no external link,
    no external storage, no virtual dataset): what a run reads is what its fingerprint covers."""
    if key not in f:
        raise DataError(f"{path}: no dataset {key!r}")
    if isinstance(f.get(key, getlink=True), h5py.ExternalLink):
        raise DataError(f"{path}: {key!r} is a link to another file ({f.get(key, getlink=True).filename}); refused")
    dataset = f[key]
    if not isinstance(dataset, h5py.Dataset):
        raise DataError(f"{path}: {key!r} is not a dataset")
    if dataset.external:
        raise DataError(f"{path}: {key!r} keeps its data outside the file (HDF5 external storage in "
                        f"{', '.join(sorted({str(e[0]) for e in dataset.external}))}); refused")
    if dataset.is_virtual:
        raise DataError(f"{path}: {key!r} is a virtual dataset (its data live in other files); refused")
    return dataset


def check_declared_shapes(path: Path, kspace_shape, target_key: str | None, target_shape, header: dict) -> None:
    """Refuse declared shapes beyond sane bounds before any read: at most :data:`MAX_SLICES` slices;
    each k-space axis at most :data:`MAX_MATRIX` and twice the header's encoded size on that axis,
    each target axis at most :data:`MAX_MATRIX` and twice the recon size."""
    if kspace_shape[0] > MAX_SLICES:
        raise DataError(f"{path}: 'kspace' declares {kspace_shape[0]} slices (at most {MAX_SLICES}): not a fastMRI volume")
    for key, shape, size, space in (("kspace", kspace_shape, header["encoding_size"], "encoded"), (target_key, target_shape,
                                                                                                   header["recon_size"], "recon")):
        if key is None:
            continue
        for axis, (length, declared) in enumerate(zip(shape[1:], size[:2])):
            limit = min(MAX_MATRIX, 2 * max(declared, 1))
            if length > limit:
                raise DataError(f"{path}: {key!r} declares shape {tuple(shape)}: axis {axis + 1} ({length}) exceeds {limit} "
                                f"(twice the header's {space} size {declared}, at most {MAX_MATRIX}); refused before reading")


def _volume_info(f: h5py.File, path: Path) -> VolumeInfo:
    kspace = _dataset(f, "kspace", path)
    if kspace.ndim == 4:
        raise DataError(f"{path}: 'kspace' must have rank 3 (slices, rows, columns) for single-coil data, got shape "
                        f"{kspace.shape}: a multi-coil file (fastMRI multicoil knee or brain, coils on axis 1); "
                        "use fastMRI's single-coil files (singlecoil_train, singlecoil_val)")
    if kspace.ndim != 3:
        raise DataError(f"{path}: 'kspace' must have rank 3 (slices, rows, columns) for single-coil data, "
                        f"got shape {kspace.shape}")
    if kspace.dtype.kind != "c":
        raise DataError(f"{path}: 'kspace' must be complex, got dtype {kspace.dtype}")
    if kspace.shape[0] == 0:
        raise DataError(f"{path}: 'kspace' has no slices")
    target_key = next((key for key in TARGET_KEYS if key in f), None)
    target_shape = None
    if target_key is not None:
        target = _dataset(f, target_key, path)
        if target.ndim != 3 or target.shape[0] != kspace.shape[0]:
            raise DataError(f"{path}: '{target_key}' shape {target.shape} does not match "
                            f"{kspace.shape[0]} k-space slices")
        target_shape = target.shape
    header = parse_ismrmrd_header(_header_bytes(f, path), where=str(path))
    check_declared_shapes(path, kspace.shape, target_key, target_shape, header)
    attrs = _read_attrs(f, str(path))
    return VolumeInfo(path=path, num_slices=int(kspace.shape[0]), kspace_shape=(int(kspace.shape[1]), int(kspace.shape[2])),
                      target_key=target_key, acquisition=attrs.get("acquisition"), patient_id=attrs.get("patient_id"), attrs=attrs,
                      undersampled=_undersampling(f, attrs), **header)


def index_folder(data_dir: str | Path, allow_undersampled: bool = False, what: str = "data folder") -> list[VolumeInfo]:
    """:func:`read_volume_info` for every ``*.h5`` file in ``data_dir`` (sorted by name).

    All files are checked before any work starts. Raises :class:`DataError` if the folder is
    missing or holds no ``.h5`` file, or names the first bad file (and how many others are bad).
    Undersampled (test/challenge) files are bad unless ``allow_undersampled``: AUTOMAP is trained
    and evaluated here on fully sampled k-space. ``what`` names the folder in errors (an option).
    """
    data_dir = Path(data_dir)
    if not data_dir.exists():
        raise DataError(f"{data_dir}: {missing_reason(data_dir, what)}")
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: {what} is a file, not a folder")
    files = sorted(p for p in data_dir.glob("*.h5") if not p.is_dir())
    if not files:
        raise DataError(f"{data_dir}: no .h5 files in the {what}")
    volumes, errors = [], []
    for path in files:
        try:
            info = read_volume_info(path)
        except DataError as err:
            errors.append(str(err))
            continue
        if info.undersampled and not allow_undersampled:
            errors.append(f"{path}: k-space is undersampled ({info.undersampled}): a fastMRI test/challenge "
                          "file without ground truth; use fully sampled files (singlecoil_train or singlecoil_val)")
            continue
        volumes.append(info)
    if errors:
        more = f" (and {len(errors) - 1} more bad file(s) in {data_dir})" if len(errors) > 1 else ""
        raise DataError(errors[0] + more)
    return volumes


def check_kspace_values(data: np.ndarray, where: str) -> None:
    """Raise :class:`DataError` (``where`` names file and slice) for implausible k-space: NaN/Inf,
    all zero, zeroed phase-encode columns in the central half (undersampled), or one sample holding
    more than :data:`MAX_SAMPLE_ENERGY_FRACTION` of the energy (corrupt values)."""
    if not np.all(np.isfinite(data)):
        raise DataError(f"{where}: 'kspace' contains NaN or Inf")
    energy = np.abs(data.astype(np.complex128))**2
    total = float(energy.sum())
    if total == 0:
        raise DataError(f"{where}: 'kspace' is all zero")
    width = data.shape[-1]
    central = energy[:, width // 4:width - width // 4]
    zero_columns = int(np.sum(central.max(axis=0) == 0))
    if zero_columns:
        raise DataError(f"{where}: {zero_columns} of {central.shape[1]} phase-encode columns in the central "
                        "half of k-space are all zero: undersampled (test/challenge) data or zeroed lines")
    peak = np.unravel_index(int(np.argmax(energy)), energy.shape)
    fraction = float(energy[peak]) / total
    if fraction > MAX_SAMPLE_ENERGY_FRACTION:
        raise DataError(f"{where}: one k-space sample at (row {peak[0]}, column {peak[1]}) holds {100 * fraction:.1f} % "
                        f"of the slice's energy (an MR slice's largest holds ~10-25 %): corrupt values")


def check_slice_energies(path: str | Path, energies) -> None:
    """Raise :class:`DataError` naming the file and slice when one slice's k-space energy exceeds
    :data:`MAX_SLICE_ENERGY_RATIO` times the median of the volume's other slices (a few corrupt but
    finite values would make every other slice black after the per-volume normalisation)."""
    energies = np.asarray(energies, np.float64)
    if len(energies) < 2:
        return
    for index in np.argsort(energies)[::-1][:1]:
        others = float(np.median(np.delete(energies, index)))
        ratio = energies[index] / others if others > 0 else np.inf
        if ratio > MAX_SLICE_ENERGY_RATIO:
            raise DataError(f"{path}, slice {int(index)}: k-space energy is {ratio:.3g} × the median of the "
                            f"volume's other slices (plausible: < {MAX_SLICE_ENERGY_RATIO:g} ×): corrupt values")


def _check_slice(info_or_path, index: int) -> tuple[Path, int]:
    path = info_or_path.path if isinstance(info_or_path, VolumeInfo) else Path(info_or_path)
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise DataError(f"{path}: slice index must be an integer, got {index!r}")
    return path, int(index)


def read_kspace_slice(volume: VolumeInfo | str | Path, index: int) -> np.ndarray:
    """One slice of ``kspace`` as complex64 ``(rows, columns)``, e.g. ``(640, 368)``.

    Raises :class:`DataError` naming the file and slice if the index is out of range, the data
    cannot be read (truncated file) or are implausible (:func:`check_kspace_values`).
    """
    path, index = _check_slice(volume, index)
    with _open(path) as f:
        dataset = _dataset(f, "kspace", path)
        if dataset.ndim != 3 or max(dataset.shape[1:]) > MAX_MATRIX:
            raise DataError(f"{path}: 'kspace' declares shape {dataset.shape}: not (slices, rows, columns) "
                            f"with at most {MAX_MATRIX} per axis; refused before reading")
        if not 0 <= index < dataset.shape[0]:
            raise DataError(f"{path}: slice {index} out of range (0..{dataset.shape[0] - 1})")
        try:
            data = dataset[index]
        except (OSError, ValueError) as err:
            raise DataError(f"{path}, slice {index}: cannot read 'kspace' ({h5_reason(err)})") from None
    check_kspace_values(data, f"{path}, slice {index}")
    return data.astype(np.complex64, copy=False)


def read_target_slice(volume: VolumeInfo | str | Path, index: int) -> np.ndarray | None:
    """One slice of the file's reconstruction target (``reconstruction_esc``), or None if absent.

    Raises :class:`DataError` naming the file and slice for a slice out of range, a declared shape
    beyond :data:`MAX_MATRIX`, unreadable data, or NaN/Inf values."""
    path, index = _check_slice(volume, index)
    with _open(path) as f:
        key = next((k for k in TARGET_KEYS if k in f), None)
        if key is None:
            return None
        dataset = _dataset(f, key, path)
        if dataset.ndim != 3 or max(dataset.shape[1:]) > MAX_MATRIX:
            raise DataError(f"{path}: {key!r} declares shape {dataset.shape}: not (slices, rows, columns) "
                            f"with at most {MAX_MATRIX} per axis; refused before reading")
        if not 0 <= index < dataset.shape[0]:
            raise DataError(f"{path}: slice {index} out of range (0..{dataset.shape[0] - 1})")
        try:
            data = np.asarray(dataset[index], dtype=np.float32)
        except (OSError, ValueError) as err:
            raise DataError(f"{path}, slice {index}: cannot read '{key}' ({h5_reason(err)})") from None
    if not np.all(np.isfinite(data)):
        raise DataError(f"{path}, slice {index}: {key!r} contains NaN or Inf")
    return data


def write_volume(path: str | Path, kspace: np.ndarray, reconstruction: np.ndarray, header: str, attrs: dict,
                 compression: dict | None = None) -> None:
    """Write one single-coil file in the schema above: ``kspace`` ``(S, 640, W)`` complex64,
    ``reconstruction_esc`` ``(S, 320, 320)`` float32, the ISMRMRD ``header`` and ``attrs``.
    ``compression``: h5py dataset options (e.g. gzip), applied per slice chunk; files are written
    reproducibly (no timestamps)."""
    with h5py.File(path, "w") as f:
        for key, data in (("kspace", kspace), ("reconstruction_esc", reconstruction)):
            options = dict(compression, chunks=(1, ) + data.shape[1:]) if compression else {}
            f.create_dataset(key, data=data, track_times=False, **options)
        f.create_dataset("ismrmrd_header", data=np.bytes_(header), track_times=False)
        f.attrs.update(attrs)


def folder_summary(volumes: list[VolumeInfo]) -> list[dict]:
    """One row per volume (name, slices, k-space shape, acquisition, encoding/recon sizes)."""
    return [{
        "volume": v.name, "slices": v.num_slices, "kspace": f"{v.kspace_shape[0]}×{v.kspace_shape[1]}", "acquisition": v.acquisition
        or "", "encoding": "×".join(map(str, v.encoding_size[:2])), "recon": "×".join(map(str, v.recon_size[:2])),
        "target": v.target_key or ""
    } for v in volumes]


def file_schema(path: str | Path) -> tuple[list[dict], dict]:
    """The datasets (name, shape, dtype) and attributes of one file, for display."""
    path = Path(path)
    with _open(path) as f:
        try:
            rows = [{"dataset": name, "shape": str(f[name].shape), "dtype": str(f[name].dtype)} for name in f.keys()
                    if isinstance(f[name], h5py.Dataset)]
        except _H5_ERRORS as err:
            raise DataError(f"{path}: corrupt HDF5 metadata ({h5_reason(err)})") from None
        attrs = _read_attrs(f, str(path))
    return rows, attrs
