"""The GPU edition's script (benchmarks/gpu_edition.sh) run on CPU at a tiny size: the gpu profile,
compact sample data built in parallel, chapters 01-02 under papermill, the kept run packed."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tarfile
from pathlib import Path

from automap_nb.orchestration import edition

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / "benchmarks" / "gpu_edition.sh"


def _run(tmp_path: Path, *args: str, **env: str) -> subprocess.CompletedProcess:
    environ = {
        **os.environ, "PYTHON": sys.executable, "WHEELS": "", "RUN": str(tmp_path / "run"), "DATA": str(tmp_path / "data"), **env
    }
    return subprocess.run(["bash", str(SCRIPT), *args], cwd=ROOT, env=environ, capture_output=True, text=True, timeout=300)


def test_bad_arguments_are_one_line_errors(tmp_path):
    result = _run(tmp_path)
    assert result.returncode == 2 and "OUT_DIR" in result.stdout
    result = _run(tmp_path, str(tmp_path / "out"), "3")
    assert result.returncode == 2 and "PART" in result.stdout and not (tmp_path / "out").exists()


def test_smoke_run_packs_the_kept_edition(tmp_path):
    out = tmp_path / "out"
    result = _run(tmp_path, str(out), SMOKE="1")
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    assert sorted(p.name for p in out.iterdir()) == ["env.txt", "gpu-edition.tar.gz", "log.txt", "steps.jsonl",
                                                     "timings.json"]  # under the lent machine's 8-file limit
    kept = tmp_path / "kept"
    with tarfile.open(out / "gpu-edition.tar.gz") as tar:
        tar.extractall(kept, filter="data")
    names = sorted(p.name for p in kept.iterdir())
    assert {"01_data_exploration.ipynb", "02_preprocessing.ipynb", "run.json", "SAMPLE_DATA.json"} <= set(names)
    assert not any(name.endswith(".h5") for name in names)  # notebooks and records only, no data
    record = json.loads((kept / "run.json").read_text())
    assert record["profile"] == "gpu" and record["keras_backend"] == "jax"
    assert all(entry["status"] == "ok" for entry in record["notebooks"].values())
    assert json.loads((kept / "02_preprocessing.json").read_text())["size"] == 16
    assert json.loads((kept / "SAMPLE_DATA.json").read_text())["compact"] is True
    assert "compact k-space" in edition.data_description("/elsewhere/sample-gpu", 5, 10, kept)
    timings = json.loads((out / "timings.json").read_text())
    assert [s["step"] for s in timings["steps"]] == ["data", "chapters 01,02"]
    assert 0 < timings["notebook_bytes"] <= 10_000_000


def test_budget_cut_is_reported_not_hidden(tmp_path):
    out = tmp_path / "out"
    result = _run(tmp_path, str(out), SMOKE="1", BUDGET_S="1")
    assert result.returncode == 124, result.stdout[-2000:]
    assert "cut short at BUDGET_S=1" in result.stdout and "skipped: past BUDGET_S" in result.stdout
    steps = [json.loads(line) for line in (out / "steps.jsonl").read_text().splitlines()]
    assert [s["status"] for s in steps] == [124]  # the data step was interrupted; the chapters never started
    assert not (out / "gpu-edition.tar.gz").exists()
