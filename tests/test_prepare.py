"""The paper's preprocessing and the prepared file, on third-party-written fastMRI files."""

import h5py
import numpy as np
import pytest
from fastmri_files import ifft2c, write_fastmri_file

from automap_nb.data import mri_data, prepare, prepared, transforms


@pytest.mark.parametrize("size", [32, 33])
def test_prepared_file_matches_definition(fastmri_folder, tmp_path, size):
    out = tmp_path / "prepared.h5"
    summary = prepare.prepare_dataset(fastmri_folder, out, size=size, progress=False)
    assert sum(summary["slices"].values()) == 8 and all(v > 0 for v in summary["volumes"].values())
    with h5py.File(out, "r") as f:
        images, targets, inputs = f["images"][()], f["targets"][()], f["inputs"][()]
        volume, slices, split = f["volume"][()], f["slice"][()], f["split"][()]
        scale = f.attrs["kspace_scale"]
        assert f.attrs["size"] == size
    assert images.shape == (8, size, size) and images.dtype == np.complex64
    assert targets.shape == (8, size, size, 1) and targets.dtype == np.float32
    assert inputs.shape == (8, size, size, 2) and inputs.dtype == np.float32
    assert set(split) <= {b"train", b"val", b"test"}
    # every volume in exactly one split
    for name in set(volume):
        assert len(set(split[volume == name])) == 1
    # targets = |downsample(centre-crop(ifft2c(kspace)))| / volume max, computed independently
    for row in (0, 5):
        with h5py.File(fastmri_folder / volume[row].decode(), "r") as f:
            stack = f["kspace"][()]
        width = stack.shape[-1]
        crops = ifft2c(stack)[:, 160:480, width // 2 - 160:width // 2 + 160]
        small = np.abs(transforms.downsample(crops, size))
        np.testing.assert_allclose(targets[row, ..., 0], small[slices[row]] / small.max(), atol=2e-5)
    # inputs: their inverse transform gives the targets back
    np.testing.assert_allclose(np.abs(transforms.inputs_to_image(inputs, scale)), targets[..., 0], atol=2e-5)
    # unit RMS of the training inputs
    train = inputs[split == b"train"]
    assert 0.9 < np.sqrt(np.mean(np.sum(train**2, axis=-1))) < 1.1
    assert targets.min() >= 0 and np.isclose(targets.max(), 1.0)


def test_bad_file_leaves_nothing_written(fastmri_folder, tmp_path):
    bad = fastmri_folder / "file1000002.h5"
    with h5py.File(bad, "a") as f:
        k = f["kspace"][1]
        k[0, 0] = np.inf
        f["kspace"][1] = k
    out = tmp_path / "out" / "prepared.h5"
    with pytest.raises(mri_data.DataError, match="file1000002.h5, slice 1"):
        prepare.prepare_dataset(fastmri_folder, out, size=16, progress=False)
    assert not out.exists() and not out.parent.exists()  # nor the folder it would have created


def test_undersampled_files_are_refused(tmp_path):
    path = write_fastmri_file(tmp_path / "test_file.h5", slices=2)
    with h5py.File(path, "a") as f:
        f.attrs["acceleration"] = 4
    with pytest.raises(mri_data.DataError, match="undersampled"):
        prepare.prepare_dataset(tmp_path, tmp_path / "p.h5", size=16, progress=False)


def test_bad_size(fastmri_folder, tmp_path):
    with pytest.raises(ValueError, match="size must be an integer"):
        prepare.prepare_dataset(fastmri_folder, tmp_path / "p.h5", size=400)


def test_mean_target_is_the_mean_over_the_split(fastmri_folder, tmp_path):
    out = tmp_path / "prepared.h5"
    prepare.prepare_dataset(fastmri_folder, out, size=16, progress=False)
    train = prepared.read_split(out, "train")
    np.testing.assert_allclose(prepared.mean_target(out, "train", chunk=3), train["targets"][..., 0].mean(axis=0), atol=1e-6)
    with pytest.raises(ValueError, match="split must be one of"):
        prepared.read_split(out, "training")
