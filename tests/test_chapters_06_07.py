"""Chapters 06 and 07 under the quick profile: their JSON results are complete and consistent."""

import json
import math

import matplotlib.pyplot as plt
import numpy as np
import pytest

from automap_nb import findings, models, statistics
from automap_nb.data import subsample
from automap_nb.experiments import architecture, undersampling
from automap_nb.figures import study
from automap_nb.figures.style import TEXT_WIDTH
from automap_nb.orchestration import profiles
from automap_nb.results import read_json

QUICK = profiles.PROFILES["quick"]


@pytest.fixture(scope="module")
def ch06(quick_run):
    return read_json(quick_run / "06_undersampling_baselines.json")


@pytest.fixture(scope="module")
def ch07(quick_run):
    return read_json(quick_run / "07_architecture_study.json")


def test_06_table_is_complete_for_every_method_and_acceleration(ch06):
    accs = [undersampling.acc_key(a) for a in QUICK["accelerations"]]
    assert ch06["accelerations"] == accs
    assert set(ch06["methods"]) == set(undersampling.METHODS)
    for method in undersampling.METHODS:
        for key in accs:
            cell = ch06["results"][method][key]
            assert cell["volumes"] == len(ch06["test_volumes"]) >= 1
            assert set(cell["per_volume"]) == set(ch06["test_volumes"])
            for metric in ("nmse", "ssim"):
                assert math.isfinite(cell["mean"][metric]), (method, key, metric)
            for metric in ("psnr", "psnr_max1"):  # inf only for an exact reconstruction, and then counted
                value = cell["mean"][metric]
                assert math.isfinite(value) or (value == math.inf and cell["infinite"][metric] > 0)
            assert cell["seconds_per_slice"] > 0
            assert 0 <= cell["mean"]["nmse"] and -1 <= cell["mean"]["ssim"] <= 1


def test_06_fully_sampled_zero_filled_is_exact_and_undersampling_costs(ch06):
    zf = ch06["results"]["zero_filled"]
    assert zf["1x"]["mean"]["psnr"] > 100  # float32 round-off only
    assert zf["4x"]["mean"]["psnr"] < 40 and zf["8x"]["mean"]["nmse"] > zf["4x"]["mean"]["nmse"] * 0.5


def test_06_masks_are_the_per_volume_masks(ch06):
    n = ch06["n"]
    for key, by_volume in ch06["achieved_acceleration"].items():
        acc = int(key[:-1])
        for volume, achieved in by_volume.items():
            mask = subsample.volume_masks([volume], ch06["mask_kind"], acc, n)[0]
            assert achieved == pytest.approx(subsample.achieved_acceleration(mask))


def test_06_tv_lambda_from_the_grid_and_training_recorded(ch06):
    for key in ch06["accelerations"]:
        tv = ch06["tv"][key]
        assert tv["lambda"] in [row["lambda"] for row in tv["grid"]]
        assert tv["lambda"] in QUICK["tv_lambdas"]
    for method in ("unet", "automap"):
        for summary in ch06["training"][method].values():
            assert summary["epochs"] == QUICK[f"{method}_epochs"]
            assert summary["params"] == ch06["params"][method] > 0
            assert math.isfinite(summary["final_val_psnr_max1"])
    assert ch06["bart_check"] is None or ch06["bart_check"]["psnr_bart"] > 0
    assert ch06["automap_init"] == QUICK["automap_init"]
    assert {"parameter", "the paper's setting", "this run", "why", "cost"} <= set(ch06["departures"][0])


def test_06_comparisons_and_verdict_come_from_statistics(ch06):
    metrics = ch06["results"]
    accs = QUICK["accelerations"]
    learned = undersampling.automap_learned(metrics, accs, "test")
    assert ch06["learned"] == learned.to_dict() and ch06["learned"]["model"].startswith("AUTOMAP")
    expected = undersampling.compare_all(metrics, accs, "test")
    same = json.dumps(ch06["comparisons"], sort_keys=True) == json.dumps(undersampling.comparisons_json(expected), sort_keys=True)
    assert same  # compared as JSON text: an undefined comparison's interval is nan
    for key, by_pair in ch06["comparisons"].items():
        assert set(by_pair) == {undersampling.pair_key(a, b) for a, b in undersampling.PAIRS}
        for pair, by_metric in by_pair.items():
            a, b = pair.split("_vs_")
            assert set(by_metric) == {"psnr", "ssim", "nmse"}
            c = statistics.compare(metrics[a][key], metrics[b][key], "test", "a", "b")["ssim"]
            stored = by_metric["ssim"]  # the stored interval is the bootstrap of the stored per-volume values
            assert stored["volumes"] == c.volumes == len(ch06["test_volumes"])
            assert (stored["outcome"], stored["low"], stored["high"]) == (c.outcome, c.low, c.high)  # SSIM is always finite
    assert isinstance(ch06["verdict"], str) and ch06["verdict"] and "\n" not in ch06["verdict"]
    assert f"{len(ch06['test_volumes'])} test volumes" in ch06["verdict"]
    assert learned.passed or ch06["verdict"].startswith("AUTOMAP against the other methods is inconclusive at this budget")


