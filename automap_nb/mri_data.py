"""Reading fastMRI single-coil knee files (HDF5) and folders of them.

The schema (fastMRI, single-coil):

- ``kspace``: ``(slices, 640, W)`` complex64, centred; the readout axis (640) is 2× oversampled.
- ``reconstruction_esc``: ``(slices, 320, 320)`` float32, ``|centre-crop(ifft2c(kspace))|``
  (train/val files only); ``reconstruction_rss`` in files derived from multi-coil data.
- ``ismrmrd_header``: ISMRMRD XML with the encoding and recon matrix sizes.
- attributes ``acquisition``, ``max``, ``norm``, ``patient_id``; test files also ``mask``,
  ``acceleration``, ``num_low_frequency``.

Nothing is loaded eagerly: :func:`index_folder` reads shapes and headers, and
:func:`read_kspace_slice` reads one slice through h5py when it is needed. Every problem with a
file raises :class:`DataError` with a one-line message that names the file (and the slice).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field
from pathlib import Path

import h5py
import numpy as np

ISMRMRD_NS = "http://www.ismrm.org/ISMRMRD"
TARGET_KEYS = ("reconstruction_esc", "reconstruction_rss")


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
    except ET.ParseError as err:
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
        "encoding_size": encoding_size,
        "recon_size": recon_size,
        "padding_left": padding_left,
        "padding_right": padding_left + maximum + 1,
    }


def _open(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except OSError as err:
        reason = str(err).split("(")[0].strip() or type(err).__name__
        raise DataError(f"{path}: not a readable HDF5 file ({reason})") from None


def _attr(value):
    if isinstance(value, bytes):
        return value.decode("utf-8", "replace")
    if isinstance(value, np.generic):
        return value.item()
    return value


def read_volume_info(path: str | Path) -> VolumeInfo:
    """Check one file against the single-coil schema and return its :class:`VolumeInfo`.

    Reads shapes, dtypes, attributes and the header only. Raises :class:`DataError` for a missing
    or unreadable file, a missing ``kspace`` or ``ismrmrd_header``, a ``kspace`` that is not a
    complex array of rank 3, a target whose shape does not match, or a header that does not parse.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: file does not exist")
    with _open(path) as f:
        if "kspace" not in f:
            raise DataError(f"{path}: no dataset 'kspace'")
        kspace = f["kspace"]
        if not isinstance(kspace, h5py.Dataset):
            raise DataError(f"{path}: 'kspace' is not a dataset")
        if kspace.ndim != 3:
            raise DataError(
                f"{path}: 'kspace' must have rank 3 (slices, rows, columns) for single-coil data, "
                f"got shape {kspace.shape}"
            )
        if kspace.dtype.kind != "c":
            raise DataError(f"{path}: 'kspace' must be complex, got dtype {kspace.dtype}")
        if kspace.shape[0] == 0:
            raise DataError(f"{path}: 'kspace' has no slices")
        target_key = next((key for key in TARGET_KEYS if key in f), None)
        if target_key is not None:
            target = f[target_key]
            if target.ndim != 3 or target.shape[0] != kspace.shape[0]:
                raise DataError(
                    f"{path}: '{target_key}' shape {target.shape} does not match "
                    f"{kspace.shape[0]} k-space slices"
                )
        if "ismrmrd_header" not in f:
            raise DataError(f"{path}: no dataset 'ismrmrd_header'")
        header = parse_ismrmrd_header(f["ismrmrd_header"][()], where=str(path))
        attrs = {key: _attr(value) for key, value in f.attrs.items()}
        return VolumeInfo(
            path=path,
            num_slices=int(kspace.shape[0]),
            kspace_shape=(int(kspace.shape[1]), int(kspace.shape[2])),
            target_key=target_key,
            acquisition=attrs.get("acquisition"),
            patient_id=attrs.get("patient_id"),
            attrs=attrs,
            **header,
        )


