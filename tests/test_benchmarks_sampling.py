"""benchmarks/sampling.py end to end on the tiny model (`--quick`): both samplers agree, every number finite."""

import math
import os
import pathlib
import subprocess
import sys

import pytest

from tests.test_benchmarks_scaling import tables

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_quick_run_times_both_samplers_and_they_agree():
  env = {**os.environ, "XLA_FLAGS": "", "JAX_PLATFORMS": "cpu"}
  result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "sampling.py"), "--model=tiny", "--quick"],
                          capture_output=True, text=True, env=env, check=False, timeout=600)
  assert result.returncode == 0, result.stderr[-3000:]
  (rows,) = tables(result.stdout).values()
  assert [int(row["context tokens"]) for row in rows] == sorted(int(row["context tokens"]) for row in rows)
  assert len(rows) == 2 and all(row["same greedy tokens"] == "yes" for row in rows), rows
  for row in rows:
    for column in ("prefill s", "ours s", "gemma's loop, cache per row s", "ours KV MiB", "per-row copies KV MiB"):
      assert math.isfinite(float(row[column])) and float(row[column]) >= 0, (column, row)
  # Ours holds the context once; the copies grow with rows x context.
  assert float(rows[-1]["ours KV MiB"]) < float(rows[-1]["per-row copies KV MiB"]), rows
