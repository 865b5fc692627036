"""Chapter 08's perturbation search and operators (runs under TensorFlow and, in ``make test``, JAX)."""

import keras
import numpy as np
import pytest
from keras import layers, ops

from automap_nb import findings
from automap_nb.data import subsample, transforms
from automap_nb.experiments import stability


def _kspace(rng, batch=3, n=16):
    """Centred k-space (image units) of random complex images with max magnitude 1, as channels."""
    images = rng.standard_normal((batch, n, n)) + 1j * rng.standard_normal((batch, n, n))
    images /= np.abs(images).max(axis=(1, 2), keepdims=True)
    return transforms.complex_to_channels(transforms.fft2c(images))


def _toy_model(n=8, seed=0, in_chans=2):
    """A small AUTOMAP-shaped network: flatten → dense tanh → dense tanh (n²) → reshape → conv
    (``in_chans=1``: an image-to-image network, as the U-Net is)."""
    keras.utils.set_random_seed(seed)
    inputs = keras.Input((n, n, in_chans))
    x = layers.Flatten()(inputs)
    x = layers.Dense(32, activation="tanh")(x)
    x = layers.Dense(n * n, activation="tanh")(x)
    x = layers.Reshape((n, n, 1))(x)
    return keras.Model(inputs, layers.Conv2D(1, 3, padding="same")(x))


def test_ifft_operator_is_the_projects_centred_orthonormal_inverse_fft():
    y = _kspace(np.random.default_rng(0), n=15)  # odd n: the shifts must be the centred ones
    expected = np.abs(transforms.ifft2c(transforms.channels_to_complex(y)))
    assert np.allclose(stability.evaluate(stability.ifft_operator(), y), expected, atol=1e-5)
    mask = subsample.volume_masks(["a.h5", "b.h5", "c.h5"], "random", 4, 15).astype(np.float32)
    zero_filled = np.abs(transforms.ifft2c(transforms.channels_to_complex(y) * mask[:, None, :]))
    assert np.allclose(stability.evaluate(stability.ifft_operator(mask), y), zero_filled, atol=1e-5)


def test_value_and_gradient_matches_finite_differences():
    rng = np.random.default_rng(1)
    x = rng.standard_normal((2, 3, 4)).astype(np.float32)
    fn = lambda t: ops.sum(ops.reshape(ops.tanh(t)**2, (2, -1)), axis=1)  # noqa: E731
    values, grad = stability.value_and_gradient(fn, x)
    assert values.shape == (2, ) and grad.shape == x.shape
    assert np.allclose(values, np.sum(np.tanh(x)**2, axis=(1, 2)), rtol=1e-5)
    analytic = 2 * np.tanh(x) * (1 - np.tanh(x)**2)
    assert np.allclose(grad, analytic, atol=1e-5)


@pytest.mark.parametrize("lam", [0.0, 0.5])
def test_search_increases_the_objective_on_a_toy_model_and_stays_in_the_ball(lam):
    n = 8
    model = _toy_model(n)
    y = _kspace(np.random.default_rng(2), batch=2, n=n)
    f = stability.model_operator(model, kspace_scale=3.0)
    radius = 0.2 * stability.norms(y)
    out = stability.search(f, y, radius, steps=25, lam=lam, seed=0)
    trace = out["trace"]
    assert trace.shape == (26, 2)
    assert np.all(out["objective"] > trace[0] * 1.5), (trace[0], out["objective"])  # well above the random start
    assert np.all(stability.norms(out["r"]) <= radius * (1 + 1e-5))
    J = stability.objective(f, y, stability.evaluate(f, y), lam)
    assert np.allclose(ops.convert_to_numpy(J(ops.convert_to_tensor(out["r"]))), out["objective"], rtol=1e-4)
    # the searched perturbation beats Gaussian noise of the same norm on the same network
    noise = stability.random_perturbation(y.shape, stability.norms(out["r"]), np.random.default_rng(3))
    searched = stability.amplification(f, y, out["r"])["amplification"]
    assert np.all(searched > stability.amplification(f, y, noise)["amplification"])


