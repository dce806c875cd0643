"""launch/tpu.py --dry-run prints the exact gcloud commands; nothing runs."""

import json
import pathlib
import re
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
                         "--override=--config.model.name=gemma3-4b", "--bucket=gs://b", "--no-validate")
  assert "--worker=all" in command and "--distributed" in command and "--workdir=gs://b/runs/x" in command
  assert "--config.model.name=gemma3-4b" in command and "bash" not in command


def test_run_on_one_host_is_not_distributed():
  (command,) = _commands("run", "--name=x", "--zone=z", "--accelerator=v5litepod-8", "--config=configs/icl.py",
                         "--no-validate")
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


@pytest.mark.parametrize("accelerator, version", [
    ("v6e-8", "v2-alpha-tpuv6e"), ("v5p-16", "v2-alpha-tpuv5"), ("v5e-4", "v2-alpha-tpuv5-lite"),
    ("v5litepod-64", "v2-alpha-tpuv5-lite"), ("v4-64", "tpu-ubuntu2204-base"), ("v3-8", "tpu-ubuntu2204-base"),
    ("v2-8", "tpu-ubuntu2204-base")])
def test_create_picks_the_runtime_of_the_accelerator(accelerator, version):
  result = subprocess.run([sys.executable, str(ROOT / "launch" / "tpu.py"), "create", "--name=x", "--zone=z",
                           f"--accelerator={accelerator}", "--dry-run"], capture_output=True, text=True, check=True)
  (line,) = result.stdout.splitlines()
  assert f" --accelerator-type={accelerator} --version={version} " in line
  (queued,) = _commands("create", "--name=x", "--zone=z", "--queued", f"--accelerator={accelerator}")
  assert f" --runtime-version={version} " in queued


def test_create_keeps_an_explicit_version_and_has_a_default_accelerator():
  (command,) = _commands("create", "--name=x", "--zone=z", "--accelerator=v4-8", "--version=tpu-vm-v4-base")
  assert " --accelerator-type=v4-8 --version=tpu-vm-v4-base " in command
  (command,) = _commands("create", "--name=x", "--zone=z")
  assert " --accelerator-type=v5litepod-8 --version=v2-alpha-tpuv5-lite " in command


def _refusal(*argv) -> str:
  result = subprocess.run([sys.executable, str(ROOT / "launch" / "tpu.py"), *argv], capture_output=True, text=True,
                          check=False, cwd=ROOT)
  assert result.returncode == 1 and not result.stdout, result
  assert "Traceback" not in result.stderr and len(result.stderr.strip().splitlines()) == 1, result.stderr
  return result.stderr.strip()


@pytest.mark.parametrize("accelerator", ["v9-8", "v4", "tpu-v4-8", "v5litepod-0", "v5litepod-x"])
def test_create_refuses_an_unknown_accelerator_in_one_line(accelerator):
  message = _refusal("create", "--name=x", "--zone=z", f"--accelerator={accelerator}", "--dry-run")
  assert message.startswith(f"error: unknown accelerator type {accelerator!r}")
  assert _refusal("create", "--name=x", "--zone=z", f"--accelerator={accelerator}", "--version=v", "--dry-run") \
      == message


def test_run_without_accelerator_refuses_under_dry_run():
  message = _refusal("run", "--name=x", "--zone=z", "--config=configs/tpu/study.py:devices=32", "--dry-run")
  assert "needs --accelerator" in message and "--distributed" in message


def test_run_without_accelerator_asks_the_slice(monkeypatch):
  calls = []

  def fake_run(command, **kwargs):
    calls.append(command)
    return subprocess.CompletedProcess(command, 0, "projects/p/locations/z/acceleratorTypes/v4-64\n", "")

  monkeypatch.setattr(tpu.subprocess, "run", fake_run)
  (command,) = _commands("run", "--name=x", "--zone=z", "--config=configs/icl.py", "--workdir=gs://b/w",
                         "--no-validate")
  assert calls == [["gcloud", "compute", "tpus", "tpu-vm", "describe", "x", "--format=value(acceleratorType)",
                    "--zone=z"]]
  assert "--distributed" in command


def test_run_refuses_when_the_slice_cannot_be_asked(monkeypatch):
  monkeypatch.setattr(tpu.subprocess, "run",
                      lambda command, **kwargs: subprocess.CompletedProcess(command, 1, "", "ERROR: NOT_FOUND x"))
  with pytest.raises(SystemExit, match=r"could not read the accelerator type of 'x' .* NOT_FOUND x.*--accelerator="):
    _commands("run", "--name=x", "--zone=z", "--config=configs/icl.py", "--no-validate")


@pytest.mark.parametrize("argv, message", [
    (["--config=configs/tpu/study.py:devices=8", "--accelerator=v4-64", "--bucket=gs://b"],  # 16-row batches, 32 chips.
     r"error: (The batch has 16 rows|data.batch_size is 16).*\b32\b"),
    (["--config=configs/icl.py", "--accelerator=v4-8", "--override=--config.nosuch=1"], "error: bad config"),
    (["--config=configs/icl.py", "--accelerator=v4-8", "--override=--config.job=nosuch"],
     "error: config.job is 'nosuch'"),
])
def test_run_validates_the_config_locally_before_sending(argv, message):
  refusal = _refusal("run", "--name=x", "--zone=z", "--dry-run", *argv)
  assert re.match(message, refusal) and refusal.endswith("--no-validate skips this; nothing was sent)"), refusal


