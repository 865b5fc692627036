"""Training past one device: ``keras.distribution`` (JAX) data parallel and dense-kernel model parallel.

AUTOMAP's dense layers grow as n⁴: the original AUTOMAP at 256² has ≈ 12.9 billion parameters
(≈ 52 GB in fp32, ≈ 206 GB with Adam's two moments), more than one GPU holds. Keras 3's
``keras.distribution`` lays variables and batches out over a ``DeviceMesh`` and lets XLA's GSPMD
partitioner insert the collectives; it is implemented for the JAX backend.

- :func:`data_parallel`: a 1-D mesh ``("batch",)`` over every device; every variable is
  replicated, each batch is split along its first axis (the batch size must be a multiple of the
  device count).
- :func:`model_parallel` with ``model_shards = k``: a 2-D mesh ``("batch", "model")`` of shape
  ``(devices / k, k)``; the dense layers' kernels are split along their output axis over
  ``"model"`` (``dense_i/kernel`` → ``(None, "model")``, ``dense_i/bias`` → ``("model",)``, see
  :func:`layout_map`); the convolutions (≈ 0.5 M parameters) and dAUTOMAP's transform kernels
  (``transform_i_*``, 4n² each: 1.6 MB at 320²) are replicated; batches are split over
  ``"batch"``. Adam's moments take their variable's layout, so each device holds 1/k of the dense
  weights and of their optimizer state.

Use: build the model and train *inside* the distribution's scope::

    dist = distribute.make("model", model_shards=8)   # or "data", or "none"
    with dist.scope():
        model = models.build_variant("original", 256, seed=0)
        training.train(model, "runs/x/prepared.h5", "runs/x/train", epochs=300, batch_size=64)

``tests/test_distribute.py`` trains on 4 virtual CPU devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=4``, set before JAX starts) and checks the
losses against one device.
"""

from __future__ import annotations

import keras

KINDS = ("none", "data", "model")
DENSE_KERNEL = r"dense_\d+/kernel$"
DENSE_BIAS = r"dense_\d+/bias$"


def _require_jax() -> None:
    if keras.backend.backend() != "jax":
        raise ValueError(f"keras.distribution needs KERAS_BACKEND=jax, the backend is "
                         f"{keras.backend.backend()!r}")


def devices() -> list[str]:
    """The devices Keras sees, e.g. ``['cuda:0', 'cuda:1']`` or ``['cpu:0', …]`` (JAX only)."""
    _require_jax()
    return keras.distribution.list_devices()


def data_parallel(device_list: list[str] | None = None) -> keras.distribution.DataParallel:
    """Replicate every variable, split each batch over ``device_list`` (default: all devices)."""
    _require_jax()
    return keras.distribution.DataParallel(devices=device_list or devices())


def layout_map(mesh: keras.distribution.DeviceMesh) -> keras.distribution.LayoutMap:
    """Dense kernels split on their output axis over ``"model"``; everything else replicated."""
    layouts = keras.distribution.LayoutMap(mesh)
    layouts[DENSE_KERNEL] = (None, "model")
    layouts[DENSE_BIAS] = ("model", )
    return layouts


def model_parallel(model_shards: int, device_list: list[str] | None = None) -> keras.distribution.ModelParallel:
    """A ``("batch", "model")`` mesh with ``model_shards`` devices per model replica (see module docstring)."""
    _require_jax()
    device_list = device_list or devices()
    count = len(device_list)
    if isinstance(model_shards, bool) or not isinstance(model_shards, int) or model_shards < 1 \
            or count % model_shards:
        raise ValueError(f"model_shards must be a positive integer dividing the {count} devices, "
                         f"got {model_shards!r}")
    mesh = keras.distribution.DeviceMesh((count // model_shards, model_shards), ("batch", "model"), device_list)
    return keras.distribution.ModelParallel(layout_map=layout_map(mesh), batch_dim_name="batch")


def make(kind: str, model_shards: int = 1):
    """``"none"`` → ``None``; ``"data"`` → :func:`data_parallel`; ``"model"`` → :func:`model_parallel`."""
    if kind not in KINDS:
        raise ValueError(f"distribution must be one of {list(KINDS)}, got {kind!r}")
    if kind == "none":
        return None
    if kind == "data":
        return data_parallel()
    return model_parallel(model_shards)


def describe(distribution) -> dict:
    """``{"kind", "mesh_shape", "axis_names", "devices"}`` of a distribution (``None``: one device)."""
    if distribution is None:
        return {"kind": "none", "mesh_shape": None, "axis_names": None, "devices": 1}
    mesh = distribution.device_mesh
    kind = "model" if isinstance(distribution, keras.distribution.ModelParallel) else "data"
    return {"kind": kind, "mesh_shape": list(mesh.shape), "axis_names": list(mesh.axis_names), "devices": int(mesh.devices.size)}
