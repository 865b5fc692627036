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

# Values every profile shares; each profile below adds or overrides its own.
_SHARED: dict[str, object] = {
    "seed": 0,
    "train_learning_rate": 2e-4,         # 03: the seed's Adam learning rate
    "train_lr_schedule": "cosine",
    "train_augment": True,
    "accelerations": [1, 4, 8],     # 06
    "mask_kind": "random",          # 06, 07
    "unet_learning_rate": 1e-3,
    "keep_checkpoints": False,
    "study_variants": ["original", "seed", "smaller", "one_dense", "fullconv"],
    "study_accelerations": [1, 4],
}

# Keys shared by several chapters come first; each chapter's own keys follow in its section.
PROFILES: dict[str, dict[str, object]] = {
    "quick": {
        **_SHARED,
        # data and preprocessing (01, 02)
        "size": 32,
        # ---- chapters 03-05 (AUTOMAP) ----
        "train_variant": "seed",       # 03: 32² seed-scaled AUTOMAP (894,977 parameters)
        "train_epochs": 2,
        "train_batch_size": 4,          # 03, 05 (inference batch)
        "weights_units_shown": 2,       # 04
        "results_examples": 2,          # 05
        # ---- chapters 06-07 (undersampling, architecture study) ----
        "train_groups": [[1, 4, 8]],    # 06: one U-Net and one AUTOMAP for all accelerations
        "automap_epochs": 1,
        "automap_learning_rate": 1e-3,
        "unet_chans": 4,
        "unet_residual": True,
        "unet_epochs": 1,
        "baseline_batch_size": 4,
        "tv_lambdas": [1e-2],           # 06: one λ, nothing to tune
        "tv_iterations": 10,
        "tv_val_volumes": 0,            # 06: 0 = every val volume tunes λ
        "study_size": 16,               # 07
        "study_epochs": 1,
        "study_learning_rate": 1e-3,
        "study_batch_size": 4,
    },
    "cpu": {
        **_SHARED,
        "size": 64,
        # ---- chapters 03-05 (AUTOMAP) ----
        "train_variant": "seed",       # 03: 64² seed-scaled AUTOMAP (12,695,297 parameters)
        "train_epochs": 48,             # ≈ 2 min on 2 idle cores (≈ 75 samples/s, 130 training slices)
        "train_batch_size": 32,         # 03, 05 (inference batch)
        "weights_units_shown": 4,       # 04
        "results_examples": 4,          # 05
        # ---- chapters 06-07 (undersampling, architecture study) ----
        "train_groups": [[1, 4, 8]],    # 06: one U-Net and one AUTOMAP for all accelerations (budget)
        "automap_epochs": 12,           # 06: ≈ 1 min on 2 cores
        "automap_learning_rate": 1e-3,  # 06: 2e-4 (the seed's) reaches only ≈ 14.6 dB val in 12 epochs
        "unet_chans": 16,
        "unet_residual": True,          # 06: a plain U-Net stays below zero-filled at this budget
        "unet_epochs": 16,
        "baseline_batch_size": 8,
        "tv_lambdas": [1e-3, 3e-3, 1e-2, 3e-2],
        "tv_iterations": 100,
        "tv_val_volumes": 0,
        "study_size": 32,               # 07: prepared 64² data Fourier-cropped to 32²
        "study_epochs": 6,
        "study_learning_rate": 1e-3,
        "study_batch_size": 8,
    },
    "paper": {
        **_SHARED,
        "size": 128,
        # ---- chapters 03-05 (AUTOMAP) ----
        "train_variant": "seed-201m",  # 03: the seed's model, 201,454,337 parameters at 128²
        "train_epochs": 300,            # the seed: 300 epochs, batch 32, Adam 2e-4
        "train_batch_size": 32,         # 03, 05 (inference batch)
        "weights_units_shown": 4,       # 04
        "results_examples": 4,          # 05
        # ---- chapters 06-07 (undersampling, architecture study) ----
        "train_groups": [[1], [4, 8]],  # 06: a 1× model, and a 4×/8× model as fastMRI's baseline
        "automap_epochs": 100,
        "automap_learning_rate": 2e-4,  # the seed's
        "unet_chans": 32,               # fastMRI's U-Net
        "unet_residual": False,
        "unet_epochs": 50,
        "baseline_batch_size": 32,
        "tv_lambdas": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2],
        "tv_iterations": 200,           # fastMRI's BART baseline: 200 iterations
        "tv_val_volumes": 8,            # 06: λ tuned on 8 val volumes (TV runs on the CPU)
        "study_size": 64,               # 07
        "study_epochs": 50,
        "study_learning_rate": 2e-4,
        "study_batch_size": 32,
    },
}

DEFAULT_PROFILE = "cpu"

# Sample-data size used by `make book` / `automap-nb run` when no data folder is given.
SAMPLE_DATA = {
    "quick": {"volumes": 6, "slices": 3},
    "cpu": {"volumes": 16, "slices": 10},
    "paper": {"volumes": 16, "slices": 10},
}
