"""launch/tpu.py --dry-run prints the exact gcloud commands; nothing runs."""

import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "launch"))
import tpu  # pylint: disable=g-import-not-at-top,wrong-import-position


@pytest.mark.parametrize("accelerator, hosts", [("v4-8", 1), ("v4-64", 8), ("v5litepod-8", 1),
                                                ("v5litepod-64", 16), ("v5p-8", 1), ("v6e-16", 4)])
def test_num_hosts(accelerator, hosts):
  assert tpu.num_hosts(accelerator) == hosts


def _commands(*argv):
  return [" ".join(c) for c in tpu.commands(tpu.parse(list(argv)))]


def test_run_on_a_pod_is_distributed_on_all_workers():
  (command,) = _commands("run", "--name=x", "--zone=z", "--accelerator=v4-64", "--config=configs/icl.py:reversal_curse",
                         "--override=--config.model.name=gemma3-4b")
  assert "--worker=all" in command and "--distributed" in command
  assert "--config.model.name=gemma3-4b" in command and "bash" not in command


def test_run_on_one_host_is_not_distributed():
  (command,) = _commands("run", "--name=x", "--zone=z", "--accelerator=v5litepod-8", "--config=configs/icl.py")
  assert "--distributed" not in command


def test_queued_create_and_delete():
  (create,) = _commands("create", "--name=x", "--zone=z", "--queued", "--spot", "--accelerator=v4-64")
  assert create.startswith("gcloud compute tpus queued-resources create x") and "--spot" in create
  (delete,) = _commands("delete", "--name=x", "--zone=z", "--queued")
  assert "queued-resources delete x" in delete


def test_dry_run_prints_and_runs_nothing():
  result = subprocess.run([sys.executable, str(ROOT / "launch" / "tpu.py"), "setup", "--name=x", "--zone=z", "--dry-run"],
                          capture_output=True, text=True, check=True)
  assert result.stdout.startswith("+ gcloud compute tpus tpu-vm ssh x --worker=all")
  assert "launch/setup_env.sh tpu" in result.stdout


def test_run_needs_a_config():
  with pytest.raises(SystemExit, match="run needs --config"):
    _commands("run", "--name=x", "--zone=z")
