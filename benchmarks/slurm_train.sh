#!/bin/bash
# Chapter 03's training on several hosts: one task per node, every GPU of the node in it.
#   sbatch --nodes=2 benchmarks/slurm_train.sh runs/paper -p train_distribution model -p train_model_shards 8
# RUN (first argument) must hold prepared.h5 on a folder every node sees; the other arguments go to
# `automap-nb train` (README, "Training on many devices"). JAX reads SLURM_NTASKS, SLURM_PROCID and the node
# list itself (automap_nb.distribute.initialize); only process 0 writes RUN/automap.
#SBATCH --job-name=automap-train
#SBATCH --ntasks-per-node=1
#SBATCH --gpus-per-node=8
#SBATCH --time=24:00:00
set -euo pipefail
RUN=${1:?usage: sbatch --nodes=N benchmarks/slurm_train.sh RUN [automap-nb train options]}
shift
cd "${SLURM_SUBMIT_DIR:-.}"
export KERAS_BACKEND=jax
srun .venv/bin/python -m automap_nb train --run "$RUN" --profile "${PROFILE:-paper}" "$@"
