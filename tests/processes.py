"""Kill -9 a training process after its first checkpoint, then let the same command resume."""

import os
import signal
import subprocess
import time


def kill_after_first_checkpoint_then_resume(command, out, timeout_s: float, pause_s: float) -> int:
    """Run ``command`` (which trains into ``out``), SIGKILL it ``pause_s`` after ``out/history.json``
    first appears (within ``timeout_s``), rerun it to completion, and return the number of epochs
    the killed run's history held."""
    from automap_nb import training

    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    proc = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + timeout_s
    while not (out / "history.json").exists():
        assert proc.poll() is None, proc.stderr.read().decode()[-2000:]
        assert time.monotonic() < deadline, f"no checkpoint within {timeout_s:g} s"
        time.sleep(0.01)
    time.sleep(pause_s)  # somewhere in a later epoch, a checkpoint save or a history write
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    killed_at = len(training.load_history(out)["epochs"])
    subprocess.run(command, env=env, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    return killed_at
