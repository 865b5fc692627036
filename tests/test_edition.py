"""The landing page's edition box and the quoted numbers: read from files, never typed in pages."""

import json
import re
from pathlib import Path

import pytest

from automap_nb import reference
from automap_nb.orchestration import book, edition

REPO = Path(__file__).resolve().parent.parent


def test_duration_formats():
    assert edition.duration(42.4) == "42 s"
    assert edition.duration(83.2) == "1 min 23 s"
    assert edition.duration(7500) == "2 h 05 min"


VERDICTS = {
    "01_data_exploration": "The data are 6 pseudo-volumes of the embedded sample data.",
    "02_preprocessing": "Every slice was prepared at 32 × 32.",
    "03_train_automap": "Whether AUTOMAP has learned is inconclusive at this budget.",
    "05_results": "AUTOMAP beats the mean training image in PSNR (+3.10 dB).",
}


def _fake_run(folder: Path, drop: str | None = None) -> Path:
    files = {
        "run.json": {
            "profile": "quick", "started": "2026-11-26T10:00:00", "data_dir": str(folder / "data"),
            "notebooks": {f"{name}.ipynb": {"seconds": seconds}
                          for name, seconds in zip(VERDICTS, (30.0, 45.5, 0.0, 0.0))}
        }, "01_data_exploration.json": {"volumes": 6, "slices": 18}, "02_preprocessing.json": {"size": 32},
        "03_train_automap.json": {
            "epochs": 2, "variant": "greenberg", "params": 789921, "device_name": "CPU", "keras": "3.15.1", "backend": "tensorflow",
            "final_val_psnr": 9.7
        }, "05_results.json": {
            "test_volumes": 1, "test_slices": 3, "metrics": {"automap": {"mean": {"psnr": 12.76, "ssim": 0.0318, "nmse": 0.733}}}
        }
    }
    for name, verdict in VERDICTS.items():
        files[f"{name}.json"]["verdict"] = verdict
    (folder / "data").mkdir()
    (folder / "data" / "SAMPLE_DATA.json").write_text("{}")
    for name, content in files.items():
        if name != drop:
            (folder / name).write_text(json.dumps(content))
    return folder


def test_edition_reads_the_run(tmp_path):
    values = edition.substitutions(_fake_run(tmp_path))
    assert values["edition_profile"] == "quick"
    assert values["edition_total_time"] == "1 min 16 s"
    assert values["edition_n"] == "32 × 32"
    assert "`data/` (embedded sample data): 6 volumes, 18 slices" == values["edition_data"]
    assert str(tmp_path) not in json.dumps(values)  # no machine path on the landing page
    assert "| AUTOMAP, trained (chapter 03) | 12.76 | 0.032 | 0.733 |" in values["edition_headline"]
    assert values["edition_departures"].startswith("None: this run used the paper's settings")
    assert values["edition_caveat"] == ("This edition: 6 pseudo-volumes (18 slices) of one brain template, the embedded "
                                        "sample data (`data/`), not fastMRI knee data: its numbers test the pipeline, not "
                                        "the method on knees.")


def test_landing_page_lists_one_verdict_per_chapter_of_the_run_from_its_json(tmp_path):
    run = _fake_run(tmp_path)
    (run / "04_weight_analysis.json").write_text(json.dumps({"verdict": "not in this run"}))  # not in run.json
    notebook = {"cells": [{"cell_type": "markdown", "source": ["# 01 · Data exploration\n", "\n", "text"]}]}
    (run / "01_data_exploration.ipynb").write_text(json.dumps(notebook))
    lines = edition.substitutions(run)["edition_verdicts"].splitlines()
    assert lines == [
        f"- **{title}**: {verdict}" for title, verdict in zip(
            ["01 · Data exploration", "02 preprocessing", "03 train automap", "05 results"], VERDICTS.values())
    ]


def test_a_chapter_json_without_a_verdict_fails_the_landing_page_naming_it(tmp_path):
    run = _fake_run(tmp_path)
    record = json.loads((run / "05_results.json").read_text())
    del record["verdict"]
    (run / "05_results.json").write_text(json.dumps(record))
    with pytest.raises(edition.EditionError, match=r"05_results\.json: no 'verdict'"):
        edition.substitutions(run)
    (run / "05_results.json").write_text(json.dumps({**record, "verdict": "two\nlines"}))
    with pytest.raises(edition.EditionError, match=r"05_results\.json: 'verdict' is not one line"):
        edition.substitutions(run)


def test_the_caveat_names_a_fastmri_folder_as_such(tmp_path):
    run = _fake_run(tmp_path)
    (run / "data" / "SAMPLE_DATA.json").unlink()
    record = json.loads((run / "run.json").read_text())
    (run / "run.json").write_text(json.dumps({**record, "test_dir": "/somewhere/singlecoil_val"}))
    caveat = edition.substitutions(run)["edition_caveat"]
    assert caveat == ("This edition: 6 volumes (18 slices) of fastMRI-format data, training folder `data/`, "
                      "test split: every volume of `singlecoil_val/`.")


