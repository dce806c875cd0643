"""A run killed with SIGKILL, or stopped with Ctrl-C, and restarted ends bitwise equal to an
uninterrupted one, with one log row per step; a workdir started with another config is refused."""

import json
import os
import pathlib
import signal
import subprocess
import sys
import time

import numpy as np
import pytest

from icl_ft_jax import main
from icl_ft_jax.errors import UserError

REPO = pathlib.Path(__file__).resolve().parents[2]
STEPS, EVERY = 16, 4
FLAGS = [
    "--config=configs/finetune.py:simple_reversals",
    "--config.model.name=tiny",
    "--config.dataset.num_facts=8",
    "--config.data.batch_size=4",
    "--config.data.max_length=24",
    f"--config.train.steps={STEPS}",
    "--config.train.log_every_steps=4",
    f"--config.checkpoint.every_steps={EVERY}",
    "--config.checkpoint.keep=10",
    "--config.optimizer.learning_rate=1e-2",
    "--config.scoring.max_questions=2",
]


def _command(workdir):
  return [sys.executable, "-m", "icl_ft_jax.main", *FLAGS, f"--workdir={workdir}"]


def _env():
  env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=1", JAX_PLATFORMS="cpu")
  return env


def _run(workdir):
  done = subprocess.run(_command(workdir), cwd=REPO, env=_env(), capture_output=True, text=True, timeout=300)
  assert done.returncode == 0, done.stderr[-3000:]
  return done


def _final_params(workdir):
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top

  with ocp.StandardCheckpointer() as checkpointer:
    state = checkpointer.restore(pathlib.Path(workdir).absolute() / "checkpoints" / str(STEPS) / "default")
  return state


def _committed_steps(workdir):
  root = pathlib.Path(workdir) / "checkpoints"
  return sorted(int(p.name) for p in root.iterdir() if p.name.isdigit()) if root.is_dir() else []


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory):
  workdir = tmp_path_factory.mktemp("uninterrupted")
  _run(workdir)
  return workdir


def test_sigkill_then_resume_is_bitwise_exact(uninterrupted, tmp_path):
  process = subprocess.Popen(_command(tmp_path), cwd=REPO, env=_env(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.DEVNULL)
  try:
    deadline = time.time() + 240
    while not _committed_steps(tmp_path) and process.poll() is None and time.time() < deadline:
      time.sleep(0.02)
    assert process.poll() is None, "the run finished before it could be killed; make it longer"
    os.kill(process.pid, signal.SIGKILL)
  finally:
    process.wait()
  killed_at = _committed_steps(tmp_path)
  assert killed_at and max(killed_at) < STEPS, killed_at

  resumed = _run(tmp_path)
  assert f"Resuming from the checkpoint of step {max(killed_at)}" in resumed.stderr

  _assert_same_params(uninterrupted, tmp_path)
  assert int(_final_params(tmp_path)["step"]) == STEPS
  rows = _log_rows(tmp_path)
  assert len(rows) == len(set(rows)), rows  # No step logged twice after the resume.


def _assert_same_params(expected_dir, actual_dir):
  flat_expected = dict(_flatten(_final_params(expected_dir)))
  flat_actual = dict(_flatten(_final_params(actual_dir)))
  assert flat_expected.keys() == flat_actual.keys()
  for name, value in flat_expected.items():
    assert np.array_equal(np.asarray(value), np.asarray(flat_actual[name])), name


def _log_rows(workdir):
  rows = [json.loads(line) for line in (pathlib.Path(workdir) / "train_log.jsonl").read_text().splitlines()]
  return [(row["step"], any(k.startswith("eval/") for k in row)) for row in rows]


def test_ctrl_c_saves_a_checkpoint_and_exits_in_one_line(uninterrupted, tmp_path):
  process = subprocess.Popen(_command(tmp_path), cwd=REPO, env=_env(), stdout=subprocess.DEVNULL,
                             stderr=subprocess.PIPE, text=True)
  deadline = time.time() + 240
  while not _committed_steps(tmp_path) and process.poll() is None and time.time() < deadline:
    time.sleep(0.02)
  assert process.poll() is None, "the run finished before it could be interrupted; make it longer"
  process.send_signal(signal.SIGINT)
  _, stderr = process.communicate(timeout=120)
  assert process.returncode == 130, stderr[-3000:]
  assert "Traceback" not in stderr
  last = stderr.strip().splitlines()[-1]
  assert last.startswith("error: Fine-tuning stopped at step ") and "rerun the same command" in last
  stopped_at = int(last.split("step ")[1].split()[0])
  assert max(_committed_steps(tmp_path)) == stopped_at < STEPS  # The emergency checkpoint.

  _run(tmp_path)
  _assert_same_params(uninterrupted, tmp_path)
  _run(tmp_path)  # A finished run, rerun: its log keeps one row per step and kind.
  rows = _log_rows(tmp_path)
  assert len(rows) == len(set(rows)) and rows == sorted(rows)
  assert rows == _log_rows(uninterrupted)


def _flatten(tree, prefix=""):
  if isinstance(tree, dict):
    for key, value in tree.items():
      yield from _flatten(value, f"{prefix}{key}/")
  elif isinstance(tree, (list, tuple)):
    for index, value in enumerate(tree):
      yield from _flatten(value, f"{prefix}{index}/")
  else:
    yield prefix.rstrip("/"), tree


@pytest.mark.parametrize("override", [{"model.name": "gemma3-270m"}, {"dataset.num_facts": 9}])
def test_mismatched_workdir_is_refused(uninterrupted, override):
  sys.path.insert(0, str(REPO))
  from configs import finetune as finetune_config  # pylint: disable=g-import-not-at-top

  config = finetune_config.get_config("simple_reversals")
  for flag in FLAGS[1:]:
    key, value = flag.removeprefix("--config.").split("=")
    section, field = key.split(".")
    config[section][field] = type(config[section][field])(value)
  for key, value in override.items():
    section, field = key.split(".")
    config[section][field] = value
  # The batch of 4 is checked against the mesh first: keep the data axis at 1 on the 8 test devices.
  config.mesh.data, config.mesh.tensor = 1, -1
  with pytest.raises(UserError, match="different config") as error:
    main.run(config, str(uninterrupted))
  assert key.split(".")[0] in str(error.value)
