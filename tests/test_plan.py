"""The memory planner (``automap-nb plan``) against count_params, real models' variables and JAX's own layouts."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from automap_nb import models, plan
from automap_nb.orchestration import cli


def _size(variant: str) -> int:
    return models.VARIANTS[variant]["n"] or 32


@pytest.mark.parametrize("variant", sorted(models.VARIANTS))
def test_parameters_equal_count_params(variant):
    n = _size(variant)
    result = plan.plan(variant, n)
    assert result["parameters"] == models.count_params(variant, n)
    assert result["whole"]["weights"] == 4 * result["parameters"]  # float32


def _variable_bytes(variables) -> int:
    return sum(int(np.prod(v.shape)) * np.dtype(v.dtype).itemsize for v in variables)


@pytest.mark.parametrize("variant,n", [("greenberg", 16), ("original", 16),
                                       ("fullconv", 16), *([("dautomap", 16)] if "dautomap" in models.VARIANTS else [])])
@pytest.mark.parametrize("precision", ["float32", "mixed_bfloat16"])
def test_bytes_and_activations_match_a_built_model(variant, n, precision):
    import keras

    model = models.build_variant(variant, n, precision=precision)
    result = plan.plan(variant, n, precision=precision, batch=1)
    # weights and Adam's moments: the real variables (mixed precision keeps them float32)
    assert result["whole"]["weights"] == _variable_bytes(model.weights)
    model.compile(optimizer=keras.optimizers.Adam(2e-4), loss="mse")
    model.optimizer.build(model.trainable_variables)
    moments = [v for v in model.optimizer.variables if len(v.shape) > 0]  # not the step counter, not the rate
    assert result["whole"]["optimizer"] == _variable_bytes(moments) == 2 * result["whole"]["weights"]
    assert result["whole"]["gradients"] == result["whole"]["weights"]
    # activations: the input and every weighted layer's output shape, in the dtypes the layers compute in
    weighted = [layer for layer in model.layers if layer.weights]
    assert [layer.name for layer in weighted] == [row["name"] for row in plan.layer_plan(variant, n)]
    elements = plan.activation_elements(variant, n)
    assert elements["input"] == int(np.prod(model.inputs[0].shape[1:]))
    assert elements["hidden"] == sum(int(np.prod(layer.output.shape[1:])) for layer in weighted[:-1])
    assert elements["output"] == int(np.prod(model.outputs[0].shape[1:]))
    compute = {layer.compute_dtype for layer in weighted[:-1]}
    assert compute == {plan.PRECISIONS[precision]["compute"]} and model.outputs[0].dtype == "float32"
    expected = (elements["input"] * 4 + elements["output"] * 4 +
                elements["hidden"] * plan.DTYPE_BYTES[plan.PRECISIONS[precision]["compute"]])
    assert result["whole"]["activations"] == result["whole"]["activations_per_sample"] == expected
    assert plan.plan(variant, n, precision=precision, batch=8)["whole"]["activations"] == 8 * expected


def test_bfloat16_halves_variables_and_activations():
    f32, b16 = plan.plan("original", 64), plan.plan("original", 64, precision="bfloat16")
    assert b16["whole"]["weights"] * 2 == f32["whole"]["weights"] and b16["whole"]["optimizer"] * 2 == f32["whole"]["optimizer"]
    mixed = plan.plan("original", 64, precision="mixed_bfloat16")
    assert mixed["whole"]["weights"] == f32["whole"]["weights"] and mixed["whole"]["activations"] == b16["whole"]["activations"]


def test_layouts_per_device_arithmetic():
    variant, n, batch, devices = "original", 32, 32, 8
    layers = plan.layer_plan(variant, n)
    dense = sum(row["params"] for row in layers if row["model_sharded"])
    other = sum(row["params"] for row in layers if not row["model_sharded"])
    assert [row["name"] for row in layers if row["model_sharded"]] == ["dense_1", "dense_2"]
    assert dense + other == models.count_params(variant, n)
    result = plan.plan(variant, n, devices=devices, batch=batch, model_shards=4)
    whole, none, data, model = result["whole"], *(result["layouts"][k] for k in ("none", "data", "model"))
    # none: everything on one device, the whole batch
    assert none["total"] == whole["weights"] + whole["optimizer"] + whole["gradients"] + whole["activations"]
    # data: replicated state, the batch split over all 8 devices
    assert data["mesh"] == [8, 1] and data["batch"] == 4 and data["weights"] == whole["weights"]
    assert data["activations"] == whole["activations"] // 8
    # model: a 2 × 4 mesh, dense kernels and biases (and their moments, gradients) split 4 ways
    assert model["mesh"] == [2, 4] and model["batch"] == 16 and model["params"] == dense // 4 + other
    assert model["weights"] == 4 * (dense // 4 + other) and model["optimizer"] == 2 * model["weights"] == 2 * model["gradients"]
    assert model["activations"] == whole["activations"] // 2  # split over the data axis only
    # a width that K does not divide (greenberg at 6²: dense_1 is 9 wide): JAX refuses it, so does the planner
    with pytest.raises(ValueError, match="--model-shards 2 does not divide the width 9 of dense_1"):
        plan.plan("greenberg", 6, devices=2, layout="model")


def test_original_at_256_on_eight_h100s():
    result = plan.plan("original", 256, devices=8, batch=32)
    assert result["parameters"] == models.count_params("original", 256) == 12_885_140_225
    whole = result["whole"]
    assert whole["weights"] + whole["optimizer"] == 12 * result["parameters"]  # ≈ 155 GB
    assert whole["weights"] + whole["optimizer"] + whole["gradients"] == 16 * result["parameters"]  # ≈ 206 GB
    fits = {k: v["fits"]["H100-80GB"] for k, v in result["layouts"].items()}
    assert fits == {"none": False, "data": False, "model": True}
    assert plan.fits(90, 100, 0.1) and not plan.fits(91, 100, 0.1)


@pytest.mark.parametrize("kwargs,option", [({"model_shards": 3}, "--model-shards"), ({"batch": 12}, "--batch"),
                                           ({"layout": "pipeline"}, "--layout"), ({"precision": "fp16"}, "--precision"),
                                           ({"device": "V100"}, "--device"), ({"headroom": 1.0}, "--headroom"),
                                           ({"devices": 0}, "--devices"), ({"variant": "nope"}, "--variant")])
def test_bad_input_names_the_option(kwargs, option):
    args = {"variant": "original", "n": 32, "devices": 8, **kwargs}
    with pytest.raises(ValueError, match=option):
        plan.plan(**args)


def test_cli_prints_a_table_and_json(capsys):
    assert cli.main(["plan", "--variant", "original", "--size", "64", "--devices", "8"]) == 0
    out = capsys.readouterr().out
    assert "original at 64²: 50,447,105 parameters" in out and "H100-80GB" in out
    rows = [line.split()[0] for line in out.splitlines() if line.split()[:1] in (["none"], ["data"], ["model"])]
    assert rows == ["none", "data", "model"]
    argv = ["plan", "--variant", "greenberg-201m", "--devices", "4", "--layout", "model", "--json", "--device", "A100-40GB"]
    assert cli.main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["n"] == 128 and list(result["layouts"]) == ["model"] and list(result["device_memory"]) == ["A100-40GB"]


@pytest.mark.parametrize("argv,option", [(["--devices", "8", "--model-shards", "3"], "--model-shards"),
                                         (["--devices", "8", "--batch", "12"], "--batch"), ([], "--size"),
                                         (["--variant", "nope"], "--variant")])
def test_cli_bad_option_exits_2_with_one_line(capsys, argv, option):
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["plan", "--variant", "original"] + (["--size", "64"] if option != "--size" else []) + argv)
    assert exit_info.value.code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and err.startswith("automap-nb: error: ") and option in err


SCRIPT = r"""
import json, keras
from automap_nb import distribute, models