def test_07_rows_cover_every_variant_and_acceleration(ch07):
    n = QUICK["study_size"]
    assert ch07["study_size"] == n
    keys = {(r["variant"], r["acceleration"], r["seed"]) for r in ch07["rows"]}
    expected = {(v, undersampling.acc_key(a), s)
                for v in QUICK["study_variants"]
                for a in QUICK["study_accelerations"]
                for s in QUICK["study_seeds"]}
    assert keys == expected and len(ch07["rows"]) == len(expected)
    for row in ch07["rows"]:
        assert row["params"] == models.count_params(row["variant"], n, QUICK["study_conv_filters"])
        assert row["train_seconds"] > 0
        for metric in ("val_psnr", "val_ssim", "val_nmse", "val_psnr_max1"):
            assert math.isfinite(row[metric]), (row["variant"], metric)
    assert ch07["budget"]["epochs"] == QUICK["study_epochs"]
    assert math.isfinite(ch07["mean_image_reference"]["mean"]["psnr"])
    # the study's dense widths are what its variants claim
    widths = {r["variant"]: r["dense_widths"] for r in ch07["rows"]}
    assert widths.get("original") in (None, [n * n, n * n]) and widths.get("fullconv") in (None, [])
    assert np.all(np.diff([models.count_params(v, n) for v in ("smaller", "greenberg", "original")]) > 0)


def test_07_summary_is_the_seeds_mean_and_spread(ch07):
    for cell in ch07["summary"]:
        psnr = [r["val_psnr"] for r in ch07["rows"] if (r["variant"], r["acceleration"]) == (cell["variant"], cell["acceleration"])]
        assert len(psnr) == len(QUICK["study_seeds"]) == len(cell["seeds"])
        assert cell["val_psnr"] == pytest.approx(np.mean(psnr))
        assert cell["seed_spread"] == pytest.approx(max(psnr) - min(psnr))


def _volumes(psnr_values, ssim=0.6, nmse=0.05):
    return {
        f"v{i}": {"psnr": p, "ssim": ssim + 0.01 * p, "nmse": nmse / (1 + p), "psnr_max1": p}
        for i, p in enumerate(psnr_values)
    }


def _rows(gains, base=(15.0, 16.0, 17.0, 15.5, 16.5, 18.0)):
    """Study rows (two seeds) whose per-volume PSNR is the mean image's ``base`` plus each variant's gain."""
    return [
        dict(variant=v, acceleration="1x", seed=s,
             per_volume=_volumes([b + g + (0.2 if s else -0.2) + 0.1 * i for i, b in enumerate(base)])) for v, g in gains.items()
        for s in (0, 1)
    ], {"per_volume": _volumes(list(base))}


def test_07_only_variants_that_pass_the_learned_rule_are_compared_and_ranked():
    rows, mean_image = _rows({"original": 9.0, "greenberg": 7.0, "fullconv": 1.0})
    learned = architecture.learned_by_cell(rows, mean_image)
    statuses = {k: r.status for k, r in learned.items()}
    assert statuses == {"original at 1x": "learned", "greenberg at 1x": "learned", "fullconv at 1x": "not learned"}
    assert learned["greenberg at 1x"].gain.difference == pytest.approx(7.0 + 0.25)  # seeds pooled per volume first
    comparisons = architecture.compare_learned(rows, learned)
    assert [(c["psnr"].a, c["psnr"].b) for c in comparisons] == [("original at 1x", "greenberg at 1x")]  # fullconv never compared
    assert comparisons[0]["psnr"].winner == "original at 1x" and comparisons[0]["psnr"].volumes == 6
    verdict = findings.architecture_verdict(learned, comparisons)
    assert verdict.startswith("2 of 3 variants passed the learned rule on val")
    assert "original at 1x beats greenberg at 1x" in verdict
    assert "the others did not and are not ranked (fullconv at 1x" in verdict and "\n" not in verdict
    bullets = findings.study_bullets(learned, comparisons)
    assert bullets.count("\n- ") == 3 and "SSIM" in bullets and "NMSE" in bullets and "the metrics agree" in bullets
    fig = study.gain_intervals(list(learned.values()))
    assert fig.get_figwidth() <= TEXT_WIDTH and [t.get_text() for t in fig.axes[0].get_yticklabels()] == list(learned)
    plt.close(fig)


def test_07_a_budget_where_no_variant_passes_ranks_nothing():
    rows, mean_image = _rows({"original": 1.6, "greenberg": 0.9})
    learned = architecture.learned_by_cell(rows, mean_image)
    assert not any(r.passed for r in learned.values()) and architecture.compare_learned(rows, learned) == []
    verdict = findings.architecture_verdict(learned, [])
    assert verdict.startswith("The ranking of the architecture variants is inconclusive at this budget: none of the 2")
    assert "original at 1x +1.85 dB" in verdict and "6 val volumes" in verdict and " beats " not in verdict


def test_07_verdict_comes_from_the_learned_rule(ch07):
    learned = architecture.learned_by_cell(ch07["rows"], ch07["mean_image_reference"], "val")
    assert {k: r.status for k, r in learned.items()} == {k: r["status"] for k, r in ch07["learned"].items()}
    assert set(learned) == {architecture.cell_name(c["variant"], c["acceleration"]) for c in ch07["summary"]}
    comparisons = architecture.compare_learned(ch07["rows"], learned, "val")
    assert ch07["verdict"] == findings.architecture_verdict(learned, comparisons)
    compared = {name for c in ch07["comparisons"] for name in (c["psnr"]["a"], c["psnr"]["b"])}
    assert compared <= {k for k, r in ch07["learned"].items() if r["passed"]}  # a variant that did not pass is not ranked
    for record in ch07["learned"].values():
        assert record["gain"]["volumes"] == len(ch07["val_volumes"]) and record["split"] == "val"
    if not any(r["passed"] for r in ch07["learned"].values()):
        assert "inconclusive at this budget" in ch07["verdict"] and ch07["comparisons"] == []