def test_search_keeps_r_on_the_sampled_columns():
    n = 8
    y = _kspace(np.random.default_rng(4), batch=2, n=n)
    mask = np.zeros((2, n), np.float32)
    mask[:, ::2] = 1
    out = stability.search(stability.unet_operator(_toy_model(n, in_chans=1), mask), y, 0.1 * stability.norms(y), steps=5,
                           mask=stability.channel_mask(mask, 2))
    assert np.all(out["r"][:, :, 1::2] == 0) and np.any(out["r"][:, :, ::2] != 0)


def test_the_inverse_ffts_amplification_never_exceeds_one():
    rng = np.random.default_rng(5)
    y = _kspace(rng, batch=4, n=16)
    mask = subsample.volume_masks([f"v{i}.h5" for i in range(4)], "random", 4, 16).astype(np.float32)
    for f, col in ((stability.ifft_operator(), None), (stability.ifft_operator(mask), stability.channel_mask(mask, 4))):
        for fraction in (1e-3, 0.05, 1.0, 20.0):  # from tiny to far larger than the image itself
            radius = fraction * stability.norms(y)
            amps = [stability.amplification(f, y, stability.random_perturbation(y.shape, radius, rng, col))["amplification"]]
            amps.append(stability.amplification(f, y, stability.search(f, y, radius, steps=15, mask=col)["r"])["amplification"])
            assert np.max(amps) <= 1 + 1e-5, (fraction, np.max(amps))
    # the bound is reached: r with the image's own phase (r = ε·y/‖y‖) moves |IFFT| by exactly ‖r‖
    r = 0.01 * y
    assert np.allclose(stability.amplification(stability.ifft_operator(), y, r)["amplification"], 1, atol=1e-4)


def test_random_perturbation_has_the_requested_norm_and_support():
    rng = np.random.default_rng(6)
    mask = stability.channel_mask(np.tile([1, 0, 0, 1], (3, 2)).astype(np.float32), 3)
    r = stability.random_perturbation((3, 8, 8, 2), np.array([1.0, 2.0, 3.0]), rng, mask)
    assert np.allclose(stability.norms(r), [1, 2, 3], rtol=1e-5)
    assert np.all(r[:, :, 1:3] == 0)
    assert np.allclose(stability.norms(stability.project(r * 5, np.array([1.0, 1.0, 1.0]))), 1, rtol=1e-5)


def test_run_group_and_summary_on_a_toy_model():
    n = 8
    model = _toy_model(n)
    y = _kspace(np.random.default_rng(7), batch=2, n=n)
    make = lambda m: {"toy": stability.model_operator(model, 3.0), "ifft": stability.ifft_operator()}  # noqa: E731
    result = stability.run_group(make, ["toy"], y, [0.01, 0.1], steps=4, step_size=0.2, momentum=0.9, seed=0)
    assert set(result["perturbations"]) == {"random", "search:toy"}
    assert result["change"]["ifft"]["search:toy"].shape == (2, 2)
    assert np.allclose(stability.norms(result["perturbations"]["random"].reshape(4, n, n, 2)), result["radius"].ravel(), rtol=1e-5)
    rows = stability.summary_rows("1×", result, np.abs(transforms.ifft2c(transforms.channels_to_complex(y))))
    assert len(rows) == 4
    for row in rows:
        assert row["amp_worst"] >= row["amp_random"] - 1e-9  # the worst includes the random draw
        if row["method"] == "ifft":
            assert row["amp_worst_max"] <= 1 + 1e-5 and not row["own_search"]
        assert len(row["amp_worst_slices"]) == 2 and np.isclose(np.mean(row["amp_worst_slices"]), row["amp_worst"])
    assert stability.compare_amplifications(rows) == {}  # none of the chapter's pairs ran here


def test_tv_operator_refuses_the_search():
    f = stability.tv_operator(np.ones((1, 8), np.float32), 0.01, 2)
    with pytest.raises(ValueError, match="numpy"):
        stability.search(f, np.zeros((1, 8, 8, 2), np.float32), 1.0)