def index_folder(data_dir: str | Path) -> list[VolumeInfo]:
    """:func:`read_volume_info` for every ``*.h5`` file in ``data_dir`` (sorted by name).

    Raises :class:`DataError` if the folder is missing or holds no ``.h5`` file, or on the first
    bad file (all files are checked before any work starts).
    """
    data_dir = Path(data_dir)
    if not data_dir.is_dir():
        raise DataError(f"{data_dir}: data folder does not exist")
    files = sorted(p for p in data_dir.glob("*.h5") if p.is_file())
    if not files:
        raise DataError(f"{data_dir}: no .h5 files in the data folder")
    return [read_volume_info(path) for path in files]


def _check_slice(info_or_path, index: int) -> tuple[Path, int]:
    path = info_or_path.path if isinstance(info_or_path, VolumeInfo) else Path(info_or_path)
    if isinstance(index, bool) or not isinstance(index, (int, np.integer)):
        raise DataError(f"{path}: slice index must be an integer, got {index!r}")
    return path, int(index)


def read_kspace_slice(volume: VolumeInfo | str | Path, index: int) -> np.ndarray:
    """One slice of ``kspace`` as complex64 ``(rows, columns)``, e.g. ``(640, 368)``.

    Raises :class:`DataError` naming the file and slice if the index is out of range, the data
    cannot be read (truncated file) or contain NaN or Inf.
    """
    path, index = _check_slice(volume, index)
    with _open(path) as f:
        if "kspace" not in f:
            raise DataError(f"{path}: no dataset 'kspace'")
        dataset = f["kspace"]
        if not 0 <= index < dataset.shape[0]:
            raise DataError(f"{path}: slice {index} out of range (0..{dataset.shape[0] - 1})")
        try:
            data = dataset[index]
        except (OSError, ValueError) as err:
            raise DataError(f"{path}, slice {index}: cannot read 'kspace' ({err})") from None
    if not np.all(np.isfinite(data)):
        raise DataError(f"{path}, slice {index}: 'kspace' contains NaN or Inf")
    return data.astype(np.complex64, copy=False)


def read_target_slice(volume: VolumeInfo | str | Path, index: int) -> np.ndarray | None:
    """One slice of the file's reconstruction target (``reconstruction_esc``), or None if absent."""
    path, index = _check_slice(volume, index)
    with _open(path) as f:
        key = next((k for k in TARGET_KEYS if k in f), None)
        if key is None:
            return None
        dataset = f[key]
        if not 0 <= index < dataset.shape[0]:
            raise DataError(f"{path}: slice {index} out of range (0..{dataset.shape[0] - 1})")
        try:
            return np.asarray(dataset[index], dtype=np.float32)
        except (OSError, ValueError) as err:
            raise DataError(f"{path}, slice {index}: cannot read '{key}' ({err})") from None


def folder_summary(volumes: list[VolumeInfo]) -> list[dict]:
    """One row per volume (name, slices, k-space shape, acquisition, encoding/recon sizes)."""
    return [
        {
            "volume": v.name,
            "slices": v.num_slices,
            "kspace": f"{v.kspace_shape[0]}×{v.kspace_shape[1]}",
            "acquisition": v.acquisition or "",
            "encoding": "×".join(map(str, v.encoding_size[:2])),
            "recon": "×".join(map(str, v.recon_size[:2])),
            "target": v.target_key or "",
        }
        for v in volumes
    ]


def file_schema(path: str | Path) -> tuple[list[dict], dict]:
    """The datasets (name, shape, dtype) and attributes of one file, for display."""
    path = Path(path)
    with _open(path) as f:
        rows = [{"dataset": name, "shape": str(f[name].shape), "dtype": str(f[name].dtype)}
                for name in f.keys() if isinstance(f[name], h5py.Dataset)]
        attrs = {key: _attr(value) for key, value in f.attrs.items()}
    return rows, attrs
