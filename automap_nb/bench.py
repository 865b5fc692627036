"""Training, inference and input-pipeline throughput of an AUTOMAP variant (``automap-nb bench``).

Training: the model is compiled as :func:`automap_nb.training.train` compiles it (Adam 2e-4, MSE,
PSNR (MAX = 1) metric), at ``precision`` ``"fp32"`` or ``"bf16"`` (Keras's ``mixed_bfloat16`` policy:
float32 weights, bfloat16 arithmetic). ``warmup`` steps (tracing, compilation) run first, then
``repeats`` timed runs of ``steps`` steps each (one ``fit`` epoch each); figures are medians over
the repeats. ``data`` says what feeds it:

- ``"device"`` (default): the device input pipeline (:mod:`automap_nb.data.pipeline`) over
  ``batch × steps`` random complex images held on the device: per-sample reflection-tiling crops
  and the k-space FFT run inside the compiled step; the host only draws the crop offsets. This is
  how ``training.train(..., pipeline="device")`` feeds a GPU.
- ``"arrays"``: random k-space/target arrays in host memory, copied to the device batch by batch
  (no augmentation, no FFT): the model alone.

Input pipeline alone: the same draws and device ops with the model replaced by a reduction, one
synchronised call per batch (``pipeline_samples_per_s``), and the host draws alone
(``pipeline_host_samples_per_s``). Inference: ``predict_on_batch`` on one slice, median of 20.

Arithmetic: training costs ``6 × count_macs`` FLOPs per sample (a multiply-accumulate is 2 FLOPs,
the backward pass ≈ 2× the forward), ≈ 11.8 GFLOP for ``greenberg-201m``; achieved FLOP/s is that times
samples/s, given as a fraction of the device's peak from :data:`PEAK_TFLOPS` ("n/a" for devices
not in the table, such as CPUs).

Memory: peak resident set size of this process (``resource.getrusage``) and, where the backend
reports it (a GPU under JAX, TensorFlow or PyTorch), the device's peak allocation; otherwise "n/a".
"""

from __future__ import annotations

import os
import platform
import resource
import subprocess
import sys
import time
from pathlib import Path

import keras
import numpy as np
from keras import ops

from automap_nb import distribute, models, training
from automap_nb.data import pipeline
from automap_nb.results import read_json, write_json, write_text_atomic

PRECISIONS = {"fp32": "float32", "bf16": "mixed_bfloat16"}
DATA_SOURCES = ("device", "arrays")

#: Dense (no structured sparsity) peak TFLOP/s per precision, from NVIDIA's datasheets: "NVIDIA H100
#: Tensor Core GPU" datasheet (2023; SXM5 and PCIe columns), "NVIDIA H200 Tensor Core GPU" datasheet
#: (2024; SXM column, same compute as H100 SXM), "NVIDIA A100 Tensor Core GPU" datasheet (2021; SXM),
#: "NVIDIA V100 Tensor Core GPU" datasheet (SXM2). The datasheets print tensor-core figures "with
#: sparsity"; these are half of those. "fp32" is the TF32 tensor-core peak, because XLA's default
#: precision runs fp32 matrix products and convolutions on TF32 tensor cores from Ampere on
#: (V100 has none: its plain FP32 peak is used); "fp32_simt" is the plain FP32 (CUDA-core) peak.
#: Keys are matched in order against the device name (JAX's ``device_kind``, e.g. "NVIDIA H100 80GB HBM3").
PEAK_TFLOPS = {
    "H100 PCIe": {"fp32": 378.0, "bf16": 756.0, "fp32_simt": 51.0},
    "H100 NVL": {"fp32": 417.5, "bf16": 835.0, "fp32_simt": 60.0},
    "H100": {"fp32": 494.7, "bf16": 989.4, "fp32_simt": 67.0},  # SXM5 ("H100 80GB HBM3")
    "H200": {"fp32": 494.7, "bf16": 989.4, "fp32_simt": 67.0},  # SXM
    "A100": {"fp32": 156.0, "bf16": 312.0, "fp32_simt": 19.5},
    "V100": {"fp32": 15.7, "bf16": None, "fp32_simt": 15.7}
}
PEAK_SOURCE = "NVIDIA datasheets (H100 2023, H200 2024, A100 2021, V100), dense figures; see bench.PEAK_TFLOPS"


