"""Chapters 06 and 07 under the quick profile: their JSON results are complete and consistent."""

import math

import numpy as np
import pytest

from automap_nb import profiles, study, subsample
from automap_nb.results import read_json

QUICK = profiles.PROFILES["quick"]


@pytest.fixture(scope="module")
def ch06(quick_run):
    return read_json(quick_run / "06_undersampling_baselines.json")


@pytest.fixture(scope="module")
def ch07(quick_run):
    return read_json(quick_run / "07_architecture_study.json")


def test_06_table_is_complete_for_every_method_and_acceleration(ch06):
    accs = [study.acc_key(a) for a in QUICK["accelerations"]]
    assert ch06["accelerations"] == accs
    assert set(ch06["methods"]) == set(study.METHODS)
    for method in study.METHODS:
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
        for group, summary in ch06["training"][method].items():
            assert summary["epochs"] == QUICK[f"{method}_epochs"]
            assert summary["params"] == ch06["params"][method] > 0
            assert math.isfinite(summary["final_val_psnr_seed"])
    assert ch06["bart_check"] is None or ch06["bart_check"]["psnr_bart"] > 0


def test_07_rows_cover_every_variant_and_acceleration(ch07):
    n = QUICK["study_size"]
    assert ch07["study_size"] == n
    keys = {(r["variant"], r["acceleration"]) for r in ch07["rows"]}
    expected = {(v, study.acc_key(a)) for v in QUICK["study_variants"] for a in QUICK["study_accelerations"]}
    assert keys == expected and len(ch07["rows"]) == len(expected)
    for row in ch07["rows"]:
        assert row["params"] == study.study_params(row["variant"], n)
        assert row["train_seconds"] > 0
        for metric in ("val_psnr", "val_ssim", "val_nmse", "val_psnr_seed"):
            assert math.isfinite(row[metric]), (row["variant"], metric)
    assert ch07["budget"]["epochs"] == QUICK["study_epochs"]
    assert math.isfinite(ch07["mean_image_reference"]["mean"]["psnr"])
    # the study's dense widths are what its variants claim
    widths = {r["variant"]: r["dense_widths"] for r in ch07["rows"]}
    assert widths.get("original") in (None, [n * n, n * n]) and widths.get("fullconv") in (None, [])
    assert np.all(np.diff([study.study_params(v, n) for v in ("smaller", "seed", "original")]) > 0)
