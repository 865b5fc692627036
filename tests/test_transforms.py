import numpy as np
import pytest

from automap_nb.data import augment, transforms


@pytest.fixture
def rng():
    return np.random.default_rng(0)


def random_complex(rng, shape):
    return (rng.standard_normal(shape) + 1j * rng.standard_normal(shape)).astype(np.complex64)


@pytest.mark.parametrize("shape", [(8, 8), (7, 10), (3, 16, 12)])
def test_fft_round_trip_and_parseval(rng, shape):
    x = random_complex(rng, shape)
    k = transforms.fft2c(x)
    np.testing.assert_allclose(transforms.ifft2c(k), x, atol=1e-5)
    np.testing.assert_allclose(np.sum(np.abs(k)**2), np.sum(np.abs(x)**2), rtol=1e-5)


@pytest.mark.parametrize("n", [8, 9])
def test_fft_is_centred(n):
    constant = np.ones((n, n), np.complex64)
    k = transforms.fft2c(constant)
    assert np.argmax(np.abs(k)) == np.ravel_multi_index((n // 2, n // 2), (n, n))
    np.testing.assert_allclose(np.abs(k[n // 2, n // 2]), n, rtol=1e-6)  # ortho: sum / sqrt(n·n)
    # a centred delta has a flat spectrum
    delta = np.zeros((n, n), np.complex64)
    delta[n // 2, n // 2] = 1
    np.testing.assert_allclose(np.abs(transforms.fft2c(delta)), 1 / n, rtol=1e-5)


def test_fft_matches_fastmri_definition(rng):
    k = random_complex(rng, (16, 12))
    expected = np.fft.fftshift(np.fft.ifft2(np.fft.ifftshift(k, axes=(-2, -1)), norm="ortho"), axes=(-2, -1))
    np.testing.assert_allclose(transforms.ifft2c(k), expected, atol=1e-6)


def test_center_crop_keeps_centre_and_pad_inverts():
    a = np.arange(10 * 12).reshape(10, 12)
    c = transforms.center_crop(a, (4, 5))
    assert c.shape == (4, 5)
    assert c[2, 2] == a[5, 6]  # centre index L//2 maps to s//2
    padded = transforms.center_pad(c, (10, 12))
    np.testing.assert_array_equal(transforms.center_crop(padded, (4, 5)), c)
    with pytest.raises(ValueError, match="cannot centre-crop"):
        transforms.center_crop(a, 11)


@pytest.mark.parametrize("size", [8, 9, 16])
def test_downsample_keeps_constants_and_is_lowpass(rng, size):
    const = np.full((32, 32), 2.5 + 0j)
    np.testing.assert_allclose(transforms.downsample(const, size), 2.5, atol=1e-5)
    x = random_complex(rng, (32, 32))
    small = transforms.downsample(x, size)
    assert small.shape == (size, size) and small.dtype == np.complex64
    # its k-space is exactly the central block of the original's, rescaled
    np.testing.assert_allclose(transforms.fft2c(small), transforms.center_crop(transforms.fft2c(x), size) * size / 32, atol=1e-4)


def test_downsample_removes_aliasing():
    # a frequency above the new Nyquist limit must vanish instead of folding back
    n = np.arange(64)
    stripes = np.cos(2 * np.pi * 28 * n / 64)[None, :] * np.ones((64, 1))
    assert np.max(np.abs(transforms.downsample(stripes, 32))) < 1e-5


def test_downsample_rejects_bad_size():
    with pytest.raises(ValueError, match="size must be an integer"):
        transforms.downsample(np.ones((8, 8)), 9)


def test_normalize_range_and_errors(rng):
    x = random_complex(rng, (3, 8, 8))
    y, scale = transforms.normalize(x)
    assert np.isclose(np.abs(y).max(), 1.0) and np.isclose(scale, np.abs(x).max())
    with pytest.raises(ValueError, match="cannot normalise"):
        transforms.normalize(np.zeros((2, 2)))


def test_example_encoding_round_trip(rng):
    image, _ = transforms.normalize(random_complex(rng, (2, 8, 8)))
    inputs, targets = transforms.image_to_example(image, kspace_scale=3.0)
    assert inputs.shape == (2, 8, 8, 2) and targets.shape == (2, 8, 8, 1)
    np.testing.assert_allclose(transforms.inputs_to_image(inputs, 3.0), image, atol=1e-5)
    mask = np.zeros(8)
    mask[::2] = 1
    masked, same_targets = transforms.image_to_example(image, 3.0, mask)
    assert np.all(masked[..., 1::2, :] == 0)
    np.testing.assert_array_equal(same_targets, targets)


def test_reflection_tiling_and_crop(rng):
    x = random_complex(rng, (6, 5))
    tiled = augment.reflection_tiling(x)
    assert tiled.shape == (12, 10)
    np.testing.assert_array_equal(tiled[:6, 5:], x[:, ::-1])
    np.testing.assert_array_equal(tiled[6:, :5], x[::-1, :])
    np.testing.assert_array_equal(tiled[6:, 5:], x[::-1, ::-1])
    crops = [augment.reflect_tile_crop(x, rng) for _ in range(20)]
    assert all(c.shape == x.shape for c in crops)
    assert any(not np.array_equal(c, x) for c in crops)
    # every crop is a window of the mosaic (reflection property)
    for c in crops:
        hits = [(i, j) for i in range(6) for j in range(5) if np.array_equal(tiled[i:i + 6, j:j + 5], c)]
        assert hits
    # same seed, same crops
    a = augment.reflect_tile_crop(x, np.random.default_rng(3))
    b = augment.reflect_tile_crop(x, np.random.default_rng(3))
    np.testing.assert_array_equal(a, b)


def test_indexed_crop_equals_the_mosaic_window_at_every_offset(rng):
    x = random_complex(rng, (3, 6, 5))  # a leading axis stays aligned
    tiled = augment.reflection_tiling(x)

    class Fixed:  # a Generator stand-in that returns the offsets we ask for, in crop_offset's order

        def __init__(self, top, left):
            self.draws = [top, left]

        def integers(self, low, high):
            return self.draws.pop(0)

    for top in range(6):
        for left in range(5):
            np.testing.assert_array_equal(augment.reflect_tile_crop(x, Fixed(top, left)), tiled[:, top:top + 6, left:left + 5])


def test_align_dc_phase_makes_dc_real_and_keeps_the_magnitude_image(rng):
    image, _ = transforms.normalize(random_complex(rng, (3, 8, 8)))
    inputs, _ = transforms.image_to_example(image, kspace_scale=2.0)
    aligned = transforms.align_dc_phase(inputs)
    assert aligned.shape == inputs.shape and aligned.dtype == np.float32
    dc = aligned[:, 4, 4]  # the centre of the centred 8 × 8 grid
    assert np.all(dc[:, 0] > 0)
    np.testing.assert_allclose(dc[:, 1], 0, atol=1e-6)
    np.testing.assert_allclose(np.abs(transforms.inputs_to_image(aligned, 2.0)), np.abs(image), atol=1e-5)
    # a global phase in the image is what it removes
    turned, _ = transforms.image_to_example(image * np.exp(1j * 2.5), kspace_scale=2.0)
    np.testing.assert_allclose(transforms.align_dc_phase(turned), aligned, atol=1e-5)
    assert transforms.real_energy_share(aligned) > transforms.real_energy_share(turned)
    real, _ = transforms.image_to_example(np.abs(image), kspace_scale=2.0)
    assert transforms.real_energy_share(real) == pytest.approx(1.0)
    assert transforms.real_energy_share(transforms.image_to_example(1j * np.abs(image), 2.0)[0]) == pytest.approx(0.0, abs=1e-9)
    zero_dc = inputs.copy()
    zero_dc[:, 4, 4] = 0
    np.testing.assert_array_equal(transforms.align_dc_phase(zero_dc), zero_dc)  # nothing to align to