def test_intro_opens_with_the_data_caveat_beside_the_headline_and_hides_the_departures():
    text = (REPO / "book" / "intro.md").read_text()
    lines = [line for line in text.splitlines() if line.strip()]
    assert lines[0].startswith("# ") and lines[1] == "**{{ edition_caveat }}**"
    assert text.index("{{ edition_headline }}") < text.index("{{ edition_verdicts }}") < text.index("## About this book")
    assert "knee" not in "\n".join(lines[:lines.index("{{ edition_headline }}")])  # no knee-data claim before it
    dropdown = text[text.index(":class: dropdown"):]
    assert "{{ edition_departures }}" in dropdown.split("```")[0]


def test_edition_gathers_the_chapters_departures(tmp_path):
    run = _fake_run(tmp_path)
    row = {"parameter": "size", "the paper's setting": "128", "this run": "64", "why": "too slow | at 128²", "cost": "less detail"}
    (run / "03_train_automap.json").write_text(
        json.dumps({**json.loads((run / "03_train_automap.json").read_text()), "departures": [row]}))
    (run / "06_undersampling_baselines.json").write_text(
        json.dumps({"departures": [row, {**row, "parameter": "unet_epochs", "this run": "16", "the paper's setting": "50"}]}))
    (run / "07_architecture_study.json").write_text(json.dumps({"departures": []}))
    table = edition.substitutions(run)["edition_departures"].splitlines()
    assert table[0] == "| parameter (chapters) | the paper → this run | why, and what it costs |"
    assert table[2] == "| `size` (03, 06) | `128` → `64` | too slow \\| at 128². *Cost:* less detail |"
    assert table[3].startswith("| `unet_epochs` (06) | `50` → `16` |") and len(table) == 4


def test_edition_names_what_is_missing(tmp_path):
    with pytest.raises(edition.EditionError, match="03_train_automap.json: missing"):
        edition.substitutions(_fake_run(tmp_path, drop="03_train_automap.json"))


def test_quoted_numbers_have_sources_and_are_not_typed_in_the_pages():
    assert reference.value("paper_val_psnr") == 28.2
    with pytest.raises(KeyError, match="known"):
        reference.value("nope")
    for key, quoted in reference.QUOTED.items():
        assert quoted.source and quoted.text, key
    pages = [*(REPO / "book").glob("*.md"), *(REPO / "notebooks").glob("[0-9][0-9]_*.ipynb")]
    for page in pages:
        cells = [] if page.suffix == ".md" else json.loads(page.read_text())["cells"]
        text = page.read_text() if page.suffix == ".md" else "\n".join("".join(c["source"]) for c in cells
                                                                       if c["cell_type"] == "markdown")
        for quoted in reference.QUOTED.values():
            if len(quoted.text) >= 4:  # "28.2", "51,288", "0.032"; short ones (300, 12) are too common
                assert not re.search(r"(?<![\d.,])" + re.escape(quoted.text) + r"(?![\d])", text), \
                    f"{page.name} types {quoted.text}: use its substitution from automap_nb/reference.py"


def test_tidy_notebook_hides_bookkeeping():
    notebook = {
        "cells": [{"cell_type": "code", "metadata": {"tags": ["parameters"]}, "source": "a = 1", "outputs": []},
                  {"cell_type": "code", "metadata": {"tags": ["injected-parameters"]}, "source": "a = '/tmp/x'",
                   "outputs": []}, {"cell_type": "code", "metadata": {}, "source": "check(a)", "outputs": []}, {
                       "cell_type": "code", "metadata": {}, "source": "write_json(p)",
                       "outputs": [{"output_type": "execute_result", "data": {"text/plain": ["PosixPath('/tmp/x/a.json')"]}},
                                   {"output_type": "execute_result", "data": {"text/plain": ["42"]}}]
                   }]
    }
    cells = book.tidy_notebook(notebook)["cells"]
    assert "remove-cell" in cells[0]["metadata"]["tags"] and "remove-cell" in cells[1]["metadata"]["tags"]
    assert cells[2]["metadata"]["tags"] == ["hide-input"]
    assert [o["data"]["text/plain"] for o in cells[3]["outputs"]] == [["42"]]
    assert notebook["cells"][0]["metadata"]["tags"] == ["parameters"]  # the run's copy is untouched


def test_edition_kept_without_its_data_still_says_sample_data(tmp_path):
    run = _fake_run(tmp_path)
    (run / "data" / "SAMPLE_DATA.json").unlink()  # a kept run (editions/gpu) read on another machine
    assert "fastMRI-format" in edition.substitutions(run)["edition_data"]
    (run / "SAMPLE_DATA.json").write_text(json.dumps({"compact": True}))  # the copy gpu_edition.sh keeps
    assert "embedded sample data, compact k-space" in edition.substitutions(run)["edition_data"]
