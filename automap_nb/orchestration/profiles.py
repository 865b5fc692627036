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

# Values every profile shares; each profile below adds or overrides its own.
_SHARED: dict[str, object] = {
    "seed": 0,
    "train_learning_rate": 2e-4,  # 03: the paper's Adam learning rate
    "train_lr_schedule": "cosine",
    "train_augment": True,
    "automap_augment": True,  # 06: AUTOMAP's training at 4×/8× with the paper's reflection-tiling crops
    "train_precision": "float32",  # 03: the paper trained in float32
    "train_validate_every": 1,  # 03: validation after every epoch, as the paper's Figure 3
    "train_dc_phase": False,  # 03, 06: the paper's AUTOMAP eats the k-space as it comes
    "study_dc_phase": False,  # 07
    "train_pipeline": "numpy",  # 03, 06 (AUTOMAP): examples built on the host, one at a time
    "study_pipeline": "numpy",  # 07
    "train_distribution": "none",  # 03, 06 (AUTOMAP): one device; "data" or "model" spread training over several (JAX)
    "train_model_shards": 1,  # 03, 06: devices per model replica under "model" (automap_nb.distribute)
    "study_distribution": "none",  # 07
    "study_model_shards": 1,  # 07
    "dautomap_distribution": "none",  # 10
    "dautomap_model_shards": 1,  # 10
    "accelerations": [1, 4, 8],  # 06
    "mask_kind": "random",  # 06, 07
    "unet_learning_rate": 1e-3,
    "unet_augment": False,  # 06: fastMRI's U-Net trains on the slices as they are (benchmarks/unet-augment.md)
    "keep_checkpoints": False,
    "study_variants": ["original", "greenberg", "smaller", "one_dense", "fullconv"],
    "study_accelerations": [1, 4],
    "study_seeds": [0, 1],
    "dautomap_variant": "dautomap",  # 10: the authors' dAUTOMAP
    "dautomap_inits": ["idft", "random"],  # 10: the transform's start: the inverse DFT, and random (does it learn it?)
    "dautomap_accelerations": [1, 4, 8],  # 10: one model per grid for all, tested at each (as chapter 06)
    "dautomap_learning_rate": 1e-3,
    "dautomap_lr_schedule": "constant",  # 10: a short budget (benchmarks/dautomap.md)
    "dautomap_dc_phase": True  # 10: as chapter 03
}

