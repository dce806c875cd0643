"""benchmarks/scaling.py end to end on the tiny model (`--quick`): every table printed, every number finite."""

import math
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]


def tables(output: str) -> dict[str, list[dict[str, str]]]:
  """The github-format tables of the output, by the title line printed above each."""
  found, title, lines = {}, None, output.splitlines()
  for i, line in enumerate(lines):
    if line.startswith("|") and (i == 0 or not lines[i - 1].startswith("|")):
      title = next(t for t in reversed(lines[:i]) if t.strip())
      header = [cell.strip() for cell in line.strip("|").split("|")]
      found[title] = []
    elif line.startswith("|") and not set(line) <= set("|-: "):
      found[title].append(dict(zip(header, (cell.strip() for cell in line.strip("|").split("|")))))
  return found


@pytest.mark.slow
def test_quick_run_prints_ratios_and_slopes():
  env = {**os.environ, "XLA_FLAGS": "", "JAX_PLATFORMS": "cpu"}
  result = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "scaling.py"), "--model=tiny", "--quick",
                           "--repeats=1", "--remat"], capture_output=True, text=True, env=env, check=False,
                          timeout=900)
  assert result.returncode == 0, result.stderr[-3000:]
  found = tables(result.stdout)
  by_prefix = {prefix: rows for title, rows in found.items() for prefix in ("1.", "2.", "3.") if title.startswith(prefix)}
  slopes = [rows for title, rows in found.items() if title.startswith("Slopes")]
  assert set(by_prefix) == {"1.", "2.", "3."} and len(slopes) == 2, result.stdout

  icl, contexts, ft = by_prefix["1."], by_prefix["2."], by_prefix["3."]
  assert [row["scoring"] for row in icl] == ["no context", "ICL, shared context (ours)",
                                             "ICL, gemma's cache copied per row"]
  for row in icl[1:]:
    assert 0 < float(row["scoring / no-context"]) < math.inf
    assert float(row["prefill s"]) > 0 and 0 < int(row["context tokens"]) <= 384
  # Ours hands local layers only their window of the context (8 slots on the tiny model), not every slot.
  assert float(icl[1]["executed GFLOP"]) < float(icl[2]["executed GFLOP"])
  # Contexts of at most 256 and 512 tokens, the longer one costs more model FLOPs in both stages.
  assert len(contexts) == 2 and int(contexts[0]["context tokens"]) < int(contexts[1]["context tokens"]) <= 512
  for column in ("prefill model GFLOP", "scoring model GFLOP"):
    assert float(contexts[0][column]) < float(contexts[1][column])
  assert [(row["variant"], row["length"]) for row in ft] == [
      ("full", "32"), ("full", "64"), ("full, remat_blocks", "32"), ("full, remat_blocks", "64")]
  assert all(float(row["step s"]) > 0 for row in ft)

  icl_slopes, ft_slopes = slopes
  assert [row["growth"] for row in icl_slopes] == ["prefill", "ICL scoring", "prefill, gemma's cache path"]
  # Both contexts are under --gemma_prefill_up_to's default: gemma's cache-path prefill is timed beside ours.
  assert all(float(row["gemma's cache-path prefill s (/ ours)"].split()[0]) > 0 for row in contexts)
  assert [row["growth"] for row in ft_slopes] == ["FT step, full", "FT step, full, remat_blocks"]
  for row in icl_slopes + ft_slopes:
    assert all(math.isfinite(float(row[k])) for k in row if k != "growth"), row
  prefill = icl_slopes[0]
  # A prefill is linear in the context plus quadratic attention: the arithmetic's slope lies between.
  assert 1 < float(prefill["model FLOPs slope"]) < 2
  # The tiny model's local layers (window 8) stop growing: the windowed count grows slower than the model count.
  assert float(prefill["windowed slope"]) < float(prefill["model FLOPs slope"])
