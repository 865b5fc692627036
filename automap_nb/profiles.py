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
    "study_seeds": [0, 1],
}

# Keys shared by several chapters come first; each chapter's own keys follow in its section.
PROFILES: dict[str, dict[str, object]] = {
    "quick": {
        **_SHARED,
        # data and preprocessing (01, 02)
        "size": 32,
        # ---- chapters 03-05 (AUTOMAP) ----
        "train_variant": "seed",       # 03: 32² seed-scaled AUTOMAP
        "train_conv_filters": 8,
        "train_epochs": 2,
        "train_batch_size": 4,          # 03, 05 (inference batch)
        "weights_units_shown": 2,       # 04
        "results_examples": 2,          # 05
        # ---- chapters 06-07 (undersampling, architecture study) ----
        "train_groups": [[1, 4, 8]],    # 06: one U-Net and one AUTOMAP for all accelerations
        "automap_init": "chapter03",    # 06: fine-tune chapter 03's model
        "automap_epochs": 1,
        "automap_learning_rate": 1e-3,
        "automap_lr_schedule": "cosine",
        "unet_chans": 4,
        "unet_residual": True,
        "unet_epochs": 1,
        "baseline_batch_size": 4,
        "automap_batch_size": 4,
        "tv_lambdas": [1e-2],           # 06: one λ, nothing to tune
        "tv_iterations": 10,
        "tv_val_volumes": 0,            # 06: 0 = every val volume tunes λ
        "study_size": 16,               # 07
        "study_epochs": 1,
        "study_learning_rate": 1e-3,
        "study_lr_schedule": "cosine",
        "study_batch_size": 4,
        "study_conv_filters": 8,
    },
    "cpu": {
        **_SHARED,
        "size": 64,
        # ---- chapters 03-05 (AUTOMAP) ----
        "train_variant": "seed",       # 03: 64² seed-scaled AUTOMAP
        "train_conv_filters": 16,       # 03, 06: ≈ 3× the samples/s of 64 filters (benchmarks/learning.md)
        "train_learning_rate": 1e-3,    # 03: 2e-4 stays near the mean image within the budget
        "train_lr_schedule": "warmup-cosine",
        "train_epochs": 330,            # 03: 42,240 samples, ≈ 200 s of training on 2 idle cores (130 training slices)
        "train_batch_size": 32,         # 03, 05 (inference batch)
        "weights_units_shown": 4,       # 04
        "results_examples": 4,          # 05
        # ---- chapters 06-07 (undersampling, architecture study) ----
        "train_groups": [[1, 4, 8]],    # 06: one U-Net and one AUTOMAP for all accelerations (budget)
        "automap_init": "chapter03",    # 06: fine-tune chapter 03's model on masked k-space
        "automap_epochs": 30,           # 06: 3,840 samples of fine-tuning on 4×/8× masks
        "automap_learning_rate": 5e-4,
        "automap_lr_schedule": "warmup-cosine",
        "unet_chans": 16,
        "unet_residual": True,          # 06: a plain U-Net stays below zero-filled at this budget
        "unet_epochs": 12,
        "baseline_batch_size": 8,
        "automap_batch_size": 32,
        "tv_lambdas": [1e-3, 3e-3, 1e-2, 3e-2],
        "tv_iterations": 100,
        "tv_val_volumes": 0,
        "study_size": 32,               # 07: prepared 64² data Fourier-cropped to 32²
        "study_variants": ["seed", "original", "fullconv"],  # 07: the seed's question, FC layers or none (budget)
        "study_accelerations": [1],     # 07: the seed's task only (budget)
        "study_epochs": 24,             # 07: 3,072 samples per run
        "study_learning_rate": 1e-3,
        "study_lr_schedule": "warmup-cosine",
        "study_batch_size": 16,
        "study_conv_filters": 8,
    },
    "paper": {
        **_SHARED,
        "size": 128,
        # ---- chapters 03-05 (AUTOMAP) ----
        "train_variant": "seed-201m",  # 03: the seed's model, 201,454,337 parameters at 128²
        "train_conv_filters": 64,       # the seed's conv tail
        "train_epochs": 300,            # the seed: 300 epochs, batch 32, Adam 2e-4
        "train_batch_size": 32,         # 03, 05 (inference batch)
        "weights_units_shown": 4,       # 04
        "results_examples": 4,          # 05
        # ---- chapters 06-07 (undersampling, architecture study) ----
        "train_groups": [[1], [4, 8]],  # 06: a 1× model, and a 4×/8× model as fastMRI's baseline
        "automap_init": "scratch",      # 06: AUTOMAP trained from random weights, as the seed's
        "automap_epochs": 100,
        "automap_learning_rate": 2e-4,  # the seed's
        "automap_lr_schedule": "cosine",
        "unet_chans": 32,               # fastMRI's U-Net
        "unet_residual": False,
        "unet_epochs": 50,
        "baseline_batch_size": 32,
        "automap_batch_size": 32,
        "tv_lambdas": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2],
        "tv_iterations": 200,           # fastMRI's BART baseline: 200 iterations
        "tv_val_volumes": 8,            # 06: λ tuned on 8 val volumes (TV runs on the CPU)
        "study_size": 64,               # 07
        "study_epochs": 50,
        "study_learning_rate": 2e-4,
        "study_lr_schedule": "cosine",
        "study_batch_size": 32,
        "study_conv_filters": 64,
    },
}

DEFAULT_PROFILE = "cpu"

# Sample-data size used by `make book` / `automap-nb run` when no data folder is given.
SAMPLE_DATA = {
    "quick": {"volumes": 6, "slices": 3},
    "cpu": {"volumes": 16, "slices": 10},
    "paper": {"volumes": 16, "slices": 10},
}


