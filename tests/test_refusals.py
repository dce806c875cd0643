"""Bad input and unusable workdirs are refused in one line of stderr, before anything is written.

Each case runs the entry point as a user would; see tests/README.md for the table.
"""

import fcntl
import json
import os
import sys

import pytest

from icl_ft_jax import main
from icl_ft_jax.errors import UserError

from tests import entry_point

ROOT = entry_point.ROOT
ICL = [f"--config={ROOT}/configs/icl.py:simple_reversals"]


def _config_file(tmp_path, text):
  path = tmp_path / "bad_config.py"
  path.write_text(text)
  return f"--config={path}"


@pytest.mark.parametrize("args, needles", [
    (["--config=configs/no_such_config.py"], ["config file not found", "no_such_config.py"]),
    ([ICL[0], "--config.nosuch=1"], ["unknown config key 'nosuch'"]),
    ([ICL[0], "--config.scoring.batch_sise=4"], ["unknown config key 'scoring.batch_sise'",
                                                 "did you mean 'scoring.batch_size'"]),
    ([ICL[0], "--config.scoring.batch_size=0"], ["scoring.batch_size must be >= 1"]),
    ([ICL[0], "--config.scoring.prefill_chunk=0"], ["scoring.prefill_chunk must be >= 1"]),
    ([ICL[0], "--config.scoring.max_questions=-1"], ["scoring.max_questions must be >= 0"]),
    ([ICL[0], "--config.scoring.splits=('sideways',)"], ["scoring.splits", "sideways"]),
    ([ICL[0], "--config.icl.fit=squeeze"], ["icl.fit"]),
    ([f"--config={ROOT}/configs/finetune.py:simple_reversals", "--config.train.steps=-5"], ["train.steps"]),
    ([f"--config={ROOT}/configs/experiment.py:simple_reversals", "--config.conditions=ft,ft+magic"],
     ["ft+magic"]),
    ([f"--config={ROOT}/configs/experiment.py:simple_reversals", "--config.augment.unit=word"],
     ["augment.unit"]),
    ([ICL[0], "--config.dataset.family=berglund_reversal_curse", "--config.dataset.pth=x"],
     ["unknown config key 'dataset.pth'", "did you mean 'path'"]),
    ([ICL[0], "--config.dataset.family=berglund_reversal_curse", "--config.dataset.path=/no/such/folder"],
     ["no such folder"]),
])
def test_bad_config_is_one_line_and_leaves_nothing(tmp_path, args, needles):
  result = entry_point.run(*args, cwd=tmp_path)  # No --workdir: not even ./runs/<job>-<time> may appear.
  entry_point.assert_refused(result, *needles)
  assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("text, needles", [
    ("def get_config(:\n", ["invalid syntax"]),
    ("def get_config(arg=None):\n  return nosuch_name\n", ["nosuch_name"]),
])
def test_broken_config_file_is_one_line(tmp_path, text, needles):
  entry_point.assert_refused(entry_point.run(_config_file(tmp_path, text), f"--workdir={tmp_path / 'w'}"), *needles)
  assert not (tmp_path / "w").exists()


def test_workdir_that_is_a_file(tmp_path):
  (tmp_path / "w").write_text("")
  entry_point.assert_refused(entry_point.run(*ICL, f"--workdir={tmp_path / 'w'}"), "is a file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only folders")
def test_read_only_workdir(tmp_path):
  (tmp_path / "w").mkdir()
  (tmp_path / "w").chmod(0o555)
  entry_point.assert_refused(entry_point.run(*ICL, f"--workdir={tmp_path / 'w'}"), "not writable")


def test_second_run_in_a_workdir_is_refused(tmp_path):
  workdir = tmp_path / "w"
  workdir.mkdir()
  (workdir / "results.json").write_text("[]")  # A run that has written something of its own.
  with (workdir / ".lock").open("a+") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    lock.write("4242\n")
    lock.flush()
    entry_point.assert_refused(entry_point.run(*ICL, "--config.model.name=tiny", f"--workdir={workdir}"),
                    "in use by another run (process 4242)")
  assert (workdir / "results.json").read_text() == "[]"


def test_rerun_with_another_model_refuses_the_old_results(tmp_path):
  """The experiment's results of the `tiny` model are never reported as the 270M's."""
  from icl_ft_jax.jobs import common, experiment  # pylint: disable=g-import-not-at-top
  from icl_ft_jax.report import records  # pylint: disable=g-import-not-at-top
  from test_run_identity import experiment_config  # pylint: disable=g-import-not-at-top

  config = experiment_config(model="tiny")
  record = records.ResultRecord(dataset="simple_reversals", split="reversal", condition="pretrained",
                                normalization="sum", accuracy=0.25, n=4, chance=0.25, seed=0)
  common.save_condition(tmp_path, [record], "simple_reversals", experiment.condition_identity(config, "pretrained"))
  result = entry_point.run(f"--config={ROOT}/configs/experiment.py:simple_reversals", "--config.conditions=pretrained",
                 f"--workdir={tmp_path}")
  entry_point.assert_refused(result, "results of another run", "model.name: 'tiny' -> 'gemma3-270m'")
  assert json.loads((tmp_path / "results.json").read_text())[0]["metadata"]["model"]["name"] == "tiny"


