"""dAUTOMAP (``dautomap``): exact counts (n², not n⁴), the inverse-DFT start is ``ifft2c``, and the
training loop, both input pipelines, resume and the benchmark take it as they take AUTOMAP.

Runs under the default backend and again under ``KERAS_BACKEND=jax``. Tolerances: the transform
against numpy's ``ifft2c`` to 1e-5 of the image's largest magnitude (float32 sums of n terms); the
device pipeline against the numpy one to a relative 1e-4 (as ``tests/test_pipeline.py``); a
resumed run against an uninterrupted one to 1e-5.
"""

from __future__ import annotations

import keras
import numpy as np
import pytest
from test_training import write_tiny_prepared

from automap_nb import bench, models, training
from automap_nb.data import transforms

N = 16
ARGS = dict(batch_size=4, learning_rate=1e-3, seed=0, progress=False, checkpoint_seconds=0)


def tail_params(filters: int) -> int:
    """conv_1 (2 → f), conv_2 (f → f), deconv (f → 1), with biases: the same at every n."""
    return 25 * 2 * filters + filters + 25 * filters * filters + filters + 49 * filters + 1


def random_kspace(rng: np.random.Generator, count: int, n: int) -> np.ndarray:
    return (rng.standard_normal((count, n, n)) + 1j * rng.standard_normal((count, n, n))).astype(np.complex64)


def transform_part(model: keras.Model) -> keras.Model:
    """k-space → the output of the last transform layer (before the conv tail)."""
    return keras.Model(model.inputs, model.get_layer(f"transform_{models.TRANSFORM_LAYERS}_w").output)


@pytest.mark.parametrize("n", [16, 32, 64])
def test_built_model_has_the_counted_parameters(n):
    model = models.build_variant("dautomap", n, seed=0)
    assert model.count_params() == models.count_params("dautomap", n)
    assert model.input_shape == (None, n, n, 2) and model.output_shape == (None, n, n, 1)
    out = model.predict(np.zeros((2, n, n, 2), np.float32), verbose=0)
    assert out.shape == (2, n, n, 1) and np.all(np.isfinite(out))


def test_transform_weights_grow_as_n_squared_and_macs_as_n_cubed():
    for n in (16, 64, 128, 256, 320):  # analytic only
        for filters in (16, 64):
            assert models.count_params("dautomap", n, conv_filters=filters) - tail_params(filters) == 16 * n * n
        tail_macs = (25 * 2 * 64 + 25 * 64 * 64 + 49 * 64) * n * n
        assert models.count_macs("dautomap", n) - tail_macs == 16 * n**3
    assert models.count_params("dautomap", 64, conv_filters=16) == 73_553  # facts.md's probe at 64²
    assert models.count_params("dautomap", 128, conv_filters=16) == 270_161  # and at 128²
    transform = [models.count_params("dautomap", n) - tail_params(64) for n in (64, 128)]
    assert transform[1] == 4 * transform[0]
    assert models.count_params("dautomap", 256) < models.count_params("greenberg", 64)  # 256² below AUTOMAP at 64²
    assert models.variant_fc_widths("dautomap", 64) == []


def test_layer_names_say_what_they_are():
    names = [layer.name for layer in models.build_variant("dautomap", 8, conv_filters=4, dc_phase=True).layers]
    assert names == [
        "kspace", "dc_phase", "transform_1_h", "transform_1_w", "transform_2_h", "transform_2_w", "conv_1", "conv_2", "deconv"
    ]
    model = models.build_variant("dautomap", 8, conv_filters=4)
    assert model.get_layer("transform_1_h").kernel.shape == (8, 2, 8, 2)
    assert model.get_layer("transform_1_w").get_config()["activation"] == "tanh"
    assert model.get_layer("transform_1_h").get_config()["activation"] == "linear"


@pytest.mark.parametrize("n,dc_phase", [(16, False), (15, False), (32, True)])
def test_idft_start_without_tanh_is_ifft2c(n, dc_phase):
    model = models.build_dautomap(n, conv_filters=4, dc_phase=dc_phase, transform_activation=None)
    kspace = random_kspace(np.random.default_rng(n), 3, n)
    inputs = transforms.complex_to_channels(kspace)
    image = transforms.channels_to_complex(transform_part(model).predict(inputs, verbose=0))
    expected = transforms.ifft2c(transforms.channels_to_complex(transforms.align_dc_phase(inputs)) if dc_phase else kspace)
    np.testing.assert_allclose(image, expected, rtol=0, atol=1e-5 * np.abs(expected).max())