# ---- departures from the seed ------------------------------------------------------------------

#: Why a profile may set a parameter differently from ``paper`` (the seed's settings), and what that
#: costs. Every key on which ``cpu`` differs from ``paper`` has an entry (a test checks it); the
#: chapters glue :func:`departures` of their own parameter values, so the table shows what ran.
DEPARTURES: dict[str, tuple[str, str]] = {
    "size": ("a 128² seed-201m is far too slow to train on a few CPU cores",
             "4× fewer pixels, less detail; PSNR values are not comparable with 128² ones"),
    "train_variant": ("seed-201m exists at 128² only; `seed` keeps its width ratios (2n² → n²/4 → n²) at any n",
                      "none in design; fewer parameters because n is smaller"),
    "train_conv_filters": ("the 5×5 64→64 convolution is almost all of the arithmetic at small n; a narrower tail "
                           "sees several times more samples per second (benchmarks/learning.md)",
                           "a conv tail with less capacity to refine the image (PSNR at equal samples: "
                           "benchmarks/learning.md)"),
    "train_epochs": ("the wall-clock budget of the whole book on 2 CPU cores",
                     "tens of thousands of samples seen instead of the seed's ≈ 15 million: far from converged"),
    "train_learning_rate": ("at the seed's rate the network is still close to the mean image when the budget ends "
                            "(benchmarks/learning.md)", "none measured at this budget; the seed's rate may suit long runs"),
    "train_lr_schedule": ("a short linear warm-up lets the higher rate start stably; the seed's schedule is "
                          "a falling curve whose form it does not give", "none measured"),
    "automap_init": ("reuses chapter 03's trained AUTOMAP instead of training a second one from scratch",
                     "AUTOMAP at 4×/8× starts from a network trained on fully sampled k-space"),
    "automap_epochs": ("the wall-clock budget", "AUTOMAP at 4×/8× is fine-tuned briefly, not trained to convergence"),
    "automap_learning_rate": ("the seed's rate learns too slowly for this budget", "none measured"),
    "automap_lr_schedule": ("as chapter 03", "none measured"),
    "unet_chans": ("the wall-clock budget (fastMRI's U-Net has 32)", "a smaller U-Net"),
    "unet_residual": ("a plain U-Net stays below zero-filled at this budget", "not fastMRI's exact baseline"),
    "unet_epochs": ("the wall-clock budget", "the U-Net is not trained to convergence"),
    "baseline_batch_size": ("smaller batches give more optimizer steps in a short budget", "none measured"),
    "tv_lambdas": ("a shorter λ grid for the budget", "λ is chosen more coarsely"),
    "tv_iterations": ("the wall-clock budget (fastMRI's BART baseline runs 200)", "TV is less converged"),
    "tv_val_volumes": ("the sample data's validation split is small enough to use whole", "none"),
    "train_groups": ("one AUTOMAP and one U-Net for all accelerations saves a training run each",
                     "the 1× model also serves 4× and 8×"),
    "study_size": ("the wall-clock budget", "the study runs at a coarser grid than chapter 03"),
    "study_epochs": ("the wall-clock budget", "short budgets favour variants that learn fast"),
    "study_learning_rate": ("the seed's rate learns too slowly for this budget", "none measured"),
    "study_lr_schedule": ("as chapter 03", "none measured"),
    "study_batch_size": ("smaller batches give more optimizer steps in a short budget", "none measured"),
    "study_conv_filters": ("as chapter 03's conv filters", "as chapter 03's conv filters"),
    "study_variants": ("the wall-clock budget: the three variants that answer the seed's question (two FC designs "
                       "and none)", "the narrower and single-layer FC variants are not studied"),
    "study_accelerations": ("the wall-clock budget: each acceleration is one more training run per variant and seed",
                            "the study answers the seed's fully sampled question only"),
    "study_seeds": ("the wall-clock budget: each seed is one more training run per cell",
                    "fewer seeds give a rougher estimate of the spread"),
}


def departures(values: dict, reference: str = "paper") -> list[dict]:
    """Rows ``{parameter, the seed's setting, this run, why, cost}`` for every key of ``values``
    (a chapter's parameters as it ran) whose value differs from profile ``reference``.

    Keys that ``reference`` does not set (paths, the profile name) are skipped. A differing key
    with no :data:`DEPARTURES` entry gets "(not documented)" so that a gap is visible, not hidden.
    """
    seed = PROFILES[reference]
    rows = []
    for key, value in values.items():
        if key not in seed or seed[key] == value:
            continue
        why, cost = DEPARTURES.get(key, ("(not documented)", "(not documented)"))
        rows.append({"parameter": key, "the seed's setting": repr(seed[key]), "this run": repr(value),
                     "why": why or "(not documented)", "cost": cost or "(not documented)"})
    return rows


def departures_markdown(rows: list[dict]) -> str:
    """A Markdown table of :func:`departures` rows (full text, no truncation), or a sentence when
    the run used the seed's settings throughout."""
    if not rows:
        return "None: this run used the seed's settings (the `paper` profile) throughout."
    columns = ["parameter", "the seed's setting", "this run", "why", "cost"]
    lines = ["| " + " | ".join(columns) + " |", "|" + " --- |" * len(columns)]
    for row in rows:
        cells = [f"`{row['parameter']}`", f"`{row[columns[1]]}`", f"`{row['this run']}`", row["why"], row["cost"]]
        lines.append("| " + " | ".join(str(c).replace("|", "\\|") for c in cells) + " |")
    return "\n".join(lines)
