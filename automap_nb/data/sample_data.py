"""The embedded default dataset: pseudo-subjects in the exact fastMRI single-coil file schema.

fastMRI needs a licence click and cannot be downloaded by the notebooks, so this module builds,
offline and deterministically, a folder of HDF5 files that any fastMRI single-coil reader accepts::

    from automap_nb.data.sample_data import build_sample_dataset
    paths = build_sample_dataset("data/sample", volumes=34, slices=10, seed=0)

or ``automap-nb sample-data --out data/sample --volumes 34 --slices 10``.

Anatomy
    Real MRI anatomy, not a phantom: the ICBM152 2009a nonlinear symmetric T1 template and its
    grey-/white-matter probability maps (1 mm, 197 × 233 × 189, skull-stripped) that nilearn's
    wheel bundles as package data (``nilearn.datasets.load_mni152_template`` and friends; they
    load from disk, no network). It is a *brain*, not a knee.

Pseudo-subjects
    Volume ``i`` (file ``file{1000000 + i}.h5``, ``i = 1 … volumes``) depends only on
    ``(seed, i)``: a seeded RNG draws an orientation (axial, coronal or sagittal), a small 3-D
    rotation, an anisotropic scaling, a smooth random displacement field (control points every
    40 mm, a few mm amplitude, cubic-spline interpolated), a smooth multiplicative bias field, a
    contrast (``CORPD_FBK`` proton-density-like or ``CORPDFS_FBK`` fat-suppressed-like, made by
    re-weighting the grey-matter / white-matter / CSF-and-rest tissue maps), a smooth phase map,
    an intensity scale and a noise level. Only the sampled slice planes are interpolated
    (``scipy.ndimage.map_coordinates``, order 1), never the whole deformed 3-D volume.

Geometry (as fastMRI single-coil knee)
    ``slices`` contiguous 3 mm slices through the central part of the brain. Each slice is
    sampled on a 320-row grid with 210 mm / 320 = 0.656 mm pixels, so the anatomy fills most of
    the 320 × 320 field of view; the grid is ``W`` columns wide with ``W`` drawn per volume from
    :data:`WIDTHS` (mostly 368, sometimes 356 or 372), so, as in fastMRI, the phase-encoding field
    of view is a little wider than the 320-column reconstruction. The complex slice is embedded in
    the central 320 rows of a 640-row image (the 2×-oversampled readout; other rows are empty apart
    from noise), multiplied by a smooth random phase, and

    - ``kspace`` = ``fft2c(image) + noise``, complex64 ``(slices, 640, W)``; the noise is circular
      complex Gaussian with ``E|n|² = σ²`` and, because the FFT is orthonormal, the same σ in the
      image domain; σ is 1–1.5 % (PD) or 1.5–2 % (PDFS) of the mean magnitude of the noiseless
      320 × 320 crop;
    - ``reconstruction_esc`` = ``|center_crop(ifft2c(kspace), (320, 320))|`` as float32, computed
      from the stored complex64 k-space.

Magnitudes
    The noiseless image of each volume is scaled so that its maximum magnitude is
    ``U(0.7, 2.0) × 1e-4``; hence ``reconstruction_esc.max()`` is of order 1e-4 (fastMRI:
    1e-4 … 1e-3). The median k-space magnitude is then about 5e-7 and the DC term about 5e-3.

File schema
    datasets ``kspace``, ``reconstruction_esc``, ``ismrmrd_header`` (ISMRMRD XML as a bytes
    scalar); attributes ``acquisition``, ``max`` (= ``reconstruction_esc.max()``), ``norm``
    (= ``np.linalg.norm(reconstruction_esc)``) and ``patient_id`` (64 hex digits derived from
    the generator version, the seed and ``i``). The header gives encodedSpace ``640 × W × 1``,
    reconSpace ``320 × 320 × 1`` and ``kspace_encoding_step_1`` limits ``0 … W − 1`` with centre
    ``W // 2``, so fastMRI's ``padding_left`` is 0 and ``padding_right`` is ``W``.

Compact storage (``compact=True``, ``--compact``; the GPU profile's data)
    Same schema, shapes and dtypes, and the same simulated volume, but k-space is kept only in the
    central :data:`COMPACT_ROWS` rows × :data:`COMPACT_COLUMNS` columns (zero elsewhere, as
    fastMRI's own files are zero outside the acquired phase-encode columns; the header's
    ``kspace_encoding_step_1`` limits say which columns, so fastMRI's ``padding_left`` is
    ``W // 2 − 96``), ``reconstruction_esc`` is recomputed from that k-space, and both datasets are
    stored with HDF5's standard gzip (level 1) and shuffle filters, one chunk per slice (any HDF5
    reader decompresses them transparently). Preparing at ``n ≤`` :data:`COMPACT_MAX_SIZE` needs only
    the central ``2n`` rows and ``n·W/320`` columns, so the prepared images differ from those of the
    full files by the noise outside the band (measured: 2.6e-4 of the image norm at n = 128, 1.1e-4 at
    64). On disk ≈ 0.77 MB per slice instead of ≈ 2.29 MB (3.0× less); writing costs ≈ 23 ms per
    slice more (gzip). Larger ``n`` would see a lower-resolution acquisition: use full files there.

Files are written atomically (temporary name, then ``os.replace``), existing ones are kept unless
``force=True``, and ``SAMPLE_DATA.json`` records the parameters and the template's provenance.
``workers > 1`` simulates volumes in that many processes (each file still depends only on
``(seed, i, slices, compact)``, so the files are byte-identical to a one-process build).
Pseudo-subjects of one template are strongly correlated: numbers measured on them describe the
pipeline, not generalisation to new patients.
"""

