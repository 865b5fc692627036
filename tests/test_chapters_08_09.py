"""Chapters 08 and 09 under the quick profile: their JSON results are complete and consistent."""

import math

import pytest

from automap_nb.experiments import transfer
from automap_nb.orchestration import profiles
from automap_nb.results import read_json

QUICK = profiles.PROFILES["quick"]


@pytest.fixture(scope="module")
def ch08(quick_run):
    return read_json(quick_run / "08_stability.json")


@pytest.fixture(scope="module")
def ch09(quick_run):
    return read_json(quick_run / "09_transfer.json")


def test_08_covers_every_method_and_budget_and_the_inverse_fft_never_amplifies(ch08):
    assert ch08["budgets"] == QUICK["stability_budgets"] and ch08["steps"] == QUICK["stability_steps"]
    assert len(ch08["slices"]) == QUICK["stability_slices"]
    methods = {("1×", "automap"), ("1×", "ifft"), ("4×", "unet"), ("4×", "zero_filled"), ("4×", "tv")}
    cells = {(r["group"], r["method"], r["budget"]) for r in ch08["summary"]}
    assert cells == {(g, m, b) for g, m in methods for b in QUICK["stability_budgets"]}
    for row in ch08["summary"]:
        assert math.isfinite(row["amp_worst"]) and row["amp_worst"] >= row["amp_random"] >= 0
        assert row["own_search"] == (row["method"] != "tv")  # TV is evaluated on the others' perturbations
        if row["method"] in ("ifft", "zero_filled"):
            assert row["amp_worst_max"] <= 1 + 1e-4
    assert ch08["ifft_max_amplification"] <= 1 + 1e-4
    assert ch08["tv"]["lambda"] in QUICK["tv_lambdas"]
    assert set(ch08["automap_learned"]) >= {"gain_db", "learned"}


def test_09_trains_every_mode_on_the_same_budget_and_freezes_what_it_says(ch09):
    assert list(ch09["modes"]) == QUICK["transfer_modes"]
    samples = {m: r["curve"]["samples"] for m, r in ch09["modes"].items()}
    assert len({tuple(s) for s in samples.values()}) == 1  # equal samples seen at every epoch
    assert len(samples["scratch"]) == QUICK["transfer_epochs"]
    layers = dict(all="dense_1 dense_2 conv_1 conv_2 deconv", scratch="dense_1 dense_2 conv_1 conv_2 deconv",
                  conv_tail="conv_1 conv_2 deconv", dense="dense_1 dense_2")
    for mode, result in ch09["modes"].items():
        assert result["trainable"] == layers[mode].split()
        assert all(math.isfinite(v) for v in result["curve"]["val_psnr"])
        assert math.isfinite(result["test"]["psnr"]) and -1 <= result["test"]["ssim"] <= 1
    assert ch09["modes"]["conv_tail"]["trainable_params"] < ch09["modes"]["dense"]["trainable_params"]
    assert ch09["references"]["ifft"]["psnr"] > 100  # fully sampled: exact up to float32 rounding
    assert math.isfinite(ch09["references"]["mean_image"]["psnr"])
    assert ch09["crops"] == dict(train=QUICK["transfer_train_crops"], val=QUICK["transfer_val_crops"],
                                 test=QUICK["transfer_test_crops"])
    assert ch09["pictures"] == transfer.PICTURES
