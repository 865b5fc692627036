"""The data layer on real HDF5 files, good and bad."""

import subprocess
import sys

import h5py
import numpy as np
import pytest
from fastmri_files import write_fastmri_file

from automap_nb.data import mri_data
from automap_nb.data.mri_data import DataError


def test_index_and_read_third_party_files(fastmri_folder):
    volumes = mri_data.index_folder(fastmri_folder)
    assert [v.name for v in volumes] == sorted(p.name for p in fastmri_folder.glob("*.h5"))
    v = volumes[1]
    assert v.num_slices == 2 and v.kspace_shape == (640, 372)
    assert v.encoding_size == (640, 372, 1) and v.recon_size == (320, 320, 1)
    assert (v.padding_left, v.padding_right) == (4, 4 + 372)  # fastMRI: enc_y//2 - center, + maximum + 1
    assert v.acquisition == "CORPD_FBK" and v.target_key == "reconstruction_esc"
    k = mri_data.read_kspace_slice(v, 1)
    assert k.shape == (640, 372) and k.dtype == np.complex64
    assert mri_data.read_target_slice(v, 1).shape == (320, 320)


def _write(path, **datasets):
    with h5py.File(path, "w") as f:
        for key, value in datasets.items():
            f.create_dataset(key, data=value)
    return path


def test_missing_folder_and_empty_folder(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        mri_data.index_folder(tmp_path / "nope")
    (tmp_path / "notes.txt").write_text("x")
    with pytest.raises(DataError, match="no .h5 files"):
        mri_data.index_folder(tmp_path)


def test_truncated_and_corrupt_files(tmp_path):
    good = write_fastmri_file(tmp_path / "good.h5", slices=2)
    data = good.read_bytes()
    (tmp_path / "truncated.h5").write_bytes(data[:len(data) // 3])
    (tmp_path / "corrupt.h5").write_bytes(b"\x00garbage" * 100)
    for name in ("truncated.h5", "corrupt.h5"):
        with pytest.raises(DataError, match=f"{name}: not a readable HDF5 file"):
            mri_data.read_volume_info(tmp_path / name)


def test_truncated_data_is_caught_when_read(tmp_path):
    # header intact, slice data cut off: the error names the file and slice
    path = write_fastmri_file(tmp_path / "cut.h5", slices=3)
    with h5py.File(path, "r") as f:
        offset = f["kspace"].id.get_offset()
    size = path.stat().st_size
    with open(path, "r+b") as handle:
        handle.truncate(offset + (size - offset) // 4)
    with pytest.raises(DataError, match=r"cut.h5"):
        info = mri_data.read_volume_info(path)
        mri_data.read_kspace_slice(info, 2)


@pytest.mark.parametrize("problem, match", [("no_kspace", "no dataset 'kspace'"), ("rank", "must have rank 3"),
                                            ("dtype", "must be complex"), ("no_header", "no dataset 'ismrmrd_header'"),
                                            ("bad_xml", "not valid XML"),
                                            ("header_field", "no element 'encoding/reconSpace/matrixSize/x'"),
                                            ("target_shape", "does not match")])
def test_schema_errors_name_the_file(tmp_path, problem, match):
    path = write_fastmri_file(tmp_path / "vol.h5", slices=2)
    with h5py.File(path, "a") as f:
        if problem == "no_kspace":
            del f["kspace"]
        elif problem == "rank":
            del f["kspace"]
            f["kspace"] = np.zeros((2, 4, 640, 368), np.complex64)  # multi-coil shape
        elif problem == "dtype":
            del f["kspace"]
            f["kspace"] = np.zeros((2, 640, 368), np.float32)
        elif problem == "no_header":
            del f["ismrmrd_header"]
        elif problem == "bad_xml":
            del f["ismrmrd_header"]
            f["ismrmrd_header"] = b"<ismrmrdHeader><encoding>"
        elif problem == "header_field":
            xml = f["ismrmrd_header"][()].decode()
            xml = xml.replace("<reconSpace>", "<reconSpaceX>").replace("</reconSpace>", "</reconSpaceX>")
            del f["ismrmrd_header"]
            f["ismrmrd_header"] = xml.encode()
        elif problem == "target_shape":
            del f["reconstruction_esc"]
            f["reconstruction_esc"] = np.zeros((5, 320, 320), np.float32)
    with pytest.raises(DataError, match=match) as err:
        mri_data.index_folder(tmp_path)
    message = str(err.value)
    assert "vol.h5" in message and "\n" not in message


def test_nan_and_inf_name_file_and_slice(tmp_path):
    path = write_fastmri_file(tmp_path / "vol.h5", slices=3)
    with h5py.File(path, "a") as f:
        k = f["kspace"][2]
        k[10, 10] = np.nan
        f["kspace"][2] = k
    info = mri_data.read_volume_info(path)
    mri_data.read_kspace_slice(info, 1)  # other slices are fine
    with pytest.raises(DataError, match=r"vol.h5, slice 2: 'kspace' contains NaN or Inf"):
        mri_data.read_kspace_slice(info, 2)
    with pytest.raises(DataError, match="slice 3 out of range"):
        mri_data.read_kspace_slice(info, 3)


def test_cli_reports_one_line_errors(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "automap_nb", "prepare", "--data-dir",
         str(tmp_path / "missing"), "--out",
         str(tmp_path / "p.h5")], capture_output=True, text=True)
    assert result.returncode == 2
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "missing: data folder (--data-dir) does not exist" in lines[0]
    assert not (tmp_path / "p.h5").exists()
