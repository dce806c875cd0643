"""The export job on two processes (CPU, gloo, localhost) writes what one process writes.

The tiny model is fine-tuned a few steps in this process; the export job then restores the
checkpoint sharded over every device (fsdp over 2 processes x 4 devices, so each process holds
only part of the params), gathers the params, and process 0 writes the folder while process 1
waits for it. The files must be byte-identical to a one-process export of the same run.
"""

from __future__ import annotations

import json
import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import portpicker
import pytest
from safetensors.numpy import load_file

from configs import export as export_config
from icl_ft_jax import main
from icl_ft_jax.model import hf_gemma3

from tests.train import helpers

ROOT = pathlib.Path(__file__).resolve().parents[1]
HOLDS = re.compile(r"this process holds ([\d.]+) of ([\d.]+) MB")


def _env(devices: int) -> dict:
  return {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}", "JAX_PLATFORMS": "cpu"}


def _two_processes(command, timeout: float = 300) -> list[str]:
  """Runs `command(coordinator address, process id)` as two processes of 4 CPU devices each; returns their
  outputs once both exited with status 0 (both are killed if they take over `timeout` seconds)."""
  address = f"localhost:{portpicker.pick_unused_port()}"
  processes = [subprocess.Popen(command(address, i), cwd=ROOT, env=_env(4),
                                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
               for i in range(2)]
  try:
    outputs = [p.communicate(timeout=timeout)[0] for p in processes]
  finally:
    for p in processes:
      if p.poll() is None:
        p.kill()
  for p, out in zip(processes, outputs):
    assert p.returncode == 0, out[-3000:]
  return outputs


def _outcome(output: str) -> dict:
  """The script's JSON line (a log line of the C++ runtime may follow it on the same line)."""
  return json.JSONDecoder().raw_decode([line for line in output.splitlines() if line.startswith('{"')][-1])[0]


@pytest.mark.slow  # A fine-tuning compile, then three exports (two processes in parallel).
def test_two_processes_export_the_bytes_one_process_exports(tiny_model, one_device_mesh, tmp_path):
  result = helpers.finetune_run(tiny_model, one_device_mesh, tmp_path / "ft", steps=2)
  single = main.run(export_config.get_config(str(tmp_path / "ft")), str(tmp_path / "single")) / "model"
  outputs = _two_processes(lambda address, i: [
      sys.executable, "-m", "icl_ft_jax.main", f"--config=configs/export.py:{tmp_path / 'ft'}",
      f"--workdir={tmp_path / 'multi'}", "--distributed", f"--coordinator_address={address}", "--num_processes=2",
      f"--process_id={i}"])
  multi = tmp_path / "multi" / "model"

  # Each process's devices held part of the params, not all of them (the embedding is split over fsdp).
  for out in outputs:
    held, total = map(float, HOLDS.search(out).groups())
    assert 0 < held < total, out[-3000:]
  assert "process 1 of 2" in outputs[1] and "Model (step 2)" in outputs[0] and "Model (step" not in outputs[1]

  files = sorted(p.name for p in single.iterdir())
  assert hf_gemma3.WEIGHTS in files and hf_gemma3.CONFIG in files and hf_gemma3.TOKENIZER in files
  assert sorted(p.name for p in multi.iterdir()) == files
  for name in files:
    assert (multi / name).read_bytes() == (single / name).read_bytes(), name
  # And the bytes are the fine-tuned model's (not, say, the base model's twice).
  weights = load_file(str(multi / hf_gemma3.WEIGHTS))
  np.testing.assert_array_equal(weights["model.embed_tokens.weight"],
                                np.asarray(result.params["embedder"]["input_embedding"]))
  assert np.abs(weights["model.embed_tokens.weight"]
                - np.asarray(tiny_model.params["embedder"]["input_embedding"])).max() > 0


@pytest.mark.slow  # Two processes starting JAX.
def test_the_others_wait_for_process_0s_write_and_hear_when_it_fails():
  script = lambda mode: lambda address, i: [sys.executable, str(ROOT / "tests" / "multihost_primary_writes.py"),
                                            mode, address, "2", str(i)]
  primary, other = map(_outcome, _two_processes(script("ok")))
  assert primary["returned"] == "written" and other["returned"] is None
  assert other["left"] >= primary["written"]  # Process 1 left only once process 0 had written.
  primary, other = map(_outcome, _two_processes(script("fail")))
  assert primary["raised"] == "OSError: the disk is on fire"
  assert other["raised"] == "UserError: Process 0 failed while writing the test's files; its own output says why."
  assert other["left"] >= primary["written"]
