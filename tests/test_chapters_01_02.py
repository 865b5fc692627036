"""Chapters 01-02 executed by papermill (quick profile): what they wrote, and parameter checks; their
wording (:mod:`automap_nb.findings`) and figure on constructed cases."""

import h5py
import numpy as np
import pytest

from automap_nb import findings
from automap_nb.data import splits
from automap_nb.orchestration import profiles, runner
from automap_nb.results import read_json


@pytest.mark.slow
def test_01_data_exploration(quick_run, quick_data):
    assert (quick_run / "01_data_exploration.ipynb").is_file()
    result = read_json(quick_run / "01_data_exploration.json")
    size = profiles.SAMPLE_DATA["quick"]
    assert result["volumes"] == size["volumes"] and result["slices"] == size["volumes"] * size["slices"]
    assert result["esc_slices_checked"] > 0 and result["esc_max_relative_error"] < 1e-4
    assert set(result["acquisitions"]) <= {"CORPD_FBK", "CORPDFS_FBK"}
    assert result["sample_data"] is True
    assert result["verdict"].startswith(f"The data are {size['volumes']} pseudo-volumes ({result['slices']} slices) of the "
                                        "embedded sample data")
    assert "not fastMRI knee data" in result["verdict"] and "\n" not in result["verdict"]


@pytest.mark.slow
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


@pytest.mark.slow
def test_02_verdict_states_the_runs_split_fractions_and_counts(quick_run):
    result = read_json(quick_run / "02_preprocessing.json")
    assert result["split_fractions"] == profiles.SAMPLE_DATA["quick"]["split"]
    counts = ", ".join(f"{s} {result['volumes'][s]} volumes ({result['slices'][s]} slices)" for s in ("train", "val", "test"))
    assert counts in result["verdict"]
    assert " / ".join(f"{100 * f:g}" for f in result["split_fractions"]) + " %" in result["verdict"]
    assert "profiles.SAMPLE_DATA" in result["verdict"] and "5 % of" not in result["verdict"]


@pytest.mark.slow
def test_bad_parameter_fails_the_first_cell(quick_data, tmp_path):
    # the runner reports it as the failing cell or, when it checks the parameters before running, at once
    from automap_nb.orchestration.params import ParameterError

    with pytest.raises((runner.RunError, ParameterError), match=r"02_preprocessing[.:].*parameter 'size' must be >= 2, got 1"):
        runner.run_notebooks(tmp_path / "run", profile="quick", data_dir=quick_data, overrides={"size": 1}, only=["02"],
                             progress=False)
    assert not (tmp_path / "run" / "prepared.h5").exists()


def test_intensity_sentence_says_only_what_the_numbers_show():
    stats = [{"acquisition": "CORPDFS_FBK", "max": 1.86e-4, "99th percentile": 1.2e-4},
             {"acquisition": "CORPD_FBK", "max": 1.81e-4, "99th percentile": 1.5e-4}]
    text = findings.ch01_intensity_sentence(stats)
    assert "from 0.000181 (CORPD_FBK) to 0.000186 (CORPDFS_FBK), 3 % apart" in text
    assert "from 0.00012 (CORPDFS_FBK) to 0.00015 (CORPD_FBK), 25 % apart" in text
    assert "differ" not in text
    assert findings.ch01_intensity_sentence(stats[:1]).startswith("one acquisition label (CORPDFS_FBK)")


def test_split_sentence_names_the_rule_that_was_used():
    volumes, slices = {"train": 13, "val": 9, "test": 12}, {"train": 130, "val": 90, "test": 120}
    sample = findings.ch02_split_sentence([0.45, 0.25, 0.3], volumes, slices, True, profiles.SAMPLE_SPLIT, splits.DEFAULT_FRACTIONS)
    assert sample.startswith("the volumes were split by patient hash 45 / 25 / 30 % (train / val / test), the embedded "
                             "sample data's rule in profiles.SAMPLE_DATA")
    assert "than the 90 / 5 / 5 % a fastMRI folder keeps: train 13 volumes (130 slices)" in sample
    assert sample.endswith("test 12 volumes (120 slices)")
    fastmri = findings.ch02_split_sentence(splits.DEFAULT_FRACTIONS, volumes, slices, False, profiles.SAMPLE_SPLIT,
                                           splits.DEFAULT_FRACTIONS)
    assert "90 / 5 / 5 % (train / val / test), the default for a fastMRI folder:" in fastmri
    folders = findings.ch02_split_sentence(splits.DEFAULT_FRACTIONS, volumes, slices, False, profiles.SAMPLE_SPLIT,
                                           splits.DEFAULT_FRACTIONS, ["test"])
    assert "test from folders of their own" in folders
    assert findings.ch02_verdict(64, sample).startswith("Every slice was prepared at 64 × 64, and the volumes were split")


def _overlapping_tick_labels(fig) -> list[tuple[str, str]]:
    """Pairs of visible tick labels of one axis whose drawn boxes overlap."""
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    clashes = []
    for ax in fig.axes:
        for axis in (ax.xaxis, ax.yaxis):
            labels = [t for t in axis.get_ticklabels() if t.get_visible() and t.get_text()]
            boxes = [t.get_window_extent(renderer) for t in labels]
            for i in range(len(boxes)):
                for j in range(i + 1, len(boxes)):
                    if boxes[i].overlaps(boxes[j]):
                        clashes.append((labels[i].get_text(), labels[j].get_text()))
    return clashes


def test_intensity_histogram_tick_labels_do_not_overlap():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from automap_nb.figures import mri

    rng = np.random.default_rng(0)
    values = {"CORPDFS_FBK": rng.uniform(0, 1.9e-4, 5000), "CORPD_FBK": rng.uniform(0, 1.97e-4, 5000)}
    fig = mri.intensity_histograms(values, "|image| (arbitrary units, as stored)")
    try:
        assert _overlapping_tick_labels(fig) == []
        assert "10^{-4}" in fig.axes[0].get_xlabel()  # the power of ten is named once, in the label
        assert max(len(t.get_text()) for t in fig.axes[0].get_xticklabels()) <= 4
    finally:
        plt.close(fig)