def test_variant_starts_as_the_linear_build_and_the_matrix_is_the_centred_idft():
    n = 12
    built = models.build_variant("dautomap", n, seed=0, conv_filters=4)
    linear = models.build_dautomap(n, conv_filters=4, transform_activation=None)
    for i in range(1, models.TRANSFORM_LAYERS + 1):
        for axis in "hw":
            name = f"transform_{i}_{axis}"
            np.testing.assert_array_equal(built.get_layer(name).get_weights()[0], linear.get_layer(name).get_weights()[0])
    second = built.get_layer("transform_2_h").get_weights()[0]
    np.testing.assert_array_equal(second.reshape(2 * n, 2 * n), np.eye(2 * n))  # layer 2: the identity
    x = random_kspace(np.random.default_rng(1), 1, n)[0, :, 0]
    np.testing.assert_allclose(models.centred_idft_matrix(n) @ x, transforms.ifft2c(x[:, None])[:, 0], atol=1e-6)


def test_tanh_model_on_small_kspace_is_ifft2c_to_first_order():
    # tanh(x) ≈ x for small x, so the built variant's transform output follows ifft2c on a faint k-space
    n = 16
    model = models.build_variant("dautomap", n, seed=0, conv_filters=4)
    kspace = 1e-3 * random_kspace(np.random.default_rng(2), 2, n)
    image = transforms.channels_to_complex(transform_part(model).predict(transforms.complex_to_channels(kspace), verbose=0))
    expected = transforms.ifft2c(kspace)
    np.testing.assert_allclose(image, expected, rtol=0, atol=1e-4 * np.abs(expected).max())


@pytest.mark.parametrize("dc_phase", [False, True])
def test_residual_variant_starts_as_the_zero_filled_image(dc_phase):
    # the correction's last layer starts at zero: without tanh the untrained network is |ifft2c| / kspace_scale
    from automap_nb import baselines

    n, scale = 16, 4.0
    model = models.build_dautomap(n, conv_filters=4, dc_phase=dc_phase, transform_activation=None, residual=True,
                                  kspace_scale=scale)
    inputs = transforms.complex_to_channels(random_kspace(np.random.default_rng(7), 3, n))
    expected = baselines.zero_filled(inputs, scale)
    np.testing.assert_allclose(model.predict(inputs, verbose=0)[..., 0], expected, rtol=0, atol=1e-5 * expected.max())
    assert model.count_params() == models.count_params("dautomap-residual", n, 4) == models.count_params("dautomap", n, 4)


def test_kspace_scale_puts_the_first_tanh_in_its_linear_range():
    n, scale = 16, 5.0
    image = 0.9 * np.ones((n, n))  # a bright image at the prepared data's scale (max 1), its k-space × kspace_scale
    inputs = transforms.complex_to_channels(scale * transforms.fft2c(image)[None])
    for kspace_scale, gain in ((None, scale), (scale, models.TRANSFORM_GAIN)):  # without it, tanh(4.5): saturated
        model = models.build_dautomap(n, conv_filters=4, kspace_scale=kspace_scale)
        first = keras.Model(model.inputs, model.get_layer("transform_1_w").output).predict(inputs, verbose=0)
        assert np.abs(first).max() == pytest.approx(np.tanh(0.9 * gain), rel=1e-4)


def test_random_start_is_glorot_for_the_2n_by_2n_matrix_and_seeded():
    n = 32
    a = models.build_variant("dautomap", n, seed=3, transform_init="random").get_layer("transform_1_h").get_weights()[0]
    b = models.build_variant("dautomap", n, seed=3, transform_init="random").get_layer("transform_1_h").get_weights()[0]
    c = models.build_variant("dautomap", n, seed=4, transform_init="random").get_layer("transform_1_h").get_weights()[0]
    limit = np.sqrt(6 / (4 * n))
    assert np.abs(a).max() <= limit and a.std() == pytest.approx(limit / np.sqrt(3), rel=0.05)
    np.testing.assert_array_equal(a, b)
    assert not np.array_equal(a, c)


def test_bad_transform_options_name_the_parameter():
    with pytest.raises(ValueError, match="transform_init must be one of"):
        models.build_variant("dautomap", 8, transform_init="dft")
    with pytest.raises(ValueError, match="transform_init is dautomap's option"):
        models.build_variant("greenberg", 8, transform_init="random")
    with pytest.raises(ValueError, match="TransformInit kind"):
        models.TransformInit("zeros")
    with pytest.raises(ValueError, match="shape"):
        models.TransformInit("idft")((4, 2, 5, 2))