from __future__ import annotations

import functools
import hashlib
import importlib.metadata
import json
import os
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import h5py
import numpy as np
from scipy import ndimage

from automap_nb.checks import require_bool, require_dir, require_int
from automap_nb.data.mri_data import RECON_SIZE, write_volume
from automap_nb.data.transforms import center_crop, fft2c, ifft2c
from automap_nb.results import atomic_path, remove_stale_temporaries, write_text_atomic

__all__ = [
    "ACQUISITIONS", "COMPACT_COLUMNS", "COMPACT_MAX_SIZE", "COMPACT_ROWS", "GENERATOR_VERSION", "MANIFEST_NAME", "MAX_SLICES",
    "MAX_VOLUMES", "ORIENTATIONS", "TEMPLATE", "WIDTHS", "build_sample_dataset", "ismrmrd_header", "load_template", "read_manifest",
    "sample_file_name", "simulate_volume"
]

GENERATOR_VERSION = "1"
"""Bumped whenever the generated data change; it enters ``patient_id`` and the manifest."""

MANIFEST_NAME = "SAMPLE_DATA.json"
MAX_SLICES = 32
"""Most slices per volume: 32 × 3 mm stay within ±48 mm of the brain centre in every orientation."""
MAX_VOLUMES = 99_999
ORIENTATIONS = ("axial", "coronal", "sagittal")
ACQUISITIONS = ("CORPD_FBK", "CORPDFS_FBK")
WIDTHS = (356, 368, 372)
"""k-space widths drawn per volume with probabilities :data:`WIDTH_PROBABILITIES`."""
WIDTH_PROBABILITIES = (0.15, 0.7, 0.15)
COMPACT_ROWS = 320
"""k-space rows kept by ``compact=True`` (the central half of the 2×-oversampled readout)."""
COMPACT_COLUMNS = 192
"""k-space columns kept by ``compact=True`` (≥ the central half of every width in :data:`WIDTHS`,
so :func:`automap_nb.data.mri_data.check_kspace_values` sees no zeroed central column)."""
COMPACT_MAX_SIZE = 128
"""Largest prepared size ``n`` that compact files serve at full fidelity (needs 2n rows, n·W/320 columns)."""
MAX_WORKERS = 256
_COMPRESSION = {"compression": "gzip", "compression_opts": 1, "shuffle": True}

READOUT = 640  # k-space rows (2× oversampled readout)
CROP = RECON_SIZE  # the reconstruction grid of fastMRI files
FOV_MM = 210.0  # field of view of the 320 × 320 reconstruction
PIXEL_MM = FOV_MM / CROP
SLICE_MM = 3.0  # slice thickness = spacing (contiguous slices)
FIELD_STRENGTHS_T = (1.5, 3.0)
GYROMAGNETIC_HZ_PER_T = 42.577478e6

