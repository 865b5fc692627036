"""The device input pipeline: same examples as the numpy path, same training, resume after kill -9.

Runs under the default backend and again under ``KERAS_BACKEND=jax`` (``make test``).
Tolerances are float32 precision: k-space inputs to 1e-5 of their largest magnitude (two FFT
implementations round differently; here both are often bit-identical), targets to 1e-6
(|x| computed as sqrt(re² + im²) against numpy's hypot).
"""

from __future__ import annotations

import sys

import numpy as np
import pytest
from processes import kill_after_first_checkpoint_then_resume
from test_training import write_tiny_prepared

from automap_nb import baselines, models, training
from automap_nb.data import augment, pipeline, subsample

N = 16
# a checkpoint after every epoch (train() gains checkpoint_seconds, default 60 s, in the lead's
# concurrent change; until then every epoch is checkpointed anyway)
ARGS = dict(batch_size=4, learning_rate=1e-3, seed=0, progress=False, checkpoint_seconds=0)


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return write_tiny_prepared(tmp_path_factory.mktemp("pipeline") / "prepared.h5", n=N, seed=3)


@pytest.fixture(scope="module")
def bank(prepared):
    return pipeline.ImageBank.from_prepared(prepared)


def assert_same_examples(reference, device):
    x, y = reference
    xd, yd = device
    assert xd.shape == x.shape and yd.shape == y.shape and xd.dtype == np.float32
    np.testing.assert_allclose(xd, x, rtol=0, atol=1e-5 * np.abs(x).max())
    np.testing.assert_allclose(yd, y, rtol=0, atol=1e-6)


@pytest.mark.parametrize("split,training_mode,masked", [("train", True, False), ("train", True, True), ("val", False, False),
                                                        ("val", False, True)])
def test_device_examples_equal_the_numpy_examples(prepared, bank, split, training_mode, masked):
    mask_fn = subsample.make_mask_fn("random", [4, 8], N) if masked else None
    for epoch in (0, 3):
        kwargs = dict(training=training_mode, seed=7, mask_fn=mask_fn, epoch=epoch)
        reference = training.PreparedDataset(prepared, split, 3, **kwargs)
        device = pipeline.prepared_batches(prepared, split, 3, **kwargs)
        assert len(device) == len(reference) and device.num_samples == reference.num_samples
        np.testing.assert_array_equal(device.order, reference.order)
        for i in range(len(reference)):
            batch = device[i]
            if training_mode:
                assert np.any(batch["offset"] != 0)  # crops were drawn
            if masked:
                assert np.any(batch["mask"] == 0)  # masks were drawn
            assert_same_examples(reference[i], pipeline.examples(bank, batch))


