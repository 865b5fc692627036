"""How this edition of the book was built, read from the run's own files (``run.json`` and the
chapters' JSON), for the landing page: its first line (which data, :func:`data_caveat`), the headline
results, one verdict line per chapter (each chapter's ``verdict``, :func:`verdicts`), the "this edition"
box and the departures from the paper.

:func:`substitutions` returns ``{key: text}``; ``automap_nb.orchestration.book`` makes them MyST substitutions
(``{{ edition_profile }}``), so the landing page types no number: every value comes from the run
that built the book. A file or key the box needs that is missing is an error naming it.
"""

from __future__ import annotations

import json
from pathlib import Path

from automap_nb import tables
from automap_nb.results import read_json

METHOD_NAMES = {
    "automap": "AUTOMAP, trained (chapter 03)", "untrained": "AUTOMAP, untrained (same initial weights)",
    "ifft": "inverse FFT of the input (exact on fully sampled k-space)", "mean_image": "mean training image (ignores the input)"
}


class EditionError(RuntimeError):
    """A run file or key the landing page needs is missing; the message names it."""


def _read(run_dir: Path, name: str) -> dict:
    path = run_dir / name
    if not path.is_file():
        raise EditionError(f"{path}: missing (the landing page reads it)")
    try:
        return read_json(path)
    except ValueError as err:
        raise EditionError(f"{path}: not valid JSON ({err})") from None


def _get(record: dict, name: str, *keys):
    value = record
    for key in keys:
        if not isinstance(value, dict) or key not in value:
            raise EditionError(f"{name}: no {'.'.join(map(str, keys))} (the landing page reads it)")
        value = value[key]
    return value


def duration(seconds: float) -> str:
    """``83.2`` → ``"1 min 23 s"``; under a minute ``"42 s"``; over an hour ``"2 h 05 min"``."""
    seconds = int(round(seconds))
    if seconds < 60:
        return f"{seconds} s"
    if seconds < 3600:
        return f"{seconds // 60} min {seconds % 60:02d} s"
    return f"{seconds // 3600} h {seconds % 3600 // 60:02d} min"


def _sample_manifest(data_dir: str, run_dir: str | Path | None) -> dict | None:
    """The sample data's manifest ``SAMPLE_DATA.json`` in the data folder or, for a run kept without
    its data (e.g. ``editions/gpu/``, built on another machine), the copy in ``run_dir``; ``None`` for
    a fastMRI folder."""
    from automap_nb.data.sample_data import read_manifest

    manifest = read_manifest(data_dir)
    return manifest if manifest is not None or not run_dir else read_manifest(run_dir)


def data_description(data_dir: str | None, volumes: int, slices: int, run_dir: str | Path | None = None) -> str:
    """The data folder by its name (no machine path) and what it is: embedded sample data (recognised
    by its manifest, :func:`_sample_manifest`) or a fastMRI-format folder."""
    if not data_dir:
        raise EditionError("run.json: no data_dir")
    manifest = _sample_manifest(data_dir, run_dir)
    kind = "embedded sample data" if manifest is not None else "fastMRI-format folder"
    if manifest and manifest.get("compact"):
        kind += ", compact k-space"
    return f"`{Path(data_dir).name}/` ({kind}): {volumes} volumes, {slices} slices"


def data_caveat(record: dict, volumes: int, slices: int, run_dir: str | Path | None = None) -> str:
    """The landing page's first line: which data this edition was computed on, from ``run.json``
    (``data_dir``, ``val_dir``, ``test_dir``) and chapter 01's counts. The sample data are said to be
    what they are (pseudo-volumes of one brain template), never fastMRI knee data."""
    data_dir = record.get("data_dir")
    if not data_dir:
        raise EditionError("run.json: no data_dir")
    manifest = _sample_manifest(data_dir, run_dir)
    folder = f"`{Path(data_dir).name}/`"
    if manifest is not None:
        compact = ", compact k-space" if manifest.get("compact") else ""
        return (f"This edition: {volumes} pseudo-volumes ({slices} slices) of one brain template, the embedded sample "
                f"data ({folder}{compact}), not fastMRI knee data: its numbers test the pipeline, not the method on knees.")
    extra = "".join(f", {split} split: every volume of `{Path(record[key]).name}/`"
                    for split, key in (("val", "val_dir"), ("test", "test_dir")) if record.get(key))
    return f"This edition: {volumes} volumes ({slices} slices) of fastMRI-format data, training folder {folder}{extra}."


def chapter_title(run_dir: Path, notebook: str) -> str:
    """A chapter's title: the first ``# heading`` of its executed notebook in ``run_dir``, else its file name."""
    path = run_dir / notebook
    if path.is_file():
        try:
            cells = json.loads(path.read_text())["cells"]
        except (ValueError, KeyError) as err:
            raise EditionError(f"{path}: not a readable notebook ({err})") from None
        for cell in cells:
            if cell.get("cell_type") == "markdown":
                first = "".join(cell.get("source", "")).strip().splitlines()[:1]
                if first and first[0].startswith("# "):
                    return first[0][2:].strip()
                break
    return Path(notebook).stem.replace("_", " ")


def verdicts(run_dir: Path, notebooks) -> str:
    """A markdown list: one line per chapter of the run (``notebooks``, the ``NN_name.ipynb`` names in
    ``run.json``), its title and the ``verdict`` its ``NN_name.json`` holds. A chapter not in the run
    is not listed; a chapter JSON that is missing or has no one-line ``verdict`` is an error naming it."""
    lines = []
    for notebook in sorted(notebooks):
        name = f"{Path(notebook).stem}.json"
        record = _read(run_dir, name)
        verdict = record.get("verdict") if isinstance(record, dict) else None
        if not isinstance(verdict, str) or not verdict.strip():
            raise EditionError(f"{run_dir / name}: no 'verdict' (every chapter writes one line; the landing page reads it)")
        if "\n" in verdict.strip():
            raise EditionError(f"{run_dir / name}: 'verdict' is not one line (the landing page lists one per chapter)")
        lines.append(f"- **{chapter_title(run_dir, notebook)}**: {verdict.strip()}")
    return "\n".join(lines)