TEMPLATE = {
    "name": "ICBM152 2009a nonlinear symmetric (MNI152NLin2009aSym), as bundled in nilearn", "files": [
        "nilearn/datasets/data/mni_icbm152_t1_tal_nlin_sym_09a_converted.nii.gz",
        "nilearn/datasets/data/mni_icbm152_gm_tal_nlin_sym_09a_converted.nii.gz",
        "nilearn/datasets/data/mni_icbm152_wm_tal_nlin_sym_09a_converted.nii.gz"
    ], "loaders": [
        "nilearn.datasets.load_mni152_template(resolution=1)", "nilearn.datasets.load_mni152_gm_template(resolution=1)",
        "nilearn.datasets.load_mni152_wm_template(resolution=1)"
    ], "copyright": "Copyright (C) 1993-2009 Louis Collins, McConnell Brain Imaging Centre, "
    "Montreal Neurological Institute, McGill University",
    "licence": "MNI ICBM152 terms: use, copying, modification and distribution for any purpose "
    "without fee are permitted provided the copyright notice appears in all copies; provided "
    "'as is' without express or implied warranty (nilearn's dataset description lists the "
    "licence as 'unknown')", "url": "https://nist.mni.mcgill.ca/icbm-152-nonlinear-atlases-2009/",
    "references": ["Fonov et al., NeuroImage 47 (Suppl. 1) S102, 2009", "Fonov et al., NeuroImage 54(1) 313-327, 2011"]
}

_ISMRMRD_NS = "http://www.ismrm.org/ISMRMRD"

# Contrast: tissue weights (grey matter, white matter, CSF and the rest of the brain mask),
# each jittered per volume by ±8 %, and the noise level as a fraction of the mean image magnitude.
_CONTRASTS = {
    "CORPD_FBK": {"weights": (0.75, 0.50, 1.00), "noise": (0.010, 0.015)},
    "CORPDFS_FBK": {"weights": (0.50, 0.25, 1.00), "noise": (0.015, 0.020)}
}
# Orientation → template axes (voxel axes x: left→right, y: posterior→anterior, z: inferior→
# superior, 1 mm) of the image rows (u), the image columns (v) and the slice normal (w).
_ORIENTATION_AXES = {
    "axial": ((0, -1, 0), (-1, 0, 0), (0, 0, 1)), "coronal": ((0, 0, -1), (-1, 0, 0), (0, 1, 0)),
    "sagittal": ((0, 0, -1), (0, -1, 0), (1, 0, 0))
}
_FIELD_HALF_MM = 120.0  # the smooth random fields are defined on [-120, 120] mm around the centre
_DISPLACEMENT_NODES = 7  # control points per axis (40 mm apart)
_BIAS_NODES = 4
_SMOOTH_STEP = 8  # smooth fields are evaluated every 8 pixels, then bilinearly upsampled


def sample_file_name(index: int) -> str:
    """Name of volume ``index`` (1-based), fastMRI style: ``file1000001.h5`` for ``index=1``."""
    return f"file{1_000_000 + int(index)}.h5"


@functools.lru_cache(maxsize=1)
def load_template() -> dict[str, Any]:
    """Load the ICBM152 2009a template bundled with nilearn, once per process.

    Returns a dict with float32 arrays ``gm``, ``wm``, ``rest`` (CSF and the rest of the brain
    mask, ``clip(mask - gm - wm, 0, 1)``), each ``(197, 233, 189)`` on 1 mm voxels, the brain
    ``centre`` (voxel coordinates of the mask's centroid) and the ``nilearn_version``.
    No network access: the three images are package data of nilearn's wheel.
    """
    import nilearn
    from nilearn import datasets

    def as_array(img: Any) -> np.ndarray:
        return np.ascontiguousarray(np.asarray(img.get_fdata(dtype=np.float32)))

    t1 = as_array(datasets.load_mni152_template(resolution=1))
    gm = as_array(datasets.load_mni152_gm_template(resolution=1))
    wm = as_array(datasets.load_mni152_wm_template(resolution=1))
    if not (t1.shape == gm.shape == wm.shape):
        raise RuntimeError(f"nilearn template shapes differ: {t1.shape}, {gm.shape}, {wm.shape}")
    mask = (t1 > 0).astype(np.float32)
    mask = ndimage.gaussian_filter(mask, 0.7)  # soften the stair-cased mask edge
    gm = np.clip(gm, 0.0, 1.0)
    wm = np.clip(wm, 0.0, 1.0)
    rest = np.clip(mask - gm - wm, 0.0, 1.0).astype(np.float32)
    centre = np.argwhere(t1 > 0).mean(axis=0)
    for array in (gm, wm, rest):
        array.setflags(write=False)
    return {"gm": gm, "wm": wm, "rest": rest, "centre": centre, "nilearn_version": nilearn.__version__}


