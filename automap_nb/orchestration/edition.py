"""How this edition of the book was built, read from the run's own files (``run.json`` and the
chapters' JSON), for the landing page's "this edition" box and headline results.

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


def data_description(data_dir: str | None, volumes: int, slices: int, run_dir: str | Path | None = None) -> str:
    """The data folder by its name (no machine path) and what it is.

    Sample data is recognised by its manifest ``SAMPLE_DATA.json`` in the data folder or, for a run
    kept without its data (e.g. ``editions/gpu/``, built on another machine), a copy of it in ``run_dir``.
    """
    if not data_dir:
        raise EditionError("run.json: no data_dir")
    folder = Path(data_dir)
    manifests = [folder / "SAMPLE_DATA.json"] + ([Path(run_dir) / "SAMPLE_DATA.json"] if run_dir else [])
    manifest = next((m for m in manifests if m.is_file()), None)
    kind = "embedded sample data" if manifest else "fastMRI-format folder"
    if manifest and json.loads(manifest.read_text()).get("compact"):
        kind += ", compact k-space"
    return f"`{folder.name}/` ({kind}): {volumes} volumes, {slices} slices"


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
    """A markdown table of every parameter in which the run departs from the seed's settings (the
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
        return "None: this run used the seed's settings (the `paper` profile) throughout."
    # three columns, so that the long "why" and "cost" texts get most of the page's width
    lines = ["| parameter (chapters) | the seed → this run | why, and what it costs |", "| --- | --- | --- |"]
    for row in merged.values():
        seed = row.get("the seed's setting", "")
        cells = [
            f"`{row['parameter']}` ({', '.join(row['chapters'])})", f"`{seed}` → `{row['this run']}`",
            f"{str(row.get('why', '')).rstrip('.')}. *Cost:* {row.get('cost', '')}"
        ]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)


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
    volumes = _get(results, "05_results.json", "test_volumes")
    return {
        "edition_profile": str(_get(record, "run.json",
                                    "profile")), "edition_data": data_description(record.get("data_dir"),
                                                                                  _get(data, "01_data_exploration.json", "volumes"),
                                                                                  _get(data, "01_data_exploration.json", "slices"),
                                                                                  run_dir),
        "edition_n": f"{_get(prepared, '02_preprocessing.json', 'size')} × {_get(prepared, '02_preprocessing.json', 'size')}",
        "edition_epochs": str(_get(training, "03_train_automap.json",
                                   "epochs")), "edition_model": f"`{_get(training, '03_train_automap.json', 'variant')}`, "
        f"{_get(training, '03_train_automap.json', 'params'):,} parameters",
        "edition_device": f"{_get(training, '03_train_automap.json', 'device_name')} "
        f"(Keras {_get(training, '03_train_automap.json', 'keras')}, "
        f"{_get(training, '03_train_automap.json', 'backend')} backend)", "edition_date": str(_get(record, "run.json",
                                                                                                   "started"))[:10],
        "edition_total_time": duration(total), "edition_chapters": str(len(notebooks)),
        "edition_val_psnr": f"{_get(training, '03_train_automap.json', 'final_val_psnr'):.1f}",
        "edition_test_volumes": str(volumes), "edition_test_slices": str(_get(results, "05_results.json", "test_slices")),
        "edition_headline": headline_table(results), "edition_departures": departures_table(run_dir)
    }
