"""Chapters 06 and 07 under the quick profile: their JSON results are complete and consistent."""

import math

import numpy as np
import pytest

from automap_nb import models
from automap_nb.data import subsample
from automap_nb.experiments import architecture, undersampling
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
            for metric in ("psnr", "psnr_seed"):  # inf only for an exact reconstruction, and then counted
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
            assert math.isfinite(summary["final_val_psnr_seed"])
    assert ch06["bart_check"] is None or ch06["bart_check"]["psnr_bart"] > 0
    assert ch06["automap_init"] == QUICK["automap_init"]
    assert {"parameter", "the seed's setting", "this run", "why", "cost"} <= set(ch06["departures"][0])


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
        for metric in ("val_psnr", "val_ssim", "val_nmse", "val_psnr_seed"):
            assert math.isfinite(row[metric]), (row["variant"], metric)
    assert ch07["budget"]["epochs"] == QUICK["study_epochs"]
    assert math.isfinite(ch07["mean_image_reference"]["mean"]["psnr"])
    # the study's dense widths are what its variants claim
    widths = {r["variant"]: r["dense_widths"] for r in ch07["rows"]}
    assert widths.get("original") in (None, [n * n, n * n]) and widths.get("fullconv") in (None, [])
    assert np.all(np.diff([models.count_params(v, n) for v in ("smaller", "seed", "original")]) > 0)


def test_07_summary_is_the_seeds_mean_and_spread(ch07):
    for cell in ch07["summary"]:
        psnr = [r["val_psnr"] for r in ch07["rows"] if (r["variant"], r["acceleration"]) == (cell["variant"], cell["acceleration"])]
        assert len(psnr) == len(QUICK["study_seeds"]) == len(cell["seeds"])
        assert cell["val_psnr"] == pytest.approx(np.mean(psnr))
        assert cell["seed_spread"] == pytest.approx(max(psnr) - min(psnr))


def _cell(variant, acc, psnr, spread, params=100):
    return dict(variant=variant, acceleration=acc, params=params, seeds=[0, 1], val_psnr=psnr, val_psnr_min=psnr - spread / 2,
                val_psnr_max=psnr + spread / 2, seed_spread=spread, val_ssim=0.5, train_seconds=1.0)


def test_07_findings_rank_only_learned_variants_and_call_differences_real_beyond_the_spread():
    summary = [
        _cell("seed", "1x", 22.0, 0.4),
        _cell("original", "1x", 23.0, 0.3),
        _cell("smaller", "1x", 22.2, 0.5),
        _cell("fullconv", "1x", 17.0, 0.1)
    ]
    text = architecture.findings(summary, 10, 1, mean_image_psnr=17.5)
    assert "`fullconv` 1x" in text.split("Not learned")[1].split("\n")[0]
    ranking = next(line for line in text.splitlines() if line.startswith("- **1x**"))
    assert "fullconv" not in ranking and ranking.index("`original`") < ranking.index("`seed`")
    assert "`original` gains 1.00 dB" in text and "a real difference" in text.split("`original` gains")[1].split("\n")[0]
    smaller = text.split("`smaller` gains")[1].split("\n")[0]
    assert "no difference can be claimed" in smaller  # 0.2 dB < 0.5 dB spread
    assert "No dense layer" not in text  # fullconv did not learn: no comparison drawn
