"""AUTOMAP variants: exact parameter counts (analytic for the big ones), built models, shapes."""

from __future__ import annotations

import numpy as np
import pytest

from automap_nb import models


def test_named_variants_have_the_papers_exact_counts():
    # computed from layer shapes: nothing of the 201M / 806M models is allocated
    assert models.count_params("greenberg-201m", 128) == 201_454_337
    assert models.count_params("original-806m", 128) == 805_446_401
    assert models.variant_fc_widths("greenberg-201m", 128) == [4096, 16384]
    assert models.variant_fc_widths("original-806m", 128) == [16384, 16384]


def test_generic_variants_scale_with_n():
    assert models.variant_fc_widths("greenberg", 64) == [1024, 4096]
    assert models.count_params("greenberg", 64) == 12_695_297  # facts.md: 12.7M at 64²
    assert models.count_params("original", 64) == 50_447_105  # facts.md: original AUTOMAP at 64²
    assert models.count_params("greenberg", 128) == models.count_params("greenberg-201m", 128)
    assert models.count_params("original", 128) == models.count_params("original-806m", 128)
    assert models.count_macs("greenberg-201m", 128) == pytest.approx(1.96e9, rel=0.01)  # facts.md


def test_chapter_07_shrinks_are_regular_variants():
    assert models.variant_fc_widths("smaller", 64) == [256, 4096]  # a 4× narrower first layer than greenberg's
    assert models.variant_fc_widths("one_dense", 64) == [4096]
    assert models.count_params("smaller", 64) == 3_257_345
    assert models.count_params("one_dense", 64) == 33_665_793
    assert models.count_params("smaller", 16, conv_filters=8) == 14_769  # chapter 07's quick profile
    assert [layer.name for layer in models.build_variant("one_dense", 8).layers
            ] == ["kspace", "flatten", "dense_1", "reshape", "conv_1", "conv_2", "deconv"]


@pytest.mark.parametrize("variant,n", [("greenberg", 8), ("original", 8), ("greenberg", 12), ("fullconv", 16), ("fullconv", 32),
                                       ("smaller", 8), ("smaller", 16), ("one_dense", 8), ("one_dense", 16), ("dautomap", 8),
                                       ("dautomap", 15)])
def test_built_model_matches_analytic_count_and_shapes(variant, n):
    model = models.build_variant(variant, n, seed=0)
    assert model.count_params() == models.count_params(variant, n)
    assert model.input_shape == (None, n, n, 2)
    assert model.output_shape == (None, n, n, 1)
    out = model.predict(np.zeros((3, n, n, 2), np.float32), verbose=0)
    assert out.shape == (3, n, n, 1) and np.all(np.isfinite(out))


def test_layer_names_say_what_they_are():
    names = [layer.name for layer in models.build_variant("greenberg", 8).layers]
    assert names == ["kspace", "flatten", "dense_1", "dense_2", "reshape", "conv_1", "conv_2", "deconv"]
    conv_2 = models.build_variant("greenberg", 8).get_layer("conv_2")
    assert conv_2.activity_regularizer.get_config()["l1"] == pytest.approx(1e-6)
    fullconv = models.build_variant("fullconv", 32)
    assert not any(layer.name.startswith("dense") for layer in fullconv.layers)


def test_dautomap_grows_as_n_squared_not_n_to_the_fourth():
    # tests/test_dautomap.py has the rest: exact counts, the inverse-DFT start, training
    tail = models.count_params("dautomap", 2) - 16 * 2 * 2
    assert [models.count_params("dautomap", n) - tail for n in (64, 128, 256)] == [16 * 64**2, 16 * 128**2, 16 * 256**2]
    assert models.count_params("dautomap", 128) < models.count_params("greenberg-201m", 128) / 500


def test_fullconv_is_close_to_greenberg_in_parameters():
    for n in (32, 64, 128):  # analytic only
        ratio = models.count_params("fullconv", n) / models.count_params("greenberg", n)
        assert 0.99 < ratio < 1.01, (n, ratio)