def peak_tflops(device_name: str, precision: str) -> float | None:
    """The table's peak TFLOP/s for ``device_name`` at ``precision``, or ``None`` if unknown."""
    for key, peaks in PEAK_TFLOPS.items():
        if key.lower() in device_name.lower():
            return peaks.get(precision)
    return None


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
        model = next((line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name")), model)
    except (OSError, subprocess.CalledProcessError) as err:
        model = f"{model} (lscpu failed: {err})"
    return {
        "cpu_model": model, "cpus": os.cpu_count(), "load_average_1min": os.getloadavg()[0], "platform": platform.platform(),
        "python": sys.version.split()[0], "keras": keras.__version__
    }


class _PipelineProbe(keras.Model):
    """The device pipeline with the model replaced by a per-sample sum: ``(B,)`` comes back."""

    def __init__(self, bank: pipeline.ImageBank):
        super().__init__(name="pipeline_probe")
        self.bank = bank
        self.built = True

    def call(self, batch):
        return (ops.sum(ops.square(self.bank.kspace(batch)), axis=(1, 2, 3)) + ops.sum(self.bank.targets(batch), axis=(1, 2, 3)))


def _random_images(rng: np.random.Generator, count: int, n: int) -> np.ndarray:
    """``count`` random complex64 images ``(count, n, n)`` with magnitudes in [0, 1]."""
    magnitude = rng.random((count, n, n), dtype=np.float32)
    phase = rng.random((count, n, n), dtype=np.float32) * np.float32(2 * np.pi)
    return (magnitude * np.exp(1j * phase)).astype(np.complex64)


def _check_int(name: str, value, low: int) -> None:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, got {value!r}")


def run_benchmark(variant: str = "greenberg", n: int | None = 64, batch: int = 32, steps: int = 10, warmup: int = 2,
                  repeats: int = 3, seed: int = 0, precision: str = "fp32", data: str = "device", steps_per_execution: int = 1,
                  distribution: str = "none", model_shards: int = 1) -> dict:
    """Benchmark ``variant`` at grid ``n`` (``None``: the variant's own n, else 64).

    Returns a dict: ``variant``, ``n``, ``params``, ``batch``, ``steps``, ``repeats``,
    ``precision``, ``data``, ``steps_per_execution``, ``train_samples_per_s`` and
    ``train_ms_per_step`` (medians), ``train_ms_per_step_runs``, ``infer_ms_per_slice`` (batch 1),
    ``pipeline_samples_per_s``, ``pipeline_host_samples_per_s``, ``train_gflop_per_sample``,
    ``achieved_tflops``, ``peak_tflops`` and ``peak_fraction`` (``None`` where the device has no
    peak figure), ``peak_source``, ``peak_rss_mb``, ``device_peak_mb`` (or ``None``), ``backend``,
    ``device``, ``device_name``, ``keras``, ``machine``, ``distribution``
    (:func:`automap_nb.distribute.describe`) and ``processes``.

    ``distribution``, ``model_shards``: the layout training runs under (:func:`automap_nb.distribute.setup`;
    ``batch`` is the global batch, each process feeds its rows of it); inference and the input
    pipeline alone are timed on host arrays outside it.
    """
    if n is None:
        n = models.VARIANTS.get(variant, {}).get("n") or 64
    for name, value, low in (("batch", batch, 1), ("steps", steps, 1), ("warmup", warmup, 1), ("repeats", repeats, 1),
                             ("steps_per_execution", steps_per_execution, 1)):
        _check_int(name, value, low)
    if precision not in PRECISIONS:
        raise ValueError(f"precision must be one of {list(PRECISIONS)}, got {precision!r}")
    if data not in DATA_SOURCES:
        raise ValueError(f"data must be one of {list(DATA_SOURCES)}, got {data!r}")
    if precision == "bf16" and keras.backend.backend() == "tensorflow":
        raise ValueError("precision 'bf16' needs KERAS_BACKEND=jax (or torch): Keras's TensorFlow backend "
                         "cannot add the bfloat16 activity-regularisation loss to the float32 loss")
    models.count_params(variant, n)  # validates variant and n before anything is allocated
    layout = distribute.setup(distribution, model_shards, batch)
    local = distribute.local_rows(layout, batch)
    feed = local.stop - local.start  # this process's rows of each batch
    machine = machine_info()  # before the run: the load average says how busy the machine was
    previous_policy = keras.config.dtype_policy()
    keras.config.set_dtype_policy(PRECISIONS[precision])
    try:
        keras.utils.set_random_seed(seed)
        with distribute.scope(layout):  # variables laid out as created; fit splits each batch over the mesh
            model = models.build_variant(variant, n)
            training.compile_model(model, 2e-4, steps_per_execution)
            rng = np.random.default_rng(seed)
            bank = pipeline.ImageBank(_random_images(rng, batch * steps, n), kspace_scale=1.0)
            rows = np.arange(batch * steps).reshape(steps, batch)[:, local].ravel()  # this process's rows of each batch
            source = pipeline.IndexBatches(rows, n, feed, training=True, seed=seed)
            if data == "device":
                fit_model = training.device_model(model, bank, steps_per_execution)
                fit_args = [dict(x=source)] * 2
            else:
                fit_model = model
                x = rng.standard_normal((batch * steps, n, n, 2), dtype=np.float32)[:feed * steps]
                y = rng.random((batch * steps, n, n, 1), dtype=np.float32)[:feed * steps]
                fit_args = [dict(x=x[:feed * warmup], y=y[:feed * warmup], batch_size=feed), dict(x=x, y=y, batch_size=feed)]
            warm = dict(steps_per_epoch=warmup) if data == "device" else {}
            fit_model.fit(**fit_args[0], **warm, epochs=1, shuffle=False, verbose=0)
            runs = []
            for repeat in range(repeats):
                source.set_epoch(repeat + 1)
                start = time.perf_counter()
                fit_model.fit(**fit_args[1], epochs=1, shuffle=False, verbose=0)
                runs.append(1000.0 * (time.perf_counter() - start) / steps)
        ms_step = float(np.median(runs))
        kspace = np.random.default_rng(seed + 1).standard_normal((1, n, n, 2), dtype=np.float32)
        infer = training.time_inference(model, kspace, batch_size=1, repeats=20, warmup=3)
        pipe_rate, host_rate = _pipeline_rates(bank, source, repeats)
    finally:
        keras.config.set_dtype_policy(previous_policy)
    device = training.describe_device()
    peak = _device_peak_bytes()
    samples_per_s = 1000.0 * batch / ms_step
    flop_per_sample = 6.0 * models.count_macs(variant, n)
    achieved = samples_per_s * flop_per_sample / 1e12
    peak_t = peak_tflops(device["name"], precision) if device["device"] != "CPU" else None
    return {
        "variant": variant, "n": n, "params": int(model.count_params()), "batch": batch, "steps": steps, "repeats": repeats,
        "precision": precision, "data": data, "steps_per_execution": steps_per_execution, "train_ms_per_step": ms_step,
        "train_samples_per_s": samples_per_s, "train_ms_per_step_runs": runs, "infer_ms_per_slice": infer["ms_per_slice"],
        "pipeline_samples_per_s": pipe_rate, "pipeline_host_samples_per_s": host_rate,
        "train_gflop_per_sample": flop_per_sample / 1e9, "achieved_tflops": achieved, "peak_tflops": peak_t,
        "peak_fraction": None if peak_t is None else achieved / peak_t, "peak_source": PEAK_SOURCE,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "device_peak_mb": None if peak is None else peak / 2**20, "backend": device["backend"], "device": device["device"],
        "device_name": device["name"], "keras": keras.__version__, "machine": machine, "distribution": distribute.describe(layout),
        "processes": distribute.process_count()
    }


def _pipeline_rates(bank: pipeline.ImageBank, source: pipeline.IndexBatches, repeats: int) -> tuple[float, float]:
    """Samples/s of the input pipeline (host draws + device ops, synchronised per batch) and of the draws alone."""
    probe = _PipelineProbe(bank)
    for i in range(min(2, len(source))):  # compile
        probe.predict_on_batch(source[i])
    device_runs, host_runs = [], []
    for repeat in range(repeats):
        source.set_epoch(100 + repeat)
        start = time.perf_counter()
        for i in range(len(source)):
            np.asarray(probe.predict_on_batch(source[i]))
        device_runs.append(source.num_samples / (time.perf_counter() - start))
        start = time.perf_counter()
        for i in range(len(source)):
            source[i]
        host_runs.append(source.num_samples / (time.perf_counter() - start))
    return float(np.median(device_runs)), float(np.median(host_runs))


def _or_na(value, fmt: str) -> str:
    return "n/a" if value is None else format(value, fmt)


def format_table(result: dict) -> str:
    """A Markdown table of a :func:`run_benchmark` result."""
    device_mem = "n/a" if result["device_peak_mb"] is None else f"{result['device_peak_mb']:,.0f} MB"
    peak = ("n/a (no peak figure for this device)" if result["peak_tflops"] is None else
            f"{result['peak_fraction']:.1%} of {result['peak_tflops']:,.1f} TFLOP/s ({result['precision']} peak)")
    feed = ("device pipeline (crops + FFT in the step)" if result["data"] == "device" else "host arrays (no augmentation)")
    rows = [("variant", f"{result['variant']} (n = {result['n']}, {result['params']:,} parameters)"),
            ("backend / device", f"Keras {result['keras']} / {result['backend']} on {result['device_name']}"),
            ("machine", f"{result['machine']['cpu_model']}, {result['machine']['cpus']} CPUs "
             f"(load average {result['machine']['load_average_1min']:.2f} before the run)"),
            ("precision / batch", f"{result['precision']}, batch {result['batch']}, "
             f"steps_per_execution {result['steps_per_execution']}; data: {feed}"),
            ("training", f"{result['train_samples_per_s']:,.1f} samples/s, {result['train_ms_per_step']:,.1f} ms/step "
             f"(median of {result['repeats']} × {result['steps']} steps)"),
            ("achieved arithmetic", f"{result['achieved_tflops']:,.3f} TFLOP/s "
             f"({result['train_gflop_per_sample']:,.2f} GFLOP per training sample)"), ("fraction of peak", peak),
            ("input pipeline alone", f"{result['pipeline_samples_per_s']:,.0f} samples/s "
             f"(host draws alone: {result['pipeline_host_samples_per_s']:,.0f} samples/s)"),
            ("inference", f"{result['infer_ms_per_slice']:,.2f} ms per slice (batch 1)"),
            ("peak host RSS", f"{result['peak_rss_mb']:,.0f} MB"), ("peak device memory", device_mem)]
    lines = ["| quantity | value |", "| --- | --- |"] + [f"| {k} | {v} |" for k, v in rows]
    return "\n".join(lines)


def write_report(result: dict, stem, title: str = "Benchmark", notes: str = "") -> tuple[Path, Path]:
    """Write ``stem.json`` (the result) and ``stem.md`` (title, table, how it was run, ``notes``)."""
    stem = Path(stem)
    if stem.suffix in (".json", ".md"):
        stem = stem.with_suffix("")
    json_path, md_path = write_json(f"{stem}.json", result), Path(f"{stem}.md")
    call = (f"run_benchmark(variant={result['variant']!r}, n={result['n']}, batch={result['batch']}, "
            f"steps={result['steps']}, repeats={result['repeats']}, precision={result['precision']!r}, "
            f"data={result['data']!r}, steps_per_execution={result['steps_per_execution']})")
    write_text_atomic(
        md_path, f"# {title}\n\n{format_table(result)}\n\nMeasured with `automap_nb.bench.{call}` "
        f"on random data ({result['machine']['platform']}, Python "
        f"{result['machine']['python']}). Peak figures: {result['peak_source']}.\n" + (f"\n{notes.strip()}\n" if notes else ""))
    return json_path, md_path


def summary_table(results: list[dict]) -> str:
    """One Markdown row per :func:`run_benchmark` result (a set of settings on one device)."""
    head = ("| variant | precision | batch | steps/exec | data | samples/s | ms/step | input pipeline samples/s "
            "(× training) | TFLOP/s | of peak | inference ms/slice | peak device memory |")
    lines = [head, "|" + " --- |" * 12]
    for r in results:
        ratio = r["pipeline_samples_per_s"] / r["train_samples_per_s"]
        memory = "n/a" if r["device_peak_mb"] is None else f"{r['device_peak_mb']:,.0f} MB"
        lines.append(f"| {r['variant']} (n = {r['n']}) | {r['precision']} | {r['batch']} | {r['steps_per_execution']} "
                     f"| {r['data']} | {r['train_samples_per_s']:,.1f} | {r['train_ms_per_step']:,.2f} "
                     f"| {r['pipeline_samples_per_s']:,.0f} ({ratio:,.1f}×) | {r['achieved_tflops']:,.3f} "
                     f"| {_or_na(r['peak_fraction'], '.1%')} | {r['infer_ms_per_slice']:,.2f} | {memory} |")
    return "\n".join(lines)


def summarise(paths, out_stem, title: str) -> tuple[Path, Path]:
    """Gather the ``.json`` results ``paths`` into ``out_stem.json`` (a list) and ``out_stem.md`` (a table).

    The Markdown names the device, backend, Keras version and machine of the first result, and the
    peak figures' source.
    """
    results = [read_json(p) for p in paths]
    if not results:
        raise ValueError("summarise: no result files given")
    out_stem = Path(out_stem).with_suffix("") if Path(out_stem).suffix in (".json", ".md") else Path(out_stem)
    first = results[0]
    json_path, md_path = write_json(f"{out_stem}.json", results), Path(f"{out_stem}.md")
    write_text_atomic(
        md_path, f"# {title}\n\nDevice: **{first['device_name']}** ({first['device']}), Keras {first['keras']} / "
        f"{first['backend']}; host {first['machine']['cpu_model']}, {first['machine']['cpus']} CPUs, "
        f"Python {first['machine']['python']}; 1-minute load average before each setting: " +
        ", ".join(f"{r['machine']['load_average_1min']:.2f}" for r in results) +
        f" (a load above the CPU count means other work shared the machine).\n\n{summary_table(results)}\n\n"
        f"Random data, medians of {first['repeats']} timed runs after warm-up "
        f"(`automap_nb.bench.run_benchmark`). Training FLOPs = 6 × `models.count_macs` per sample. "
        f"Peak figures: {first['peak_source']}. \"device\" data: the device input pipeline "
        f"(`automap_nb.data.pipeline`: crops and FFT inside the step); \"arrays\": host arrays, no "
        f"augmentation. Input pipeline alone: host draws + device ops, synchronised per batch.\n")
    return json_path, md_path