def _rotation(angles: np.ndarray) -> np.ndarray:
    """3 × 3 rotation matrix from angles (radians) about the three axes."""
    a, b, c = angles
    rx = np.array([[1, 0, 0], [0, np.cos(a), -np.sin(a)], [0, np.sin(a), np.cos(a)]])
    ry = np.array([[np.cos(b), 0, np.sin(b)], [0, 1, 0], [-np.sin(b), 0, np.cos(b)]])
    rz = np.array([[np.cos(c), -np.sin(c), 0], [np.sin(c), np.cos(c), 0], [0, 0, 1]])
    return rz @ ry @ rx


def _draw_volume_parameters(seed: int, index: int) -> dict[str, Any]:
    """Every random choice of volume ``index``, from an RNG seeded by ``(seed, index)`` only."""
    rng = np.random.default_rng([int(seed), int(index)])
    acquisition = ACQUISITIONS[int(rng.integers(len(ACQUISITIONS)))]
    contrast = _CONTRASTS[acquisition]
    return {
        "rng": rng,  # for the noise, drawn last
        "acquisition": acquisition,
        "orientation": ORIENTATIONS[int(rng.integers(len(ORIENTATIONS)))],
        "width": int(rng.choice(WIDTHS, p=WIDTH_PROBABILITIES)),
        "field_strength": float(rng.choice(FIELD_STRENGTHS_T)),
        "angles": np.clip(rng.normal(0.0, np.deg2rad(4.0), 3), -np.deg2rad(10), np.deg2rad(10)),
        "scales": rng.uniform(0.92, 1.08, 3),
        "slab_shift_mm": float(rng.uniform(-4.0, 4.0)),
        "displacement": rng.normal(0.0, rng.uniform(1.5, 3.5), (3, ) + (_DISPLACEMENT_NODES, ) * 3),
        "log_bias": rng.normal(0.0, 0.12, (_BIAS_NODES, ) * 3),
        "weights": np.asarray(contrast["weights"]) * rng.uniform(0.92, 1.08, 3),
        "noise_fraction": float(rng.uniform(*contrast["noise"])),
        "peak": float(rng.uniform(0.7, 2.0) * 1e-4),
        # phase = sum of c_k · monomial_k over normalised image coordinates in [-1, 1]
        "phase_offset": float(rng.uniform(-np.pi, np.pi)),
        "phase_linear": rng.normal(0.0, 0.5, 2),
        "phase_quadratic": rng.normal(0.0, 0.8, 3)
    }


def _smooth_field(nodes: np.ndarray, points: np.ndarray) -> np.ndarray:
    """Cubic-spline interpolation of a coarse grid over [-120, 120]³ mm at ``points`` (3, ...)."""
    n = nodes.shape[-1]
    coords = (points + _FIELD_HALF_MM) * ((n - 1) / (2 * _FIELD_HALF_MM))
    return ndimage.map_coordinates(nodes, coords, order=3, mode="nearest")


