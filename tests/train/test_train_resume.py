"""A run killed with SIGKILL and restarted ends bitwise equal to an uninterrupted one; a
workdir started with another config is refused."""

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

  expected, actual = _final_params(uninterrupted), _final_params(tmp_path)
  flat_expected = dict(_flatten(expected))
  flat_actual = dict(_flatten(actual))
  assert flat_expected.keys() == flat_actual.keys()
  for name, value in flat_expected.items():
    assert np.array_equal(np.asarray(value), np.asarray(flat_actual[name])), name
  assert int(flat_actual["step"]) == STEPS


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
  with pytest.raises(UserError, match="different config") as error:
    main.run(config, str(uninterrupted))
  assert key.split(".")[0] in str(error.value)
