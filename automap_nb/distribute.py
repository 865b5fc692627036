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

Use: :func:`setup` (joins the other processes, if any; checks; ``None`` for ``"none"``), build the
model inside :func:`scope`, and hand the distribution to :func:`automap_nb.training.train`, which
trains under it::

    dist = distribute.setup("model", model_shards=8, batch_size=64)   # or "data", or "none"
    with distribute.scope(dist):
        model = models.build_variant("original", 256, seed=0)
    training.train(model, "runs/x/prepared.h5", "runs/x/train", epochs=300, batch_size=64, distribution=dist)

Several processes (hosts): :func:`initialize` calls ``jax.distributed.initialize`` when the
environment describes several processes (``JAX_COORDINATOR_ADDRESS`` + ``JAX_NUM_PROCESSES`` +
``JAX_PROCESS_ID``, or SLURM's ``SLURM_NTASKS`` > 1); the mesh then spans every process's devices.
Each process feeds its own rows of each global batch (:func:`local_rows`), and only process 0
writes files (:func:`is_writer`): it saves checkpoints from the full replica it holds, so under
several processes ``model_shards`` must divide each process's device count (:func:`check`). On
CPUs the processes talk through gloo (JAX's default ``jax_cpu_collectives_implementation``).

Checkpoints are ordinary ``.keras`` files with full arrays: one trained under one layout loads
under another, or on one device.

``tests/test_distribute.py`` trains on 4 virtual CPU devices
(``XLA_FLAGS=--xla_force_host_platform_device_count=4``, set before JAX starts) and checks the
losses against one device; ``tests/test_multihost.py`` trains with 2 processes × 2 devices.
"""

from __future__ import annotations

import contextlib
import os

import keras

from automap_nb.checks import env_processes

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


# ---- several processes -------------------------------------------------------------------------

#: environment variables that describe a multi-process JAX run (see :func:`initialize`)
JAX_ENV = ("JAX_COORDINATOR_ADDRESS", "JAX_NUM_PROCESSES", "JAX_PROCESS_ID")


def initialize() -> bool:
    """Join the other processes of a multi-process run, before anything is built; idempotent.

    Several processes are described by JAX's variables (all three of :data:`JAX_ENV`), or by SLURM
    (``SLURM_NTASKS`` > 1, one task per host or per GPU; JAX reads the coordinator and the process
    id from SLURM's own variables). Then ``jax.distributed.initialize`` runs once (it must come
    before JAX's first computation). Returns True when this process is one of several.
    """
    count = env_processes()
    if count == 1:
        return False
    if keras.backend.backend() != "jax":
        raise ValueError(f"the environment describes {count} processes, which needs KERAS_BACKEND=jax, the backend is "
                         f"{keras.backend.backend()!r}")
    import jax

    if jax.distributed.is_initialized():
        return True
    if os.environ.get("JAX_NUM_PROCESSES"):
        missing = [name for name in JAX_ENV if not os.environ.get(name)]
        if missing:
            raise ValueError(f"JAX_NUM_PROCESSES={count} needs {' and '.join(missing)} too")
        jax.distributed.initialize(coordinator_address=os.environ["JAX_COORDINATOR_ADDRESS"], num_processes=count,
                                   process_id=int(os.environ["JAX_PROCESS_ID"]))
    else:
        jax.distributed.initialize()  # SLURM: JAX's cluster detection reads SLURM's variables
    return True


def process_count() -> int:
    """Processes in this run (1 unless :func:`initialize` joined several; always 1 off JAX)."""
    if keras.backend.backend() != "jax":
        return 1
    import jax

    return jax.process_count()


def is_writer() -> bool:
    """True in the one process that writes files: process 0 (every process of a one-process run)."""
    if keras.backend.backend() != "jax":
        return True
    import jax

    return jax.process_index() == 0


def barrier(name: str) -> None:
    """Wait until every process reaches this point (nothing to wait for in one process)."""
    if process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def data_axis(distribution) -> int:
    """How many ways a batch is split: the mesh's ``"batch"`` axis (1 without a distribution)."""
    if distribution is None:
        return 1
    mesh = distribution.device_mesh
    return int(mesh.shape[list(mesh.axis_names).index("batch")])


def check(kind: str, model_shards: int = 1, batch_size: int | None = None) -> None:
    """Raise a one-line ``ValueError`` unless ``kind`` can run here with ``model_shards`` and ``batch_size``.

    ``kind`` in :data:`KINDS`; anything but ``"none"`` needs the JAX backend; ``model_shards`` is 1
    unless ``kind == "model"``, where it must divide the device count (and, with several processes,
    each process's devices: process 0 saves from the replica it holds); ``batch_size`` (the global
    batch) must be a multiple of the data axis, ``devices / model_shards``.
    """
    if kind not in KINDS:
        raise ValueError(f"distribution must be one of {list(KINDS)}, got {kind!r}")
    if isinstance(model_shards, bool) or not isinstance(model_shards, int) or model_shards < 1:
        raise ValueError(f"model_shards must be a positive integer, got {model_shards!r}")
    if kind != "model" and model_shards != 1:
        raise ValueError(f"model_shards={model_shards} needs distribution 'model', the distribution is {kind!r}")
    if kind == "none":
        return
    _require_jax()
    import jax

    count, local = jax.device_count(), jax.local_device_count()
    if count % model_shards:
        raise ValueError(f"model_shards must divide the {count} devices, got {model_shards}")
    if jax.process_count() > 1 and local % model_shards:
        raise ValueError(f"model_shards must divide each process's {local} devices (process 0 saves the checkpoints "
                         f"from the replica it holds), got {model_shards}")
    axis = count // model_shards
    if batch_size is not None and batch_size % axis:
        raise ValueError(f"batch size {batch_size} is not a multiple of the data axis ({axis} = {count} devices / "
                         f"{model_shards} model shards)")


def setup(kind: str, model_shards: int = 1, batch_size: int | None = None):
    """The distribution a training run uses: :func:`initialize`, :func:`check`, then :func:`make`.

    Returns ``None`` for ``"none"`` (one device), else a ``keras.distribution`` object; build the
    model under :func:`scope` of it and pass it to :func:`automap_nb.training.train`'s
    ``distribution``. ``batch_size``: the global batch (every process's rows together).
    """
    initialize()
    check(kind, model_shards, batch_size)
    return make(kind, model_shards)


def scope(distribution):
    """``distribution.scope()``, or a context that does nothing for ``None``."""
    return contextlib.nullcontext() if distribution is None else distribution.scope()


@contextlib.contextmanager
def outside():
    """No distribution inside (an already laid-out model then runs on host arrays as given)."""
    previous = keras.distribution.distribution()
    keras.distribution.set_distribution(None)
    try:
        yield
    finally:
        keras.distribution.set_distribution(previous)


def local_rows(distribution, count: int) -> slice | None:
    """The rows of a global batch of ``count`` samples that this process feeds (``slice(0, count)`` in one
    process, or without a distribution); ``None`` when ``count`` is not a multiple of the data axis:
    such a batch (the last of a validation split) runs replicated, every process feeding all of it
    (:func:`outside`).

    Read from the data layout's sharding: the rows held by this process's devices, one contiguous block.
    """
    if distribution is None:
        return slice(0, count)
    if count % data_axis(distribution):
        return None
    sharding = distribution.get_data_layout((count, 1)).backend_layout
    starts, stops = zip(
        *{(index[0].start or 0, count if index[0].stop is None else index[0].stop)
          for index in sharding.addressable_devices_indices_map((count, 1)).values()})
    return slice(min(starts), max(stops))


def check_model(model: keras.Model, distribution) -> None:
    """Raise unless every variable of ``model`` lies on the mesh of ``distribution`` (built under :func:`scope`)."""
    if distribution is None:
        return
    size = int(distribution.device_mesh.devices.size)
    for variable in model.variables:
        placed = len(variable.value.sharding.device_set)
        if placed != size:
            raise ValueError(f"variable {variable.path} is on {placed} device(s), the distribution's mesh has {size}: "
                             "build the model inside distribute.scope(distribution)")
