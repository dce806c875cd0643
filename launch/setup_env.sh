#!/usr/bin/env bash
# Sets up ./.venv (Python >= 3.12) with this project installed, pinned by requirements.lock.
#
#   bash launch/setup_env.sh            # the project
#   bash launch/setup_env.sh test       # plus the test tools
#   bash launch/setup_env.sh tpu        # plus jax[tpu] (on a Cloud TPU VM)
#   bash launch/setup_env.sh test,peer  # plus torch, transformers and peft, which tests/test_hf_export*.py compare with (CI)
#
# ICL_FT_JAX_UNLOCKED=1 resolves fresh versions instead of the lock (to refresh it,
# see the README). Safe to run again: an existing .venv is reused.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."
extras="${1:-}"

find_python() {
  local candidates=(python3.12 python3.13 python3)
  if command -v pyenv >/dev/null 2>&1; then
    for v in $(pyenv versions --bare 2>/dev/null | grep -E '^3\.(1[2-9])' || true); do
      candidates+=("$(pyenv root)/versions/$v/bin/python3")
    done
  fi
  for c in "${candidates[@]}"; do
    if command -v "$c" >/dev/null 2>&1 && "$c" -c 'import sys; sys.exit(sys.version_info < (3, 12))' 2>/dev/null; then
      echo "$c"; return 0
    fi
  done
  echo "error: Python >= 3.12 is needed (gemma 4 requires it); install it (e.g. pyenv install 3.12) and rerun." >&2
  return 1
}

# Fail before pip does, with the reason: the `peer` extra alone unpacks to about 5.5 GB (PyPI's torch for
# Linux x86_64 is a CUDA build), and pip needs room for the downloaded wheels beside it.
need_gb=3 installed_check="import jax"
case ",$extras," in *,peer,*) need_gb=12 installed_check="import jax, torch" ;; esac
# A rerun over a venv that already has the heavy packages needs little room.
if [ -x .venv/bin/python ] && .venv/bin/python -c "$installed_check" >/dev/null 2>&1; then need_gb=1; fi
free_gb=$(df -Pk . | awk 'NR==2 {print int($4 / 1048576)}')
if [ "${free_gb:-0}" -lt "$need_gb" ]; then
  echo "error: ${free_gb} GB free on $(df -P . | awk 'NR==2 {print $6}'), and installing '${extras:-the project}' needs about ${need_gb} GB; free some space and rerun." >&2
  exit 1
fi

if [ ! -x .venv/bin/python ]; then
  python="$(find_python)"
  echo "Creating .venv with $("$python" --version)"
  "$python" -m venv .venv
fi
.venv/bin/python -m pip install --quiet --upgrade pip
spec="."
[ -n "$extras" ] && spec=".[$extras]"
if [ "${ICL_FT_JAX_UNLOCKED:-0}" = "1" ]; then
  .venv/bin/python -m pip install --quiet -e "$spec"
else
  .venv/bin/python -m pip install --quiet -c requirements.lock -e "$spec"
fi
echo "Environment ready: .venv ($(.venv/bin/python --version))"
