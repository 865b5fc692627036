"""Chapters 03-05 (AUTOMAP training, weights, results) as executed by the quick profile run."""

from __future__ import annotations

import math

import nbformat
import pytest

from automap_nb import models
from automap_nb.orchestration import profiles
from automap_nb.results import read_json

pytestmark = pytest.mark.slow
QUICK = profiles.PROFILES["quick"]


def finite(*values):
    return all(isinstance(v, (int, float)) and math.isfinite(v) for v in values)


@pytest.mark.parametrize("name", ["03_train_automap", "04_weight_analysis", "05_results"])
def test_notebook_was_executed_with_outputs(quick_run, name):
    nb = nbformat.read(quick_run / f"{name}.ipynb", as_version=4)
    code = [c for c in nb.cells if c.cell_type == "code"]
    assert "parameters" in code[0].metadata.get("tags", [])
    assert all(c.get("execution_count") for c in code)  # every cell ran
    # a figure shown inline, or glued for a captioned {glue:figure} (mime type under papermill's record prefix)
    assert any(
        o.get("output_type") == "display_data" and any(k.endswith("image/png") for k in o.get("data", {})) for c in code
        for o in c.outputs), "no figure"


def test_03_training_results(quick_run):
    r = read_json(quick_run / "03_train_automap.json")
    assert r["variant"] == QUICK["train_variant"] and r["n"] == QUICK["size"]
    assert r["conv_filters"] == QUICK["train_conv_filters"]
    assert r["params"] == models.count_params(r["variant"], r["n"], conv_filters=r["conv_filters"])
    # the departures table lists exactly the chapter's parameters that differ from the seed's settings
    paper = profiles.PROFILES["paper"]
    listed = {row["parameter"] for row in r["departures"]}
    assert "train_conv_filters" in listed and "size" in listed
    assert "train_batch_size" not in listed or QUICK["train_batch_size"] != paper["train_batch_size"]
    assert r["epochs"] == QUICK["train_epochs"] and r["batch_size"] == QUICK["train_batch_size"]
    assert finite(r["final_train_loss"], r["final_val_loss"], r["final_train_psnr"], r["final_val_psnr"], r["seconds"],
                  r["samples_per_s"])
    assert r["seconds"] > 0 and r["samples_per_s"] > 0 and r["train_slices"] > 0
    assert r["backend"] and r["device"] in ("CPU", "GPU", "TPU")
    history = read_json(quick_run / "automap" / "history.json")
    assert [e["epoch"] for e in history["epochs"]] == list(range(1, r["epochs"] + 1))
    assert (quick_run / "automap" / "initial.keras").is_file()


def test_04_weight_analysis(quick_run):
    r = read_json(quick_run / "04_weight_analysis.json")
    layers = {row["layer"]: row for row in r["layers"]}
    assert {"dense_1", "dense_2", "conv_1", "conv_2", "deconv"} <= set(layers)
    for row in layers.values():
        assert finite(row["kernel_rel_change"], row["kernel_rms_change"]) and row["kernel_rel_change"] > 0
    assert r["dense_rel_change_max"] == max(layers[k]["kernel_rel_change"] for k in ("dense_1", "dense_2"))
    assert r["dense_moved_least"] == (r["dense_rel_change_max"] < r["other_rel_change_min"])
    assert len(r["units_shown"]) == QUICK["weights_units_shown"]
    # the verdict is qualified by whether the model learned (quick: two epochs, it has not)
    learned = r["learned"]
    assert learned["gain_db"] == pytest.approx(r["val_psnr_seed"] - r["mean_image_val_psnr_seed"])
    assert learned["learned"] == (learned["gain_db"] >= learned["margin_db"])
    assert learned["learned"] or r["verdict"].startswith("**This model has not learned")


def test_05_results_trained_beats_untrained_and_ifft_is_exact(quick_run):
    r = read_json(quick_run / "05_results.json")
    m = r["metrics"]
    assert r["test_slices"] > 0 and r["test_volumes"] > 0
    for method in ("automap", "untrained", "mean_image"):
        assert finite(m[method]["psnr_seed_slices"], *m[method]["mean"].values())
    # a couple of Adam steps must already beat the network's own initial weights
    assert m["automap"]["psnr_seed_slices"] > m["untrained"]["psnr_seed_slices"]
    assert m["automap"]["mean"]["nmse"] < m["untrained"]["mean"]["nmse"]
    assert m["automap"]["mean"]["ssim"] > m["untrained"]["mean"]["ssim"]
    # fully sampled input: the inverse FFT is the target up to float32 rounding
    assert r["ifft_max_error"] < 1e-5 and m["ifft"]["mean"]["nmse"] < 1e-10
    assert m["ifft"]["psnr_seed_slices"] > 100
    assert r["inference_ms_per_slice"] > 0
    learned = r["learned"]
    assert learned["gain_db"] == pytest.approx(m["automap"]["mean"]["psnr"] - m["mean_image"]["mean"]["psnr"])
    assert learned["verdict"] == (learned["learned"] and learned["ssim_above_mean_image"])
