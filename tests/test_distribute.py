"""keras.distribution on JAX: data and model parallel training give one device's losses.

One subprocess (JAX must see ``XLA_FLAGS`` before it starts) with 4 virtual CPU devices and
TensorFlow made unimportable, as on the project's GPU machines, trains the same tiny AUTOMAP from
the same weights for 2 epochs (8 steps, batch 4) four ways (one device; data parallel;
model parallel; model parallel fed by the device pipeline), and dAUTOMAP the first three ways (its
transform kernels are not dense kernels: replicated). Tolerance: losses and validation PSNR within
a relative 1e-4 of one device's (the sharded reductions add in another order; float32).

The same process then runs chapter 03's training path (``distribute.setup``, the model built under
``distribute.scope``, ``training.train(..., distribution=...)``) at the quick profile's sizes (32²
greenberg, 8 filters, DC phase, batch 4, 2 epochs) on a file whose 6 validation slices leave a last
batch of 2 that the data axis of 4 does not divide (it runs replicated): none, data and model
(2 shards); a model-parallel run stopped after its first checkpoint and resumed under the same layout
and under data parallel; and its final checkpoint loaded on one device and under data parallel.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import h5py
import numpy as np
import pytest
from test_training import write_tiny_prepared

SCRIPT = r"""
import contextlib, importlib.abc, json, sys
from pathlib import Path

