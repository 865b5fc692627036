"""Memory planner (``automap-nb plan``): will a variant at n² train on D devices, and under which layout?

Every figure comes from the architecture that :func:`automap_nb.models.count_params` counts (the
layer specs of :mod:`automap_nb.models.automap`), without building the model, so it answers for
``original`` at 256² (≈ 12.9 billion parameters) in milliseconds. Units: counts are numbers of
scalars, memory is **bytes** everywhere in this module (the table prints GB = 10⁹ bytes).

What a training step holds, per the recipe of :func:`automap_nb.training.compile_model` (Adam):

- **weights**: every parameter, in the variables' dtype (see :data:`PRECISIONS`: float32, also
  under ``mixed_bfloat16``, whose layers only *compute* in bfloat16);
- **Adam moments**: 2 per parameter (first and second moment), in the variables' dtype
  (Adam's step counter and learning rate, two scalars, are left out);
- **gradients**: 1 per parameter, in the variables' dtype;
- **activations**: what the forward pass keeps for the backward pass: the k-space input
  (n·n·2, float32) and every weighted layer's output (``c_out · grid_out²`` per sample; a dAUTOMAP
  ``transform`` layer's ``c_out`` values on each of its ``grid_out`` lines) in the compute dtype,
  except the network's output image, which is float32 under every policy. The Flatten/Reshape
  views add nothing; the backward pass's transient activation gradients, XLA's workspaces and
  fragmentation are what the headroom fraction is for.

Layouts (:mod:`automap_nb.distribute`), per device, with D devices, K model shards, batch B:

- ``none``: one device holds everything for the whole batch (D is not used);
- ``data``: weights, moments and gradients replicated on every device, the batch split D ways
  (B must be a multiple of D);
- ``model``: a ``(D/K, K)`` mesh ``("batch", "model")``; the layers whose variables
  :func:`automap_nb.distribute.layout_map` splits (``dense_i/kernel`` and ``dense_i/bias`` on their
  output axis) hold c_out / K of their output columns per device (JAX needs K to divide c_out), and
  so do their moments and gradients; every other layer is replicated. The batch is split D/K ways
  (B must be a multiple of D/K); activations are *not* divided by K, because the replicated conv
  tail runs a replica's whole batch on each of its K devices.

A layout fits a device when its per-device total is at most ``(1 - headroom)`` of the device's
memory (:data:`DEVICE_MEMORY`, and this machine's RAM from :func:`host_memory_bytes`). Under JAX,
a GPU process preallocates 75 % of the card at its first operation (whether the pool may grow past
that depends on the JAX version); ``XLA_PYTHON_CLIENT_MEM_FRACTION`` (e.g. ``.95``) sets the share.
"""

from __future__ import annotations

import os
import re

from automap_nb.distribute import DENSE_BIAS, DENSE_KERNEL, KINDS
from automap_nb.models import automap

#: Total memory in bytes of each named device, as ``nvidia-smi`` reports it (MiB × 2²⁰):
#: H100 SXM 80 GB HBM3 81,559 MiB; H200 SXM 141 GB HBM3e 143,771 MiB; A100 SXM4 40 GB 40,960 MiB;
#: A100 SXM4 80 GB 81,920 MiB. ``host`` (this machine's RAM) is added by :func:`device_memory`.
DEVICE_MEMORY = {
    "H100-80GB": 81_559 * 2**20,
    "H200-141GB": 143_771 * 2**20,
    "A100-40GB": 40_960 * 2**20,
    "A100-80GB": 81_920 * 2**20,
}
HOST = "host"
DEFAULT_HEADROOM = 0.10
DEFAULT_BATCH = 32  # the paper's
GB = 10**9

#: precision → dtype of the variables (weights, Adam moments, gradients) and of the layers' arithmetic.
#: ``float32`` and ``mixed_bfloat16`` are :data:`automap_nb.models.PRECISIONS`; ``bfloat16`` (every
#: variable in bfloat16) is a what-if that ``build_variant`` does not offer.
PRECISIONS = {
    "float32": {"variables": "float32", "compute": "float32"},
    "mixed_bfloat16": {"variables": "float32", "compute": "bfloat16"},
    "bfloat16": {"variables": "bfloat16", "compute": "bfloat16"},
}
DTYPE_BYTES = {"float32": 4, "bfloat16": 2}
ADAM_MOMENTS = 2


