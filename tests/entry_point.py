"""The entry point run as a user runs it, and the shape every refusal must have.

    result = entry_point.run("--config=configs/icl.py:simple_reversals", "--config.nosuch=1")
    entry_point.assert_refused(result, "unknown config key 'nosuch'")
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[1]


def run(*args: str, cwd: str | pathlib.Path | None = None, timeout: float = 300) -> subprocess.CompletedProcess:
  """`python -m icl_ft_jax.main *args` on one CPU device, from `cwd` (default the repository)."""
  env = {**os.environ, "XLA_FLAGS": "", "PYTHONPATH": str(ROOT)}
  return subprocess.run([sys.executable, "-m", "icl_ft_jax.main", *args], cwd=cwd or ROOT, env=env,
                        capture_output=True, text=True, timeout=timeout)


def assert_refused(result: subprocess.CompletedProcess, *needles: str, status: int = 2) -> str:
  """Exit `status`, exactly one line on stderr, starting `error: `, holding every needle; no traceback.

  Returns that line.
  """
  lines = result.stderr.strip().splitlines()
  assert result.returncode == status, result.stderr[-3000:]
  assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr[-3000:]
  assert "Traceback" not in result.stderr
  for needle in needles:
    assert needle in lines[0], lines[0]
  return lines[0]
