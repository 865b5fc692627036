"""Chapters 03-05 (AUTOMAP training, weights, results) as executed by the quick profile run."""

from __future__ import annotations

import math

import nbformat
import pytest

from automap_nb import findings, models, statistics
from automap_nb.figures import weights
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
    # the departures table lists exactly the chapter's parameters that differ from the paper's settings
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
    # the verdict: one plain line from the run's history, with its numbers
    final = history["epochs"][-1]
    samples = sum(e["samples"] for e in history["epochs"])
    assert r["samples"] == samples and r["validations"] == sum(math.isfinite(e["val_psnr"]) for e in history["epochs"])
    assert "\n" not in r["verdict"] and f"{final['val_psnr']:.2f} dB on the validation split" in r["verdict"]
    assert f"{samples:,} training samples" in r["verdict"] and f"{r['samples_per_s']:.0f} samples/s" in r["verdict"]
    assert r["trend"]["final_lr"] == pytest.approx(final["lr"]) and r["trend"]["epochs"] == r["epochs"]


def same(a, b) -> bool:
    """Equal, with NaN equal to NaN (a results JSON reads "nan" back as a float NaN)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return a.keys() == b.keys() and all(same(a[k], b[k]) for k in a)
    if isinstance(a, float) and isinstance(b, float) and math.isnan(a) and math.isnan(b):
        return True
    return a == b


def test_04_weight_analysis(quick_run):
    r = read_json(quick_run / "04_weight_analysis.json")
    layers = {row["layer"]: row for row in r["layers"]}
    assert {"dense_1", "dense_2", "conv_1", "conv_2", "deconv"} <= set(layers)
    for row in layers.values():
        assert finite(row["kernel_rel_change"], row["kernel_rms_change"], row["output_rel_change"])
        assert row["kernel_rel_change"] > 0 and row["output_rel_change"] > 0
    # the three measures' outcomes are weights.measure_outcomes of the stored rows
    assert same(r["measures"], weights.measure_outcomes(r["layers"]))
    assert set(r["measures"]) == set(weights.MEASURES)
    assert len(r["units_shown"]) == QUICK["weights_units_shown"]
    for ring in r["rings"].values():
        assert ring["share_inside"] + ring["share_ring"] + ring["share_outside"] == pytest.approx(1.0)
    # the learned record is statistics.learned on the stored per-volume values of the val split
    per_volume = r["val_per_volume"]
    learned = statistics.learned({"per_volume": per_volume["model"]}, {"per_volume": per_volume["mean_image"]}, "val")
    assert same(r["learned"], learned.to_dict())
    assert r["learned"]["split"] == "val" and r["learned"]["gain"]["volumes"] == len(per_volume["model"])
    assert same(r["comparisons"]["psnr"], r["learned"]["gain"] | {"b": "the mean training image"})
    # the verdict: one plain line, from findings; a model that did not pass the rule draws no verdict
    assert r["verdict"] == findings.ch04_verdict(learned, r["claim"])
    assert "\n" not in r["verdict"] and "**" not in r["verdict"]
    if learned.status != "learned":
        assert "inconclusive at this budget" in r["verdict"] and r["claim"] not in r["verdict"]
    else:
        assert r["verdict"].startswith(r["claim"])


def test_05_results_trained_beats_untrained_and_ifft_is_exact(quick_run):
    r = read_json(quick_run / "05_results.json")
    m = r["metrics"]
    assert r["test_slices"] > 0 and r["test_volumes"] > 0
    for method in ("automap", "untrained", "mean_image"):
        assert finite(m[method]["psnr_max1_slices"], *m[method]["mean"].values())
    # a couple of Adam steps must already beat the network's own initial weights
    assert m["automap"]["psnr_max1_slices"] > m["untrained"]["psnr_max1_slices"]
    assert m["automap"]["mean"]["nmse"] < m["untrained"]["mean"]["nmse"]
    assert m["automap"]["mean"]["ssim"] > m["untrained"]["mean"]["ssim"]
    # fully sampled input: the inverse FFT is the target up to float32 rounding
    assert r["ifft_max_error"] < 1e-5 and m["ifft"]["mean"]["nmse"] < 1e-10
    assert m["ifft"]["psnr_max1_slices"] > 100
    assert r["inference_ms_per_slice"] > 0
    # the learned rule and the comparisons are statistics' own, on the stored per-volume values
    learned = statistics.learned(m["automap"], m["mean_image"], "test")
    assert r["learned"] == learned.to_dict() and r["learned"]["gain"]["volumes"] == r["test_volumes"]
    for pair, other in (("automap_vs_mean_image", "mean_image"), ("automap_vs_untrained", "untrained")):
        expected = statistics.compare(m["automap"], m[other], "test", *(r["comparisons"][pair]["psnr"][k] for k in "ab"))
        assert r["comparisons"][pair] == {metric: c.to_dict() for metric, c in expected.items()}
    assert r["verdict"] == findings.results_verdict(learned) and "\n" not in r["verdict"]
    assert learned.passed or r["verdict"].startswith("Inconclusive at this budget")
    assert f"{r['test_volumes']} test volumes" in r["verdict"]