def _slice_grid(slices: int, width: int, shift_mm: float, step: int = 1) -> np.ndarray:
    """Subject coordinates (u, v, w) in mm of the sampled pixels, ``(3, slices, 320/step, W/step)``.
    """
    rows = (np.arange(0, CROP, step) - CROP // 2) * PIXEL_MM
    cols = (np.arange(0, width, step) - width // 2) * PIXEL_MM
    depth = (np.arange(slices) - (slices - 1) / 2) * SLICE_MM + shift_mm
    w, u, v = np.meshgrid(depth, rows, cols, indexing="ij")
    return np.stack([u, v, w])


def _upsample(coarse: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """Bilinear upsampling of ``(..., h, w)`` sampled every ``_SMOOTH_STEP`` pixels to ``shape``."""
    rows = np.arange(shape[0]) / _SMOOTH_STEP
    cols = np.arange(shape[1]) / _SMOOTH_STEP
    r, c = np.meshgrid(rows, cols, indexing="ij")
    flat = coarse.reshape((-1, ) + coarse.shape[-2:])
    out = np.stack([ndimage.map_coordinates(f, [r, c], order=1, mode="nearest") for f in flat])
    return out.reshape(coarse.shape[:-2] + tuple(shape))


def _magnitude(p: dict[str, Any], slices: int) -> np.ndarray:
    """Noiseless, unscaled magnitude of the pseudo-subject: float64 ``(slices, 320, W)``."""
    template = load_template()
    width = p["width"]
    axes = np.array(_ORIENTATION_AXES[p["orientation"]], dtype=float).T  # columns: u, v, w
    # subject point q (mm, template axes) ↦ template voxel  centre + Rᵀ q / s + d(q)
    linear = np.diag(1.0 / p["scales"]) @ _rotation(p["angles"]).T @ axes

    def subject_points(step: int) -> np.ndarray:
        grid = _slice_grid(slices, width, p["slab_shift_mm"], step)
        return np.tensordot(axes, grid, axes=1)

    coarse_q = subject_points(_SMOOTH_STEP)
    coarse_d = np.stack([_smooth_field(p["displacement"][k], coarse_q) for k in range(3)])
    coarse_bias = np.exp(_smooth_field(p["log_bias"], coarse_q))
    shape = (CROP, width)
    displacement = _upsample(coarse_d, shape)
    bias = _upsample(coarse_bias, shape)

    grid = _slice_grid(slices, width, p["slab_shift_mm"])
    coords = np.tensordot(linear, grid, axes=1) + displacement
    coords += template["centre"].reshape(3, 1, 1, 1)
    coords = coords.astype(np.float32)
    image = np.zeros((slices, ) + shape)
    for weight, key in zip(p["weights"], ("gm", "wm", "rest")):
        image += weight * ndimage.map_coordinates(template[key], coords, order=1, mode="constant")
    return image * bias


def _phase(p: dict[str, Any], slices: int) -> np.ndarray:
    """Smooth phase map over the whole 640 × W image: ``(slices, 640, W)`` (radians)."""
    width = p["width"]
    y = (np.arange(READOUT) - READOUT // 2) / (READOUT / 2)
    x = (np.arange(width) - width // 2) / (width / 2)
    yy, xx = np.meshgrid(y, x, indexing="ij")
    a, b = p["phase_linear"]
    c, d, e = p["phase_quadratic"]
    base = p["phase_offset"] + a * yy + b * xx + c * yy**2 + d * xx * yy + e * xx**2
    drift = 0.05 * (np.arange(slices) - (slices - 1) / 2)  # slow change along the slab
    return base[None] + drift[:, None, None]


def _patient_id(seed: int, index: int) -> str:
    """Deterministic 64-hex-digit ``patient_id`` of volume ``index`` of a build with ``seed``."""
    text = f"automap_nb.sample_data/{GENERATOR_VERSION}/{seed}/{index}"  # a fixed salt (the module's first name)
    return hashlib.sha256(text.encode()).hexdigest()


def simulate_volume(index: int, slices: int = 10, seed: int = 0, compact: bool = False) -> dict[str, Any]:
    """Simulate volume ``index`` (≥ 1) of the sample dataset in memory, without writing it.

    Returns a dict with ``kspace`` complex64 ``(slices, 640, W)``, ``reconstruction_esc``
    float32 ``(slices, 320, 320)``, the ``attrs`` of the file (``acquisition``, ``max``,
    ``norm``, ``patient_id``), ``orientation``, ``width`` and ``field_strength``. The result
    depends only on ``(seed, index, slices)``; the first ``k`` slices of a thinner slab are not
    those of a thicker one (the slab is centred). ``compact=True``: the same volume with k-space
    zeroed outside the central :data:`COMPACT_ROWS` × :data:`COMPACT_COLUMNS` and
    ``reconstruction_esc`` recomputed from it; ``acquired_columns`` gives the kept columns
    (``None`` for full files).
    """
    index = require_int("index", index, minimum=1, maximum=MAX_VOLUMES)
    slices = require_int("slices", slices, minimum=1, maximum=MAX_SLICES)
    seed = require_int("seed", seed, minimum=0)
    compact = require_bool("compact", compact)
    p = _draw_volume_parameters(seed, index)
    width = p["width"]
    magnitude = _magnitude(p, slices)
    magnitude *= p["peak"] / magnitude.max()
    image = np.zeros((slices, READOUT, width), dtype=np.complex128)
    top = READOUT // 2 - CROP // 2
    image[:, top:top + CROP, :] = magnitude
    image *= np.exp(1j * _phase(p, slices))
    sigma = p["noise_fraction"] * float(np.mean(center_crop(magnitude, CROP)))
    noise = p["rng"].standard_normal((2, ) + image.shape) * (sigma / np.sqrt(2.0))
    kspace = (fft2c(image) + noise[0] + 1j * noise[1]).astype(np.complex64)
    if compact:
        band = np.zeros_like(kspace)
        rows = slice(READOUT // 2 - COMPACT_ROWS // 2, READOUT // 2 + COMPACT_ROWS // 2)
        cols = slice(width // 2 - COMPACT_COLUMNS // 2, width // 2 + COMPACT_COLUMNS // 2)
        band[:, rows, cols] = kspace[:, rows, cols]
        kspace = band
    reconstruction = np.abs(center_crop(ifft2c(kspace), (CROP, CROP))).astype(np.float32)
    attrs = {
        "acquisition": p["acquisition"], "max": float(reconstruction.max()), "norm": float(np.linalg.norm(reconstruction)),
        "patient_id": _patient_id(seed, index)
    }
    return {
        "kspace": kspace, "reconstruction_esc": reconstruction, "attrs": attrs, "orientation": p["orientation"], "width": width,
        "field_strength": p["field_strength"], "acquired_columns": COMPACT_COLUMNS if compact else None
    }


def ismrmrd_header(width: int, slices: int, acquisition: str, field_strength: float = 3.0,
                   acquired_columns: int | None = None) -> bytes:
    """ISMRMRD XML header (UTF-8 bytes) of a sample volume with k-space ``(slices, 640, width)``.

    Elements follow the ISMRMRD schema order. encodedSpace matrixSize is ``640 × width × 1``,
    reconSpace ``320 × 320 × 1``; ``kspace_encoding_step_1`` runs ``0 … width − 1`` with centre
    ``width // 2``; fields of view follow from the 210 mm / 320 pixel size and 3 mm slices.
    ``acquired_columns`` (compact files): ``kspace_encoding_step_1`` runs ``0 … acquired_columns − 1``
    with centre ``acquired_columns // 2``, so fastMRI's padding puts them in the middle of the width.
    """

    def sub(parent: ET.Element, tag: str, text: object | None = None) -> ET.Element:
        element = ET.SubElement(parent, f"{{{_ISMRMRD_NS}}}{tag}")
        if text is not None:
            element.text = str(text)
        return element

    def triple(parent: ET.Element, tag: str, values: tuple[object, object, object]) -> None:
        element = sub(parent, tag)
        for axis, value in zip("xyz", values):
            sub(element, axis, value)

    def limit(parent: ET.Element, tag: str, minimum: int, maximum: int, centre: int) -> None:
        element = sub(parent, tag)
        sub(element, "minimum", minimum)
        sub(element, "maximum", maximum)
        sub(element, "center", centre)

    def mm(value: float) -> str:
        return f"{value:.4f}".rstrip("0").rstrip(".")

    root = ET.Element(f"{{{_ISMRMRD_NS}}}ismrmrdHeader")
    root.append(
        ET.Comment(f" automap_nb.data.sample_data {GENERATOR_VERSION}: synthetic pseudo-subject built from the "
                   "ICBM152 2009a nonlinear symmetric brain template (not a knee, not a patient) "))
    if acquired_columns is not None:
        root.append(
            ET.Comment(f" compact: k-space kept in the central {COMPACT_ROWS} rows x {acquired_columns} columns, "
                       "zero elsewhere "))
    measurement = sub(root, "measurementInformation")
    sub(measurement, "patientPosition", "HFS")
    sub(measurement, "protocolName", acquisition)
    system = sub(root, "acquisitionSystemInformation")
    sub(system, "systemFieldStrength_T", f"{field_strength:g}")
    sub(system, "receiverChannels", 1)
    conditions = sub(root, "experimentalConditions")
    sub(conditions, "H1resonanceFrequency_Hz", int(round(GYROMAGNETIC_HZ_PER_T * field_strength)))
    encoding = sub(root, "encoding")
    encoded = sub(encoding, "encodedSpace")
    triple(encoded, "matrixSize", (READOUT, width, 1))
    triple(encoded, "fieldOfView_mm", (mm(READOUT * PIXEL_MM), mm(width * PIXEL_MM), mm(SLICE_MM)))
    recon = sub(encoding, "reconSpace")
    triple(recon, "matrixSize", (CROP, CROP, 1))
    triple(recon, "fieldOfView_mm", (mm(FOV_MM), mm(FOV_MM), mm(SLICE_MM)))
    limits = sub(encoding, "encodingLimits")
    acquired = width if acquired_columns is None else int(acquired_columns)
    limit(limits, "kspace_encoding_step_1", 0, acquired - 1, acquired // 2)
    limit(limits, "kspace_encoding_step_2", 0, 0, 0)
    limit(limits, "slice", 0, slices - 1, slices // 2)
    sub(encoding, "trajectory", "cartesian")
    ET.indent(root)
    return ET.tostring(root, encoding="utf-8", xml_declaration=True, default_namespace=_ISMRMRD_NS)


def _write_volume(path: Path, volume: dict[str, Any], slices: int) -> None:
    """Write one volume's HDF5 file at ``path`` (a temporary name; the caller renames it)."""
    header = ismrmrd_header(volume["width"], slices, volume["attrs"]["acquisition"], volume["field_strength"],
                            volume.get("acquired_columns"))
    compression = _COMPRESSION if volume.get("acquired_columns") is not None else None
    write_volume(path, volume["kspace"], volume["reconstruction_esc"], header, volume["attrs"], compression)


def _check_existing(path: Path, seed: int, index: int, slices: int, compact: bool = False) -> None:
    """Raise if an existing volume file was not built with these parameters."""
    expected = _patient_id(seed, index)
    try:
        with h5py.File(path, "r") as hf:
            patient_id = hf.attrs.get("patient_id")
            shape = hf["kspace"].shape if "kspace" in hf else None
            is_compact = "kspace" in hf and hf["kspace"].compression is not None
    except OSError as error:
        raise ValueError(f"{path}: exists but cannot be read ({error}); pass force=True to rebuild") from error
    if isinstance(patient_id, bytes):
        patient_id = patient_id.decode()
    if patient_id != expected or shape is None or shape[0] != slices or is_compact != compact:
        raise ValueError(f"{path}: exists but was not built with seed={seed}, slices={slices}, "
                         f"compact={compact}, generator {GENERATOR_VERSION}; pass force=True to rebuild")


def _build_volume(path: Path, index: int, slices: int, seed: int, compact: bool) -> None:
    """Simulate volume ``index`` and write it to ``path`` atomically (also a worker's task)."""
    volume = simulate_volume(index, slices, seed, compact)
    with atomic_path(path) as tmp:
        _write_volume(tmp, volume, slices)


def _build_in_processes(todo: list[tuple[Path, int]], slices: int, seed: int, compact: bool, workers: int, progress: bool) -> None:
    """:func:`_build_volume` for every ``(path, index)`` of ``todo`` in ``workers`` forked processes.

    The first failure is re-raised after the volumes not yet started are cancelled; volumes that
    finished stay (each is complete: written under a temporary name and renamed).
    """
    import multiprocessing
    from concurrent.futures import FIRST_EXCEPTION, ProcessPoolExecutor, wait

    from tqdm import tqdm

    load_template()  # once, before forking: the workers share it
    context = multiprocessing.get_context("fork")
    with ProcessPoolExecutor(max_workers=min(workers, len(todo)), mp_context=context) as pool:
        futures = [pool.submit(_build_volume, path, index, slices, seed, compact) for path, index in todo]
        bar = tqdm(total=len(futures), desc="sample data", unit="volume", disable=not progress)
        pending = set(futures)
        try:
            while pending:
                done, pending = wait(pending, return_when=FIRST_EXCEPTION)
                bar.update(len(done))
                for future in done:
                    future.result()  # re-raises a worker's error
        except BaseException:
            for future in pending:
                future.cancel()
            raise
        finally:
            bar.close()


def read_manifest(folder) -> dict | None:
    """The sample data's manifest (:data:`MANIFEST_NAME`) in ``folder`` as a dict, or ``None`` when the
    folder has none (a fastMRI folder). A manifest that cannot be read is a one-line ``ValueError``."""
    path = Path(folder) / MANIFEST_NAME
    if not path.is_file():
        return None
    try:
        manifest = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ValueError(f"{path}: unreadable sample-data manifest ({err})") from None
    if not isinstance(manifest, dict):
        raise ValueError(f"{path}: unreadable sample-data manifest (not a JSON object)")
    return manifest


def build_sample_dataset(out_dir: str | os.PathLike[str], volumes: int = 16, slices: int = 10, seed: int = 0, force: bool = False,
                         progress: bool = True, compact: bool = False, workers: int = 1) -> list[Path]:
    """Write the sample dataset: ``volumes`` fastMRI single-coil files in ``out_dir``.

    Files are ``out_dir/file{1000000 + i}.h5`` for ``i = 1 … volumes`` (``file1000001.h5`` …);
    each holds ``kspace`` complex64 ``(slices, 640, W)`` with ``W`` in :data:`WIDTHS`,
    ``reconstruction_esc`` float32 ``(slices, 320, 320)`` with a maximum of order 1e-4, the
    ``ismrmrd_header`` and the attributes ``acquisition``, ``max``, ``norm``, ``patient_id``
    (see the module docstring). Volume ``i`` depends only on ``(seed, i, slices)``, so a larger
    ``volumes`` extends a smaller build, and one seed gives byte-identical files.

    Existing files are kept (after checking that they were built with the same seed, slices and
    generator version; otherwise ``ValueError``) unless ``force=True``. Each file and the manifest
    ``SAMPLE_DATA.json`` are written to a temporary name and renamed, so an interrupted build
    leaves no partial file. Returns the paths of all ``volumes`` files, in order.
    ``compact=True`` writes compact files (module docstring: same schema, ≈ 3× less disk, for
    prepared sizes up to :data:`COMPACT_MAX_SIZE`); a folder holds one kind or the other.
    ``workers``: processes that simulate and write volumes in parallel (forked after the template
    is loaded, so it is shared); the files do not depend on it.

    Raises ``ValueError`` (naming the parameter) for ``volumes`` outside ``1 … 99999``,
    ``slices`` outside ``1 … 32``, a negative ``seed``, non-bool ``force``/``progress``/``compact``,
    ``workers`` outside ``1 …`` :data:`MAX_WORKERS` or an ``out_dir`` that is not a folder path.
    """
    volumes = require_int("volumes", volumes, minimum=1, maximum=MAX_VOLUMES)
    slices = require_int("slices", slices, minimum=1, maximum=MAX_SLICES)
    seed = require_int("seed", seed, minimum=0)
    force = require_bool("force", force)
    progress = require_bool("progress", progress)
    compact = require_bool("compact", compact)
    workers = require_int("workers", workers, minimum=1, maximum=MAX_WORKERS)
    out = require_dir("out_dir", out_dir, must_exist=False)
    remove_stale_temporaries(out)

    from tqdm import tqdm

    paths = [out / sample_file_name(i) for i in range(1, volumes + 1)]
    todo = []
    for index, path in enumerate(paths, 1):
        if path.exists() and not force:
            _check_existing(path, seed, index, slices, compact)
        else:
            todo.append((path, index))
    if workers == 1 or len(todo) <= 1:
        for path, index in tqdm(todo, desc="sample data", unit="volume", disable=not progress):
            _build_volume(path, index, slices, seed, compact)
    else:
        _build_in_processes(todo, slices, seed, compact, workers, progress)

    manifest = {
        "generator": "automap_nb.data.sample_data", "generator_version": GENERATOR_VERSION, "seed": seed, "volumes": volumes,
        "slices": slices, "compact": compact, "files": [path.name for path in paths],
        "schema": "fastMRI single-coil: kspace (slices, 640, W) complex64, reconstruction_esc "
        "(slices, 320, 320) float32, ismrmrd_header; attrs acquisition, max, norm, patient_id",
        "anatomy": "brain (not knee); pseudo-subjects of one template are strongly correlated",
        "template": dict(TEMPLATE, nilearn_version=importlib.metadata.version("nilearn"))
    }
    text = json.dumps(manifest, indent=2) + "\n"
    write_text_atomic(out / MANIFEST_NAME, text)
    return paths
