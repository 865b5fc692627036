"""Chapters 08 and 09 under the quick profile: their JSON results are complete and consistent."""

import math

import pytest

from automap_nb import findings
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


def test_08_draws_one_slice_from_each_of_several_test_volumes(ch08):
    volumes = [entry["volume"] for entry in ch08["slices"]]
    assert len(set(volumes)) == len(volumes) >= 2
    assert all(len(row["amp_worst_slices"]) == len(volumes) for row in ch08["summary"])


def test_08_verdict_follows_the_learned_rule_and_the_paired_intervals(ch08):
    from automap_nb.experiments import stability

    assert ch08["learned"]["model"] == "AUTOMAP" and ch08["learned"]["split"] == "test"
    assert ch08["learned"]["status"] in ("learned", "not learned", "inconclusive")
    comparisons = stability.compare_amplifications(ch08["summary"])
    assert set(comparisons) == set(stability.COMPARED)
    for name, comparison in comparisons.items():
        assert comparison["units"] == len(ch08["slices"])
        assert comparison["outcome"] == ch08["comparisons"][name]["outcome"]
    verdict = ch08["verdict"]
    assert "\n" not in verdict and "**" not in verdict
    for learned, claim in ((ch08["learned"], "automap_vs_ifft"), (ch08["unet_learned"], "unet_vs_tv")):
        if learned["passed"]:
            assert findings.amplification_phrase(comparisons[claim]) in verdict
        else:
            assert f"{learned['model']} did not pass the learned rule" in verdict
            assert "inconclusive at this budget" in verdict
            assert findings.amplification_phrase(comparisons[claim]) not in verdict


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


def test_09_verdict_comes_from_the_learned_rule_on_the_validation_pictures(ch09):
    learned = transfer.learned_by_mode(ch09["val"], ch09["val_mean_image"], "val")
    assert {m: r.status for m, r in learned.items()} == {m: r["status"] for m, r in ch09["learned"].items()}
    assert set(learned) == set(QUICK["transfer_modes"])
    pictures = min(QUICK["transfer_val_crops"], len(transfer.PICTURES["val"]))
    assert all(r.gain.volumes == pictures and r.split == "val" for r in learned.values())  # a picture per unit
    comparisons = transfer.compare_passed(ch09["val"], learned, "val")
    assert ch09["verdict"] == findings.transfer_verdict(learned, transfer.against_scratch(comparisons))
    compared = {m for key in ch09["comparisons"] for m in key.split("|")}
    assert compared <= {m for m, r in ch09["learned"].items() if r["passed"]}  # a mode that did not pass is not compared
    if not ch09["learned"]["scratch"]["passed"]:
        assert "inconclusive at this budget" in ch09["verdict"] and not ch09["verdict"].startswith(("Yes", "No"))
