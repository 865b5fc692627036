"""The benchmark: every figure present and consistent, both data sources, both precisions, the peak table."""

from __future__ import annotations

import json

import keras
import pytest

from automap_nb import bench, models
from automap_nb.orchestration.cli import main as cli_main

TINY = dict(variant="greenberg", n=8, batch=4, steps=2, warmup=1, repeats=1)


@pytest.mark.parametrize("data,precision", [("device", "fp32"), ("arrays", "bf16"), ("device", "bf16")])
def test_benchmark_reports_every_figure(data, precision):
    if precision == "bf16" and keras.backend.backend() == "tensorflow":
        with pytest.raises(ValueError, match="precision 'bf16' needs KERAS_BACKEND=jax"):
            bench.run_benchmark(**TINY, data=data, precision=precision)
        return
    result = bench.run_benchmark(**TINY, data=data, precision=precision)
    assert result["data"] == data and result["precision"] == precision
    assert result["params"] == models.count_params("greenberg", 8)
    assert result["train_ms_per_step"] > 0 and len(result["train_ms_per_step_runs"]) == 1
    assert result["train_samples_per_s"] == pytest.approx(1000 * 4 / result["train_ms_per_step"])
    assert result["train_gflop_per_sample"] == pytest.approx(6 * models.count_macs("greenberg", 8) / 1e9)
    assert result["achieved_tflops"] == pytest.approx(result["train_samples_per_s"] * result["train_gflop_per_sample"] / 1e3)
    assert result["infer_ms_per_slice"] > 0
    assert result["pipeline_samples_per_s"] > 0 and result["pipeline_host_samples_per_s"] > 0
    table = bench.format_table(result)
    if result["device"] == "CPU":  # no peak figure and no device memory counter for a CPU
        assert result["peak_tflops"] is None and result["peak_fraction"] is None
        assert "| fraction of peak | n/a" in table and "| peak device memory | n/a |" in table
    assert "input pipeline alone" in table


def test_peak_table_names_the_device():
    assert bench.peak_tflops("NVIDIA H100 80GB HBM3", "bf16") == 989.4
    assert bench.peak_tflops("NVIDIA H100 80GB HBM3", "fp32") == 494.7
    assert bench.peak_tflops("NVIDIA H100 PCIe", "bf16") == 756.0
    assert bench.peak_tflops("NVIDIA H200", "fp32") == 494.7
    assert bench.peak_tflops("CPU", "fp32") is None


@pytest.mark.parametrize("kwargs,message", [(dict(precision="fp16"), "precision"), (dict(data="disk"), "data"),
                                            (dict(batch=0), "batch"), (dict(steps_per_execution=0), "steps_per_execution")])
def test_bad_arguments_name_the_parameter(kwargs, message):
    with pytest.raises(ValueError, match=message):
        bench.run_benchmark(**{**TINY, **kwargs})


def test_cli_writes_json_and_markdown(tmp_path, capsys):
    stem = tmp_path / "figures" / "cpu-tiny.json"
    assert cli_main([
        "bench", "--variant", "greenberg", "--size", "8", "--batch", "4", "--steps", "2", "--warmup", "1", "--repeats", "1",
        "--out",
        str(stem)
    ]) == 0
    result = json.loads((tmp_path / "figures" / "cpu-tiny.json").read_text())
    markdown = (tmp_path / "figures" / "cpu-tiny.md").read_text()
    assert result["n"] == 8 and result["data"] == "device"
    assert markdown.startswith("# Benchmark: greenberg on ")
    assert f"{result['train_samples_per_s']:,.1f} samples/s" in markdown
    assert "written:" in capsys.readouterr().out
    assert cli_main(["bench", "--summarise", str(stem), "--out", str(tmp_path / "summary"), "--title", "T"]) == 0
    assert json.loads((tmp_path / "summary.json").read_text()) == [result]
    assert "| greenberg (n = 8) |" in (tmp_path / "summary.md").read_text()


def test_benchmark_under_a_layout():
    if keras.backend.backend() != "jax":
        with pytest.raises(ValueError, match="KERAS_BACKEND=jax"):
            bench.run_benchmark(**TINY, distribution="data")
        return
    result = bench.run_benchmark(**TINY, data="arrays", distribution="model", model_shards=1)
    assert result["distribution"]["kind"] == "model" and result["processes"] == 1 and result["train_samples_per_s"] > 0
