"""Notebook parameters: one spec per chapter names its notebook's parameters, passes every profile,
and the notebooks' defaults are the ``cpu`` profile's values."""

from __future__ import annotations

import ast

import numpy as np
import pytest

from automap_nb.data import prepared
from automap_nb.orchestration import profiles, runner
from automap_nb.orchestration.params import CHAPTERS, ParameterError, validate

NOTEBOOKS = runner.list_notebooks()


def defaults(notebook) -> dict:
    return {name: ast.literal_eval(text) for name, text in runner.declared_parameters(notebook).items()}


def write_prepared(folder, n: int) -> None:
    """A one-slice prepared file at size ``n`` (chapters 03 and 07 check their sizes against it)."""
    meta = {"volume": np.array([b"v"]), "slice": np.array([0]), "split": np.array([b"train"])}
    prepared.write(folder / prepared.PREPARED_NAME, np.ones((1, n, n), np.complex64), meta, 1.0, {})


def test_every_notebook_has_a_spec_of_its_parameters_in_order():
    assert sorted(CHAPTERS) == [nb.stem for nb in NOTEBOOKS]
    for notebook in NOTEBOOKS:
        assert list(CHAPTERS[notebook.stem].knobs) == list(runner.declared_parameters(notebook)), notebook.stem


def test_notebook_defaults_are_the_cpu_profile_values():
    cpu = profiles.PROFILES["cpu"]
    differing = {f"{nb.stem}: {k}": (v, cpu[k]) for nb in NOTEBOOKS for k, v in defaults(nb).items() if k in cpu and v != cpu[k]}
    assert not differing, f"notebook default ≠ cpu profile: {differing}"


@pytest.mark.parametrize("profile", sorted(profiles.PROFILES))
def test_every_profile_passes_every_chapter(profile, tmp_path):
    write_prepared(tmp_path, profiles.PROFILES[profile]["size"])
    planned = runner.plan_parameters(NOTEBOOKS, profile, tmp_path, tmp_path, {})
    for notebook in NOTEBOOKS:
        values = validate(notebook.stem, {**defaults(notebook), **planned[notebook.name]})
        assert list(values) == list(CHAPTERS[notebook.stem].knobs) and values["run_dir"] == tmp_path


@pytest.mark.parametrize(
    "chapter, bad, message",
    [("02_preprocessing", {"split": [0.5, 0.5]}, "parameter 'split': split fractions must be three numbers"),
     ("03_train_automap", {"train_variant": "greenberg-201m"
                           }, "parameter 'train_variant': variant 'greenberg-201m' is defined at n = 128"),
     ("06_undersampling_baselines", {"undersampling_groups": [[1, 4]]
                                     }, r"parameter 'undersampling_groups': undersampling_groups \[\[1, 4\]\] must cover"),
     ("06_undersampling_baselines", {"train_variant": "greenberg-201m"}, "parameter 'train_variant': variant 'greenberg-201m'"),
     ("06_undersampling_baselines", {"accelerations": [1, 3]}, r"parameter 'accelerations\[1\]' must be one of \[1, 4, 8\]"),
     ("07_architecture_study", {"study_seeds": [0, 0]}, "parameter 'study_seeds' has repeated seeds"),
     ("03_train_automap", {"train_pipeline": "gpu"}, r"parameter 'train_pipeline' must be one of \['numpy', 'device'\]"),
     ("09_transfer", {"transfer_batch_size": 65}, "parameter 'transfer_batch_size' must be <= 64, got 65"),
     ("09_transfer", {"transfer_modes": ["all"]}, "parameter 'transfer_modes' must include 'scratch'"),
     ("05_results", {"run_dir": "missing"}, "parameter 'run_dir': folder 'missing' does not exist")])
