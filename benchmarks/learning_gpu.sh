#!/usr/bin/env bash
# benchmarks/learning.py on a lent GPU machine (Keras 3 on JAX there: no TensorFlow), many options at once.
# Here: the keras, namex and optree wheels in .whl/ (benchmarks/gpu.sh says how to fetch them) and the
# cpu profile's prepared file. The device call:
#   run(command='bash benchmarks/learning_gpu.sh "$OUT" --jobs 12 --budget 400 --samples 102400 --seeds 0 1 --only ...',
#       carry=['.whl', 'runs/default/prepared.h5'], timeout_s=600)
# writes OUT_DIR/learning-gpu.{json,md}, env.txt and log.txt. Copy the first two to benchmarks/.
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=${1:?"[learning_gpu.sh] error: OUT_DIR (first argument) is required"}
shift
PYTHON=${PYTHON:-python3}
WHEELS=${WHEELS-.whl}
SITE=${SITE:-/tmp/automap-nb-site}
mkdir -p "$OUT_DIR" || exit 2
if [ -n "$WHEELS" ]; then
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
        "$WHEELS"/keras-*.whl "$WHEELS"/namex-*.whl "$WHEELS"/optree-*.whl || { echo "[learning_gpu.sh] wheel install failed"; exit 1; }
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
fi
# many small processes share the GPU: none takes its memory up front
export KERAS_BACKEND=jax XLA_PYTHON_CLIENT_PREALLOCATE=false PYTHONUNBUFFERED=1 TF_CPP_MIN_LOG_LEVEL=3
{
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    echo "cpus $(nproc)"
    "$PYTHON" -c "import jax, keras; print('keras', keras.__version__, 'jax', jax.__version__, jax.devices())"
} > "$OUT_DIR/env.txt" 2>&1 || { cat "$OUT_DIR/env.txt"; echo "[learning_gpu.sh] Keras on JAX does not import"; exit 1; }
cat "$OUT_DIR/env.txt"
"$PYTHON" benchmarks/learning.py --out "$OUT_DIR/learning-gpu.json" "$@" > "$OUT_DIR/log.txt" 2>&1
status=$?
grep '^\[learning\]\|Error\|error' "$OUT_DIR/log.txt" | tail -80
echo "[learning_gpu.sh] exit $status after ${SECONDS}s"
exit $status
