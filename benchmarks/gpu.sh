#!/usr/bin/env bash
# The GPU benchmark of issue 8, as one script for a lent GPU machine (NVIDIA H100/H200 with JAX,
# PyTorch, h5py and numpy, but no TensorFlow, no Keras and no network).
#
# Here, once (the wheels stay out of git: /.whl/ is in .git/info/exclude):
#   python3 -m pip download --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
#     --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
#     --platform manylinux2014_x86_64 -d .whl keras==3.15.1 namex==0.1.0 optree==0.20.0
# There (carry .whl):
#   bash benchmarks/gpu.sh "$OUT/gpu"
# It installs the wheels into $SITE, then runs `automap-nb bench` under KERAS_BACKEND=jax for each
# setting below (each in its own process, each with a time limit) and writes everything under one
# folder OUT_DIR (default benchmarks/gpu): log.txt (all output), env.txt (nvidia-smi, versions),
# summary.json (every setting's figures) and summary.md (one table, the device named). Copy the
# last two to benchmarks/gpu-<device>.{json,md}. The per-setting files go to $OUT_DIR/runs/.
#
# SMOKE=1 runs tiny settings instead (for checking the script on a CPU, e.g. with
# PYTHON=.venv/bin/python WHEELS= bash benchmarks/gpu.sh /tmp/gpu-smoke).
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=${1:-benchmarks/gpu}
PYTHON=${PYTHON:-python3}
WHEELS=${WHEELS-.whl}
SITE=${SITE:-/tmp/automap-nb-site}
LIMIT=${LIMIT:-150}   # seconds per setting
TOTAL=${TOTAL:-480}   # no new setting starts after this many seconds (the lease is 15 min, start included)
mkdir -p "$OUT_DIR/runs"
exec > >(tee -a "$OUT_DIR/log.txt") 2>&1
echo "[gpu.sh] $(date -u +%FT%TZ) out=$OUT_DIR python=$PYTHON wheels=${WHEELS:-none} smoke=${SMOKE:-0}"

if [ -n "$WHEELS" ]; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$SITE" "$WHEELS"/*.whl || { echo "[gpu.sh] wheel install failed"; exit 1; }
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" KERAS_BACKEND=jax PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3

{
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    "$PYTHON" -c "import sys, jax, keras, numpy; print('python', sys.version.split()[0], 'jax', jax.__version__, \
'keras', keras.__version__, 'numpy', numpy.__version__, 'devices', jax.devices())"
} > "$OUT_DIR/env.txt" 2>&1 || { cat "$OUT_DIR/env.txt"; echo "[gpu.sh] JAX/Keras do not import"; exit 1; }
cat "$OUT_DIR/env.txt"

if [ "${SMOKE:-0}" = 1 ]; then
    SETTINGS=(
        "smoke-fp32-b8|--variant greenberg --size 16 --batch 8 --steps 4 --warmup 1 --repeats 2"
        "smoke-bf16-b8|--variant greenberg --size 16 --batch 8 --steps 4 --warmup 1 --repeats 2 --precision bf16"
        "smoke-fp32-b8-arrays|--variant greenberg --size 16 --batch 8 --steps 4 --warmup 1 --repeats 2 --data arrays"
    )
else  # the issue's table, most important first (a setting that runs out of time is skipped)
    SETTINGS=(
        "greenberg-201m-fp32-b32|--variant greenberg-201m --batch 32 --steps 48"
        "greenberg-201m-bf16-b32|--variant greenberg-201m --batch 32 --steps 48 --precision bf16"
        "greenberg-201m-bf16-b256-spe8|--variant greenberg-201m --batch 256 --steps 16 --precision bf16 --steps-per-execution 8"
        "greenberg-201m-fp32-b256|--variant greenberg-201m --batch 256 --steps 16"
        "greenberg-201m-fp32-b32-arrays|--variant greenberg-201m --batch 32 --steps 48 --data arrays"
        "original-806m-fp32-b32|--variant original-806m --batch 32 --steps 48"
    )
fi

done_files=()
for setting in "${SETTINGS[@]}"; do
    name=${setting%%|*}
    if [ "$SECONDS" -ge "$TOTAL" ]; then echo "[gpu.sh] $name skipped: ${SECONDS}s >= TOTAL=${TOTAL}s"; continue; fi
    read -r -a args <<< "${setting#*|}"
    echo "[gpu.sh] $(date -u +%T) $name: ${args[*]}"
    timeout "$LIMIT" "$PYTHON" -m automap_nb bench "${args[@]}" --out "$OUT_DIR/runs/$name"
    status=$?
    if [ $status -eq 0 ]; then done_files+=("$OUT_DIR/runs/$name.json"); else echo "[gpu.sh] $name FAILED (exit $status)"; fi
done

if [ ${#done_files[@]} -eq 0 ]; then echo "[gpu.sh] no setting finished"; exit 1; fi
"$PYTHON" -m automap_nb bench --out "$OUT_DIR/summary" \
    --title "AUTOMAP training throughput on one GPU (Keras 3 / JAX)" --summarise "${done_files[@]}"
cat "$OUT_DIR/summary.md"
echo "[gpu.sh] $(date -u +%T) done: ${#done_files[@]} of ${#SETTINGS[@]} settings"
