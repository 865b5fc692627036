"""Training and inference throughput of an AUTOMAP variant on random data (``automap-nb bench``).

Training: the model is compiled as :func:`automap_nb.training.train` compiles it (Adam 2e-4, MSE,
seed PSNR metric); ``warmup`` steps (tracing, compilation) are run first, then ``repeats`` timed
runs of ``steps`` steps each; the figures are medians over the repeats. Each run is one
``model.fit`` over an in-memory array, so the time includes the host-to-device copy of every batch
but no disk reading or augmentation. Inference: ``predict_on_batch`` on one slice, median of 20.

Memory: peak resident set size of this process (``resource.getrusage``, so it includes everything
the process did before) and, where the backend reports it, the device's peak allocation.
"""

from __future__ import annotations

import json
import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np

from . import models, training


def _device_peak_bytes() -> int | None:
    """Peak device memory of the first GPU in bytes, or ``None`` when the backend cannot tell."""
    backend = keras.backend.backend()
    if backend == "tensorflow":
        import tensorflow as tf

        if tf.config.list_physical_devices("GPU"):
            return int(tf.config.experimental.get_memory_info("GPU:0")["peak"])
    elif backend == "jax":
        import jax

        stats = jax.devices()[0].memory_stats() or {}
        if "peak_bytes_in_use" in stats:
            return int(stats["peak_bytes_in_use"])
    elif backend == "torch":
        import torch

        if torch.cuda.is_available():
            return int(torch.cuda.max_memory_allocated())
    return None


def machine_info() -> dict:
    """CPU model (``lscpu``), logical CPU count, 1-minute load average, OS, Python, Keras."""
    model = platform.processor() or "unknown"
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        model = next((line.split(":", 1)[1].strip() for line in out.splitlines()
                      if line.startswith("Model name")), model)
    except (OSError, subprocess.CalledProcessError) as err:
        model = f"{model} (lscpu failed: {err})"
    return {"cpu_model": model, "cpus": os.cpu_count(), "load_average_1min": os.getloadavg()[0],
            "platform": platform.platform(),
            "python": sys.version.split()[0], "keras": keras.__version__}


def run_benchmark(variant: str = "seed", n: int | None = 64, batch: int = 32, steps: int = 10,
                  warmup: int = 2, repeats: int = 3, seed: int = 0) -> dict:
    """Benchmark ``variant`` at grid ``n`` (``None``: the variant's own n, else 64).

    Returns a dict: ``variant``, ``n``, ``params``, ``batch``, ``steps``, ``repeats``,
    ``train_samples_per_s`` and ``train_ms_per_step`` (medians), ``train_ms_per_step_runs``,
    ``infer_ms_per_slice`` (batch 1), ``peak_rss_mb``, ``device_peak_mb`` (or ``None``),
    ``backend``, ``device``, ``device_name``, ``keras``, ``machine``.
    """
    if n is None:
        n = models.VARIANTS.get(variant, {}).get("n") or 64
    for name, value, low in (("batch", batch, 1), ("steps", steps, 1), ("warmup", warmup, 1),
                             ("repeats", repeats, 1)):
        if isinstance(value, bool) or not isinstance(value, int) or value < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")
    machine = machine_info()  # before the run: the load average says how busy the machine was
    keras.utils.set_random_seed(seed)
    model = models.build_variant(variant, n)
    model.compile(optimizer=keras.optimizers.Adam(2e-4), loss="mse", metrics=[training.seed_psnr])
    rng = np.random.default_rng(seed)
    x = rng.standard_normal((batch * steps, n, n, 2), dtype=np.float32)
    y = rng.random((batch * steps, n, n, 1), dtype=np.float32)
    model.fit(x[:batch * warmup], y[:batch * warmup], batch_size=batch, epochs=1, shuffle=False, verbose=0)
    runs = []
    for _ in range(repeats):
        start = time.perf_counter()
        model.fit(x, y, batch_size=batch, epochs=1, shuffle=False, verbose=0)
        runs.append(1000.0 * (time.perf_counter() - start) / steps)
    ms_step = float(np.median(runs))
    infer = training.time_inference(model, x, batch_size=1, repeats=20, warmup=3)
    device = training.describe_device()
    peak = _device_peak_bytes()
    return {
        "variant": variant, "n": n, "params": int(model.count_params()), "batch": batch,
        "steps": steps, "repeats": repeats, "train_ms_per_step": ms_step,
        "train_samples_per_s": 1000.0 * batch / ms_step, "train_ms_per_step_runs": runs,
        "infer_ms_per_slice": infer["ms_per_slice"],
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "device_peak_mb": None if peak is None else peak / 2**20,
        "backend": device["backend"], "device": device["device"], "device_name": device["name"],
        "keras": keras.__version__, "machine": machine,
    }


def format_table(result: dict) -> str:
    """A Markdown table of a :func:`run_benchmark` result."""
    device_mem = "n/a" if result["device_peak_mb"] is None else f"{result['device_peak_mb']:,.0f} MB"
    rows = [
        ("variant", f"{result['variant']} (n = {result['n']}, {result['params']:,} parameters)"),
        ("backend / device", f"Keras {result['keras']} / {result['backend']} on {result['device_name']}"),
        ("machine", f"{result['machine']['cpu_model']}, {result['machine']['cpus']} CPUs "
                    f"(load average {result['machine']['load_average_1min']:.2f} before the run)"),
        ("training", f"{result['train_samples_per_s']:,.1f} samples/s, {result['train_ms_per_step']:,.1f} ms/step "
                     f"(batch {result['batch']}, median of {result['repeats']} × {result['steps']} steps)"),
        ("inference", f"{result['infer_ms_per_slice']:,.2f} ms per slice (batch 1)"),
        ("peak host RSS", f"{result['peak_rss_mb']:,.0f} MB"),
        ("peak device memory", device_mem),
    ]
    lines = ["| quantity | value |", "| --- | --- |"] + [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines)


def write_report(result: dict, stem, title: str = "Benchmark", notes: str = "") -> tuple[Path, Path]:
    """Write ``stem.json`` (the result) and ``stem.md`` (title, table, how it was run, ``notes``)."""
    stem = Path(stem)
    stem.parent.mkdir(parents=True, exist_ok=True)
    json_path, md_path = stem.with_suffix(".json"), stem.with_suffix(".md")
    json_path.write_text(json.dumps(result, indent=2) + "\n")
    call = (f"run_benchmark(variant={result['variant']!r}, n={result['n']}, batch={result['batch']}, "
            f"steps={result['steps']}, repeats={result['repeats']})")
    md_path.write_text(f"# {title}\n\n{format_table(result)}\n\nMeasured with `automap_nb.bench.{call}` "
                       f"on random data ({result['machine']['platform']}, Python "
                       f"{result['machine']['python']}).\n" + (f"\n{notes.strip()}\n" if notes else ""))
    return json_path, md_path
