"""Run profiles: named sets of notebook parameters.

``automap-nb run --profile NAME`` passes each notebook the values here *for the parameters that
notebook declares* in its ``parameters`` cell (the runner reads the cell), then any ``-p KEY VALUE``
overrides. A key that no notebook declares is an error, so a typo never runs silently.

- ``quick``: tiny settings for the test-suite (every chapter in seconds; numbers are meaningless).
- ``cpu``:   the default for ``make book``: the paper's AUTOMAP scaled to 64² on the sample data, the whole
             ``make book`` within about 10 minutes on 2 cores.
- ``paper``: the paper's settings (128², ``greenberg-201m``, batch 32, 300 epochs) for a GPU.
- ``gpu``:   the GPU edition: 128² ``greenberg-201m`` on 4,800 compact sample slices, the whole book on
             one H100 (``KERAS_BACKEND=jax``) within one 15-minute lease (``benchmarks/gpu_edition.sh``).
"""

from __future__ import annotations

from automap_nb.orchestration import params

#: ``{profile: {parameter: value}}``, derived from the chapters' table (:data:`automap_nb.orchestration.params.CHAPTERS`)
PROFILES: dict[str, dict[str, object]] = {name: params.profile_values(name) for name in params.PROFILE_NAMES}

DEFAULT_PROFILE = "cpu"

# Sample-data size used by `make book` / `automap-nb run` when no data folder is given, and the
# patient-hash split fractions (chapter 02's `split`) used on it. fastMRI-sized folders keep 90/5/5;
# a few dozen pseudo-volumes need larger val/test shares for a spread and a paired comparison over
# volumes: 34 volumes at 45/25/30 % hash to train 13 / val 9 / test 12 (9 at 45/25/30: 3 / 3 / 3).
SAMPLE_SPLIT = [0.45, 0.25, 0.30]
SAMPLE_DATA = {
    "quick": {"volumes": 9, "slices": 2, "split": SAMPLE_SPLIT},
    "cpu": {"volumes": 34, "slices": 10, "split": SAMPLE_SPLIT, "parallel": True},  # one process per CPU: byte-identical files
    "paper": {"volumes": 34, "slices": 10, "split": SAMPLE_SPLIT, "parallel": True},
    # 150 × 32 = 4,800 slices; the patient-hash split gives train 4,256 / val 352 / test 192 (6 volumes).
    # Compact files (sample_data: same schema, k-space kept where n ≤ 128 needs it): ≈ 3.7 GB instead of
    # ≈ 11 GB; built by one process per CPU.
    "gpu": {"volumes": 150, "slices": 32, "split": [0.9, 0.05, 0.05], "compact": True, "parallel": True}
}

#: Why a profile sets a parameter differently from ``paper`` (the paper's settings), and what that costs, from
#: the chapters' table; the chapters glue :func:`departures` of their own parameter values, so the table shows what ran.
DEPARTURES: dict[str, tuple[str, str]] = params.departure_reasons()

#: The environment variable through which ``automap-nb run`` tells the kernels which profile runs.
PROFILE_ENV = "AUTOMAP_NB_PROFILE"


def departures(values: dict, reference: str = "paper", profile: str | None = None) -> list[dict]:
    """Rows ``{parameter, the paper's setting, this run, why, cost}`` for every key of ``values``
    (a chapter's parameters as it ran) whose value differs from profile ``reference``.

    Keys that ``reference`` does not set (paths, the profile name) are skipped. A differing key
    with no :data:`DEPARTURES` entry gets "(not documented)" so that a gap is visible, not hidden.
    ``profile`` (default: the ``AUTOMAP_NB_PROFILE`` environment variable that ``automap-nb run``
    sets) picks that profile's own reasons where it has them (``gpu_why`` in the table).
    """
    import os

    paper = PROFILES[reference]
    profile = profile if profile is not None else os.environ.get(PROFILE_ENV, "")
    reasons = params.departure_reasons(profile)
    rows = []
    for key, value in values.items():
        if key not in paper or paper[key] == value:
            continue
        why, cost = reasons.get(key, ("(not documented)", "(not documented)"))
        rows.append({
            "parameter": key, "the paper's setting": repr(paper[key]), "this run": repr(value), "why": why or "(not documented)",
            "cost": cost or "(not documented)"
        })
    return rows


def departures_markdown(rows: list[dict]) -> str:
    """A Markdown table of :func:`departures` rows (full text, no truncation), or a sentence when
    the run used the paper's settings throughout. Three columns (parameter, the paper's setting →
    this run, why and what it costs), as the landing page's (:func:`automap_nb.orchestration.edition.departures_table`),
    so that the long texts get most of the page's width and the table fits the page."""
    if not rows:
        return "None: this run used the paper's settings (the `paper` profile) throughout."
    lines = ["| parameter | the paper → this run | why, and what it costs |", "| --- | --- | --- |"]
    for row in rows:
        why, paper = str(row["why"]), row["the paper's setting"]
        cells = [
            f"`{row['parameter']}`", f"`{paper}` → `{row['this run']}`",
            f"{why}{'' if why.endswith('.') else '.'} *Cost:* {row['cost']}"
        ]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)