def test_pick_slices_takes_one_slice_from_each_of_count_volumes_by_a_seeded_draw():
    rng = np.random.default_rng(0)
    images = rng.standard_normal((12, 4, 4))
    volumes = np.array([f"v{k // 3}.h5" for k in range(12)])  # 4 volumes of 3 slices
    images[4] *= 10  # the slice with the most signal of v1
    rows = stability.pick_slices(images, volumes, 3, seed=0)
    assert len(set(volumes[rows])) == 3 and list(rows) == sorted(rows)
    assert np.array_equal(rows, stability.pick_slices(images, volumes, 3, seed=0))  # seeded
    every = stability.pick_slices(images, volumes, 4, seed=1)
    assert 4 in every and len(every) == 4
    with pytest.raises(ValueError, match="5 volumes, the split has 4"):
        stability.pick_slices(images, volumes, 5)


def _rows(automap, ifft, unet, tv):
    """Summary rows at one budget with per-slice worst amplifications (random noise: a tenth)."""
    rows = []
    for group, method, values in (("1×", "automap", automap), ("1×", "ifft", ifft), ("4×", "unet", unet), ("4×", "tv", tv)):
        rows.append(
            dict(group=group, method=method, budget=0.05, amp_worst=float(np.mean(values)), amp_random=float(np.mean(values)) / 10,
                 own_search=method != "tv", amp_worst_slices=list(values), amp_random_slices=[v / 10 for v in values]))
    return rows


def _learned(gain_low, model="AUTOMAP"):
    from automap_nb import statistics

    volumes = {f"v{k}": {"psnr": 20.0 + gain_low + 0.01 * k} for k in range(4)}
    mean = {f"v{k}": {"psnr": 20.0} for k in range(4)}
    return statistics.learned({"per_volume": volumes}, {"per_volume": mean}, "test", model=model)


def test_verdict_claims_a_difference_only_with_the_learned_rule_and_an_interval_that_excludes_zero():
    rows = _rows([3.0, 3.2, 2.9, 3.1], [1.0, 1.0, 0.99, 1.0], [1.5, 1.4, 1.6, 1.5], [1.45, 1.55, 1.5, 1.5])
    comps = stability.compare_amplifications(rows)
    assert comps["automap_vs_ifft"]["outcome"] == "a greater" and comps["automap_vs_ifft"]["units"] == 4
    assert comps["unet_vs_tv"]["outcome"] == "none"  # the interval contains zero
    passed = {"automap": _learned(8.0), "unet": _learned(8.0, "the U-Net (4×)")}
    line = findings.stability_verdict(comps, passed)
    assert "the worst amplification of AUTOMAP exceeds that of the inverse FFT, 3.05 against 1.00" in line
    assert "the worst amplification of the U-Net was not shown to differ from that of TV on the perturbations tried" in line
    assert "4 test volumes, one slice each" in line and "\n" not in line
    failed = {"automap": _learned(1.0), "unet": _learned(8.0, "the U-Net (4×)")}
    line = findings.stability_verdict(comps, failed)
    assert "whether AUTOMAP is less stable than the inverse FFT is inconclusive at this budget" in line
    assert "exceeds" not in line
    markdown = findings.stability_findings(rows, comps, failed, stability.METHOD_LABELS)
    assert "Measured, without a verdict: the worst amplification of AUTOMAP exceeds" in markdown


def test_paired_interval_pairs_by_unit_and_needs_three():
    from automap_nb.statistics import paired_interval

    c = paired_interval({"a": 2.0, "b": 3.0, "c": 2.5}, {"c": 1.5, "a": 1.0, "b": 2.0})
    assert c["units"] == 3 and np.isclose(c["difference"], 1.0) and c["outcome"] == "a greater"
    assert c["low"] <= 1.0 <= c["high"]
    assert paired_interval([1.0, 2.0], [0.0, 0.0])["outcome"] == "too few"
    assert paired_interval([1.0, -1.0, 0.5, -0.5], [0.0] * 4)["outcome"] == "none"
    assert paired_interval([np.inf, 1.0, 1.0], [0.0] * 3)["outcome"] == "undefined"
    with pytest.raises(ValueError, match="same units"):
        paired_interval({"a": 1.0}, {"b": 1.0})