def test_machine_failures_are_one_line():
  assert "disk is full" in main.environment_error(OSError(28, "No space left on device"))
  wrapped = RuntimeError("async checkpoint save failed")  # Orbax re-raises a thread's error wrapped.
  wrapped.__cause__ = ValueError("Error writing to d/abc [OS error: No space left on device]")
  assert "disk is full" in main.environment_error(wrapped)
  assert "cannot write" in main.environment_error(OSError(30, "Read-only file system"))
  assert main.environment_error(ValueError("a bug")) is None


def test_closed_loop_tracebacks_after_a_failed_save_are_dropped_and_others_kept():
  import io  # pylint: disable=g-import-not-at-top

  out = io.StringIO()
  stderr = main.DropClosedLoopTracebacks(out)
  frame = '  File "asyncio/base_events.py", line 837, in call_soon_threadsafe\n    self._check_closed()\n'
  stderr.write("fine-tuning: 25%\r")
  for _ in range(3):  # As tensorstore's C++ prints them: header, frames, then the exception's line.
    stderr.write("Traceback (most recent call last):\n")
    stderr.write(frame)
    stderr.write("RuntimeError: Event loop is closed\n")
  stderr.write("Traceback (most recent call last):\n" + frame + "ValueError: a real bug\n")
  stderr.write("error: the disk is full\n")
  assert out.getvalue() == ("fine-tuning: 25%\rTraceback (most recent call last):\n" + frame
                            + "ValueError: a real bug\nerror: the disk is full\n")


def test_the_one_line_error_is_not_glued_to_a_traceback_being_printed(monkeypatch):
  """Seen on a real full disk: main's line arrived while a save thread was half-way through a traceback."""
  import io  # pylint: disable=g-import-not-at-top

  out = io.StringIO()
  monkeypatch.setattr(sys, "stderr", main.DropClosedLoopTracebacks(out))
  sys.stderr.write('Traceback (most recent call last):\n  File "asyncio/base_events.py", line 837\n')
  with pytest.raises(SystemExit):
    main._exit("error: the disk is full", 1)  # pylint: disable=protected-access
  sys.stderr.write("    self._check_closed()\nRuntimeError: Event loop is closed\n")
  assert out.getvalue() == "error: the disk is full\n"


def test_refused_run_removes_the_workdir_it_made(tmp_path, monkeypatch):
  """A job whose run (not its check) refuses: the workdir existed, with only main's own files."""
  from ml_collections import config_dict  # pylint: disable=g-import-not-at-top

  from icl_ft_jax.jobs import datasets  # pylint: disable=g-import-not-at-top

  def fail(config, workdir):
    del config
    assert (workdir / "config.json").is_file() and (workdir / "log.txt").is_file()
    raise UserError("fails late")

  monkeypatch.setattr(datasets, "run", fail)
  with pytest.raises(UserError, match="fails late"):
    main.run(config_dict.ConfigDict({"job": "datasets", "datasets": {}}), str(tmp_path / "new" / "w"))
  assert list(tmp_path.iterdir()) == []
  (tmp_path / "kept").mkdir()  # A workdir that existed before the run is kept.
  with pytest.raises(UserError, match="fails late"):
    main.run(config_dict.ConfigDict({"job": "datasets", "datasets": {}}), str(tmp_path / "kept"))
  assert (tmp_path / "kept").is_dir()


def test_save_cut_short_is_cleaned_up_and_orbax_errors_stay_off_the_console(tmp_path):
  import logging  # pylint: disable=g-import-not-at-top

  from icl_ft_jax.train import checkpointing  # pylint: disable=g-import-not-at-top

  partial = tmp_path / "checkpoints" / "2.orbax-checkpoint-tmp" / "default"
  partial.mkdir(parents=True)  # What a full disk left behind.
  checkpointer = checkpointing.Checkpointer(tmp_path / "checkpoints", checkpointing.CheckpointConfig())
  assert checkpointer.latest_step() is None
  checkpointer.close()
  assert not partial.parent.exists()
  record = logging.makeLogRecord({"pathname": "/site-packages/orbax/checkpoint/future.py", "levelno": 40})
  assert not main._QuietOrbaxConsole().filter(record)
  assert main._QuietOrbaxConsole().filter(logging.makeLogRecord({"pathname": "/icl_ft_jax/train/trainer.py"}))

