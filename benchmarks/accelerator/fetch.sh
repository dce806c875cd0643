#!/usr/bin/env bash
# Run here, once, before benchmarks/accelerator/run.sh goes to a GPU machine (see benchmarks/README.md,
# "Accelerator"). That machine reaches no package registry and its image has JAX, flax, optax, orbax,
# tensorboard and torch but not the gemma stack, so this puts into .device_kit/ (ignored by git; pass it
# in the device call's `carry`):
#   wheels/          the packages the image lacks that importing our train step, scorer and sampler
#                    needs, at requirements.lock's versions (found by importing them with every other
#                    package the image lacks refused; TensorFlow is left out, see site/sitecustomize.py),
#                    and (second line of PACKAGES) the JAX libraries the image has at versions of its own,
#                    so that there the code runs on the versions it was checked with here, on the image's jax;
#   tokenizer.model  the embedded model's SentencePiece file (random-init models use it; the GGUF it
#                    comes from is too large to carry).
set -euo pipefail
cd "$(dirname "$0")/../.."
PYTHON="${PYTHON:-.venv/bin/python}"
PACKAGES="gemma kauldron clu ml_collections dialog lark immutabledict typeguard mediapy ipython traitlets
grain portpicker array_record tensorflow-datasets
flax optax orbax-checkpoint etils chex jaxtyping treescope einops"

pins=()
for package in $PACKAGES; do
  # requirements.lock writes names as PyPI lists them: compare them lower-cased, with - _ . alike.
  pin=$(awk -F'==' -v want="$package" 'function norm(s) { s = tolower(s); gsub(/[-_.]+/, "-", s); return s }
        norm($1) == norm(want) { print; exit }' requirements.lock)
  [ -n "$pin" ] || { echo "fetch.sh: $package is not in requirements.lock; update PACKAGES." >&2; exit 2; }
  pins+=("$pin")
done
rm -rf .device_kit && mkdir -p .device_kit/wheels
"$PYTHON" -m pip download --quiet --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_27_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d .device_kit/wheels "${pins[@]}"
"$PYTHON" -c "
import shutil
from icl_ft_jax.model import embedded
shutil.copy(embedded.embedded_gemma3_270m().tokenizer_path, '.device_kit/tokenizer.model')"
du -sh .device_kit
ls .device_kit/wheels