def test_run_sends_a_config_that_validates():
  result = subprocess.run([sys.executable, str(ROOT / "launch" / "tpu.py"), "run", "--name=x", "--zone=z",
                           "--accelerator=v4-64", "--config=configs/tpu/study.py:devices=32", "--bucket=gs://b",
                           "--dry-run"],
                          capture_output=True, text=True, check=True, cwd=ROOT)
  assert "--distributed" in result.stdout and "configs/tpu/study.py:devices=32" in result.stdout
  # The cost comes first: a row per stage, then the total, before the gcloud command.
  table, command = result.stdout.split("\n+ gcloud")
  stages = [line.split()[0] for line in table.splitlines()[2:] if line and not line.startswith("At ")]
  assert stages == ["fine-tuning", "scoring", "ICL", "augmentation", "total"]
  assert "MFU of 275 TFLOP/s bf16 per chip" in table and "on the 32 chips of v4-64" in table


def test_a_multi_host_run_needs_a_gs_workdir_in_one_line():
  refusal = _refusal("run", "--name=x", "--zone=z", "--accelerator=v4-64", "--config=configs/icl.py", "--dry-run")
  assert refusal == ("error: v4-64 has 8 hosts and no shared disk: pass --workdir=gs://BUCKET/DIR or"
                     " --bucket=gs://BUCKET (not runs/x; or --shared-disk if every host mounts it).")
  assert "not /mnt/nfs/x;" in _refusal("run", "--name=x", "--zone=z", "--accelerator=v4-64",
                                       "--config=configs/icl.py", "--workdir=/mnt/nfs/x", "--no-validate", "--dry-run")
  (mounted,) = _commands("run", "--name=x", "--zone=z", "--accelerator=v4-64", "--config=configs/icl.py",
                         "--workdir=/mnt/nfs/x", "--shared-disk", "--no-validate")
  assert "--workdir=/mnt/nfs/x" in mounted and "--distributed" in mounted
  assert _refusal("run", "--name=x", "--zone=z", "--bucket=b", "--dry-run") == \
      "error: --bucket must be gs://BUCKET[/PREFIX], got b."


def test_a_gs_workdir_keeps_stdout_on_each_worker_and_fetch_copies_the_bucket():
  (run,) = _commands("run", "--name=x", "--zone=z", "--accelerator=v4-64", "--config=configs/icl.py",
                     "--workdir=gs://b/exp1", "--no-validate")
  assert "--workdir=gs://b/exp1" in run and "mkdir -p runs &&" in run and "> runs/x.stdout.log" in run
  (logs,) = _commands("logs", "--name=x", "--zone=z", "--bucket=gs://b/")
  assert "--command=tail -n 100 -F ~/icl_ft_jax/runs/x.stdout.log " in logs
  assert _commands("fetch", "--name=x", "--zone=z", "--bucket=gs://b") == [
      "mkdir -p runs", "gcloud storage cp --recursive gs://b/runs/x runs/"]
  (local,) = _commands("run", "--name=x", "--zone=z", "--accelerator=v5litepod-8", "--config=configs/icl.py",
                       "--no-validate")  # One host: its own disk is fine.
  assert "--workdir=runs/x" in local and "> runs/x/stdout.log" in local


def test_cost_table_is_flops_over_the_chips_rate_at_the_mfu():
  prices = json.loads((ROOT / "launch" / "prices.json").read_text())
  v5e = prices["accelerators"]["v5e"]
  two_hours = 2 * 3600 * v5e["peak_bf16_tflops"] * 1e12 * 0.5  # At 50% MFU: two chip-hours.
  table = tpu.cost_table([{"name": "fine-tuning", "flops": two_hours, "detail": "ft"},
                          {"name": "scoring", "flops": two_hours / 4, "detail": "q"}], "v5e-8", mfu=0.5)
  rows = {line.split()[0]: line.split() for line in table.splitlines()[2:4]}
  assert rows["fine-tuning"][2] == "2.00" and rows["fine-tuning"][3] == f"${2 * v5e['usd_per_chip_hour']:.2f}"
  assert rows["scoring"][2] == "0.50"
  assert table.splitlines()[4].split()[:3] == ["total", f"{two_hours * 1.25:.3g}", "2.50"]
  assert "about 0.31 h on the 8 chips of v5e-8" in table and f"as of {prices['date']}" in table
  assert f"({v5e['price_status']};" in table  # How far the price is verified, beside it.


def test_mfu_outside_0_1_is_refused_in_one_line():
  assert _refusal("run", "--name=x", "--zone=z", "--mfu=45", "--dry-run") == "error: --mfu must be in (0, 1], got 45.0."
