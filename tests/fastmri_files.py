"""An independent writer of fastMRI single-coil files for the tests.

Written from the schema in the fastMRI paper and facts.md, deliberately not through
``automap_nb.data.sample_data``: it plays the part of "a file written by someone else". Its header
mimics a real knee file (encoding 640 × 372 with a k-space of width 368, padding 4…372).
"""

from __future__ import annotations

from pathlib import Path

import h5py
import numpy as np

HEADER = """<?xml version="1.0" encoding="utf-8"?>
<ismrmrdHeader xmlns="http://www.ismrm.org/ISMRMRD" xmlns:xs="http://www.w3.org/2001/XMLSchema">
  <encoding>
    <trajectory>cartesian</trajectory>
    <encodedSpace>
      <matrixSize><x>640</x><y>{enc_y}</y><z>1</z></matrixSize>
      <fieldOfView_mm><x>280</x><y>140</y><z>4.5</z></fieldOfView_mm>
    </encodedSpace>
    <reconSpace>
      <matrixSize><x>320</x><y>320</y><z>1</z></matrixSize>
      <fieldOfView_mm><x>140</x><y>140</y><z>3</z></fieldOfView_mm>
    </reconSpace>
    <encodingLimits>
      <kspace_encoding_step_1><minimum>0</minimum><maximum>{maximum}</maximum><center>{center}</center></kspace_encoding_step_1>
      <kspace_encoding_step_2><minimum>0</minimum><maximum>0</maximum><center>0</center></kspace_encoding_step_2>
      <slice><minimum>0</minimum><maximum>{last_slice}</maximum><center>0</center></slice>
    </encodingLimits>
  </encoding>
</ismrmrdHeader>
"""


def ifft2c(k):
    return np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))


def fft2c(x):
    return np.fft.fftshift(np.fft.fft2(np.fft.ifftshift(x, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))


def phantom_slices(slices: int, width: int, seed: int) -> np.ndarray:
    """Complex images (slices, 640, width): ellipses in the central 320 rows, smooth phase."""
    rng = np.random.default_rng(seed)
    rows, cols = np.mgrid[-320:320, -(width // 2):width - width // 2].astype(np.float32)
    images = np.zeros((slices, 640, width), np.complex64)
    for s in range(slices):
        img = np.zeros((640, width), np.float32)
        for _ in range(5):
            cy, cx = rng.uniform(-80, 80, 2)
            ay, ax = rng.uniform(20, 120, 2)
            img += rng.uniform(0.2, 1.0) * (((rows - cy) / ay)**2 + ((cols - cx) / ax)**2 < 1)
        phase = 0.5 * (rows / 320) + 0.3 * (cols / width) + rng.uniform(-1, 1)
        images[s] = img * np.exp(1j * phase)
    return images


def write_fastmri_file(path: Path, slices: int = 3, width: int = 368, seed: int = 0, acquisition: str = "CORPD_FBK",
                       patient_id: str | None = None) -> Path:
    """Write a fully sampled single-coil training file in the fastMRI schema."""
    images = phantom_slices(slices, width, seed)
    kspace = (fft2c(images) * 1e-4).astype(np.complex64)
    esc = np.abs(ifft2c(kspace)[:, 160:480, width // 2 - 160:width // 2 + 160]).astype(np.float32)
    with h5py.File(path, "w") as f:
        f.create_dataset("kspace", data=kspace)
        f.create_dataset("reconstruction_esc", data=esc)
        f.create_dataset("ismrmrd_header", data=HEADER.format(enc_y=372, maximum=width - 1, center=186 - 4,
                                                              last_slice=slices - 1).encode())
        f.attrs["acquisition"] = acquisition
        f.attrs["max"] = float(esc.max())
        f.attrs["norm"] = float(np.linalg.norm(esc))
        f.attrs["patient_id"] = patient_id or f"patient{seed:04d}"
    return path