def host_memory_bytes() -> int:
    """This machine's physical RAM in bytes (``os.sysconf``)."""
    return os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")


def device_memory() -> dict[str, int]:
    """Bytes of every device the planner checks: :data:`DEVICE_MEMORY` plus ``host`` (this machine's RAM)."""
    return {**DEVICE_MEMORY, HOST: host_memory_bytes()}


def is_model_sharded(layer_name: str) -> bool:
    """Whether :func:`automap_nb.distribute.layout_map` splits this layer's kernel and bias over ``"model"``."""
    return bool(re.search(DENSE_KERNEL, f"{layer_name}/kernel")) and bool(re.search(DENSE_BIAS, f"{layer_name}/bias"))


def layer_plan(variant: str, n: int) -> list[dict]:
    """One row per weighted layer of ``build_variant(variant, n)``, from the specs ``count_params`` sums.

    Keys: ``name``, ``kind``, ``params`` (scalars), ``outputs`` (scalars per sample of the layer's
    output), ``c_out`` (output channels or width: the axis the model layout splits),
    ``model_sharded`` (bool) and ``spec`` (the ``_specs`` tuple). Raises ``ValueError`` for an
    unknown variant or a bad ``n``.
    """
    automap.count_params(variant, n)  # the variant and n checks, with count_params's own messages
    rows = []
    for spec in automap._specs(variant, n):
        name, kind, _, _, c_out, _, grid_out = spec
        rows.append({
            "name": name, "kind": kind, "params": automap._params(spec), "outputs": _outputs(spec), "c_out": c_out,
            "model_sharded": is_model_sharded(name), "spec": spec
        })
    return rows


def _outputs(spec: tuple) -> int:
    """Scalars per sample of a layer spec's output: ``c_out · grid_out²``; a ``transform`` (dAUTOMAP's 1-D
    transform, ``c_out`` values on each of ``grid_out`` lines) ``c_out · grid_out``."""
    _, kind, _, _, c_out, _, grid_out = spec
    return c_out * grid_out if kind == "transform" else c_out * grid_out * grid_out


