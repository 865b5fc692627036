"""Profiles: every notebook parameter a profile sets exists, and every departure from the paper is explained."""

from __future__ import annotations

from pathlib import Path

import pytest

from automap_nb.orchestration import params, profiles, runner

ROOT = Path(__file__).resolve().parent.parent


@pytest.mark.parametrize("name", sorted(profiles.PROFILES))
def test_every_profile_key_is_a_notebook_parameter(name):
    declared = set().union(*(runner.declared_parameters(p) for p in runner.list_notebooks()))
    unknown = set(profiles.PROFILES[name]) - declared
    assert not unknown, f"profile {name!r} sets parameters no notebook declares: {sorted(unknown)}"


def test_every_cpu_departure_from_the_paper_profile_is_explained():
    cpu, paper = profiles.PROFILES["cpu"], profiles.PROFILES["paper"]
    differing = {k for k in cpu if cpu[k] != paper.get(k)}
    assert differing, "the cpu profile should differ from the paper's settings somewhere"
    missing = differing - set(profiles.DEPARTURES)
    assert not missing, f"departures without a reason in profiles.DEPARTURES: {sorted(missing)}"
    rows = profiles.departures(cpu)
    assert {r["parameter"] for r in rows} == differing
    assert all(r["why"] != "(not documented)" and r["cost"] != "(not documented)" for r in rows)


def test_departures_skip_equal_and_unknown_keys_and_flag_undocumented_ones():
    paper = profiles.PROFILES["paper"]
    rows = profiles.departures({"run_dir": "x", "size": paper["size"], "train_epochs": 3, "seed": 7})
    assert [r["parameter"] for r in rows] == ["train_epochs", "seed"]
    assert rows[0]["this run"] == "3" and rows[0]["the paper's setting"] == repr(paper["train_epochs"])
    assert rows[1]["why"] == "(not documented)"


def test_departures_markdown_keeps_every_word():
    rows = profiles.departures(profiles.PROFILES["cpu"])
    text = profiles.departures_markdown(rows)
    assert text.count("\n") == len(rows) + 1
    assert all(row["why"] in text and row["cost"] in text for row in rows)
    assert profiles.departures_markdown([]).startswith("None")


def test_every_gpu_departure_from_the_paper_profile_is_explained_with_gpu_reasons(monkeypatch):
    gpu, paper = profiles.PROFILES["gpu"], profiles.PROFILES["paper"]
    assert (gpu["size"], gpu["train_variant"]) == (128, "greenberg-201m")
    differing = {k for k in gpu if gpu[k] != paper.get(k)}
    reasons = params.departure_reasons("gpu")
    assert not differing - set(reasons), f"undocumented gpu departures: {sorted(differing - set(reasons))}"
    monkeypatch.setenv(profiles.PROFILE_ENV, "gpu")  # as `automap-nb run --profile gpu` sets it for kernels
    rows = {r["parameter"]: r for r in profiles.departures(gpu)}
    assert set(rows) == differing
    assert "CPU cores" not in rows["train_epochs"]["why"] and "H100" in rows["train_epochs"]["why"]
    monkeypatch.setenv(profiles.PROFILE_ENV, "cpu")
    assert profiles.departures(gpu, profile="gpu") == list(rows.values())


def test_gpu_sample_data_gives_at_least_4000_training_slices():
    from automap_nb.data import sample_data, splits

    size = profiles.SAMPLE_DATA["gpu"]
    ids = [sample_data._patient_id(0, i) for i in range(1, size["volumes"] + 1)]
    assignment, _ = splits.assign_splits(ids, splits.DEFAULT_FRACTIONS)
    train = sum(size["slices"] for i in ids if assignment[i] == "train")
    assert train >= 4000 and size["compact"] and profiles.PROFILES["gpu"]["size"] <= sample_data.COMPACT_MAX_SIZE


def test_the_parameters_command_reads_a_chapter_under_a_profile_from_the_table(capsys):
    from automap_nb.orchestration import cli

    assert cli.main(["parameters", "06", "--profile", "cpu"]) == 0
    text = capsys.readouterr().out
    assert text.startswith("06_undersampling_baselines, --profile cpu")
    assert "  unet_epochs = 8, the paper 50\n" in text and "  accelerations = [1, 4, 8]\n" in text
    assert "why: " + params.KNOBS["unet_epochs"].why in " ".join(text.split()) and "run_dir" not in text
    with pytest.raises(SystemExit) as err:
        cli.main(["parameters", "11"])
    assert err.value.code == 2 and "no chapter starts with 11" in capsys.readouterr().err
