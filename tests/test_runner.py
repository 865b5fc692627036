"""The papermill runner on small throw-away notebooks: parameters, failures, run records."""

import json

import pytest
from notebook_files import write_notebook

from automap_nb.orchestration import runner
from automap_nb.orchestration.params import ParameterError


@pytest.fixture
def notebooks(tmp_path):
    folder = tmp_path / "notebooks"
    folder.mkdir()
    write_notebook(folder / "01_first.ipynb", 'run_dir = "."\nsize = 4',
                   "from pathlib import Path\nPath(run_dir, 'first.txt').write_text(str(size))")
    write_notebook(
        folder / "02_second.ipynb", 'run_dir = "."\nepochs = 1', "assert epochs < 5, 'too many epochs'\nfrom pathlib import Path\n"
        "Path(run_dir, 'second.txt').write_text(str(epochs))")
    (folder / "notes.ipynb").write_text("not a chapter: no number")
    return folder


def test_each_notebook_gets_only_its_declared_parameters(notebooks, tmp_path):
    plan = runner.plan_parameters(runner.list_notebooks(notebooks), "quick", tmp_path / "run", None, {"epochs": 3})
    assert set(plan["01_first.ipynb"]) == {"run_dir", "size"}
    assert plan["02_second.ipynb"]["epochs"] == 3 and "size" not in plan["02_second.ipynb"]


def test_run_executes_in_order_and_records(notebooks, tmp_path):
    run = tmp_path / "run"
    executed = runner.run_notebooks(run, profile="quick", overrides={"size": 7, "epochs": 2}, notebooks_dir=notebooks,
                                    progress=False)
    assert [p.name for p in executed] == ["01_first.ipynb", "02_second.ipynb"]
    assert (run / "first.txt").read_text() == "7" and (run / "second.txt").read_text() == "2"
    record = json.loads((run / "run.json").read_text())
    assert record["profile"] == "quick"
    assert record["notebooks"]["02_second.ipynb"]["parameters"]["epochs"] == 2
    assert all(v["status"] == "ok" for v in record["notebooks"].values())


def test_failure_names_notebook_and_cell(notebooks, tmp_path):
    with pytest.raises(runner.RunError, match=r"02_second.ipynb failed in cell \d+: AssertionError: too many epochs"):
        runner.run_notebooks(tmp_path / "run", profile="quick", overrides={"epochs": 9}, notebooks_dir=notebooks, progress=False)
    record = json.loads((tmp_path / "run" / "run.json").read_text())
    assert record["notebooks"]["02_second.ipynb"]["status"] == "failed"


def test_unknown_parameter_and_profile_are_errors(notebooks, tmp_path):
    with pytest.raises(ParameterError, match="declared by no notebook"):
        runner.run_notebooks(tmp_path / "run", profile="quick", overrides={"epochz": 2}, notebooks_dir=notebooks)
    with pytest.raises(ParameterError, match="profile must be one of"):
        runner.run_notebooks(tmp_path / "run", profile="fast", notebooks_dir=notebooks)


@pytest.mark.parametrize("text, value", [("3", 3), ("2e-4", 2e-4), ("True", True), ("[4, 8]", [4, 8]),
                                         ("greenberg-201m", "greenberg-201m"), ("../data", "../data")])
def test_parse_value(text, value):
    assert runner.parse_value(text) == value


def test_sample_data_is_recognised_by_its_manifest(tmp_path):
    """The embedded data's own split applies to its folder however it is named (run, --only, DATA_DIR=)."""
    from automap_nb.data.sample_data import MANIFEST_NAME
    from automap_nb.orchestration.cli import _is_sample_data

    assert not _is_sample_data(tmp_path) and not _is_sample_data(None)
    (tmp_path / MANIFEST_NAME).write_text("{}")
    assert _is_sample_data(tmp_path)