# Keys shared by several chapters come first; each chapter's own keys follow in its section.
PROFILES: dict[str, dict[str, object]] = {
    "quick": {
        **_SHARED,
        # data and preprocessing (01, 02)
        "size": 32,
        # ---- chapters 03-05 (AUTOMAP) ----
        "train_variant": "greenberg",  # 03: the paper's AUTOMAP scaled to 32²
        "train_conv_filters": 8,
        "train_dc_phase": True,  # 03, 06, as cpu
        "train_epochs": 2,
        "train_batch_size": 4,  # 03, 05 (inference batch)
        "weights_units_shown": 2,  # 04
        "results_examples": 2,  # 05
        # ---- chapters 06-07 (undersampling, architecture study) ----
        "undersampling_groups": [[1, 4, 8]],  # 06: one U-Net and one AUTOMAP for all accelerations
        "automap_init": "chapter03",  # 06: fine-tune chapter 03's model
        "automap_epochs": 1,
        "automap_learning_rate": 1e-3,
        "automap_lr_schedule": "cosine",
        "automap_augment": False,  # 06: fine-tune on the training slices as they are (benchmarks/learning.md)
        "unet_chans": 4,
        "unet_residual": True,
        "unet_epochs": 1,
        "unet_batch_size": 4,
        "automap_batch_size": 4,
        "tv_lambdas": [1e-2],  # 06: one λ, nothing to tune
        "tv_iterations": 10,
        "tv_val_volumes": 0,  # 06: 0 = every val volume tunes λ
        "study_size": 16,  # 07
        "study_epochs": 1,
        "study_learning_rate": 1e-3,
        "study_lr_schedule": "cosine",
        "study_batch_size": 4,
        "study_conv_filters": 8,
        "study_dc_phase": True,
        # ---- chapters 08-09 (stability, transfer) ----
        "stability_slices": 3,  # 08: one slice from each of 3 test volumes (the quick split has 3)
        "stability_budgets": [0.01, 0.05],
        "stability_steps": 3,
        "stability_step_size": 0.2,
        "stability_momentum": 0.9,  # Antun et al.
        "transfer_train_crops": 8,  # 09
        "transfer_val_crops": 4,  # 09: one crop of each of the 4 validation pictures (the rule needs >= 3)
        "transfer_test_crops": 2,
        "transfer_modes": ["all", "conv_tail", "dense", "scratch"],
        "transfer_epochs": 1,
        "transfer_batch_size": 4,
        "transfer_learning_rate": 1e-3,
        "transfer_lr_schedule": "cosine",
        # ---- chapter 10 (dAUTOMAP) ----
        "dautomap_automap_variant": "greenberg",  # 10: the AUTOMAP it is compared with at equal samples
        "dautomap_conv_filters": 8,
        "dautomap_epochs": 2,
        "dautomap_batch_size": 4,
        "dautomap_validate_every": 1,
        "dautomap_large_size": 48,  # 10: a second grid, prepared in the chapter
        "dautomap_large_epochs": 2
    },
    "cpu": {
        **_SHARED,
        "size": 64,
        # ---- chapters 03-05 (AUTOMAP) ----
        "train_variant": "greenberg",  # 03: the paper's AUTOMAP scaled to 64²
        "train_conv_filters": 16,  # 03, 06: ≈ 3× the samples/s of 64 filters (benchmarks/learning.md)
        "train_learning_rate": 7e-4,  # 03: the best of 5e-4 … 1.4e-3 on validation (benchmarks/learning-gpu.md)
        "train_lr_schedule": "warmup-cosine",
        "train_precision": "auto",  # 03, 06: bfloat16 arithmetic where the CPU has it (≈ 1.2× the samples/s)
        "train_epochs": 640,  # 03: 81,920 samples (2 batches of 64 per epoch): 800 took make book over its budget
        # for 0.5 dB on validation (benchmarks/history.md)
        "train_batch_size": 64,  # 03, 05 (inference batch): ≈ 1.35× the samples/s of 32 (benchmarks/learning.md)
        "train_validate_every": 8,  # 03: a validation point every 8 of the 2-batch epochs, ≈ 8 % of the training time
        # (benchmarks/history.md)
        "train_dc_phase": True,  # 03, 06: k-space rotated so its DC is real: +3.0 dB on validation (benchmarks/learning.md)
        "weights_units_shown": 4,  # 04
        "results_examples": 4,  # 05
        # ---- chapters 06-07 (undersampling, architecture study) ----
        "undersampling_groups": [[1, 4, 8]],  # 06: one U-Net and one AUTOMAP for all accelerations (budget)
        "automap_init": "chapter03",  # 06: fine-tune chapter 03's model on masked k-space
        "automap_epochs": 30,  # 06: 3,840 samples of fine-tuning on 4×/8× masks
        "automap_learning_rate": 2e-4,  # 06: the paper's rate; 5e-4 and 1e-3 fine-tune no better (benchmarks/learning-gpu.md)
        "automap_lr_schedule": "warmup-cosine",
        "automap_augment": False,  # 06: fine-tune on the training slices as they are (benchmarks/learning.md)
        "unet_chans": 16,
        "unet_residual": True,  # 06: the U-Net learns a correction to its zero-filled input
        "unet_epochs": 8,
        "unet_batch_size": 8,
        "automap_batch_size": 32,
        "tv_lambdas": [1e-3, 3e-3, 1e-2, 3e-2],
        "tv_iterations": 100,
        "tv_val_volumes": 2,  # 06: λ tuned on the first 2 val volumes (TV runs one slice at a time on the CPU)
        "study_size": 32,  # 07: prepared 64² data Fourier-cropped to 32²
        "study_variants": ["greenberg", "original", "fullconv"],  # 07: the paper's question, FC layers or none (budget)
        "study_accelerations": [1],  # 07: the paper's task only (budget)
        "study_epochs": 24,  # 07: 3,072 samples per run: with train_dc_phase, greenberg and original then beat the mean image
        "study_learning_rate": 1e-3,
        "study_lr_schedule": "warmup-cosine",
        "study_batch_size": 16,
        "study_conv_filters": 8,
        "study_dc_phase": True,  # 07: as chapter 03
        # ---- chapters 08-09 (stability, transfer) ----
        "stability_slices": 6,  # 08: one slice from each of 6 of the 12 test volumes
        "stability_budgets": [0.005, 0.01, 0.02, 0.05],
        "stability_steps": 30,
        "stability_step_size": 0.2,
        "stability_momentum": 0.9,  # Antun et al.
        "transfer_train_crops": 64,  # 09: 320 samples per mode (5 epochs), ≈ 25 s of notebook on 2 idle cores
        "transfer_val_crops": 16,
        "transfer_test_crops": 16,
        "transfer_modes": ["all", "conv_tail", "dense", "scratch"],
        "transfer_epochs": 5,
        "transfer_batch_size": 16,
        "transfer_learning_rate": 1e-3,
        "transfer_lr_schedule": "warmup-cosine",
        # ---- chapter 10 (dAUTOMAP) ----
        "dautomap_automap_variant": "greenberg",  # 10: the paper's widths at 64², as chapter 03
        "dautomap_conv_filters": 16,  # 10: as chapter 03
        "dautomap_epochs": 24,  # 10: 3,072 samples per model at 64² (the book's 12-minute budget)
        "dautomap_batch_size": 32,
        "dautomap_validate_every": 4,
        "dautomap_large_size": 128,  # 10: the paper's grid, where AUTOMAP's 201 M parameters do not fit a CPU budget
        "dautomap_large_epochs": 24  # 10: 3,072 samples at 128² (benchmarks/dautomap.md)
    },
    # GPU edition: one lease is 15 min (≈ 900 s, machine start ≈ 30-90 s included), each command ≤ 600 s.
    # The book runs as one command with BUDGET_S=570 (benchmarks/gpu_edition.sh); what each stage took on
    # an H200, and why chapter 03 needs the device pipeline, is in benchmarks/history.md.
    # On the device pipeline greenberg-201m trains at 4,347 samples/s (benchmarks/gpu-h200.md), so chapter 03
    # should take ≈ 60 s of set-up + 40 epochs × 4,256 slices / 4,347 s⁻¹ ≈ 40 s + 2.4-GB checkpoints
    # (7 s to save, 7 s to load). Chapters 04-09 are still estimates (≈ 300 s: 06's TV on the CPU, 07's
    # six runs, 09's four checkpoint loads): ≈ 550 s in all, inside BUDGET_S. Chapter 10 (three 4-epoch
    # runs at 128², its larger grid the edition's own prepared file) is not in that estimate.
    "gpu": {
        **_SHARED,
        "size": 128,
        # ---- chapters 03-05 (AUTOMAP) ----
        "train_variant": "greenberg-201m",  # 03: the paper's model, 201,454,337 parameters at 128²
        "train_conv_filters": 64,  # the paper's conv tail
        "train_learning_rate": 5e-4,  # 03: a 60-epoch budget; the paper's 2e-4 learns slowly in short runs
        "train_lr_schedule": "warmup-cosine",
        "train_epochs": 40,  # 03: 170,240 samples (4,256 training slices), ≈ 40 s at 4,347 samples/s
        "train_batch_size": 32,  # 03, 05 (inference batch)
        "train_dc_phase": True,  # 03, 06: as cpu (measured there, not on a GPU)
        "train_pipeline": "device",  # 03, 06: crops, masks and FFT in the compiled step (numpy fed the GPU 7-15 %)
        "train_distribution": "none",  # 03, 06: one GPU (the edition's lease has one); greenberg-201m needs ≈ 3.2 GB with Adam
        "weights_units_shown": 4,  # 04
        "results_examples": 4,  # 05
        # ---- chapters 06-07 (undersampling, architecture study) ----
        "undersampling_groups": [[1, 4, 8]],  # 06: one U-Net and one AUTOMAP for all accelerations (budget)
        "automap_init": "chapter03",  # 06: fine-tune chapter 03's model on masked k-space
        "automap_epochs": 4,  # 06: 17,024 samples of fine-tuning on 4×/8× masks
        "automap_learning_rate": 2e-4,
        "automap_lr_schedule": "cosine",
        "unet_chans": 32,  # fastMRI's U-Net
        "unet_residual": True,  # 06: as cpu
        "unet_epochs": 4,
        "unet_batch_size": 32,
        "automap_batch_size": 32,
        "tv_lambdas": [1e-3, 3e-3, 1e-2],
        "tv_iterations": 100,
        "tv_val_volumes": 1,  # 06: λ tuned on 1 val volume (32 slices; TV runs on the CPU)
        "study_size": 64,  # 07
        "study_variants": ["greenberg", "original", "fullconv"],  # 07: the paper's question, FC layers or none (budget)
        "study_accelerations": [1],  # 07: the paper's task only (budget)
        "study_epochs": 4,  # 07: 17,024 samples per run, 6 runs
        "study_learning_rate": 1e-3,
        "study_lr_schedule": "warmup-cosine",
        "study_batch_size": 32,
        "study_conv_filters": 64,
        "study_dc_phase": True,  # 07: as chapter 03
        "study_pipeline": "device",  # 07: as chapter 03
        # ---- chapters 08-09 (stability, transfer) ----
        "stability_slices": 3,  # 08: TV (CPU) is most of its time
        "stability_budgets": [0.005, 0.01, 0.02, 0.05],
        "stability_steps": 50,
        "stability_step_size": 0.2,
        "stability_momentum": 0.9,  # Antun et al.
        "transfer_train_crops": 256,  # 09: 1,024 samples per mode; 2.4-GB checkpoints dominate
        "transfer_val_crops": 64,
        "transfer_test_crops": 64,
        "transfer_modes": ["all", "conv_tail", "dense", "scratch"],
        "transfer_epochs": 4,
        "transfer_batch_size": 32,
        "transfer_learning_rate": 5e-4,
        "transfer_lr_schedule": "warmup-cosine",
        # ---- chapter 10 (dAUTOMAP) ----
        "dautomap_automap_variant": "greenberg-201m",  # 10: the paper's model at 128², as chapter 03
        "dautomap_conv_filters": 64,  # the paper's conv tail
        "dautomap_epochs": 4,  # 10: 17,024 samples per model at 128²
        "dautomap_batch_size": 32,
        "dautomap_validate_every": 1,
        "dautomap_large_size": 128,  # 10: the compact sample data serve n ≤ 128 (256² needs full files: see DEPARTURES)
        "dautomap_large_epochs": 4
    },
    "paper": {
        **_SHARED,
        "size": 128,
        # ---- chapters 03-05 (AUTOMAP) ----
        "train_variant": "greenberg-201m",  # 03: the paper's model, 201,454,337 parameters at 128²
        "train_conv_filters": 64,  # the paper's conv tail
        "train_epochs": 300,  # the paper: 300 epochs, batch 32, Adam 2e-4
        "train_batch_size": 32,  # 03, 05 (inference batch)
        # 03, 06: greenberg-201m at 128² fits one GPU (automap-nb plan); original at 256² (≈ 206 GB with Adam) needs
        # -p train_distribution model -p train_model_shards 8 on 8 GPUs (README, "Training on many devices")
        "train_distribution": "none",
        "train_model_shards": 1,
        "weights_units_shown": 4,  # 04
        "results_examples": 4,  # 05
        # ---- chapters 06-07 (undersampling, architecture study) ----
        "undersampling_groups": [[1], [4, 8]],  # 06: a 1× model, and a 4×/8× model as fastMRI's baseline
        "automap_init": "scratch",  # 06: AUTOMAP trained from random weights, as the paper's
        "automap_epochs": 100,
        "automap_learning_rate": 2e-4,  # the paper's
        "automap_lr_schedule": "cosine",
        "unet_chans": 32,  # fastMRI's U-Net
        "unet_residual": False,
        "unet_epochs": 50,
        "unet_batch_size": 32,
        "automap_batch_size": 32,
        "tv_lambdas": [1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 3e-2],
        "tv_iterations": 200,  # fastMRI's BART baseline: 200 iterations
        "tv_val_volumes": 8,  # 06: λ tuned on 8 val volumes (TV runs on the CPU)
        "study_size": 64,  # 07
        "study_epochs": 50,
        "study_learning_rate": 2e-4,
        "study_lr_schedule": "cosine",
        "study_batch_size": 32,
        "study_conv_filters": 64,
        # ---- chapters 08-09 (stability, transfer) ----
        "stability_slices": 8,  # 08
        "stability_budgets": [0.0025, 0.005, 0.01, 0.02, 0.05],
        "stability_steps": 100,
        "stability_step_size": 0.2,
        "stability_momentum": 0.9,  # Antun et al.
        "transfer_train_crops": 2048,  # 09
        "transfer_val_crops": 128,
        "transfer_test_crops": 128,
        "transfer_modes": ["all", "conv_tail", "dense", "scratch"],
        "transfer_epochs": 30,
        "transfer_batch_size": 32,
        "transfer_learning_rate": 2e-4,
        "transfer_lr_schedule": "cosine",
        # ---- chapter 10 (dAUTOMAP; the dAUTOMAP authors' model, the paper's training recipe) ----
        "dautomap_automap_variant": "greenberg-201m",  # 10: the paper's model at 128²
        "dautomap_conv_filters": 64,  # the paper's conv tail
        "dautomap_epochs": 300,  # the paper's recipe: 300 epochs, batch 32, Adam 2e-4
        "dautomap_batch_size": 32,
        "dautomap_learning_rate": 2e-4,
        "dautomap_lr_schedule": "cosine",
        "dautomap_dc_phase": False,  # as the paper's AUTOMAP
        "dautomap_validate_every": 1,
        "dautomap_large_size": 256,  # 10: the authors' largest grid
        "dautomap_large_epochs": 300
    }
}

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