def params_per_device(layers: list[dict], model_shards: int = 1) -> int:
    """Parameters (scalars) one device holds when the sharded layers keep c_out / model_shards columns each.

    ``model_shards`` must divide every sharded layer's ``c_out`` (JAX refuses uneven shards;
    :func:`check_options` says so first).
    """
    total = 0
    for layer in layers:
        if layer["model_sharded"] and model_shards > 1:
            name, kind, kernel, c_in, c_out, grid_in, grid_out = layer["spec"]
            if c_out % model_shards:
                raise ValueError(f"model_shards {model_shards} does not divide {name}'s width {c_out}")
            total += automap._params((name, kind, kernel, c_in, c_out // model_shards, grid_in, grid_out))
        else:
            total += layer["params"]
    return total


def variable_bytes(params: int, precision: str) -> int:
    """Bytes of ``params`` scalars in the variables' dtype of ``precision`` (weights, or gradients)."""
    return params * DTYPE_BYTES[PRECISIONS[precision]["variables"]]


def optimizer_bytes(params: int, precision: str) -> int:
    """Bytes of Adam's state for ``params`` parameters: 2 moments each, in the variables' dtype."""
    return ADAM_MOMENTS * variable_bytes(params, precision)


def activation_elements(variant: str, n: int) -> dict[str, int]:
    """Activation scalars per sample the forward pass keeps: ``{"input", "hidden", "output"}``.

    ``input``: the k-space, n·n·2; ``output``: the last layer's output (the image); ``hidden``:
    every other weighted layer's output.
    """
    layers = layer_plan(variant, n)
    return {"input": n * n * 2, "hidden": sum(row["outputs"] for row in layers[:-1]), "output": layers[-1]["outputs"]}


def activation_bytes(variant: str, n: int, batch: int, precision: str) -> int:
    """Bytes of activations for ``batch`` samples: input and output float32, hidden layers in the compute dtype."""
    elements = activation_elements(variant, n)
    compute = DTYPE_BYTES[PRECISIONS[precision]["compute"]]
    return batch * ((elements["input"] + elements["output"]) * DTYPE_BYTES["float32"] + elements["hidden"] * compute)


def mesh_shape(layout: str, devices: int, model_shards: int) -> tuple[int, int]:
    """``(data axis, model axis)`` sizes of ``layout``: none (1, 1), data (D, 1), model (D/K, K)."""
    return {"none": (1, 1), "data": (devices, 1), "model": (devices // model_shards, model_shards)}[layout]


def per_device_bytes(variant: str, n: int, precision: str, batch: int, layout: str, devices: int = 1,
                     model_shards: int = 1) -> dict[str, int]:
    """Bytes one device holds under ``layout``: ``weights``, ``optimizer``, ``gradients``, ``activations``, ``total``.

    Also ``params`` (parameters on the device) and ``batch`` (samples per device). Inputs are
    assumed checked by :func:`check_options`.
    """
    data_axis, model_axis = mesh_shape(layout, devices, model_shards)
    params = params_per_device(layer_plan(variant, n), model_axis)
    local_batch = batch // data_axis
    out = {
        "params": params, "batch": local_batch, "weights": variable_bytes(params, precision),
        "optimizer": optimizer_bytes(params, precision), "gradients": variable_bytes(params, precision),
        "activations": activation_bytes(variant, n, local_batch, precision)
    }
    out["total"] = out["weights"] + out["optimizer"] + out["gradients"] + out["activations"]
    return out


def fits(total: int, capacity: int, headroom: float = DEFAULT_HEADROOM) -> bool:
    """Whether ``total`` bytes fit in ``capacity`` bytes keeping a ``headroom`` fraction free."""
    return total <= (1.0 - headroom) * capacity


def _positive_int(value, option: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        raise ValueError(f"{option} must be a positive integer, got {value!r}")
    return value


def check_options(variant: str, n: int, devices: int, precision: str, batch: int, layout: str | None, model_shards: int | None,
                  device: str | None, headroom: float) -> tuple[list[str], int]:
    """Check the planner's inputs; ``(layouts to show, model_shards)``, or a one-line ``ValueError`` naming the option.

    ``layout`` ``None`` shows all three; ``model_shards`` ``None`` means all ``devices``.
    """
    if isinstance(n, bool) or not isinstance(n, int) or n < 2:
        raise ValueError(f"--size must be an integer >= 2, got {n!r}")
    try:
        automap.count_params(variant, n)
    except ValueError as err:
        raise ValueError(f"--variant/--size: {err}") from None
    _positive_int(devices, "--devices")
    _positive_int(batch, "--batch")
    if precision not in PRECISIONS:
        raise ValueError(f"--precision must be one of {list(PRECISIONS)}, got {precision!r}")
    if layout is not None and layout not in KINDS:
        raise ValueError(f"--layout must be one of {list(KINDS)}, got {layout!r}")
    if device is not None and device not in device_memory():
        raise ValueError(f"--device must be one of {list(device_memory())}, got {device!r}")
    if isinstance(headroom, bool) or not isinstance(headroom, (int, float)) or not 0 <= headroom < 1:
        raise ValueError(f"--headroom must be a fraction in [0, 1), got {headroom!r}")
    layouts = list(KINDS) if layout is None else [layout]
    model_shards = devices if model_shards is None else _positive_int(model_shards, "--model-shards")
    if "model" in layouts and devices % model_shards:
        raise ValueError(f"--model-shards {model_shards} does not divide --devices {devices}")
    if "model" in layouts:
        for row in layer_plan(variant, n):
            if row["model_sharded"] and row["c_out"] % model_shards:
                raise ValueError(f"--model-shards {model_shards} does not divide the width {row['c_out']} of {row['name']}, "
                                 f"whose kernel the model layout splits (JAX needs even shards)")
    for name in layouts:
        data_axis = mesh_shape(name, devices, model_shards)[0]
        if batch % data_axis:
            raise ValueError(f"--batch {batch} is not divisible by the data axis of the '{name}' layout ({data_axis}); "
                             f"use a multiple of {data_axis}" + (" or --layout" if layout is None else ""))
    return layouts, model_shards


def plan(variant: str, n: int, devices: int = 1, precision: str = "float32", batch: int = DEFAULT_BATCH, layout: str | None = None,
         model_shards: int | None = None, device: str | None = None, headroom: float = DEFAULT_HEADROOM) -> dict:
    """The whole plan as a JSON-ready dict (bytes, counts; see the module docstring for what is counted).

    Keys: the inputs; ``parameters`` (= ``count_params``), ``model_sharded_parameters``; ``dtypes``;
    ``whole`` (bytes of the whole model: ``weights``, ``optimizer``, ``gradients``, ``activations`` for
    the whole batch, ``activations_per_sample``); ``layouts`` (per layout: ``mesh`` (data, model),
    :func:`per_device_bytes`' keys, ``fits`` per device); ``device_memory`` (bytes per device name).
    """
    layouts, model_shards = check_options(variant, n, devices, precision, batch, layout, model_shards, device, headroom)
    layers = layer_plan(variant, n)
    params = sum(row["params"] for row in layers)
    memories = device_memory()
    if device is not None:
        memories = {device: memories[device]}
    variables, compute = PRECISIONS[precision]["variables"], PRECISIONS[precision]["compute"]
    whole = {
        "weights": variable_bytes(params, precision), "optimizer": optimizer_bytes(params, precision),
        "gradients": variable_bytes(params, precision), "activations": activation_bytes(variant, n, batch, precision),
        "activations_per_sample": activation_bytes(variant, n, 1, precision)
    }
    result = {
        "variant": variant, "n": n, "devices": devices, "precision": precision, "batch": batch, "model_shards": model_shards,
        "headroom": headroom, "optimizer": "Adam", "parameters": params,
        "model_sharded_parameters": sum(row["params"] for row in layers if row["model_sharded"])
    }
    result["dtypes"] = {"weights": variables, "optimizer": variables, "gradients": variables, "activations": compute}
    result.update(whole=whole, layouts={}, device_memory=memories)
    for name in layouts:
        row = per_device_bytes(variant, n, precision, batch, name, devices, model_shards)
        row["mesh"] = list(mesh_shape(name, devices, model_shards))
        row["fits"] = {dev: fits(row["total"], capacity, headroom) for dev, capacity in memories.items()}
        result["layouts"][name] = row
    return result


def _gb(value: int) -> str:
    return f"{value / GB:,.2f}"


def format_plan(result: dict) -> str:
    """A readable text table of a :func:`plan` result (memory in GB = 10⁹ bytes)."""
    dtypes = result["dtypes"]
    whole = result["whole"]
    lines = [
        f"{result['variant']} at {result['n']}²: {result['parameters']:,} parameters "
        f"({result['model_sharded_parameters']:,} in the dense layers the model layout splits)",
        f"precision {result['precision']}: weights, Adam's {ADAM_MOMENTS} moments and gradients {dtypes['weights']}, "
        f"activations {dtypes['activations']} (input and output images float32)",
        f"batch {result['batch']}, {result['devices']} device(s), model shards {result['model_shards']}, "
        f"headroom {result['headroom']:.0%}; memory in GB (10⁹ bytes)", "", "whole model:"
    ]
    for label, key in [("weights", "weights"), ("Adam moments", "optimizer"), ("gradients", "gradients"),
                       ("activations", "activations")]:
        lines.append(f"  {label:<14} {_gb(whole[key]):>10}")
    lines[-1] += f"  (batch {result['batch']}; {whole['activations_per_sample'] / 1e6:,.1f} MB per sample)"
    lines += ["", "per device:"]
    devices = list(result["device_memory"])
    header = ["layout", "mesh (data×model)", "batch/dev", "weights", "Adam", "grads", "activ.", "total"] + devices
    rows = []
    for name, row in result["layouts"].items():
        mesh = "1 device" if name == "none" else f"{row['mesh'][0]}×{row['mesh'][1]}"
        rows.append([name, mesh, str(row["batch"])] +
                    [_gb(row[k]) for k in ("weights", "optimizer", "gradients", "activations", "total")] +
                    ["fits" if row["fits"][dev] else "no" for dev in devices])
    capacity = ["", "device memory (GB)", "", "", "", "", "", ""] + [_gb(result["device_memory"][dev]) for dev in devices]
    table = [header] + rows + [capacity]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for line in table:
        lines.append("  " + "  ".join(cell.ljust(w) if i < 2 else cell.rjust(w) for i, (cell, w) in enumerate(zip(line, widths))))
    lines.append(f"'fits': the per-device total is at most {1 - result['headroom']:.0%} of the device's memory "
                 f"({HOST}: this machine's RAM)")
    return "\n".join(lines)
