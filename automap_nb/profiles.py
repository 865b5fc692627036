"""Run profiles: named sets of notebook parameters.

``automap-nb run --profile NAME`` passes each notebook the values here *for the parameters that
notebook declares* in its ``parameters`` cell (the runner reads the cell), then any ``-p KEY VALUE``
overrides. A key that no notebook declares is an error, so a typo never runs silently.

- ``quick``: tiny settings for the test-suite (every chapter in seconds; numbers are meaningless).
- ``cpu``:   the default for ``make book``: 64² seed-scaled AUTOMAP on the sample data, the whole
             ``make book`` within about 10 minutes on 2 cores.
- ``paper``: the seed's settings (128², ``seed-201m``, batch 32, 300 epochs) for a GPU.
"""

from __future__ import annotations

# Keys shared by several chapters come first; each chapter's own keys follow in its section.
PROFILES: dict[str, dict[str, object]] = {
    "quick": {
        # data and preprocessing (01, 02)
        "size": 32,
        "seed": 0,
        # ---- chapters 03-05 (AUTOMAP) ----
        # ---- chapters 06-07 (undersampling, architecture study) ----
    },
    "cpu": {
        "size": 64,
        "seed": 0,
        # ---- chapters 03-05 (AUTOMAP) ----
        # ---- chapters 06-07 (undersampling, architecture study) ----
    },
    "paper": {
        "size": 128,
        "seed": 0,
        # ---- chapters 03-05 (AUTOMAP) ----
        # ---- chapters 06-07 (undersampling, architecture study) ----
    },
}

DEFAULT_PROFILE = "cpu"

# Sample-data size used by `make book` / `automap-nb run` when no data folder is given.
SAMPLE_DATA = {
    "quick": {"volumes": 6, "slices": 3},
    "cpu": {"volumes": 16, "slices": 10},
    "paper": {"volumes": 16, "slices": 10},
}