# ---- departures from the paper -----------------------------------------------------------------

#: Why a profile may set a parameter differently from ``paper`` (the paper's settings), and what that
#: costs. Every key on which ``cpu`` differs from ``paper`` has an entry (a test checks it); the
#: chapters glue :func:`departures` of their own parameter values, so the table shows what ran.
DEPARTURES: dict[str, tuple[str, str]] = {
    "size": ("a 128² greenberg-201m is far too slow to train on a few CPU cores",
             "4× fewer pixels, less detail; PSNR values are not comparable with 128² ones"),
    "train_variant": ("greenberg-201m exists at 128² only; `greenberg` keeps its width ratios (2n² → n²/4 → n²) at any n",
                      "none in design; fewer parameters because n is smaller"),
    "train_conv_filters": ("the 5×5 64→64 convolution is almost all of the arithmetic at small n; a narrower tail "
                           "sees several times more samples per second (benchmarks/learning.md)",
                           "a conv tail with less capacity to refine the image (PSNR at equal samples: "
                           "benchmarks/learning.md)"),
    "train_epochs": ("the wall-clock budget of the whole book on 2 CPU cores",
                     "the cpu profile sees 81,920 samples instead of the paper's ≈ 15.4 million; more helps: the same "
                     "schedule over 800 epochs scored 26.53 dB on validation against 640's 26.03 (seed 0, "
                     "benchmarks/learning.md, on the earlier 16-volume sample data)"),
    "train_batch_size": ("each optimizer step updates all 12,595,649 weights of the 64² model (12,588,032 of them in the "
                         "two dense layers) and Adam's state, whatever the batch: a batch of 64 spreads that cost over "
                         "twice the samples, so more samples fit the budget (benchmarks/learning.md, 16 filters, bfloat16, "
                         "2 CPU cores: 278 samples/s at batch 64 against 230 at batch 32, under 1-minute loads of "
                         "1.1-3.2 and 0.6-1.8)",
                         "none measured: at an equal 102,400 samples and lr 1e-3, batch 64 scored 21.98 dB on the test "
                         "split against batch 32's 21.39 (mean of 2 seeds; benchmarks/learning-gpu.md)"),
    "train_learning_rate": ("at the paper's 2e-4 the network is still close to the mean image when the budget ends; of "
                            "5e-4, 7e-4, 1e-3 and 1.4e-3 at 102,400 samples, 7e-4 scored best on validation (23.25 dB "
                            "against 22.59 for 1.4e-3, mean of 2 seeds; test split 22.24 against 21.52; "
                            "benchmarks/learning-gpu.md)", "none measured at this budget; the paper's rate may suit long runs"),
    "train_precision": ("'auto' computes in bfloat16 (weights, optimizer state, loss and L1 penalty stay float32) "
                        "where the CPU has bfloat16 instructions, for more samples per second; elsewhere float32. "
                        "No controlled comparison is recorded: benchmarks/learning.md (64² model, 16 filters, batch 32, "
                        "2 CPU cores) has 230 samples/s in bfloat16 (load 0.6-1.8) and 65-224 in float32 (loads not "
                        "recorded)", "none measured: validation PSNR after 12,800 samples was 20.66 dB against float32's "
                        "20.65 (benchmarks/learning.md, 64² model, 16 filters, batch 32, lr 1e-3)"),
    "train_validate_every": ("validating the 90 validation slices takes more than half as long as an epoch of 2 training "
                             "batches on 2 CPU cores (chapter 03 prints both times for its run): after every epoch it would "
                             "add more than half to the training time",
                             "fewer points on the validation curve (chapter 03 says how many); training is unchanged"),
    "train_dc_phase": ("the scanner leaves each slice with an arbitrary global phase; AUTOMAP outputs one real channel, "
                       "so it must learn a magnitude that ignores that phase. Rotating each k-space so its DC "
                       "coefficient is real (a weightless first layer; the magnitude target does not change) puts "
                       "almost all of the image's energy in the real part (chapter 03 measures how much) and leaves "
                       "a nearly linear task: "
                       "at 102,400 samples (chapter 03's budget then), validation 26.27 dB (mean of 3 seeds) against 23.26 without "
                       "it, test split 24.28 against 22.24 (benchmarks/learning.md, on the earlier 16-volume sample data: "
                       "10 validation and 20 test slices)",
                       "a network that no longer sees the global phase: it cannot be compared weight for weight with "
                       "the paper's, and a perturbation of the DC coefficient also turns the rest of the input"),
    "train_lr_schedule": ("a short linear warm-up lets the higher rate start stably; the paper's schedule is "
                          "a falling curve whose form it does not give", "none measured"),
    "automap_init": ("reuses chapter 03's trained AUTOMAP instead of training a second one from scratch",
                     "AUTOMAP at 4×/8× starts from a network trained on fully sampled k-space"),
    "automap_epochs": ("the wall-clock budget", "AUTOMAP at 4×/8× is fine-tuned briefly, not trained to convergence"),
    "automap_learning_rate": ("the paper's rate learns too slowly for this budget", "none measured"),
    "automap_augment": ("fine-tuning chapter 03's model on the training slices as they are, without the reflection-tiling "
                        "crops: +1.0 dB at 4× and +0.8 dB at 8× on validation over fine-tuning with them (3 seeds, "
                        "benchmarks/learning.md, tune-dc-phase-no-augment)",
                        "the fine-tuning sees only the 130 training slices' own fields of view; longer fine-tuning "
                        "could overfit them"),
    "automap_lr_schedule": ("as chapter 03", "none measured"),
    "unet_chans": ("the wall-clock budget (fastMRI's U-Net has 32)", "a smaller U-Net"),
    "unet_residual": ("the input (the zero-filled image) is added to the output, so a briefly trained U-Net starts from "
                      "zero-filled and learns a correction to it (the plain network's cost at this budget is not measured)",
                      "not fastMRI's exact baseline"),
    "unet_epochs": ("the wall-clock budget", "the U-Net is not trained to convergence"),
    "unet_batch_size": ("smaller batches give more optimizer steps in a short budget", "none measured"),
    "tv_lambdas": ("a shorter λ grid for the budget", "λ is chosen more coarsely"),
    "tv_iterations": ("the wall-clock budget (fastMRI's BART baseline runs 200)", "TV is less converged"),
    "tv_val_volumes": ("the wall-clock budget: TV solves one slice at a time on the CPU for every λ of the grid and "
                       "every acceleration, so λ is tuned on the first few validation volumes (0: all of them, when "
                       "the split is that small)", "λ is chosen on fewer slices than the paper's setting"),
    "undersampling_groups": ("one AUTOMAP and one U-Net for all accelerations saves a training run each",
                             "the 1× model also serves 4× and 8×"),
    "study_size": ("the wall-clock budget", "the study runs at a coarser grid than chapter 03"),
    "study_epochs": ("the wall-clock budget", "short budgets favour variants that learn fast"),
    "study_learning_rate": ("the paper's rate learns too slowly for this budget", "none measured"),
    "study_lr_schedule": ("as chapter 03", "none measured"),
    "study_batch_size": ("smaller batches give more optimizer steps in a short budget", "none measured"),
    "study_conv_filters": ("as chapter 03's conv filters", "as chapter 03's conv filters"),
    "study_dc_phase": ("as chapter 03's `train_dc_phase`: every variant sees k-space with its DC phase removed",
                       "as chapter 03's `train_dc_phase`"),
    "study_variants": ("the wall-clock budget: the three variants that answer the paper's question (two FC designs "
                       "and none)", "the narrower and single-layer FC variants are not studied"),
    "study_accelerations": ("the wall-clock budget: each acceleration is one more training run per variant and seed",
                            "the study answers the paper's fully sampled question only"),
    "study_seeds": ("the wall-clock budget: each seed is one more training run per cell",
                    "fewer seeds give a rougher estimate of the spread"),
    # ---- chapters 08-09 (stability, transfer) ----
    "stability_slices": ("the wall-clock budget: every slice is searched at every budget for every method",
                         "the comparisons are paired over fewer test volumes (one slice each): wider intervals"),
    "stability_budgets": ("the wall-clock budget: one budget fewer", "the curves start at a larger perturbation"),
    "stability_steps": ("the wall-clock budget", "a shorter search finds a weaker worst case (a lower bound either way)"),
    "transfer_train_crops": ("the wall-clock budget", "fewer distinct training images of the new class"),
    "transfer_val_crops": ("the wall-clock budget (validated after every epoch)", "noisier learning curves"),
    "transfer_test_crops": ("the wall-clock budget", "noisier test metrics"),
    "transfer_batch_size": ("smaller batches give more optimizer steps in a short budget", "none measured"),
    "transfer_epochs": ("the wall-clock budget: four runs of the chapter 03 network",
                        "each mode sees a few thousand samples at most: early learning only"),
    "transfer_learning_rate": ("as chapter 03: the paper's rate learns too slowly for this budget", "none measured"),
    "train_pipeline": ("the host-side numpy pipeline kept an H200 7-15 % busy on the greenberg-201m model at 128² "
                       "(2026-11-27); on the device: 4,347 samples/s (benchmarks/gpu-edition-attempts.md)",
                       "none to the method: the same crops, masks and order, float32 rounding of the FFT aside "
                       "(tests/test_pipeline.py)"),
    "study_pipeline": ("as chapter 03's train_pipeline", "none to the method"),
    "transfer_lr_schedule": ("as chapter 03", "none measured"),
    "dautomap_automap_variant": ("as chapter 03's train_variant: greenberg-201m exists at 128² only",
                                 "none in design; fewer parameters because n is smaller"),
    "dautomap_conv_filters": ("as chapter 03's train_conv_filters", "a narrower conv tail for both networks"),
    "dautomap_epochs": ("the wall-clock budget of the whole book on 2 CPU cores",
                        "far from convergence: the comparison is of what equal budgets buy, not of trained networks"),
    "dautomap_learning_rate": ("a short budget: as chapter 07's study, the paper's 2e-4 stays near the mean image in short runs",
                               "not the paper's rate"),
    "dautomap_lr_schedule": ("a short budget: at 128² after 3,072-3,328 samples a decaying rate left dAUTOMAP at or below "
                             "zero-filled at 4×, the constant rate above it (benchmarks/dautomap.md)", "not the paper's schedule"),
    "dautomap_dc_phase": ("as chapter 03's train_dc_phase", "networks that do not see the global phase"),
    "dautomap_validate_every": ("validation costs training time in a short budget", "fewer points on the learning curves"),
    "dautomap_large_size": ("the 2-core budget: 128² is the paper's own grid", "the authors' 256² is left to a GPU"),
    "dautomap_large_epochs": ("the wall-clock budget of the whole book on 2 CPU cores", "far from convergence at the large grid")
}

