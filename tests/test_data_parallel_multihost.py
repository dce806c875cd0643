"""Two processes (CPU, gloo, localhost) split every batch between them and sample and score as one does."""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import portpicker
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
SCRIPT = str(ROOT / "tests" / "multihost_batches.py")
MESH = json.dumps({"data": 1, "fsdp": 8})  # The TPU study's layout: the whole batch split over FSDP.


def _env(devices: int) -> dict:
  return {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}", "JAX_PLATFORMS": "cpu"}


def _result(output: str) -> dict:
  return json.loads([line for line in output.splitlines() if line.startswith("{")][-1])


@pytest.mark.slow
def test_two_processes_each_take_half_of_every_batch():
  single = subprocess.run([sys.executable, SCRIPT, MESH], cwd=ROOT, env=_env(8), capture_output=True, text=True,
                          timeout=1800)
  assert single.returncode == 0, single.stderr[-3000:]
  port = portpicker.pick_unused_port()
  processes = [subprocess.Popen([sys.executable, SCRIPT, MESH, f"localhost:{port}", "2", str(i)], cwd=ROOT,
                                env=_env(4), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for i in range(2)]
  outputs = [p.communicate(timeout=1800)[0] for p in processes]
  for p, out in zip(processes, outputs):
    assert p.returncode == 0, out[-3000:]
  want, got = _result(single.stdout), [_result(out) for out in outputs]
  assert want["rows"] == [0, 8] and [g["rows"] for g in got] == [[0, 4], [4, 8]]
  for result in got:
    assert result["read"] == want["read"] == [[8, 8]] * 4  # 2 batches per sampler; no process sent all rows.
    assert result["local"] == want["local"] and result["shared"] == want["shared"]
    np.testing.assert_allclose(result["scores"], want["scores"], atol=1e-5, rtol=0)
    np.testing.assert_allclose(result["icl_scores"], want["icl_scores"], atol=1e-5, rtol=0)
  assert len(want["local"]) == 10 and len({tuple(t) for t in want["local"]}) > 1