def test_a_bad_value_fails_naming_the_parameter(chapter, bad, message, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    write_prepared(tmp_path, 64)
    notebook = next(nb for nb in NOTEBOOKS if nb.stem == chapter)
    namespace = {**defaults(notebook), "run_dir": tmp_path, "data_dir": tmp_path, **bad}
    with pytest.raises(ParameterError, match=message):
        validate(chapter, namespace)


def test_a_missing_parameter_is_an_error(tmp_path):
    with pytest.raises(ParameterError, match="parameter 'seed' of 01_data_exploration is not set"):
        validate("01_data_exploration",
                 {"data_dir": tmp_path, "val_dir": None, "test_dir": None, "run_dir": tmp_path, "example_volume": 0})


def test_distribution_parameters_fail_naming_the_parameter(tmp_path):
    import keras

    write_prepared(tmp_path, 64)
    values = {nb.stem: {**defaults(nb), "run_dir": tmp_path} for nb in NOTEBOOKS}
    with pytest.raises(ParameterError, match=r"parameter 'train_distribution' must be one of \['none', 'data', 'model'\]"):
        validate("03_train_automap", {**values["03_train_automap"], "train_distribution": "pipeline"})
    with pytest.raises(ParameterError, match="parameter 'train_model_shards': model_shards=2 needs distribution 'model'"):
        validate("06_undersampling_baselines", {**values["06_undersampling_baselines"], "train_model_shards": 2})
    if keras.backend.backend() != "jax":  # the 4-device checks are in tests/test_distribute.py
        with pytest.raises(ParameterError, match="parameter 'study_distribution': keras.distribution needs KERAS_BACKEND=jax"):
            validate("07_architecture_study", {**values["07_architecture_study"], "study_distribution": "data"})


def test_the_table_refuses_an_undocumented_departure_a_reason_without_one_and_a_second_declaration():
    from automap_nb.orchestration.params import COUNT, EARLIER, Chapter, Knob, _declare

    with pytest.raises(AssertionError, match="'epochs': a departure from the paper needs why and cost"):
        _declare({"01_a": Chapter(epochs=Knob(COUNT, paper=300, cpu=3))})
    with pytest.raises(AssertionError, match="'epochs': a departure from the paper needs why and cost"):
        _declare({"01_a": Chapter(epochs=Knob(COUNT, paper=300, why="budget", cost="fewer samples"))})
    with pytest.raises(AssertionError, match="'epochs': a departure"):  # the gpu reason, but gpu runs the paper's value
        _declare({"01_a": Chapter(epochs=Knob(COUNT, paper=300, cpu=3, why="budget", cost="-", gpu_why="lease"))})
    with pytest.raises(AssertionError, match="'epochs' is declared twice"):
        _declare({"01_a": Chapter(epochs=Knob(COUNT, paper=3)), "02_b": Chapter(epochs=Knob(COUNT, paper=3))})
    with pytest.raises(AssertionError, match="'epochs' is EARLIER but no earlier chapter declares it"):
        _declare({"01_a": Chapter(epochs=EARLIER)})
    table = {
        "01_a": Chapter(epochs=Knob(COUNT, paper=300, quick=1, gpu=4, why="budget", cost="fewer samples")),
        "02_b": Chapter(epochs=EARLIER)
    }
    knobs = _declare(table)
    assert table["02_b"].knobs["epochs"] is knobs["epochs"] and knobs["epochs"].value("cpu") == 300


def test_a_shared_parameter_has_one_declaration_and_one_check():
    from automap_nb.orchestration.params import KNOBS

    assert CHAPTERS["06_undersampling_baselines"].knobs["train_variant"] is KNOBS["train_variant"]
    assert CHAPTERS["10_dautomap"].knobs["mask_kind"] is CHAPTERS["06_undersampling_baselines"].knobs["mask_kind"]
    declared = set().union(*(runner.declared_parameters(nb) for nb in NOTEBOOKS))
    assert set(KNOBS) == set(profiles.PROFILES["cpu"]) and set(KNOBS) <= declared
