#!/usr/bin/env bash
# The GPU edition of the book (issue 13), as one script for a lent GPU machine (NVIDIA H100/H200 with
# JAX, h5py, numpy, scipy, scikit-image and matplotlib, but no TensorFlow, no Keras and no network).
#
# Here, once: the wheels of benchmarks/gpu.sh (keras, namex, optree) in .whl/ (git ignores it), plus
# those of the packages the runner and the kernels import that the machine's image lacks (KINDS.md's
# list, 2026-11): papermill, nbclient, nbformat, jupyter-client, jupyter-core, ipykernel, ipython and
# its needs (traitlets, comm, debugpy, pyzmq, tornado, nest-asyncio2, jedi, parso, ipython-pygments-lexers,
# matplotlib-inline, pexpect, ptyprocess, prompt-toolkit, wcwidth, stack-data, asttokens, executing,
# pure-eval), myst-nb (only its glue is imported; it needs docutils), fastjsonschema, jsonschema,
# jsonschema-specifications, referencing, rpds-py, entrypoints, tenacity, platformdirs, nilearn, nibabel,
# sigpy and pywavelets (chapter 06's TV): cp312 manylinux or pure wheels at constraints.txt's versions.
# `python3 benchmarks/check_wheels.py --download` fetches the missing ones; without --download it lists
# .whl/ and fails in one line if one is missing. Ready here (2026-11-26): 42 wheels, 36.2 MiB (tracked
# files 1.2 MiB; a device call carries at most 64 MiB). The device call, all of it in one run:
#   run(command='BUDGET_S=570 bash benchmarks/gpu_edition.sh "$OUT/gpu-edition"', carry=['.whl'], timeout_s=600)
# There (carry .whl), in one command of at most 600 s, or in two on the same warm machine:
#   bash benchmarks/gpu_edition.sh "$OUT/gpu-edition"        # everything
#   bash benchmarks/gpu_edition.sh "$OUT/gpu-edition" 1      # wheels, data, chapters 01-03
#   bash benchmarks/gpu_edition.sh "$OUT/gpu-edition" 2      # chapters 04-end, then the kept run
# It installs the wheels into $SITE, builds the gpu profile's sample data (150 × 32 compact slices, one
# process per CPU) into data/sample-gpu, runs `automap-nb run --profile gpu` under KERAS_BACKEND=jax
# into runs/gpu, and writes into OUT_DIR: log.txt (all output), env.txt (nvidia-smi, versions),
# timings.json (seconds per step and per chapter) and gpu-edition.tar.gz: the executed notebooks,
# their JSON, run.json and the sample data's manifest (the kept run; at most 10 MB of notebooks, checked).
# Here, afterwards (the book builds offline from the kept run, on any machine):
#   mkdir -p editions/gpu && tar xzf gpu-edition.tar.gz -C editions/gpu
#   .venv/bin/automap-nb book --run editions/gpu --build-dir _build/gpu
#
# BUDGET_S=N interrupts the chapters N s after the script started (SIGINT: run.json marks the notebook in
# flight "interrupted"), packs what finished and exits 124, so that a lease's one command always brings
# back the executed notebooks and the timings, even when the sizes were planned too large.
# SMOKE=1 checks the script on a CPU at a tiny size (tests/test_gpu_edition.py):
#   SMOKE=1 PYTHON=.venv/bin/python WHEELS= bash benchmarks/gpu_edition.sh /tmp/gpu-edition-smoke
set -uo pipefail
cd "$(dirname "$0")/.."
OUT_DIR=${1:-}
PART=${2:-all}
if [ -z "$OUT_DIR" ]; then echo "[gpu_edition.sh] error: OUT_DIR (first argument) is required"; exit 2; fi
case "$PART" in all|1|2) ;; *) echo "[gpu_edition.sh] error: PART (second argument) must be all, 1 or 2, got '$PART'"; exit 2;; esac
PYTHON=${PYTHON:-python3}
WHEELS=${WHEELS-.whl}
SITE=${SITE:-/tmp/automap-nb-site}
RUN=${RUN:-runs/gpu}
DATA=${DATA:-data/sample-gpu}
MAX_NOTEBOOK_BYTES=${MAX_NOTEBOOK_BYTES:-10000000}
mkdir -p "$OUT_DIR" || exit 2
exec > >(tee -a "$OUT_DIR/log.txt") 2>&1
echo "[gpu_edition.sh] $(date -u +%FT%TZ) out=$OUT_DIR part=$PART python=$PYTHON wheels=${WHEELS:-none} smoke=${SMOKE:-0}"

