"""Metrics: agreement with scikit-image, hand-computed values, per-volume aggregation, errors."""

import math
import warnings

import numpy as np
import pytest
from skimage.metrics import peak_signal_noise_ratio, structural_similarity

from automap_nb import evaluate as ev


@pytest.fixture
def pair():
    rng = np.random.default_rng(0)
    gt = rng.random((3, 16, 16)).astype(np.float32) * 0.8
    pred = gt + 0.05 * rng.standard_normal(gt.shape).astype(np.float32)
    return gt, pred


def test_psnr_matches_skimage_with_volume_max(pair):
    gt, pred = pair
    expected = peak_signal_noise_ratio(gt.astype(np.float64), pred.astype(np.float64), data_range=float(gt.max()))
    assert ev.psnr(gt, pred) == pytest.approx(expected, abs=1e-9)
    assert ev.psnr(gt, pred, data_range=2.0) == pytest.approx(
        peak_signal_noise_ratio(gt.astype(np.float64), pred.astype(np.float64), data_range=2.0))


def test_psnr_max1_hand_computed():
    gt = np.zeros((4, 4))
    pred = np.full((4, 4), 0.1)  # MSE = 0.01 -> 20 dB at MAX = 1
    assert ev.psnr_max1(gt, pred) == pytest.approx(20.0)
    assert ev.psnr_max1(gt, pred, max_value=10.0) == pytest.approx(40.0)
    # the paper's MAX is fixed, fastMRI's is gt.max(): they differ when gt.max() != 1
    gt2 = np.full((4, 4), 0.5)
    assert ev.psnr_max1(gt2, gt2 + 0.1) == pytest.approx(20.0)
    assert ev.psnr(gt2, gt2 + 0.1) == pytest.approx(20 * math.log10(0.5) + 20.0)


def test_nmse_hand_computed():
    gt = np.array([[3.0, 4.0]])  # ||gt||^2 = 25
    pred = np.array([[3.0, 3.0]])  # ||err||^2 = 1
    assert ev.nmse(gt, pred) == pytest.approx(1 / 25)


def test_ssim_matches_skimage_per_slice_with_volume_range(pair):
    gt, pred = pair
    rng = float(gt.max())
    expected = np.mean(
        [structural_similarity(g.astype(np.float64), p.astype(np.float64), data_range=rng) for g, p in zip(gt, pred)])
    assert ev.ssim(gt, pred) == pytest.approx(expected, abs=1e-12)
    # per-slice data range would give a different number: the volume max is what is used
    per_slice = np.mean([
        structural_similarity(g.astype(np.float64), p.astype(np.float64), data_range=float(g.max() - g.min()))
        for g, p in zip(gt, pred)
    ])
    assert abs(ev.ssim(gt, pred) - per_slice) > 1e-6


def test_exact_reconstruction_is_infinite_without_warning(pair):
    gt, _ = pair
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert ev.psnr(gt, gt) == math.inf
        assert ev.psnr_max1(gt, gt) == math.inf
        assert ev.nmse(gt, gt) == 0.0
        assert ev.ssim(gt, gt) == pytest.approx(1.0)
        result = ev.evaluate_volumes(gt, gt.copy(), ["a", "a", "b"])
    assert result["mean"]["psnr"] == math.inf
    assert math.isnan(result["std2"]["psnr"])
    assert result["infinite"] == {"nmse": 0, "psnr": 2, "ssim": 0, "psnr_max1": 2}


def test_evaluate_volumes_aggregates_per_volume():
    # volume "a": 2 slices, error 0.1 everywhere on gt = 1 -> MSE 0.01, PSNR 20, NMSE 0.01
    # volume "b": 1 slice, error 0.01 on gt = 0.5 (max 0.5) -> MSE 1e-4, PSNR 20log10(.5)+40
    n = 8
    targets = np.stack([np.ones((n, n)), np.full((n, n), 0.5), np.ones((n, n))])[..., None]
    preds = targets.copy()
    preds[0] += 0.1
    preds[2] -= 0.1
    preds[1] += 0.01
    names = np.array([b"a", b"b", b"a"])
    out = ev.evaluate_volumes(targets, preds, names)
    assert out["volumes"] == 2
    a, b = out["per_volume"]["a"], out["per_volume"]["b"]
    assert a["slices"] == 2 and b["slices"] == 1
    assert a["psnr"] == pytest.approx(20.0)
    assert a["nmse"] == pytest.approx(0.01)
    assert b["psnr"] == pytest.approx(20 * math.log10(0.5) + 40.0)
    assert b["nmse"] == pytest.approx(1e-4 / 0.25)
    assert b["psnr_max1"] == pytest.approx(40.0)
    psnrs = [a["psnr"], b["psnr"]]
    assert out["mean"]["psnr"] == pytest.approx(np.mean(psnrs))
    assert out["std2"]["psnr"] == pytest.approx(2 * np.std(psnrs))
    assert out["infinite"]["psnr"] == 0


@pytest.mark.parametrize("call, match", [(lambda: ev.psnr(np.ones((4, 4)), np.ones((4, 5))), "shape"),
                                         (lambda: ev.nmse(np.zeros((4, 4)), np.ones((4, 4))), "all zeros"),
                                         (lambda: ev.ssim(np.ones((2, 3, 8, 8)), np.ones((2, 3, 8, 8))), "ssim expects"),
                                         (lambda: ev.psnr(np.zeros((4, 4)), np.ones((4, 4))), "data_range"),
                                         (lambda: ev.psnr_max1(np.ones(3) + 0j, np.ones(3)), "real"),
                                         (lambda: ev.evaluate_volumes(np.ones((2, 8, 8)), np.ones((2, 8, 8)), ["a"]), "volumes"),
                                         (lambda: ev.evaluate_volumes(np.ones((2, 8)), np.ones((2, 8)), ["a", "b"]), "targets")])
def test_errors_are_one_line_value_errors(call, match):
    with pytest.raises(ValueError, match=match) as info:
        call()
    assert "\n" not in str(info.value)