def headline_table(results: dict) -> str:
    """A markdown table of chapter 05's test metrics (means over the test volumes), rounded as the
    chapters' tables are (:mod:`automap_nb.tables`)."""
    metrics = _get(results, "05_results.json", "metrics")
    rows = ["| reconstruction | PSNR (dB) | SSIM | NMSE |", "| --- | ---: | ---: | ---: |"]
    for method, entry in metrics.items():
        mean = _get(entry, f"05_results.json metrics.{method}", "mean")
        rows.append(f"| {METHOD_NAMES.get(method, method)} | {tables.PSNR.format(mean['psnr'])} | "
                    f"{tables.SSIM.format(mean['ssim'])} | {tables.NMSE.format(mean['nmse'])} |")
    return "\n".join(rows)


def departures_table(run_dir: Path) -> str:
    """A markdown table of every parameter in which the run departs from the paper's settings (the
    ``paper`` profile), gathered from the ``departures`` rows (:func:`automap_nb.orchestration.profiles.departures`)
    that the chapters write into their ``NN_name.json``, with the chapters each one applies to. A
    parameter that ran with the same value in several chapters is one row; a chapter JSON without
    ``departures`` contributes none. A sentence instead of a table when there is no departure."""
    merged: dict[tuple[str, str], dict] = {}
    for path in sorted(run_dir.glob("[0-9][0-9]_*.json")):
        record = _read(run_dir, path.name)
        rows = record.get("departures") if isinstance(record, dict) else None
        if rows is None:
            continue
        if not isinstance(rows, list):
            raise EditionError(f"{path.name}: departures is not a list (the landing page reads it)")
        for row in rows:
            try:
                key = (row["parameter"], row["this run"])
                entry = merged.setdefault(key, {**row, "chapters": []})
            except (KeyError, TypeError):
                raise EditionError(f"{path.name}: a departures row without 'parameter' or 'this run'") from None
            entry["chapters"].append(path.name[:2])
    if not merged:
        return "None: this run used the paper's settings (the `paper` profile) throughout."
    # three columns, so that the long "why" and "cost" texts get most of the page's width
    lines = ["| parameter (chapters) | the paper → this run | why, and what it costs |", "| --- | --- | --- |"]
    for row in merged.values():
        paper = row.get("the paper's setting", "")
        cells = [
            f"`{row['parameter']}` ({', '.join(row['chapters'])})", f"`{paper}` → `{row['this run']}`",
            f"{str(row.get('why', '')).rstrip('.')}. *Cost:* {row.get('cost', '')}"
        ]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


def evidence_rules() -> str:
    """The book's two rules of evidence in words, from :mod:`automap_nb.statistics`'s constants."""
    from automap_nb import statistics

    return (f"paired comparisons over volumes with a {100 * statistics.CONFIDENCE:.0f} % bootstrap interval (at least "
            f"{statistics.MIN_VOLUMES} volumes), and a model that passed the one 'learned' rule: the whole interval of its "
            f"PSNR gain over the mean training image at or above {statistics.LEARNED_MARGIN_DB:g} dB")


def substitutions(run_dir: str | Path) -> dict[str, str]:
    """``{edition_*: text}`` for the landing page, from ``run_dir``'s files."""
    run_dir = Path(run_dir)
    record = _read(run_dir, "run.json")
    data = _read(run_dir, "01_data_exploration.json")
    prepared = _read(run_dir, "02_preprocessing.json")
    training = _read(run_dir, "03_train_automap.json")
    results = _read(run_dir, "05_results.json")
    notebooks = _get(record, "run.json", "notebooks")
    total = sum(float(_get(entry, f"run.json notebooks.{name}", "seconds")) for name, entry in notebooks.items())
    volumes, slices = (_get(data, "01_data_exploration.json", key) for key in ("volumes", "slices"))
    size = _get(prepared, "02_preprocessing.json", "size")
    trained = {
        key: _get(training, "03_train_automap.json", key)
        for key in ("epochs", "variant", "params", "device_name", "keras", "backend", "final_val_psnr")
    }
    return {
        "edition_caveat": data_caveat(record, volumes, slices, run_dir),
        "edition_profile": str(_get(record, "run.json", "profile")),
        "edition_data": data_description(record.get("data_dir"), volumes, slices, run_dir),
        "edition_n": f"{size} × {size}",
        "edition_epochs": str(trained["epochs"]),
        "edition_model": f"`{trained['variant']}`, {trained['params']:,} parameters",
        "edition_device": f"{trained['device_name']} (Keras {trained['keras']}, {trained['backend']} backend)",
        "edition_date": str(_get(record, "run.json", "started"))[:10],
        "edition_total_time": duration(total),
        "edition_chapters": str(len(notebooks)),
        "edition_val_psnr": f"{trained['final_val_psnr']:.1f}",
        "edition_test_volumes": str(_get(results, "05_results.json", "test_volumes")),
        "edition_test_slices": str(_get(results, "05_results.json", "test_slices")),
        "edition_headline": headline_table(results),
        "edition_rules": evidence_rules(),
        "edition_verdicts": verdicts(run_dir, notebooks),
        "edition_departures": departures_table(run_dir),
    }
