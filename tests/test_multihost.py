"""Two processes joined by jax.distributed (CPU, gloo, localhost) score exactly as one process does."""

import json
import os
import pathlib
import subprocess
import sys

import jax
import numpy as np
import portpicker
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
ARGS = ["--config=configs/icl.py:simple_reversals", "--config.model.name=tiny",
        "--config.dataset.num_facts=6", "--config.dataset.articles_per_fact=2",
        "--config.scoring.batch_size=8", "--config.scoring.context_batch_size=8"]


def _env(devices: int) -> dict:
  return {**os.environ, "XLA_FLAGS": f"--xla_force_host_platform_device_count={devices}", "JAX_PLATFORMS": "cpu"}


def _run_single_and_distributed(args, tmp_path) -> tuple[pathlib.Path, pathlib.Path, list[str]]:
  """Runs `main` once with 8 local devices, then as 2 processes x 4 devices; returns both workdirs."""
  single = tmp_path / "single"
  subprocess.run([sys.executable, "-m", "icl_ft_jax.main", *args, f"--workdir={single}"], cwd=ROOT,
                 env=_env(8), check=True, capture_output=True, timeout=600)
  multi = tmp_path / "multi"
  port = portpicker.pick_unused_port()
  processes = [
      subprocess.Popen([sys.executable, "-m", "icl_ft_jax.main", *args, f"--workdir={multi}", "--distributed",
                        f"--coordinator_address=localhost:{port}", "--num_processes=2", f"--process_id={i}"],
                       cwd=ROOT, env=_env(4), stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
      for i in range(2)]
  outputs = [p.communicate(timeout=600)[0] for p in processes]
  for p, out in zip(processes, outputs):
    assert p.returncode == 0, out[-3000:]
  return single, multi, outputs


def _results_without_time(workdir: pathlib.Path) -> list[dict]:
  return [{**r, "prorated_scoring_s": 0} for r in json.loads((workdir / "results.json").read_text())]


def _predictions(workdir: pathlib.Path, condition: str) -> dict:
  lines = (workdir / "predictions" / f"{condition}-seed0.jsonl").read_text().splitlines()
  return {row["id"]: row for row in map(json.loads, lines)}


@pytest.mark.slow
def test_two_processes_score_like_one(tmp_path):
  single, multi, outputs = _run_single_and_distributed(ARGS, tmp_path)
  assert "process 1 of 2, 4 local / 8 global devices" in outputs[1]
  for condition in ("pretrained", "icl"):
    want, got = _predictions(single, condition), _predictions(multi, condition)
    assert want.keys() == got.keys() and len(want) == 12
    for key in want:
      np.testing.assert_allclose(got[key]["logprobs"], want[key]["logprobs"], atol=1e-5, rtol=0)
  assert _results_without_time(multi) == _results_without_time(single)


FT_ARGS = ["--config=configs/finetune.py:simple_reversals", "--config.model.name=tiny",
           "--config.dataset.num_facts=6", "--config.dataset.articles_per_fact=2", "--config.train.steps=3",
           "--config.train.log_every_steps=1", "--config.checkpoint.every_steps=2", "--config.data.batch_size=8",
           "--config.scoring.batch_size=8"]


@pytest.mark.slow
def test_two_processes_train_like_one(tmp_path):
  single, multi, _ = _run_single_and_distributed(FT_ARGS, tmp_path)
  losses = lambda path: [row["loss"] for row in map(json.loads, (path / "train_log.jsonl").read_text().splitlines())
                         if "loss" in row]
  assert len(losses(single)) == 3
  np.testing.assert_allclose(losses(multi), losses(single), rtol=1e-5)
  assert _results_without_time(multi) == _results_without_time(single)
  # The checkpoints the two processes wrote together read back as the one process's params.
  from icl_ft_jax.train import finetuned  # pylint: disable=g-import-not-at-top

  want, got = finetuned.load(single), finetuned.load(multi)
  assert want.step == got.step == 3
  jax.tree.map(lambda g, w: np.testing.assert_allclose(g, w, rtol=1e-5, atol=1e-7), got.params, want.params)
  moved = jax.tree.map(lambda w, base: np.abs(w - np.asarray(base)).max(), want.params, want.loaded.params)
  assert max(jax.tree.leaves(moved)) > 0  # Training changed them: the comparison is not of two base models.


EXPERIMENT_ARGS = ["--config=configs/experiment.py:simple_reversals", "--config.model.name=tiny",
                   "--config.conditions=pretrained,icl,ft,ft+oracle,ft+local", "--config.dataset.num_facts=4",
                   "--config.dataset.articles_per_fact=2", "--config.train.steps=2", "--config.checkpoint.every_steps=1",
                   "--config.scoring.batch_size=8", "--config.scoring.context_batch_size=8",
                   "--config.augment.max_targets=2", "--config.augment.max_new_tokens=8",
                   "--config.augment.samples_per_input=1"]


@pytest.mark.slow
def test_two_processes_run_the_experiment_like_one(tmp_path):
  """Every stage, local augmentation (gemma's sampler) included, on two hosts."""
  single, multi, _ = _run_single_and_distributed(EXPERIMENT_ARGS, tmp_path)
  comparable = lambda path: [{**r, "metadata": {k: v for k, v in r["metadata"].items() if k != "train_seconds"}}
                             for r in _results_without_time(path)]
  assert len(comparable(single)) == 5 * 2 * 3  # Conditions x splits x normalisations.
  assert comparable(multi) == comparable(single)
  assert (multi / "plots" / "simple_reversals.png").is_file()
