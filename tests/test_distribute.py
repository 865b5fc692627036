"""keras.distribution on JAX: data and model parallel training give one device's losses.

One subprocess (JAX must see ``XLA_FLAGS`` before it starts) with 4 virtual CPU devices and
TensorFlow made unimportable, as on the project's GPU machines, trains the same tiny AUTOMAP from
the same weights for 2 epochs (8 steps, batch 4) four ways (one device; data parallel;
model parallel; model parallel fed by the device pipeline), and dAUTOMAP the first three ways (its
transform kernels are not dense kernels: replicated). Tolerance: losses and validation PSNR within
a relative 1e-4 of one device's (the sharded reductions add in another order; float32).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

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
print("RESULTS " + json.dumps(results))
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("distribute")
    prepared = write_tiny_prepared(folder / "prepared.h5", n=8)
    env = {
        **os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu",
        "TF_CPP_MIN_LOG_LEVEL": "3"
    }
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(prepared), str(folder / "out")], env=env, capture_output=True, text=True, timeout=300)
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
