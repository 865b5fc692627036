"""Undersampling masks: acceleration, centre block, determinism per volume, shapes, errors."""

import numpy as np
import pytest

from automap_nb.data import subsample as ss


@pytest.mark.parametrize("kind", ss.KINDS)
@pytest.mark.parametrize("n", [31, 32, 64, 65])
@pytest.mark.parametrize("acceleration", [4, 8])
def test_shape_centre_and_acceleration(kind, n, acceleration):
    masks = np.stack([ss.mask_for(kind, acceleration, n, seed) for seed in range(200)])
    assert masks.shape == (200, n) and masks.dtype == bool
    num_low = max(1, round(n * ss.center_fraction_for(acceleration)))
    start = n // 2 - num_low // 2
    assert masks[:, start:start + num_low].all()  # the centre block is always sampled
    assert masks[:, n // 2].all()  # DC column
    # mean number of sampled columns is n / acceleration (random: in expectation)
    assert masks.sum(axis=1).mean() == pytest.approx(n / acceleration, rel=0.1)
    if kind == "equispaced":  # each single mask is within rounding of the target
        assert np.all(np.abs(masks.sum(axis=1) - n / acceleration) <= 2)


def test_random_outside_centre_is_not_equispaced():
    m = ss.mask_for("random", 4, 128, 3)
    gaps = np.diff(np.flatnonzero(m))
    assert len(set(gaps.tolist())) > 2


def test_acceleration_one_is_all_ones():
    for kind in ss.KINDS:
        assert ss.mask_for(kind, 1, 33, 0).all()
    assert ss.make_mask_fn("random", 1, 32) is None


def test_volume_masks_deterministic_and_shared_per_volume():
    vols = [b"file1.h5", b"file1.h5", "file2.h5", "file1.h5"]
    a = ss.volume_masks(vols, "random", 4, 64)
    b = ss.volume_masks(vols, "random", 4, 64)
    assert a.shape == (4, 64)
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(a[0], a[3])  # bytes and str name give the same mask
    assert not np.array_equal(a[0], a[2])  # different volumes, different masks
    assert ss.volume_seed("file1.h5") == ss.volume_seed(b"file1.h5")


def test_volume_seed_is_stable_across_processes():
    # SHA-256 based, so a fixed value: a change here changes every published mask
    assert ss.volume_seed("file1000000.h5") == int.from_bytes(
        __import__("hashlib").sha256(b"file1000000.h5").digest()[:4], "little")


def test_mask_fn_random_vs_fixed():
    fn = ss.make_mask_fn("random", 4, 64, mode="random", seed=1)
    draws = [fn() for _ in range(5)]
    assert not all(np.array_equal(draws[0], d) for d in draws[1:])
    r1 = fn(np.random.default_rng(7))
    r2 = fn(np.random.default_rng(7))
    np.testing.assert_array_equal(r1, r2)
    fixed = ss.make_mask_fn("equispaced", 8, 64, mode="fixed", seed=1)
    np.testing.assert_array_equal(fixed(), fixed(np.random.default_rng(3)))


def test_apply_mask_broadcasts_over_rows_and_channels():
    x = np.ones((3, 8, 8, 2), np.float32)
    masks = np.zeros((3, 8), bool)
    masks[:, 4] = True
    y = ss.apply_mask(x, masks)
    assert y[:, :, 4, :].all() and y.sum() == 3 * 8 * 2
    y1 = ss.apply_mask(x, masks[0])
    np.testing.assert_array_equal(y, y1)


@pytest.mark.parametrize("call, match", [(lambda: ss.mask_for("poisson", 4, 64, 0), "kind"),
                                         (lambda: ss.mask_for("random", 3, 64, 0), "center_fraction"),
                                         (lambda: ss.mask_for("random", 0.5, 64, 0), "acceleration"),
                                         (lambda: ss.mask_for("random", 8, 64, 0, center_fraction=0.2), "center_fraction"),
                                         (lambda: ss.apply_mask(np.ones((2, 8, 8, 2)), np.ones(7)), "width"),
                                         (lambda: ss.make_mask_fn("random", 4, 64, mode="sometimes"), "mode")])
def test_errors(call, match):
    with pytest.raises(ValueError, match=match) as info:
        call()
    assert "\n" not in str(info.value)


def test_mask_fn_fits_the_trainer_hook():
    fn = ss.make_mask_fn("random", 4, 32, seed=0)
    assert fn.__name__ == "random_4x"
    assert fn(np.random.default_rng(0), 32).shape == (32, )
    with pytest.raises(ValueError, match="n = 32"):
        fn(np.random.default_rng(0), 64)


def test_mask_fn_with_several_accelerations_mixes_them():
    fn = ss.make_mask_fn("equispaced", [1, 4, 8], 64, seed=0)
    assert fn.__name__ == "equispaced_1x+4x+8x"
    counts = {int(fn(np.random.default_rng(i), 64).sum()) for i in range(60)}
    assert 64 in counts and 16 in counts and any(c < 12 for c in counts)
    assert ss.make_mask_fn("random", [1], 64) is None
