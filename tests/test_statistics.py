"""The statistics module on constructed cases: known differences are found, no difference is not called one."""

import math

import numpy as np
import pytest

from automap_nb import findings, statistics


def result(values, metric="psnr", others=None):
    """An evaluate_volumes-like result with one value per volume (``vol0``, ``vol1``, …)."""
    per_volume = {}
    for i, v in enumerate(values):
        row = {"psnr": 20.0, "ssim": 0.5, "nmse": 0.1, **(others or {})}
        row[metric] = float(v)
        per_volume[f"vol{i}"] = row
    return {"per_volume": per_volume}


def test_known_difference_is_detected():
    rng = np.random.default_rng(1)
    b = 20 + rng.normal(0, 2, 10)
    a = b + 1.0 + rng.normal(0, 0.1, 10)  # 1 dB better on every volume
    c = statistics.compare(result(a), result(b), "test", "A", "B", metrics=("psnr", ))["psnr"]
    assert c.outcome == "a" and c.winner == "A"
    assert c.low > 0.8 and c.high < 1.2 and c.low < c.difference < c.high
    assert "A beats B in PSNR" in findings.comparison_sentence(c)


def test_no_difference_is_not_called_one():
    rng = np.random.default_rng(2)
    b = 20 + rng.normal(0, 2, 10)
    a = b + rng.normal(0, 0.5, 10)  # pure noise around zero
    c = statistics.compare(result(a), result(b), "val", "A", "B", metrics=("psnr", ))["psnr"]
    assert c.outcome == "none" and c.winner is None and c.low < 0 < c.high
    assert findings.comparison_sentence(c).startswith("no PSNR difference was shown")


def test_lower_nmse_wins():
    a = result([0.05, 0.06, 0.04, 0.05], "nmse")
    b = result([0.10, 0.11, 0.09, 0.10], "nmse")
    c = statistics.compare(a, b, "test", "A", "B", metrics=("nmse", ))["nmse"]
    assert c.difference < 0 and c.outcome == "a"


def test_too_few_volumes_gives_no_interval():
    c = statistics.compare(result([25, 26]), result([20, 20]), "test", metrics=("psnr", ))["psnr"]
    assert c.outcome == "too few volumes" and math.isnan(c.low) and c.difference == pytest.approx(5.5)


def test_unpaired_volumes_are_refused():
    a, b = result([1, 2, 3]), result([1, 2, 3])
    b["per_volume"]["other"] = b["per_volume"].pop("vol0")
    with pytest.raises(ValueError, match="different volumes"):
        statistics.compare(a, b, "test")


def test_interval_is_reproducible():
    d = np.arange(8.0)
    assert statistics.bootstrap_interval(d) == statistics.bootstrap_interval(d)


def test_metrics_disagree():
    a = {
        "vol0": {"psnr": 22, "ssim": 0.60, "nmse": 0.1}, "vol1": {"psnr": 22.5, "ssim": 0.61, "nmse": 0.1},
        "vol2": {"psnr": 21.8, "ssim": 0.62, "nmse": 0.1}, "vol3": {"psnr": 22.2, "ssim": 0.60, "nmse": 0.1}
    }
    b = {k: {"psnr": v["psnr"] - 1, "ssim": v["ssim"] + 0.05, "nmse": 0.1} for k, v in a.items()}
    comps = statistics.compare({"per_volume": a}, {"per_volume": b}, "test", "U", "V")
    assert comps["psnr"].outcome == "a" and comps["ssim"].outcome == "b" and comps["nmse"].outcome == "none"
    assert statistics.agreement(comps) == "disagree"
    assert "disagree" in findings.agreement_sentence(comps)


@pytest.mark.parametrize("gain, status", [(8.0, "learned"), (1.0, "not learned"), (5.0, "inconclusive")])
def test_learned_rule(gain, status):
    rng = np.random.default_rng(3)
    mean_image = 17 + rng.normal(0, 1, 8)
    model = mean_image + gain + rng.normal(0, 0.3, 8)
    verdict = statistics.learned(result(model), result(mean_image), "val")
    assert verdict.status == status and verdict.passed == (status == "learned")
    assert verdict.to_dict()["gain"]["volumes"] == 8
    assert findings.learned_sentence(verdict)


def test_learned_rule_needs_volumes():
    verdict = statistics.learned(result([30, 31]), result([17, 17]), "val")
    assert verdict.status == "inconclusive" and "fewer than" in verdict.reason