def device_bytes(variables, device):
    return sum(s.data.nbytes for v in variables for s in v.value.addressable_shards if s.device == device)

results = {}
for kind, shards in [("data", 1), ("model", 2), ("model", 4)]:
    with distribute.make(kind, shards).scope():
        model = models.build_variant("greenberg", 8, seed=0)
        model.compile(optimizer=keras.optimizers.Adam(2e-4), loss="mse")
        model.optimizer.build(model.trainable_variables)
    device = model.weights[0].value.addressable_shards[0].device
    moments = [v for v in model.optimizer.variables if len(v.shape) > 0]
    results[f"{kind}-{shards}"] = {"weights": device_bytes(model.weights, device), "optimizer": device_bytes(moments, device)}
print("RESULTS " + json.dumps(results))
"""


def test_per_device_bytes_equal_jax_layouts_on_four_virtual_devices():
    env = {
        **os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=4", "JAX_PLATFORMS": "cpu",
        "TF_CPP_MIN_LOG_LEVEL": "3"
    }
    proc = subprocess.run([sys.executable, "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    real = json.loads(next(line for line in proc.stdout.splitlines() if line.startswith("RESULTS "))[len("RESULTS "):])
    for key, got in real.items():
        kind, shards = key.split("-")
        planned = plan.per_device_bytes("greenberg", 8, "float32", 4, kind, devices=4, model_shards=int(shards))
        assert got == {"weights": planned["weights"], "optimizer": planned["optimizer"]}, key


def test_cli_in_a_fresh_process_says_one_line_and_names_every_device():
    env = {k: v for k, v in os.environ.items() if k != "KERAS_BACKEND"}
    code = "from automap_nb.orchestration.cli import main; raise SystemExit(main())"
    argv = ["plan", "--variant", "original", "--size", "256", "--devices", "8", "--model-shards", "3"]
    proc = subprocess.run([sys.executable, "-c", code, *argv], env=env, capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.splitlines() == ["automap-nb: error: --model-shards 3 does not divide --devices 8"]
    device_help = next(a.help for a in cli.build_parser()._subparsers._group_actions[0].choices["plan"]._actions
                       if a.dest == "device")
    assert all(name in device_help for name in plan.device_memory())
    defaults = cli.build_parser().parse_args(["plan", "--variant", "original"])
    assert (defaults.batch, defaults.headroom, defaults.precision) == (plan.DEFAULT_BATCH, plan.DEFAULT_HEADROOM, "float32")
