#!/usr/bin/env bash
# The accelerator check of issue 14, prepared as one command for a GPU machine (the `device` tool):
#   bash benchmarks/accelerator/fetch.sh     # here, once: .device_kit/ (wheels, tokenizer)
#   device run: command "bash benchmarks/accelerator/run.sh", carry [".device_kit"], timeout_s 540
# It installs the carried wheels beside the image's JAX, puts site/ first on PYTHONPATH (TensorFlow
# stand-ins, see site/sitecustomize.py), prints the versions, then runs, each under its own time limit
# and each logged to $OUT/<name>.log:
#   train_bf16   train_step.py, gemma3-1b-random in bfloat16, full fine-tuning, BATCHxLENGTH rows,
#                full logits (the MFU target: >= 40%; "of matmul" is against a bf16 matmul timed in the run)
#   train_mixed  the same with float32 params and bfloat16 compute (train.compute_dtype)
#   scoring      scoring.py (the shared-context cache and continuation-only logits, both sides)
#   sampling     sampling.py (decoding after a shared context against gemma's loop)
# Its parts' limits (150 + 150 + 90 + 90 s) fit the device call's 540 s with the install and start-up.
# It exits 1 if any part failed (124: its time ran out), after running the rest.
# MODEL, BATCH, LENGTH, STEPS, LIMIT (seconds, every part) and PYTHON override the defaults. How it was
# checked on CPU: benchmarks/README.md, "Accelerator"; tests/test_accelerator_kit.py tests the stand-ins.
set -uo pipefail
cd "$(dirname "$0")/../.." || exit 2
read -r -a PY <<< "${PYTHON:-python3}"
MODEL="${MODEL:-gemma3-1b-random}" BATCH="${BATCH:-16}" LENGTH="${LENGTH:-1024}" STEPS="${STEPS:-5}"
LIMIT="${LIMIT:-}" OUT="${OUT:-$(mktemp -d)}" SITE="${SITE:-/tmp/accelerator_site}"
mkdir -p "$OUT" || exit 2
failed=()
TOKENIZER=.device_kit/tokenizer.model
if [ ! -f "$TOKENIZER" ] || ! ls .device_kit/wheels/*.whl > /dev/null 2>&1; then
  echo "run.sh: .device_kit/ is missing or incomplete: run benchmarks/accelerator/fetch.sh here and carry .device_kit." >&2
  exit 2
fi
"${PIP_PYTHON:-${PY[0]}}" -m pip install --quiet --no-index --no-deps --no-compile --no-cache-dir --upgrade --target "$SITE" \
  .device_kit/wheels/*.whl || exit 1
export PYTHONPATH="$PWD/benchmarks/accelerator/site:$SITE:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1

part() {  # part NAME SECONDS SCRIPT ARGS...: one benchmark under its time limit, logged; a failure stops nothing.
  local name=$1 limit=${LIMIT:-$2}; shift 2
  echo "== $name: $*"
  timeout -k 10 "$limit" "${PY[@]}" "$@" --tokenizer="$TOKENIZER" > "$OUT/$name.log" 2>&1
  local status=$?
  [ "$status" -eq 0 ] || failed+=("$name (exit $status)")
  grep -v "^I0000\|^WARNING: All log" "$OUT/$name.log" | tail -n 25
  echo "== $name: exit $status"
}

{ nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv 2>/dev/null || echo "no nvidia-smi"
  "${PY[@]}" -c "
import jax, flax, optax, orbax.checkpoint, numpy, gemma, kauldron
print('jax', jax.__version__, jax.devices(), '| flax', flax.__version__, '| optax', optax.__version__,
      '| orbax', orbax.checkpoint.__version__, '| numpy', numpy.__version__, '| gemma', gemma.__version__)"
} 2>&1 | tee "$OUT/versions.txt"
rows=(--model="$MODEL" --batch="$BATCH" --length="$LENGTH" --steps="$STEPS" --variants=full --chunk=0)
part train_bf16 150 benchmarks/train_step.py "${rows[@]}" --dtype=bfloat16
part train_mixed 150 benchmarks/train_step.py "${rows[@]}" --dtype=float32 --compute_dtypes=bfloat16
part scoring 90 benchmarks/scoring.py --model="$MODEL" ${SCORING_ARGS:-}
part sampling 90 benchmarks/sampling.py --model="$MODEL" --dtype=bfloat16 ${SAMPLING_ARGS:-}
echo "logs in $OUT"
if [ ${#failed[@]} -gt 0 ]; then echo "failed: ${failed[*]}"; exit 1; fi
