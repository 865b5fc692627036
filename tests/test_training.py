"""Training: data feeding, loss goes down, CPU determinism, kill -9 resume, safe-mode checkpoints."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
from processes import kill_after_first_checkpoint_then_resume

from automap_nb import baselines, models, training
from automap_nb.data import transforms

N = 8
EPOCHS = 4
ARGS = dict(epochs=EPOCHS, batch_size=4, learning_rate=1e-3, seed=0, progress=False)


def smooth_image(rng: np.random.Generator, n: int) -> np.ndarray:
    """A smooth random complex image ``(n, n)``: low-pass filtered noise."""
    k = np.zeros((n, n), np.complex128)
    c = n // 2
    k[c - 2:c + 3, c - 2:c + 3] = rng.standard_normal((5, 5)) + 1j * rng.standard_normal((5, 5))
    return transforms.ifft2c(k)


def write_tiny_prepared(path: Path, n: int = N, seed: int = 0) -> Path:
    """A prepared file in the CONTRIBUTING.md format: 4 train volumes × 4 slices, 1 val, 1 test."""
    rng = np.random.default_rng(seed)
    plan = [("train", 4)] * 4 + [("val", 4), ("test", 4)]
    images, volume, slices, split = [], [], [], []
    for v, (name, count) in enumerate(plan):
        stack = np.stack([smooth_image(rng, n) for _ in range(count)])
        images.append(stack / np.abs(stack).max())
        volume += [f"file{v}.h5".encode()] * count
        slices += list(range(count))
        split += [name.encode()] * count
    images = np.concatenate(images).astype(np.complex64)
    scale = float(1 / np.sqrt(np.mean(np.abs(images)**2)))
    inputs, targets = transforms.image_to_example(images, scale)
    with h5py.File(path, "w") as f:
        f["images"], f["inputs"], f["targets"] = images, inputs, targets
        f["volume"], f["slice"], f["split"] = np.array(volume), np.array(slices, np.int32), np.array(split)
        f.attrs.update(size=n, kspace_scale=scale, crop=320, source_dir="synthetic", normalisation="per volume")
    return path


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    return write_tiny_prepared(tmp_path_factory.mktemp("tiny") / "prepared.h5")


@pytest.fixture(scope="module")
def reference(prepared, tmp_path_factory):
    """One uninterrupted training run: ``(out_dir, history, model)``."""
    out = tmp_path_factory.mktemp("reference")
    model = models.build_variant("greenberg", N, seed=0)
    return out, training.train(model, prepared, out, **ARGS), model


def losses(history):
    return [e["loss"] for e in history["epochs"]]


def test_eval_batches_are_the_stored_examples(prepared):
    data = training.PreparedDataset(prepared, "val", batch_size=3)
    assert len(data) == 2 and data.num_samples == 4
    x, y = data[1]
    with h5py.File(prepared) as f:
        rows = np.flatnonzero(f["split"][()] == b"val")
        np.testing.assert_array_equal(x, f["inputs"][rows[3:]])
        np.testing.assert_array_equal(y, f["targets"][rows[3:]])


def test_training_batches_shuffle_per_epoch_and_augment(prepared):
    data = training.PreparedDataset(prepared, "train", batch_size=3, seed=1, training=True)
    assert len(data) == 5 and data.num_samples == 15  # 16 slices, the last incomplete batch dropped
    first = data.order.copy()
    data.set_epoch(1)
    assert not np.array_equal(first, data.order)
    data.set_epoch(0)
    np.testing.assert_array_equal(first, data.order)
    x, y = data[0]
    assert x.shape == (3, N, N, 2) and y.shape == (3, N, N, 1)
    plain = training.PreparedDataset(prepared, "train", batch_size=3, seed=1, training=True, augment=False)
    x_plain, y_plain = plain[0]
    assert not np.allclose(y, y_plain)  # augmented crops differ from the stored slices
    np.testing.assert_allclose(x, data[0][0])  # ...but are reproducible
    # the augmented pair is consistent: inverse FFT of the input is the target
    np.testing.assert_allclose(np.abs(transforms.inputs_to_image(x, data.kspace_scale)), y[..., 0], atol=1e-5)


def test_mask_and_input_transform_hooks(prepared):

    def every_other_column(rng, n):
        return (np.arange(n) % 2 == 0).astype(np.float32)

    data = training.PreparedDataset(prepared, "test", 4, mask_fn=every_other_column, input_transform=None)
    x, y = data[0]
    assert np.all(x[:, :, 1::2] == 0) and np.any(x[:, :, 0::2] != 0)
    zero_filled = training.PreparedDataset(prepared, "test", 4, input_transform=baselines.zero_filled_input(data.kspace_scale))
    image, target = zero_filled[0]
    assert image.shape == (4, N, N, 1)
    np.testing.assert_allclose(image, target, atol=1e-5)  # fully sampled: zero-filled = exact


def test_learning_rate_schedules_fall():
    lrs = [training.learning_rate_at(e, 10, 2e-4) for e in range(10)]
    assert lrs[0] == pytest.approx(2e-4) and all(a > b for a, b in zip(lrs, lrs[1:])) and lrs[-1] > 2e-6
    exp = [training.learning_rate_at(e, 10, 2e-4, "exponential") for e in range(10)]
    assert exp[0] == pytest.approx(2e-4) and exp[-1] == pytest.approx(2e-4 * 0.1**0.9)
    with pytest.raises(ValueError, match="lr_schedule"):
        training.learning_rate_at(0, 10, 2e-4, "linear")


def test_training_reduces_the_loss_and_writes_everything(reference):
    out, history, _ = reference
    assert [e["epoch"] for e in history["epochs"]] == list(range(1, EPOCHS + 1))
    assert history["epochs"][-1]["loss"] < 0.75 * history["epochs"][0]["loss"]
    assert history["epochs"][-1]["val_psnr"] > history["epochs"][0]["val_psnr"]
    assert sorted(p.name for p in out.iterdir()) == [f"epoch-{EPOCHS:04d}.keras", "history.json", "initial.keras"]
    assert json.loads((out / "history.json").read_text()) == history
    assert history["device"]["backend"] and history["device"]["device"] in ("CPU", "GPU", "TPU")


def test_same_seed_same_losses(prepared, reference, tmp_path):
    model = models.build_variant("greenberg", N, seed=0)
    again = training.train(model, prepared, tmp_path, **ARGS)
    assert losses(again) == losses(reference[1])
    assert [e["val_psnr"] for e in again["epochs"]] == [e["val_psnr"] for e in reference[1]["epochs"]]


def test_checkpoints_load_in_safe_mode_and_match(prepared, reference):
    out, _, model = reference
    final = training.load_checkpoint(out, "final")  # safe_mode=True
    x = training.PreparedDataset(prepared, "test", 4)[0][0]
    np.testing.assert_allclose(training.predict(final, x), training.predict(model, x), atol=1e-6)
    initial = training.load_checkpoint(out, "initial")
    assert not np.allclose(initial.get_layer("conv_1").get_weights()[0], final.get_layer("conv_1").get_weights()[0])
    timing = training.time_inference(final, x, batch_size=2, repeats=3, warmup=1)
    assert timing["ms_per_slice"] > 0


def test_changed_arguments_refuse_to_resume(prepared, reference):
    out = reference[0]
    model = models.build_variant("greenberg", N, seed=0)
    with pytest.raises(ValueError, match="batch_size"):
        training.train(model, prepared, out, **{**ARGS, "batch_size": 2})


SCRIPT = """
import sys
from automap_nb import models, training
model = models.build_variant("greenberg", {n}, seed=0)
training.train(model, sys.argv[1], sys.argv[2], epochs={epochs}, batch_size=4, learning_rate=1e-3,
               seed=0, progress=False, checkpoint_seconds={checkpoint_seconds})
