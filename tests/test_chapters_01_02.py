"""Chapters 01-02 executed by papermill (quick profile): what they wrote, and parameter checks."""

import h5py
import numpy as np
import pytest

from automap_nb.orchestration import profiles, runner
from automap_nb.results import read_json

pytestmark = pytest.mark.slow


def test_01_data_exploration(quick_run, quick_data):
    assert (quick_run / "01_data_exploration.ipynb").is_file()
    result = read_json(quick_run / "01_data_exploration.json")
    size = profiles.SAMPLE_DATA["quick"]
    assert result["volumes"] == size["volumes"] and result["slices"] == size["volumes"] * size["slices"]
    assert result["esc_slices_checked"] > 0 and result["esc_max_relative_error"] < 1e-4
    assert set(result["acquisitions"]) <= {"CORPD_FBK", "CORPDFS_FBK"}


def test_02_preprocessing_wrote_the_prepared_file(quick_run):
    result = read_json(quick_run / "02_preprocessing.json")
    n = profiles.PROFILES["quick"]["size"]
    assert result["size"] == n and all(result["slices"][s] > 0 for s in ("train", "val", "test"))
    assert result["roundtrip_max_error"] < 1e-4
    with h5py.File(quick_run / "prepared.h5", "r") as f:
        total = sum(result["slices"].values())
        assert f["inputs"].shape == (total, n, n, 2) and f["targets"].shape == (total, n, n, 1)
        assert f["images"].dtype == np.complex64
        assert np.isclose(f.attrs["kspace_scale"], result["kspace_scale"])


def test_bad_parameter_fails_the_first_cell(quick_data, tmp_path):
    with pytest.raises(runner.RunError, match=r"02_preprocessing.ipynb failed in cell \d+: ParameterError: "
                       r"parameter 'size' must be >= 2, got 1"):
        runner.run_notebooks(tmp_path / "run", profile="quick", data_dir=quick_data, overrides={"size": 1}, only=["02"],
                             progress=False)
    assert not (tmp_path / "run" / "prepared.h5").exists()
