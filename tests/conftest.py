"""Shared fixtures. ``quick_run`` executes every notebook once (quick profile) per test session."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))

from fastmri_files import write_fastmri_file  # noqa: E402


@pytest.fixture
def fastmri_folder(tmp_path):
    """A folder of four small third-party-written fastMRI files (different widths, patients)."""
    folder = tmp_path / "fastmri"
    folder.mkdir()
    for i, width in enumerate((368, 372, 368, 370)):
        write_fastmri_file(folder / f"file100{i:04d}.h5", slices=2, width=width, seed=i)
    return folder


def shared_folder(tmp_path_factory, name: str, build) -> Path:
    """A folder built once per test session by ``build(folder)`` and shared by every pytest-xdist
    worker: the first worker to take the lock builds it, the others wait for it and reuse it."""
    root = tmp_path_factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the session's folder, above the workers' own
    folder, done = root / name, root / f"{name}.done"
    with open(root / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not done.exists():
            shutil.rmtree(folder, ignore_errors=True)
            folder.mkdir()
            build(folder)
            done.touch()
    return folder


@pytest.fixture(scope="session")
def quick_data(tmp_path_factory):
    """The embedded sample data at the quick profile's size."""
    from automap_nb.data.sample_data import build_sample_dataset
    from automap_nb.orchestration import profiles

    size = profiles.SAMPLE_DATA["quick"]
    return shared_folder(
        tmp_path_factory, "sample-quick",
        lambda folder: build_sample_dataset(folder, volumes=size["volumes"], slices=size["slices"], seed=0, progress=False))


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory, quick_data):
    """A run folder in which every numbered notebook was executed by papermill (quick profile)."""
    from automap_nb.orchestration import profiles
    from automap_nb.orchestration.runner import run_notebooks

    return shared_folder(
        tmp_path_factory, "run-quick", lambda folder: run_notebooks(folder, profile="quick", data_dir=quick_data, progress=False,
                                                                    overrides={"split": profiles.SAMPLE_DATA["quick"]["split"]}))


@pytest.fixture(scope="session")
def quick_book(tmp_path_factory, quick_run) -> Path:
    """``index.html`` of the book built once from ``quick_run`` (shared by the book and browser tests)."""
    from automap_nb.orchestration import book

    folder = shared_folder(tmp_path_factory, "book-quick", lambda folder: book.build_book(quick_run, build_dir=folder / "_build"))
    return folder / "_build" / "html" / "index.html"


def pytest_collection_modifyitems(config, items):
    """Order for two workers (`make test`: ``pytest -n 2 --dist loadgroup``): the first test that needs
    the quick run goes first, so one worker executes the notebooks while the other runs the tests
    that do not need them; the rest of the quick run's tests go last, spread over both workers. The
    book and browser tests share one book build (``quick_book``); the browser tests stay on one worker."""
    needs_run = [item for item in items if {"quick_run", "quick_book"} & set(getattr(item, "fixturenames", ()))]
    others = [item for item in items if item not in needs_run]
    items[:] = needs_run[:1] + others + needs_run[1:]
    for item in items:
        if item.nodeid.startswith("tests/test_browser.py"):
            item.add_marker(pytest.mark.xdist_group("browser"))


@pytest.fixture
def tmpfs(tmp_path):
    """``tmpfs(options)``: a fresh tmpfs mounted with ``options`` (e.g. ``"size=64k"``, ``"ro,size=1m"``)
    under ``tmp_path``, unmounted after the test; skipped where mounting is not allowed (not root)."""
    mounted = []

    def mount(options: str) -> Path:
        point = tmp_path / f"mnt{len(mounted)}"
        point.mkdir()
        result = subprocess.run(["mount", "-t", "tmpfs", "-o", options, "tmpfs", str(point)], capture_output=True)
        if result.returncode != 0:
            pytest.skip(f"cannot mount a tmpfs here: {result.stderr.decode().strip()}")
        mounted.append(point)
        return point

    yield mount
    for point in mounted:
        subprocess.run(["umount", str(point)], check=True)
