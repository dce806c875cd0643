"""A run killed with SIGKILL, or stopped with Ctrl-C, and restarted ends bitwise equal to an
uninterrupted one, with one log row per step; a workdir started with another config is refused.

The fault is injected at a fixed step (tests/train/fault_at_step.py), not timed from outside.
"""

import json
import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

from icl_ft_jax import main
from icl_ft_jax.errors import UserError

from tests import config_files

REPO = pathlib.Path(__file__).resolve().parents[2]
STEPS, EVERY = 16, 4
FAULT_AT = 6  # Between the checkpoints of steps 4 and 8: steps 5 and 6 are trained, then lost.
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


def _command(workdir, fault: str | None = None):
  entry = ["icl_ft_jax.main"] if fault is None else ["tests.train.fault_at_step", fault, str(FAULT_AT)]
  return [sys.executable, "-m", *entry, *FLAGS, f"--workdir={workdir}"]


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
  killed = subprocess.run(_command(tmp_path, "kill"), cwd=REPO, env=_env(), capture_output=True, text=True,
                          timeout=300)
  assert killed.returncode == -9, killed.stderr[-3000:]  # SIGKILL, at step FAULT_AT.
  assert max(_committed_steps(tmp_path)) == EVERY  # Steps 5 and 6 were trained, and lost.

  resumed = _run(tmp_path)
  assert f"Resuming from the checkpoint of step {EVERY}" in resumed.stderr

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
  stopped = subprocess.run(_command(tmp_path, "interrupt"), cwd=REPO, env=_env(), capture_output=True,
                           text=True, timeout=300)
  assert stopped.returncode == 130, stopped.stderr[-3000:]
  assert "Traceback" not in stopped.stderr
  last = stopped.stderr.strip().splitlines()[-1]
  assert last.startswith(f"error: Fine-tuning stopped at step {FAULT_AT} of {STEPS} (SIGINT)"), last
  assert "rerun the same command" in last
  assert max(_committed_steps(tmp_path)) == FAULT_AT  # The emergency checkpoint of the step it stopped at.

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
  config = config_files.load("finetune.py", "simple_reversals")
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