"""


def test_kill_9_then_resume_continues_one_history(prepared, tmp_path):
    epochs = 12
    out = tmp_path / "run"
    command = [sys.executable, "-c", SCRIPT.format(n=N, epochs=epochs, checkpoint_seconds=0), str(prepared), str(out)]
    killed_at = kill_after_first_checkpoint_then_resume(command, out, timeout_s=60, pause_s=0.3)
    assert 1 <= killed_at < epochs, "training finished before the kill: the test proves nothing"
    history = training.load_history(out)
    assert [e["epoch"] for e in history["epochs"]] == list(range(1, epochs + 1))
    assert sorted(p.name for p in out.iterdir()) == [f"epoch-{epochs:04d}.keras", "history.json", "initial.keras"]
    # the resumed run redoes exactly what an uninterrupted run does
    model = models.build_variant("greenberg", N, seed=0)
    uninterrupted = training.train(model, prepared, tmp_path / "straight", **{**ARGS, "epochs": epochs})
    np.testing.assert_allclose(losses(history), losses(uninterrupted), rtol=1e-5)


def test_sparse_checkpoints_keep_history_and_checkpoint_in_step(prepared, reference, tmp_path, monkeypatch):
    """With a long checkpoint interval only the last epoch is saved, and the history is still whole."""
    model = models.build_variant("greenberg", N, seed=0)
    seen = []
    record_epoch = training._EpochRecorder.on_epoch_end

    def spy(self, epoch, logs=None):  # what a kill after each epoch would leave
        record_epoch(self, epoch, logs)
        history = training.load_history(tmp_path)
        seen.append(len(history["epochs"]) if history else 0)

    monkeypatch.setattr(training._EpochRecorder, "on_epoch_end", spy)
    history = training.train(model, prepared, tmp_path, **ARGS, checkpoint_seconds=3600)
    assert seen == [0] * (EPOCHS - 1) + [EPOCHS]  # nothing written until the last epoch
    assert sorted(p.name for p in tmp_path.iterdir()) == [f"epoch-{EPOCHS:04d}.keras", "history.json", "initial.keras"]
    assert losses(history) == losses(reference[1])


def test_resolve_precision(monkeypatch):
    assert training.resolve_precision("float32") == "float32"
    assert training.resolve_precision("mixed_bfloat16") == "mixed_bfloat16"
    with pytest.raises(ValueError, match="precision"):
        training.resolve_precision("bf16")
    monkeypatch.setattr(training, "native_bfloat16_cpu", lambda: False)
    assert training.resolve_precision("auto") == "float32"
    monkeypatch.setattr(training, "native_bfloat16_cpu", lambda: True)
    on_tf_cpu = training.describe_device() == {"backend": "tensorflow", "device": "CPU", "name": "CPU"}
    assert training.resolve_precision("auto") == ("mixed_bfloat16" if on_tf_cpu else "float32")


def test_python_epochs_log_what_fit_logs(prepared, tmp_path):
    """The per-batch loop (verbose=0) and Keras's fit (verbose=2) give the same epochs."""
    histories = []
    for name, verbose in (("loop", 0), ("fit", 2)):
        model = models.build_variant("greenberg", N, seed=0, conv_filters=4)
        histories.append(
            training.train(model, prepared, tmp_path / name, epochs=2, batch_size=4, learning_rate=1e-3, progress=False,
                           verbose=verbose)["epochs"])
    for loop, fit in zip(*histories):
        for key in ("loss", "mse", "psnr", "val_loss", "val_mse", "val_psnr"):
            assert loop[key] == pytest.approx(fit[key], rel=1e-4), key