if [ -n "$WHEELS" ]; then
    "$PYTHON" benchmarks/check_wheels.py --dir "$WHEELS" > /dev/null || exit 1  # one line if a wheel is missing
    "$PYTHON" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade \
        --target "$SITE" "$WHEELS"/*.whl || { echo "[gpu_edition.sh] wheel install failed"; exit 1; }
    export PYTHONPATH="$SITE${PYTHONPATH:+:$PYTHONPATH}"
    "$PYTHON" benchmarks/check_wheels.py --installed --dir "$WHEELS" || echo "[gpu_edition.sh] warning: see above"
fi
# No preallocation: the runner, papermill's kernels and chapter 06's TV workers are separate processes, and
# JAX's default (75 % of the GPU's memory to the first process that touches it) would starve the next one.
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}" KERAS_BACKEND=${KERAS_BACKEND:-jax} PYTHONUNBUFFERED=1 \
    TF_CPP_MIN_LOG_LEVEL=3 XLA_PYTHON_CLIENT_PREALLOCATE=false
{
    command -v nvidia-smi >/dev/null && nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
    echo "cpus $(nproc)"
    "$PYTHON" -c "import sys, keras, numpy, papermill; b = keras.backend.backend(); \
m = __import__(b); print('python', sys.version.split()[0], 'keras', keras.__version__, b, m.__version__, \
'numpy', numpy.__version__, 'papermill', papermill.__version__)"
} > "$OUT_DIR/env.txt" 2>&1 || { cat "$OUT_DIR/env.txt"; echo "[gpu_edition.sh] Keras/papermill do not import"; exit 1; }
cat "$OUT_DIR/env.txt"
if command -v nvidia-smi >/dev/null; then  # GPU load and memory every 5 s: is the GPU fed, how full is it
    nvidia-smi --query-gpu=timestamp,utilization.gpu,memory.used --format=csv -l 5 > "$OUT_DIR/gpu-usage.csv" 2>&1 &
fi

CLI=("$PYTHON" -m automap_nb)
if [ "${SMOKE:-0}" = 1 ]; then  # the same steps at a tiny size: 5 × 2 compact slices, 16², chapters 01-02
    SAMPLE=(--volumes 5 --slices 2)
    FIRST=(01 02) SECOND=() SIZE=(-p size 16)
else
    SAMPLE=(--volumes 150 --slices 32)   # profiles.SAMPLE_DATA["gpu"]
    FIRST=(01 02 03) SECOND=() SIZE=()
    for nb in notebooks/[0-9][0-9]_*.ipynb; do
        n=$(basename "$nb"); n=${n:0:2}
        case " ${FIRST[*]} " in *" $n "*) ;; *) SECOND+=("$n");; esac
    done
fi

CUT=0  # 1 once BUDGET_S has cut a step short
step() {  # step NAME COMMAND...: run, time, stop the script on failure; with BUDGET_S, interrupt at the deadline
    local name=$1; shift
    local start=$SECONDS status
    if [ $CUT = 1 ]; then echo "[gpu_edition.sh] $name skipped: past BUDGET_S"; return 0; fi
    echo "[gpu_edition.sh] $(date -u +%T) $name: $*"
    if [ "${BUDGET_S:-0}" -gt 0 ]; then
        local left=$((BUDGET_S - SECONDS))
        if [ $left -le 0 ]; then left=1; fi
        # SIGINT first: the runner records the notebook in flight as "interrupted" in run.json
        timeout --signal=INT --kill-after=15 "$left" "$@"; status=$?
    else
        "$@"; status=$?
    fi
    echo "{\"step\": \"$name\", \"seconds\": $((SECONDS - start)), \"status\": $status}" >> "$OUT_DIR/steps.jsonl"
    if [ $status -eq 124 ] && [ "${BUDGET_S:-0}" -gt 0 ]; then
        echo "[gpu_edition.sh] $name cut short at BUDGET_S=$BUDGET_S s: packing what finished"; CUT=1; return 0
    fi
    if [ $status -ne 0 ]; then echo "[gpu_edition.sh] $name FAILED (exit $status)"; exit $status; fi
}

if [ "$PART" != 2 ]; then
    step data "${CLI[@]}" sample-data --out "$DATA" "${SAMPLE[@]}" --compact --workers "$(nproc)" --quiet
    step "chapters $(IFS=,; echo "${FIRST[*]}")" "${CLI[@]}" run --profile gpu --data-dir "$DATA" --out "$RUN" \
        --only "${FIRST[@]}" "${SIZE[@]}" --quiet
fi
if [ "$PART" != 1 ] && [ ${#SECOND[@]} -gt 0 ] && [ $CUT = 0 ]; then
    step "chapters $(IFS=,; echo "${SECOND[*]}")" "${CLI[@]}" run --profile gpu --out "$RUN" --only "${SECOND[@]}" --quiet
fi
if [ "$PART" = 1 ]; then echo "[gpu_edition.sh] part 1 done in ${SECONDS}s"; exit $((CUT ? 124 : 0)); fi

# The kept run: notebooks, their JSON, run.json and the data's manifest, packed as one file.
if ! ls "$RUN"/[0-9][0-9]_*.ipynb > /dev/null 2>&1; then
    echo "[gpu_edition.sh] no chapter finished before BUDGET_S=${BUDGET_S:-0} s: nothing to pack"; exit 124
fi
stage=$(mktemp -d) || exit 1
trap 'rm -rf "$stage"' EXIT
cp "$RUN"/[0-9][0-9]_*.ipynb "$RUN"/run.json "$stage"/ || exit 1
records=("$RUN"/[0-9][0-9]_*.json)  # none when chapter 01 was cut short
if [ -e "${records[0]}" ]; then cp "${records[@]}" "$stage"/ || exit 1; fi
cp "$DATA"/SAMPLE_DATA.json "$stage"/ || exit 1
bytes=$(cat "$stage"/*.ipynb | wc -c)
"$PYTHON" - "$RUN/run.json" "$OUT_DIR/steps.jsonl" "$bytes" > "$OUT_DIR/timings.json" <<'EOF' || exit 1
import json, sys
record = json.load(open(sys.argv[1]))
steps = [json.loads(line) for line in open(sys.argv[2])]
print(json.dumps({"profile": record["profile"], "started": record["started"], "steps": steps,
                  "chapters": {name: {"seconds": entry["seconds"], "status": entry["status"]}
                               for name, entry in record["notebooks"].items()},
                  "notebook_bytes": int(sys.argv[3])}, indent=1))
EOF
tar czf "$OUT_DIR/gpu-edition.tar.gz.tmp" -C "$stage" . && mv "$OUT_DIR/gpu-edition.tar.gz.tmp" "$OUT_DIR/gpu-edition.tar.gz" || exit 1
cat "$OUT_DIR/timings.json"
if [ "$bytes" -gt "$MAX_NOTEBOOK_BYTES" ]; then
    echo "[gpu_edition.sh] executed notebooks are $bytes bytes, over MAX_NOTEBOOK_BYTES=$MAX_NOTEBOOK_BYTES"; exit 3
fi
if [ $CUT = 1 ]; then
    echo "[gpu_edition.sh] $(date -u +%T) cut short at BUDGET_S=$BUDGET_S s after ${SECONDS}s: run.json says which notebooks finished"
    exit 124
fi
echo "[gpu_edition.sh] $(date -u +%T) done in ${SECONDS}s: $OUT_DIR/gpu-edition.tar.gz ($bytes bytes of notebooks)"