@pytest.mark.parametrize("variant", ["dautomap", "dautomap-residual"])
def test_saved_loaded_cloned_and_bfloat16(tmp_path, variant):
    n = 8
    x = transforms.complex_to_channels(random_kspace(np.random.default_rng(0), 2, n))
    model = models.build_variant(variant, n, seed=0, conv_filters=4, dc_phase=True, precision="mixed_bfloat16", kspace_scale=3.0)
    assert model.get_layer("transform_1_h").compute_dtype == "bfloat16"
    assert model.get_layer("transform_1_h").kernel.dtype == "float32"
    model.compile(optimizer="adam", loss="mse")
    assert np.isfinite(model.train_on_batch(x, np.zeros((2, n, n, 1), "float32")))
    model.save(tmp_path / "m.keras")
    loaded = keras.saving.load_model(tmp_path / "m.keras", safe_mode=True)
    np.testing.assert_allclose(loaded.predict(x, verbose=0), model.predict(x, verbose=0), rtol=1e-6)
    # chapter 09 clones a model for "scratch": the clone starts where the variant starts (idft)
    idft = models.build_variant("dautomap", n, seed=0, conv_filters=4)
    clone = keras.models.clone_model(idft)
    np.testing.assert_array_equal(
        clone.get_layer("transform_1_w").get_weights()[0],
        idft.get_layer("transform_1_w").get_weights()[0])


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return write_tiny_prepared(tmp_path_factory.mktemp("dautomap") / "prepared.h5", n=N, seed=5)


def dautomap(init: str = "idft") -> keras.Model:
    return models.build_variant("dautomap", N, seed=0, conv_filters=8, transform_init=init)


def values(history, key="loss"):
    return [e[key] for e in history["epochs"]]


@pytest.mark.parametrize("init", ["idft", "random"])
def test_both_pipelines_train_it_alike_and_it_learns(prepared, tmp_path, init):
    histories = {}
    for name in ("numpy", "device"):
        histories[name] = training.train(dautomap(init), prepared, tmp_path / name, epochs=3, pipeline=name, **ARGS)
    for key in ("loss", "val_loss", "val_psnr"):
        np.testing.assert_allclose(values(histories["device"], key), values(histories["numpy"], key), rtol=1e-4)
    run = histories["numpy"]["epochs"]
    assert run[-1]["loss"] < run[0]["loss"] and run[-1]["val_psnr"] > run[0]["val_psnr"]
    final = training.load_checkpoint(tmp_path / "device")  # safe mode; the model, not the wrapper
    assert final.name == "dautomap" and final.count_params() == models.count_params("dautomap", N, conv_filters=8)


@pytest.mark.parametrize("pipeline", ["numpy", "device"])
def test_interrupted_training_resumes_to_the_uninterrupted_run(prepared, tmp_path, monkeypatch, pipeline):
    epochs = 4
    record_epoch = training._EpochRecorder.on_epoch_end

    class Interrupted(Exception):
        pass

    def stop_after_two(self, epoch, logs=None):
        record_epoch(self, epoch, logs)
        if epoch + 1 == 2:
            raise Interrupted

    with monkeypatch.context() as patch:
        patch.setattr(training._EpochRecorder, "on_epoch_end", stop_after_two)
        with pytest.raises(Interrupted):
            training.train(dautomap(), prepared, tmp_path / "run", epochs=epochs, pipeline=pipeline, **ARGS)
    assert len(training.load_history(tmp_path / "run")["epochs"]) == 2
    resumed = training.train(dautomap(), prepared, tmp_path / "run", epochs=epochs, pipeline=pipeline, **ARGS)
    straight = training.train(dautomap(), prepared, tmp_path / "straight", epochs=epochs, pipeline=pipeline, **ARGS)
    assert [e["epoch"] for e in resumed["epochs"]] == list(range(1, epochs + 1))
    np.testing.assert_allclose(values(resumed), values(straight), rtol=1e-5)
    x = training.PreparedDataset(prepared, "test", 4)[0][0]
    np.testing.assert_allclose(training.predict(training.load_checkpoint(tmp_path / "run"), x),
                               training.predict(training.load_checkpoint(tmp_path / "straight"), x), atol=1e-5)


def test_layer_outputs_cover_the_transform_layers():
    n = 8
    initial = models.build_variant("dautomap", n, seed=0, conv_filters=4)
    moved = models.build_variant("dautomap", n, seed=0, conv_filters=4)
    kernel = moved.get_layer("transform_1_h").get_weights()[0]
    moved.get_layer("transform_1_h").set_weights([2 * kernel])
    x = transforms.complex_to_channels(random_kspace(np.random.default_rng(0), 3, n))
    outputs = training.layer_outputs(initial, moved, x)
    assert list(outputs)[:4] == ["transform_1_h", "transform_1_w", "transform_2_h", "transform_2_w"]
    z0, z = outputs["transform_1_h"]
    np.testing.assert_allclose(z, 2 * z0, rtol=1e-5, atol=1e-6)


def test_benchmark_runs_it():
    result = bench.run_benchmark(variant="dautomap", n=8, batch=4, steps=2, warmup=1, repeats=1)
    assert result["params"] == models.count_params("dautomap", 8)
    assert result["train_gflop_per_sample"] == pytest.approx(6 * models.count_macs("dautomap", 8) / 1e9)
    assert result["train_samples_per_s"] > 0 and result["infer_ms_per_slice"] > 0