class NoTensorFlow(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name == "tensorflow" or name.startswith("tensorflow."):
            raise ImportError("TensorFlow is blocked in this test (GPU machines have none)")
        return None

sys.meta_path.insert(0, NoTensorFlow())
import keras
from automap_nb import distribute, models, training

prepared, out = sys.argv[1], Path(sys.argv[2])
results = {"devices": distribute.devices()}
for variant, layer in [("greenberg", "dense_1"), ("dautomap", "transform_1_h")]:
    initial = models.build_variant(variant, 8, seed=0).get_weights()
    ways = [("none", 1, "numpy"), ("data", 1, "numpy"), ("model", 2, "numpy"), ("model", 2, "device")]
    for kind, shards, pipeline in ways if variant == "greenberg" else ways[:3]:  # dAUTOMAP: the pipelines are tested apart
        dist = distribute.make(kind, shards)
        with dist.scope() if dist else contextlib.nullcontext():
            model = models.build_variant(variant, 8, seed=0)
            model.set_weights(initial)
            history = training.train(model, prepared, out / f"{variant}-{kind}-{pipeline}", epochs=2, batch_size=4,
                                     learning_rate=1e-3, seed=0, progress=False, pipeline=pipeline)
        kernel = model.get_layer(layer).kernel.value
        results[("" if variant == "greenberg" else variant + ":") + f"{kind}-{pipeline}"] = {
            "loss": [e["loss"] for e in history["epochs"]],
            "val_psnr": [e["val_psnr"] for e in history["epochs"]],
            "kernel_spec": [str(a) for a in getattr(kernel.sharding, "spec", ())],
            "kernel_devices": len(kernel.sharding.device_set),
            "kernel_shard_shape": list(kernel.addressable_shards[0].data.shape),
            "describe": distribute.describe(dist)
        }

# ---- chapter 03's path at the quick profile's sizes; checkpoints under a layout ----
import shutil
import numpy as np
from automap_nb.orchestration import profiles

quick = profiles.PROFILES["quick"]
ch03 = Path(sys.argv[3])

def chapter03(kind, shards, out, **kwargs):
    layout = distribute.setup(kind, shards, quick["train_batch_size"])
    with distribute.scope(layout):
        model = models.build_variant(quick["train_variant"], 32, seed=0, conv_filters=quick["train_conv_filters"],
                                     dc_phase=quick["train_dc_phase"])
    history = training.train(model, ch03, out, epochs=quick["train_epochs"], batch_size=quick["train_batch_size"],
                             learning_rate=quick["train_learning_rate"], seed=0, lr_schedule=quick["train_lr_schedule"],
                             augment=quick["train_augment"], progress=False, distribution=layout, **kwargs)
    return model, {"loss": [e["loss"] for e in history["epochs"]], "val_psnr": [e["val_psnr"] for e in history["epochs"]],
                   "device": history["device"]}

class Stop(Exception):
    pass

write_json = training.write_json
def stop_after_first_history(path, value):  # a kill right after epoch 1's checkpoint and history
    write_json(path, value)
    raise Stop()

for kind, shards in [("none", 1), ("data", 1), ("model", 2)]:
    model, results[f"ch03:{kind}"] = chapter03(kind, shards, out / f"ch03-{kind}", checkpoint_seconds=0)
    if kind == "model":
        sharded = model
training.write_json = stop_after_first_history
try:
    chapter03("model", 2, out / "ch03-stopped", checkpoint_seconds=0)
    raise SystemExit("the stop did not happen")
except Stop:
    pass
training.write_json = write_json
results["stopped"] = len(training.load_history(out / "ch03-stopped")["epochs"])
shutil.copytree(out / "ch03-stopped", out / "ch03-stopped-data")
results["ch03:resumed-model"] = chapter03("model", 2, out / "ch03-stopped", checkpoint_seconds=0)[1]
results["ch03:resumed-data"] = chapter03("data", 1, out / "ch03-stopped-data", checkpoint_seconds=0)[1]
kspace = np.random.default_rng(1).standard_normal((3, 32, 32, 2)).astype(np.float32)
one = training.load_checkpoint(out / "ch03-model")  # full arrays: one device
with distribute.scope(distribute.setup("data", 1, 4)):
    replicated = training.load_checkpoint(out / "ch03-model")
results["loaded"] = {
    "one_device": len(one.get_layer("dense_1").kernel.value.sharding.device_set),
    "data_devices": len(replicated.get_layer("dense_1").kernel.value.sharding.device_set),
    "max_difference_one": float(np.abs(training.predict(one, kspace) - training.predict(sharded, kspace)).max()),
    "max_difference_data": float(np.abs(training.predict(replicated, kspace) - training.predict(sharded, kspace)).max())}
from automap_nb.orchestration import params  # the chapters' checks, with 4 devices to check against

errors = {}
for kind, shards, batch in [("data", 1, 6), ("model", 3, 4)]:
    values = {"train_distribution": kind, "train_model_shards": shards, "train_batch_size": batch}
    try:
        params.shards_of("train_distribution").make(values)("train_model_shards", shards)
        params.batch_fits("train", "train_batch_size")(values)
    except params.ParameterError as err:
        errors[kind] = str(err)
results["errors"] = errors
print("RESULTS " + json.dumps(results))
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("distribute")
    prepared = write_tiny_prepared(folder / "prepared.h5", n=8)
    ch03 = write_tiny_prepared(folder / "ch03.h5", n=32)
    with h5py.File(ch03, "r+") as f:  # 2 of the test volume's slices join val: 6 val slices, batches of 4 and 2
        split = f["split"][...]
        split[np.flatnonzero(split == b"test")[:2]] = b"val"
        f["split"][...] = split
    env = {
        **os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu",
        "TF_CPP_MIN_LOG_LEVEL": "3"
    }
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(prepared), str(folder / "out"),
         str(ch03)], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    line = next(line for line in proc.stdout.splitlines() if line.startswith("RESULTS "))
    return json.loads(line[len("RESULTS "):])


def test_four_virtual_devices_without_tensorflow(runs):
    assert len(runs["devices"]) == 4


@pytest.mark.parametrize("variant, name", [("", "data-numpy"), ("", "model-numpy"), ("", "model-device"),
                                           ("dautomap:", "data-numpy"), ("dautomap:", "model-numpy")])
