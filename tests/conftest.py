"""Shared fixtures. ``quick_run`` executes every notebook once (quick profile) per test session."""

from __future__ import annotations

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


@pytest.fixture(scope="session")
def quick_data(tmp_path_factory):
    """The embedded sample data at the quick profile's size."""
    from automap_nb.data.sample_data import build_sample_dataset
    from automap_nb.orchestration import profiles

    folder = tmp_path_factory.mktemp("sample-quick")
    size = profiles.SAMPLE_DATA["quick"]
    build_sample_dataset(folder, volumes=size["volumes"], slices=size["slices"], seed=0, progress=False)
    return folder


@pytest.fixture(scope="session")
def quick_run(tmp_path_factory, quick_data):
    """A run folder in which every numbered notebook was executed by papermill (quick profile)."""
    from automap_nb.orchestration.runner import run_notebooks

    run_dir = tmp_path_factory.mktemp("run-quick")
    run_notebooks(run_dir, profile="quick", data_dir=quick_data, progress=False)
    return run_dir


# Everything that executes the quick run (or builds a book from it) goes to one pytest-xdist
# worker (`make test` runs `pytest -n 2 --dist loadgroup`): the session fixtures above are built
# once per worker, so spreading these tests would execute every notebook twice.
SHARED_RUN_FIXTURES = {"quick_run", "quick_data"}


def pytest_collection_modifyitems(config, items):
    for item in items:
        if SHARED_RUN_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.xdist_group("quick_run"))