def test_mixed_bfloat16_training_learns(prepared, tmp_path):
    model = models.build_variant("greenberg", N, seed=0, conv_filters=4, precision="mixed_bfloat16")
    history = training.train(model, prepared, tmp_path / "bf16", epochs=3, batch_size=4, learning_rate=1e-3, progress=False)
    losses = [e["loss"] for e in history["epochs"]]
    assert all(np.isfinite(losses)) and losses[-1] < losses[0]
    assert training.load_checkpoint(tmp_path / "bf16").get_layer("dense_1").compute_dtype == "bfloat16"


def test_validate_every_validates_every_kth_and_the_last_epoch(prepared, tmp_path):
    """``validate_every=2`` over 3 epochs validates after epochs 2 and 3, trains exactly as
    validating every epoch does, and the learning-curve figure draws only the validated epochs."""
    from automap_nb.figures import learning

    runs = {}
    for every in (1, 2):
        model = models.build_variant("greenberg", N, seed=0, conv_filters=4)
        runs[every] = training.train(model, prepared, tmp_path / f"every{every}", epochs=3, batch_size=4, learning_rate=1e-3,
                                     progress=False, validate_every=every)["epochs"]
    assert [e["epoch"] for e in runs[2] if np.isfinite(e["val_psnr"])] == [2, 3]
    assert runs[2][0]["eval_seconds"] == 0.0
    assert [e["loss"] for e in runs[2]] == pytest.approx([e["loss"] for e in runs[1]], rel=1e-6)
    assert runs[2][-1]["val_psnr"] == pytest.approx(runs[1][-1]["val_psnr"], rel=1e-6)
    fig = learning.training_curves({"epochs": runs[2]})
    assert list(fig.axes[1].lines[1].get_xdata()) == [2, 3]
    model = models.build_variant("greenberg", N, seed=0, conv_filters=4)
    with pytest.raises(ValueError, match="validate_every must be a positive integer"):
        training.train(model, prepared, tmp_path / "bad", epochs=2, progress=False, validate_every=0)
    with pytest.raises(ValueError, match="needs verbose=0"):
        training.train(model, prepared, tmp_path / "bad", epochs=2, progress=False, validate_every=2, verbose=2)