def test_distributed_losses_equal_one_device(runs, name, variant):
    one = runs[variant + "none-numpy"]
    np.testing.assert_allclose(runs[variant + name]["loss"], one["loss"], rtol=1e-4)
    np.testing.assert_allclose(runs[variant + name]["val_psnr"], one["val_psnr"], rtol=1e-4)


def test_layouts_are_what_was_asked(runs):
    # one device: the (128, 16) dense_1 kernel in one piece
    assert runs["none-numpy"]["kernel_devices"] == 1
    # data parallel: replicated on all 4 devices
    data = runs["data-numpy"]
    assert data["kernel_devices"] == 4 and data["kernel_shard_shape"] == [128, 16]
    assert data["describe"] == {"kind": "data", "mesh_shape": [4], "axis_names": ["batch"], "devices": 4}
    # model parallel: 2 × 2 mesh, the kernel's output axis split over "model"
    model = runs["model-numpy"]
    assert model["kernel_spec"] == ["None", "model"] and model["kernel_shard_shape"] == [128, 8]
    assert model["describe"]["mesh_shape"] == [2, 2] and model["kernel_devices"] == 4
    # dAUTOMAP under model parallel: the (8, 2, 8, 2) transform kernel is replicated, not split
    transform = runs["dautomap:model-numpy"]
    assert transform["kernel_devices"] == 4 and transform["kernel_shard_shape"] == [8, 2, 8, 2]
    assert set(transform["kernel_spec"]) <= {"None"}


def test_distribution_needs_jax_and_a_dividing_shard_count():
    import keras

    from automap_nb import distribute

    with pytest.raises(ValueError, match="distribution must be one of"):
        distribute.make("pipeline")
    if keras.backend.backend() != "jax":
        with pytest.raises(ValueError, match="KERAS_BACKEND=jax"):
            distribute.make("data")
    else:
        with pytest.raises(ValueError, match="model_shards"):
            distribute.model_parallel(len(distribute.devices()) + 1)


@pytest.mark.parametrize("kind", ["data", "model"])
def test_chapter03_quick_sizes_equal_one_device(runs, kind):
    one, run = runs["ch03:none"], runs[f"ch03:{kind}"]
    assert run["device"]["distribution"]["kind"] == kind and run["device"]["processes"] == 1
    assert len(run["loss"]) == 2  # the quick profile's 2 epochs
    np.testing.assert_allclose(run["loss"], one["loss"], rtol=1e-4)
    np.testing.assert_allclose(run["val_psnr"], one["val_psnr"], rtol=1e-4)  # 6 val slices: the last batch of 2 replicated


@pytest.mark.parametrize("layout, rtol", [("model", 1e-5), ("data", 1e-4)])
def test_sharded_checkpoint_resumes_under_either_layout(runs, layout, rtol):
    assert runs["stopped"] == 1  # stopped after epoch 1's checkpoint, trained under model (2 shards)
    resumed, whole = runs[f"ch03:resumed-{layout}"], runs["ch03:model"]
    assert resumed["device"]["distribution"]["kind"] == layout
    np.testing.assert_allclose(resumed["loss"], whole["loss"], rtol=rtol)
    np.testing.assert_allclose(resumed["val_psnr"], whole["val_psnr"], rtol=rtol)


def test_sharded_checkpoint_loads_on_one_device_and_under_data_parallel(runs):
    loaded = runs["loaded"]
    assert loaded["one_device"] == 1 and loaded["data_devices"] == 4
    assert loaded["max_difference_one"] < 1e-5 and loaded["max_difference_data"] < 1e-5


def test_chapter_checks_name_the_batch_and_the_shards(runs):
    assert runs["errors"] == {
        "data": "parameter 'train_batch_size': batch size 6 is not a multiple of the data axis (4 = 4 devices / 1 model shards)",
        "model": "parameter 'train_model_shards': model_shards must divide the 4 devices, got 3"
    }