def test_crop_is_the_reflection_tiling_crop_at_every_offset(bank):
    images = keras_images(bank)
    for top in range(0, N, 5):
        for left in (0, 1, N // 2, N - 1):
            batch = dict(index=np.array([2, 9], np.int32), offset=np.array([[top, left]] * 2, np.int32), mask=np.ones((2, N),
                                                                                                                      np.float32))
            _, targets = pipeline.examples(bank, batch)
            for k, row in enumerate(batch["index"]):
                tiled = augment.reflection_tiling(images[row])[top:top + N, left:left + N]
                np.testing.assert_allclose(targets[k, ..., 0], np.abs(tiled), rtol=0, atol=1e-6)


def keras_images(bank):
    value = np.asarray(bank.images.numpy())
    return value[..., 0] + 1j * value[..., 1]


def test_replayed_epoch_draws_the_same_batches():
    mask_fn = subsample.make_mask_fn("equispaced", 4, N)
    first = pipeline.IndexBatches(np.arange(20), N, 4, training=True, seed=1, mask_fn=mask_fn)
    first.set_epoch(5)
    fresh = pipeline.IndexBatches(np.arange(20), N, 4, training=True, seed=1, mask_fn=mask_fn, epoch=5)
    for i in range(len(first)):
        a, b = first[i], fresh[i]
        for key in ("index", "offset", "mask"):
            np.testing.assert_array_equal(a[key], b[key])
    first.set_epoch(6)
    assert not np.array_equal(first[0]["index"], fresh[0]["index"])


def test_training_on_the_device_matches_numpy_training(prepared, tmp_path):
    histories = {}
    for name in pipeline.PIPELINES:
        model = models.build_variant("greenberg", N, seed=0)
        histories[name] = training.train(model, prepared, tmp_path / name, epochs=3, pipeline=name, **ARGS)
    numpy_run, device_run = histories["numpy"], histories["device"]
    assert device_run["config"]["pipeline"] == "device"
    for key in ("loss", "val_loss", "val_psnr"):
        np.testing.assert_allclose([e[key] for e in device_run["epochs"]], [e[key] for e in numpy_run["epochs"]], rtol=1e-4)
    final = training.load_checkpoint(tmp_path / "device")  # the wrapped model, not the wrapper
    assert final.name == "greenberg" and final.count_params() == models.count_params("greenberg", N)
    assert not any("images" in v.path for v in final.weights)
    with pytest.raises(ValueError, match="pipeline"):  # a resume with the other pipeline is refused
        training.train(models.build_variant("greenberg", N, seed=0), prepared, tmp_path / "device", epochs=3, pipeline="numpy",
                       **ARGS)


def test_bad_arguments_fail_with_one_line_naming_them(prepared, bank, tmp_path):
    model = models.build_variant("greenberg", N, seed=0)
    with pytest.raises(ValueError, match="pipeline must be one of"):
        training.train(model, prepared, tmp_path / "a", epochs=1, pipeline="gpu", **ARGS)
    with pytest.raises(ValueError, match="input_transform"):
        training.train(model, prepared, tmp_path / "b", epochs=1, pipeline="device",
                       input_transform=baselines.zero_filled_input(1.0), **ARGS)
    square = pipeline.IndexBatches(np.arange(8), N, 4, training=True, mask_fn=lambda rng, n: np.ones((n, n)))
    with pytest.raises(ValueError, match="mask_fn returned a mask of shape"):
        square[0]
    with pytest.raises(ValueError, match="model input shape"):
        pipeline.PipelineModel(models.build_variant("greenberg", 8, seed=0), bank)
    with pytest.raises(ValueError, match="images must be"):
        pipeline.ImageBank(np.zeros((2, 4, 5), np.complex64), 1.0)


SCRIPT = """
import importlib.abc, os, sys

class NoTensorFlow(importlib.abc.MetaPathFinder):  # as on the GPU machines (and 5 s faster to start)
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ImportError("TensorFlow is blocked under KERAS_BACKEND=jax in this test")

if os.environ.get("KERAS_BACKEND") == "jax":
    sys.meta_path.insert(0, NoTensorFlow())
from automap_nb import models, training
model = models.build_variant("greenberg", {n}, seed=0)
training.train(model, sys.argv[1], sys.argv[2], epochs={epochs}, batch_size=4, learning_rate=1e-3,
               seed=0, progress=False, pipeline="device", checkpoint_seconds=0)
"""


def test_kill_9_then_resume_replays_the_device_pipeline(prepared, tmp_path):
    epochs = 6
    out = tmp_path / "run"
    command = [sys.executable, "-c", SCRIPT.format(n=N, epochs=epochs), str(prepared), str(out)]
    killed_at = kill_after_first_checkpoint_then_resume(command, out, timeout_s=90, pause_s=0.2)
    assert 1 <= killed_at < epochs, "training finished before the kill: the test proves nothing"
    resumed = training.load_history(out)
    assert [e["epoch"] for e in resumed["epochs"]] == list(range(1, epochs + 1))
    model = models.build_variant("greenberg", N, seed=0)
    straight = training.train(model, prepared, tmp_path / "straight", epochs=epochs, pipeline="device", **ARGS)
    np.testing.assert_allclose([e["loss"] for e in resumed["epochs"]], [e["loss"] for e in straight["epochs"]], rtol=1e-5)