def test_layer_outputs_measure_the_change_where_it_acts():
    """The output change weighs a kernel's change by the inputs it meets: the same weight change on
    inputs that are always zero changes nothing, on live inputs it changes the output fully, and a
    uniform scaling of every kernel by 1.5 is a relative output change of 0.5 in every layer."""
    from automap_nb.figures import weights

    n = 8
    initial = models.build_variant("greenberg", n, seed=0, conv_filters=4)
    scaled = models.build_variant("greenberg", n, seed=0, conv_filters=4)
    scaled.set_weights([1.5 * w for w in initial.get_weights()])  # biases start at zero and stay zero
    inputs = np.random.default_rng(0).normal(size=(6, n, n, 2)).astype(np.float32)
    outputs = training.layer_outputs(initial, scaled, inputs, batch_size=4)
    assert list(outputs) == ["dense_1", "dense_2", "conv_1", "conv_2", "deconv"]
    for z0, z in outputs.values():
        assert weights.output_change(z0, z) == pytest.approx(0.5, rel=1e-4)
    # dense_1's inputs: half of the k-space coefficients are zero in every sample
    live = np.zeros((n, n, 2), np.float32)
    live[:n // 2] = 1
    sparse = inputs * live
    kernel0, bias0 = initial.get_layer("dense_1").get_weights()
    for rows, expected in ((live.reshape(-1) == 0, 0.0), (live.reshape(-1) == 1, None)):
        moved = models.build_variant("greenberg", n, seed=0, conv_filters=4)
        moved.set_weights(initial.get_weights())
        kernel = kernel0.copy()
        kernel[rows] *= 3.0  # the same relative change of the kernel (‖ΔW‖/‖W₀‖ ≈ 2/√2) in both cases
        moved.get_layer("dense_1").set_weights([kernel, bias0])
        z0, z = training.layer_outputs(initial, moved, sparse)["dense_1"]
        if expected is not None:
            assert weights.output_change(z0, z) == pytest.approx(expected, abs=1e-6)
        else:
            assert weights.output_change(z0, z) == pytest.approx(2.0, rel=1e-4)  # every live input's weight tripled
