"""Two processes × 2 virtual CPU devices on localhost: ``automap-nb train`` under data parallel writes the folder once.

Each process starts with JAX's own variables (``JAX_COORDINATOR_ADDRESS``, ``JAX_NUM_PROCESSES``,
``JAX_PROCESS_ID``), which :func:`automap_nb.distribute.initialize` reads; the processes talk through
gloo, JAX's default CPU collectives. Both run the command on the same prepared file and run folder; the
test counts, in each process, the checkpoint and JSON writes of the training loop: all of them are
process 0's, and process 1's training losses equal process 0's (one global computation).
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys

import pytest
from test_training import write_tiny_prepared

SCRIPT = r"""
import json, sys
from automap_nb import training
from automap_nb.orchestration import cli

writes = []
save, write_json = training._save_model_atomic, training.write_json
training._save_model_atomic = lambda model, path: (writes.append(path.name), save(model, path))
training.write_json = lambda path, value: (writes.append(path.name), write_json(path, value))
train = training.train
histories = []
training.train = lambda *args, **kwargs: histories.append(train(*args, **kwargs)) or histories[-1]
code = cli.main(["train", "--run", sys.argv[1], "--profile", "quick", "--quiet", "-p", "train_distribution", "data",
                 "-p", "train_epochs", "1"])
import jax
print("RESULTS " + json.dumps({"code": code, "process": jax.process_index(), "processes": jax.process_count(),
                               "devices": jax.device_count(), "writes": writes,
                               "loss": [e["loss"] for e in histories[0]["epochs"]]}))
"""


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("localhost", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def two_processes(tmp_path_factory):
    run = tmp_path_factory.mktemp("multihost")
    write_tiny_prepared(run / "prepared.h5", n=8)
    port = _free_port()
    procs = []
    for i in range(2):
        env = {
            **os.environ, "KERAS_BACKEND": "jax", "XLA_FLAGS": "--xla_force_host_platform_device_count=2", "JAX_PLATFORMS": "cpu",
            "TF_CPP_MIN_LOG_LEVEL": "3", "JAX_COORDINATOR_ADDRESS": f"localhost:{port}", "JAX_NUM_PROCESSES": "2",
            "JAX_PROCESS_ID": str(i)
        }
        procs.append(
            subprocess.Popen([sys.executable, "-c", SCRIPT, str(run)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                             text=True))
    results = []
    for proc in procs:
        out, err = proc.communicate(timeout=300)
        assert proc.returncode == 0, err[-3000:]
        results.append(json.loads(next(line for line in out.splitlines() if line.startswith("RESULTS "))[len("RESULTS "):]))
        results[-1]["stdout"] = out
    return run, results


def test_two_processes_train_one_global_batch(two_processes):
    _, (first, second) = two_processes
    assert [first["process"], second["process"]] == [0, 1] and first["processes"] == 2 and first["devices"] == 4
    assert first["code"] == second["code"] == 0
    assert len(first["loss"]) == 1 and first["loss"] == second["loss"]


def test_only_process_0_writes(two_processes):
    run, (first, second) = two_processes
    assert second["writes"] == [] and "[automap-nb]" not in second["stdout"]
    assert first["writes"] == ["initial.keras", "epoch-0001.keras", "history.json"]
    assert "[automap-nb] 1 epochs" in first["stdout"]
    assert sorted(p.name for p in (run / "automap").iterdir()) == ["epoch-0001.keras", "history.json", "initial.keras"]
    history = json.loads((run / "automap" / "history.json").read_text())
    assert history["device"]["processes"] == 2 and history["device"]["distribution"]["devices"] == 4
