"""Chapter 09's data (bundled natural pictures) and fine-tuning modes (freezing exactly what they say)."""

import h5py
import numpy as np
import pytest

from automap_nb import findings, models
from automap_nb.data import transforms
from automap_nb.data.prepared import read_split
from automap_nb.experiments import transfer


@pytest.fixture(scope="module")
def source():
    return models.build_variant("greenberg", 8, seed=0, conv_filters=4)


@pytest.mark.parametrize("mode, trains", [("all", ["dense_1", "dense_2", "conv_1", "conv_2", "deconv"]),
                                          ("scratch", ["dense_1", "dense_2", "conv_1", "conv_2", "deconv"]),
                                          ("conv_tail", ["conv_1", "conv_2", "deconv"]), ("dense", ["dense_1", "dense_2"])])
def test_modes_freeze_exactly_the_layers_they_say(source, mode, trains):
    model = transfer.build_for_mode(mode, source, seed=1)
    trainable = [layer.name for layer in model.layers if layer.weights and layer.trainable]
    frozen = [layer.name for layer in model.layers if layer.weights and not layer.trainable]
    assert trainable == trains
    assert set(frozen) == {"dense_1", "dense_2", "conv_1", "conv_2", "deconv"} - set(trains)
    expected = sum(layer.count_params() for layer in model.layers if layer.name in trains)
    assert transfer.trainable_params(model) == expected
    assert len(model.trainable_weights) == 2 * len(trains)  # kernel and bias of each trainable layer
    same = [np.array_equal(a, b) for a, b in zip(model.get_weights(), source.get_weights())]
    assert all(same) if mode != "scratch" else not any(same[::2])  # scratch: fresh kernels


def test_frozen_layers_do_not_change_in_training(source, tmp_path):
    import keras

    model = transfer.build_for_mode("conv_tail", source, seed=0)
    before = {layer.name: [w.copy() for w in layer.get_weights()] for layer in model.layers if layer.weights}
    model.compile(optimizer=keras.optimizers.Adam(1e-2), loss="mse")
    x = np.random.default_rng(0).standard_normal((4, 8, 8, 2)).astype(np.float32)
    model.fit(x, np.zeros((4, 8, 8, 1), np.float32), epochs=2, verbose=0)
    for layer in model.layers:
        if layer.weights:
            unchanged = all(np.array_equal(a, b) for a, b in zip(before[layer.name], layer.get_weights()))
            assert unchanged == layer.name.startswith("dense_"), layer.name


def test_set_mode_rejects_unknown_modes_and_non_automap_models(source):
    with pytest.raises(ValueError, match="mode must be one of"):
        transfer.set_mode(source, "head")
    with pytest.raises(ValueError, match="not an AUTOMAP"):
        transfer.set_mode(models.build_variant("fullconv", 8, seed=0, conv_filters=4), "dense")


def test_natural_images_are_split_by_picture_and_normalised_like_the_mri_slices(tmp_path):
    data = transfer.natural_images(16, {"train": 5, "val": 2, "test": 3}, seed=0)
    assert data["images"].shape == (10, 16, 16) and data["images"].dtype == np.complex64
    assert np.allclose(np.abs(data["images"]).max(axis=(1, 2)), 1, atol=1e-6)
    assert np.ptp(np.angle(data["images"])) > 1  # a phase, not a real image
    by_split = {s: set(data["volume"][data["split"] == s]) for s in ("train", "val", "test")}
    assert not (by_split["train"] & by_split["val"]) and not (by_split["train"] & by_split["test"])
    assert by_split["test"] <= set(transfer.PICTURES["test"])
    again = transfer.natural_images(16, {"train": 5, "val": 2, "test": 3}, seed=0)
    assert np.array_equal(again["images"], data["images"])  # seeded
    path = transfer.write_prepared(tmp_path / "natural.h5", data, kspace_scale=7.0, source="test")
    test = read_split(path, "test")
    assert test["kspace_scale"] == 7.0 and len(test["volume"]) == 3
    inputs, targets = transforms.image_to_example(test["images"], 7.0)
    assert np.allclose(test["inputs"], inputs) and np.allclose(test["targets"], targets)
    with h5py.File(path) as f:
        assert int(f.attrs["size"]) == 16 and f.attrs["fingerprint"]


def test_pictures_come_from_the_installed_wheel():
    for names in transfer.PICTURES.values():
        for name in names:
            picture = transfer.load_picture(name)
            assert picture.ndim == 2 and 0 <= picture.min() and picture.max() <= 1 and min(picture.shape) >= 128


def _metrics(psnr_values):
    return {
        "per_volume": {
            f"picture{i}": {"psnr": p, "ssim": 0.02 * p, "nmse": 1 / p, "psnr_max1": p}
            for i, p in enumerate(psnr_values)
        }
    }


MEAN_IMAGE = [11.0, 12.0, 10.0, 13.0]


def _judge(gains):
    metrics = {m: _metrics([b + g + 0.1 * i for i, b in enumerate(MEAN_IMAGE)]) for m, g in gains.items()}
    learned = transfer.learned_by_mode(metrics, _metrics(MEAN_IMAGE), "val")
    comparisons = transfer.compare_passed(metrics, learned, "val")
    return learned, comparisons, findings.transfer_verdict(learned, transfer.against_scratch(comparisons))


def test_transfer_is_inconclusive_unless_training_from_scratch_passed_the_learned_rule():
    learned, comparisons, verdict = _judge({"all": 9.0, "conv_tail": 2.0, "scratch": 1.0})
    assert learned["all"].passed and not learned["scratch"].passed and comparisons == {}
    assert verdict.startswith(
        "Whether starting from chapter 03's weights helps is inconclusive at this budget: AUTOMAP from scratch")
    assert "4 val volumes" in verdict and "each val picture counts as one volume" in verdict and " beats " not in verdict


def test_transfer_compares_only_modes_that_passed_and_says_yes_when_one_beats_scratch():
    learned, comparisons, verdict = _judge({"all": 9.0, "conv_tail": 2.0, "dense": 6.0, "scratch": 7.0})
    assert list(comparisons) == ["all|dense", "all|scratch", "dense|scratch"]  # conv_tail did not pass: never compared
    assert set(transfer.against_scratch(comparisons)) == {"all", "dense"}
    assert verdict.startswith("Yes: AUTOMAP fine-tuned (all layers) beats AUTOMAP from scratch in PSNR")
    assert "AUTOMAP from scratch beats AUTOMAP fine-tuned (dense only)" in verdict
    assert "AUTOMAP fine-tuned (conv tail only) did not pass the learned rule and were not compared" in verdict
    assert findings.study_bullets(learned, list(comparisons.values())).count("\n- ") == 4 + 3 - 1


def test_transfer_says_no_when_scratch_learned_and_no_transfer_mode_did():
    _, comparisons, verdict = _judge({"all": 2.0, "scratch": 8.0})
    assert comparisons == {} and verdict.startswith("No: AUTOMAP from scratch passed the learned rule on val")
    _, _, verdict = _judge({"all": 6.0, "scratch": 8.0})
    assert verdict.startswith("No: AUTOMAP from scratch beats AUTOMAP fine-tuned (all layers) in PSNR")