#: Reasons that differ by profile: they replace :data:`DEPARTURES`' entry for a run of that profile.
# yapf: disable
PROFILE_DEPARTURES: dict[str, dict[str, tuple[str, str]]] = {
    "gpu": {
        "train_epochs": ("the whole book on one H100 within one 15-minute lease (the arithmetic is in profiles.py)",
                         "≈ 170,000 samples seen instead of the paper's ≈ 15.4 million (1.1 %): not converged"),
        "train_learning_rate": ("a 40-epoch budget: on CPU the paper's rate stayed near the mean image in short runs "
                                "(benchmarks/learning.md)",
                                "not measured on a GPU"),
        "automap_epochs": ("the 15-minute budget", "AUTOMAP at 4×/8× is fine-tuned briefly, not trained to convergence"),
        "unet_residual": ("as cpu: a briefly trained U-Net starts from its zero-filled input (not measured on a GPU)",
                          "not fastMRI's exact baseline"),
        "unet_epochs": ("the 15-minute budget", "the U-Net is not trained to convergence"),
        "tv_val_volumes": ("TV runs on the CPU: 1 val volume (32 slices) tunes λ within the budget", "λ is tuned on fewer slices"),
        "study_epochs": ("the 15-minute budget: 6 runs of 4 epochs", "short budgets favour variants that learn fast"),
        "dautomap_epochs": ("the 15-minute budget: 3 runs of 4 epochs at 128²", "far from convergence"),
        "dautomap_large_epochs": ("the 15-minute budget", "far from convergence"),
        "dautomap_large_size": ("the GPU edition's compact sample data keep only the k-space that n ≤ 128 needs; dAUTOMAP at "
                                "256² (the paper profile) needs full-size files (automap-nb sample-data without --compact, "
                                "≈ 11 GB)", "the larger grid repeats the edition's 128²; 256² is not shown"),
        "train_dc_phase": ("as the cpu profile: a slice's global phase carries nothing its magnitude target needs; "
                           "measured on 2 CPU cores at 64² (benchmarks/learning.md), not yet on a GPU at 128²",
                           "a network that no longer sees the global phase: it cannot be compared weight for weight with "
                           "the paper's"),
    },
}
# yapf: enable

#: The environment variable through which ``automap-nb run`` tells the kernels which profile runs.
PROFILE_ENV = "AUTOMAP_NB_PROFILE"


def departures(values: dict, reference: str = "paper", profile: str | None = None) -> list[dict]:
    """Rows ``{parameter, the paper's setting, this run, why, cost}`` for every key of ``values``
    (a chapter's parameters as it ran) whose value differs from profile ``reference``.

    Keys that ``reference`` does not set (paths, the profile name) are skipped. A differing key
    with no :data:`DEPARTURES` entry gets "(not documented)" so that a gap is visible, not hidden.
    ``profile`` (default: the ``AUTOMAP_NB_PROFILE`` environment variable that ``automap-nb run``
    sets) picks that profile's own reasons from :data:`PROFILE_DEPARTURES` where it has them.
    """
    import os

    paper = PROFILES[reference]
    profile = profile if profile is not None else os.environ.get(PROFILE_ENV, "")
    reasons = {**DEPARTURES, **PROFILE_DEPARTURES.get(profile, {})}
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