def test_build_automap_requires_last_width_n_squared():
    with pytest.raises(ValueError, match="n²"):
        models.build_automap(8, [16, 32])
    model = models.build_automap(8, [40, 64], name="custom")
    assert model.get_layer("dense_1").units == 40 and model.name == "custom"


@pytest.mark.parametrize("variant,n,message", [("nope", 8, "variant"), ("greenberg-201m", 64, "n = 128"),
                                               ("greenberg", 1, "n must be"), ("fullconv", 9, "even")])
def test_bad_variant_or_size_raises(variant, n, message):
    with pytest.raises(ValueError, match=message):
        models.count_params(variant, n)


def test_seeded_builds_are_identical():
    a = models.build_variant("greenberg", 8, seed=3).get_weights()
    b = models.build_variant("greenberg", 8, seed=3).get_weights()
    c = models.build_variant("greenberg", 8, seed=4).get_weights()
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert not np.array_equal(a[0], c[0])


def test_mixed_bfloat16_model_computes_in_bfloat16_and_returns_float32(tmp_path):
    import keras

    before = keras.config.dtype_policy().name
    model = models.build_variant("greenberg", 8, seed=0, conv_filters=4, precision="mixed_bfloat16")
    assert keras.config.dtype_policy().name == before  # the global policy is left alone
    assert model.get_layer("dense_1").compute_dtype == "bfloat16"
    assert model.get_layer("dense_1").kernel.dtype == "float32"  # weights stay float32
    assert model.get_layer("deconv").compute_dtype == "float32"
    x = np.random.default_rng(0).normal(size=(2, 8, 8, 2)).astype("float32")
    model.compile(optimizer="adam", loss="mse")
    # the L1 activity penalty is summed in float32, so it adds to the float32 loss
    loss = model.train_on_batch(x, np.zeros((2, 8, 8, 1), "float32"))
    assert np.isfinite(loss)
    assert keras.backend.standardize_dtype(model(x).dtype) == "float32"
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert loaded.get_layer("dense_1").compute_dtype == "bfloat16"
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)


def test_bad_precision_names_the_parameter():
    with pytest.raises(ValueError, match="precision"):
        models.build_variant("greenberg", 8, precision="float16")


@pytest.mark.parametrize("variant,n", [("greenberg", 8), ("fullconv", 8), ("dautomap", 8)])
def test_dc_phase_layer_is_the_numpy_alignment_inside_the_model(variant, n, tmp_path):
    import keras

    from automap_nb.data import transforms

    model = models.build_variant(variant, n, seed=0, conv_filters=4, dc_phase=True, precision="mixed_bfloat16")
    assert models.has_dc_phase(model) and not models.has_dc_phase(models.build_variant(variant, n, conv_filters=4))
    assert model.count_params() == models.count_params(variant, n, conv_filters=4)  # no weights of its own
    assert [layer.name for layer in model.layers][:2] == ["kspace", "dc_phase"]
    assert model.get_layer("dc_phase").compute_dtype == "float32"
    x = np.random.default_rng(0).normal(size=(3, n, n, 2)).astype("float32")
    x[0, n // 2, n // 2] = 0  # a zero DC: left alone, and no NaN
    aligned = keras.ops.convert_to_numpy(model.get_layer("dc_phase")(x))
    np.testing.assert_allclose(aligned, transforms.align_dc_phase(x), atol=1e-5)
    model.compile(optimizer="adam", loss="mse")  # finite gradients through the layer, zero DC included
    assert np.isfinite(model.train_on_batch(x, np.zeros((3, n, n, 1), "float32")))
    assert all(np.all(np.isfinite(w)) for w in model.get_weights())
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras")
    assert models.has_dc_phase(loaded)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    assert models.has_dc_phase(keras.models.clone_model(model))  # chapter 09 clones chapter 03's model
    with pytest.raises(ValueError, match="dc_phase"):
        models.build_variant(variant, n, dc_phase="yes")
