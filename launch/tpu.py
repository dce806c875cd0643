"""Cloud TPU VM lifecycle for icl_ft_jax: create, set up, run, watch, fetch, delete.

  python launch/tpu.py create  --name=icl --zone=us-central2-b --accelerator=v4-64
  python launch/tpu.py sync    --name=icl --zone=us-central2-b      # code -> every worker
  python launch/tpu.py setup   --name=icl --zone=us-central2-b      # .venv + jax[tpu], locked
  python launch/tpu.py run     --name=icl --zone=us-central2-b --config=configs/tpu/gemma3_4b_reversal.py \
                               --bucket=gs://my-bucket
  python launch/tpu.py logs    --name=icl --zone=us-central2-b --bucket=gs://my-bucket
  python launch/tpu.py fetch   --name=icl --zone=us-central2-b --bucket=gs://my-bucket
  python launch/tpu.py delete  --name=icl --zone=us-central2-b

Every command takes --dry-run, which prints the exact gcloud commands instead of
running them. `create` picks the TPU runtime (--version) that matches the
accelerator. `run` first checks the config locally (as `icl_ft_jax.main` would,
and its batch sizes against the slice's chips), then starts the same command on
all workers (multi-host JAX is switched on with --distributed when the slice has
more than one host; without --accelerator the slice is asked for its type) and
returns; `logs` streams worker 0's log; `fetch` copies worker 0's workdir back
(process 0 writes all results), or copies a gs:// workdir down. The hosts of a
multi-host slice share no disk, so a multi-host `run` needs a gs:// workdir
(`--workdir=gs://bucket/dir`, or `--bucket=gs://bucket` for `<bucket>/runs/<name>`);
each worker's stdout stays on its own disk (`runs/<name>.stdout.log`).
Before it sends anything, `run` prints the run's
model FLOPs by stage, its chip-hours at `--mfu` and their list price
(`launch/prices.json`, dated; check it before spending).
"""

from __future__ import annotations

import argparse
import json
import os
import pathlib
import shlex
import subprocess
import sys

REMOTE_DIR = "icl_ft_jax"
ROOT = pathlib.Path(__file__).resolve().parents[1]
DEFAULT_ACCELERATOR = "v5litepod-8"
# Chips per host for the TPU generations we use; more chips than this means several hosts.
CHIPS_PER_HOST = {"v2": 4, "v3": 4, "v4": 4, "v5litepod": 4, "v5e": 4, "v5p": 4, "v6e": 4}
# Cloud TPU's runtime (software) version for each generation.
# The MFU a cost estimate assumes: MaxText's published MFU for its smallest dense model, Llama 3.1 8B on
# v6e-256 (bf16, sequence 8192): 45.46% (docs/reference/models/tiering.md of AI-Hypercomputer/maxtext).
# Gemma 3 4B-27B have no published MFU there; our small batches, scoring and sampling run lower.
DEFAULT_MFU = 0.45
PRICES = ROOT / "launch" / "prices.json"
RUNTIME_VERSIONS = {"v6e": "v2-alpha-tpuv6e", "v5p": "v2-alpha-tpuv5", "v5e": "v2-alpha-tpuv5-lite",
                    "v5litepod": "v2-alpha-tpuv5-lite", "v4": "tpu-ubuntu2204-base", "v3": "tpu-ubuntu2204-base",
                    "v2": "tpu-ubuntu2204-base"}


def _parse_accelerator(accelerator: str) -> tuple[str, int]:
  generation, _, size = accelerator.partition("-")
  if not size.isdigit() or int(size) < 1 or generation not in CHIPS_PER_HOST:
    raise SystemExit(f"error: unknown accelerator type {accelerator!r}; use <generation>-<size> with a"
                     f" generation of {', '.join(CHIPS_PER_HOST)} (e.g. v4-8, v5litepod-16, v6e-8).")
  return generation, int(size)


def num_chips(accelerator: str) -> int:
  """Chips (JAX devices) in a slice: v2, v3, v4 and v5p sizes count TensorCores, two per chip."""
  generation, size = _parse_accelerator(accelerator)
  return max(1, size // (2 if generation in ("v2", "v3", "v4", "v5p") else 1))


def num_hosts(accelerator: str) -> int:
  """Hosts in a slice, e.g. v4-8 -> 1, v4-64 -> 8, v5litepod-64 -> 16, v5e-8 -> 1 (8 chips on one host)."""
  generation, _ = _parse_accelerator(accelerator)
  chips = num_chips(accelerator)
  if generation in ("v5litepod", "v5e", "v6e") and chips <= 8:
    return 1
  return max(1, chips // CHIPS_PER_HOST[generation])


def runtime_version(accelerator: str) -> str:
  """The TPU VM image for the accelerator's generation (e.g. v6e-8 -> v2-alpha-tpuv6e)."""
  return RUNTIME_VERSIONS[_parse_accelerator(accelerator)[0]]


def slice_accelerator(args: argparse.Namespace) -> str:
  """--accelerator, or the existing slice's type asked from gcloud; refuses when neither is known."""
  if args.accelerator:
    return args.accelerator
  if args.dry_run:
    raise SystemExit("error: run --dry-run needs --accelerator (e.g. v4-64): whether to pass --distributed"
                     " depends on the slice's hosts.")
  describe = _gcloud(args, "tpu-vm", "describe", args.name, "--format=value(acceleratorType)")
  try:
    result = subprocess.run(describe, capture_output=True, text=True, check=False)
  except OSError as e:
    result = subprocess.CompletedProcess(describe, 1, "", str(e))
  accelerator = result.stdout.strip().rsplit("/", 1)[-1]
  if result.returncode or not accelerator:
    why = (result.stderr.strip().splitlines() or ["no output"])[-1]
    raise SystemExit(f"error: could not read the accelerator type of {args.name!r} ({shlex.join(describe)}:"
                     f" {why}); pass --accelerator=.")
  return accelerator


# Run by the project's Python: the config as `icl_ft_jax.main` parses it, then its batches on the slice,
# then its model FLOPs by stage (one JSON line after _COST_MARK).
_COST_MARK = "model-flops-by-stage: "
_VALIDATE = """
import dataclasses, json, sys
from icl_ft_jax import cost, main, sharding
from icl_ft_jax.errors import UserError
chips, argv = int(sys.argv[1]), sys.argv[2:]
main._parse_flags(["main", *argv])  # One line and exit 2 on a bad config or override.
config = main.flags.FLAGS.config
try:
  main.check(config)  # Everything the job checks before loading a model, on a CPU mesh of the slice's size.
  sharding.check_batch_settings(config, sharding.abstract_mesh(config.mesh.to_dict(), chips))
  stages = cost.estimate(config)
except UserError as e:
  print(f"error: {e}", file=sys.stderr)
  sys.exit(2)
print(%r + json.dumps([dataclasses.asdict(s) for s in stages]))
""" % _COST_MARK


def validate_config(args: argparse.Namespace, accelerator: str) -> list[dict]:
  """Refuses (one line) a config that `main` would refuse, or whose batches don't split over the slice;
  returns its model FLOPs by stage (`icl_ft_jax.cost.Stage` fields)."""
  python = ROOT / ".venv" / "bin" / "python"
  command = [str(python) if python.exists() else sys.executable, "-c", _VALIDATE, str(num_chips(accelerator)),
             f"--config={args.config}", *args.override]
  result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False,
                          env={**os.environ, "JAX_PLATFORMS": "cpu",
                               "XLA_FLAGS": f"--xla_force_host_platform_device_count={num_chips(accelerator)}"})
  if result.returncode:
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    message = next((line for line in reversed(lines) if line.startswith("error:")), lines[-1] if lines else "")
    raise SystemExit(f"{message} (checked locally for {accelerator}, --no-validate skips this; nothing was sent)")
  line = next((line for line in reversed(result.stdout.splitlines()) if line.startswith(_COST_MARK)), None)
  return json.loads(line[len(_COST_MARK):]) if line else []


def cost_table(stages: list[dict], accelerator: str, mfu: float) -> str:
  """Model FLOPs by stage, chip-hours at `mfu` of the chip's peak, and their list price, as a table."""
  import tabulate  # pylint: disable=g-import-not-at-top

  prices = json.loads(PRICES.read_text())
  chip = prices["accelerators"][_parse_accelerator(accelerator)[0]]
  rate = chip["peak_bf16_tflops"] * 1e12 * mfu  # Model FLOP/s per chip.
  price = chip["usd_per_chip_hour"]
  total = {"name": "total", "flops": sum(s["flops"] for s in stages), "detail": ""}
  hours = lambda stage: stage["flops"] / rate / 3600
  rows = [[stage["name"], f"{stage['flops']:.3g}", f"{hours(stage):,.2f}",
           "?" if price is None else f"${hours(stage) * price:,.2f}", stage["detail"]] for stage in [*stages, total]]
  chips = num_chips(accelerator)
  table = tabulate.tabulate(rows, headers=["stage", "model FLOPs", "chip-hours", "list price", "what"],
                            disable_numparse=True)
  listed = (f"list price ${price:.2f} per chip-hour ({chip['price_status']}; table as of {prices['date']})"
            if price is not None else f"no list price for {accelerator} in launch/prices.json")
  return (f"{table}\nAt {mfu:.0%} MFU of {chip['peak_bf16_tflops']} TFLOP/s bf16 per chip: about"
          f" {hours(total) / chips:,.2f} h on the {chips} chips of {accelerator}; {listed}. {prices['note']}"
          f" Source: {prices['source']}. Sampling decodes one token at a time and runs far below this"
          " MFU: read its row as a lower bound.")


def _gcloud(args: argparse.Namespace, *command: str) -> list[str]:
  base = ["gcloud", "compute", "tpus", *command, f"--zone={args.zone}"]
  if args.project:
    base.append(f"--project={args.project}")
  return base


def _ssh(args, remote: str, worker: str = "all") -> list[str]:
  return _gcloud(args, "tpu-vm", "ssh", args.name, f"--worker={worker}", f"--command={remote}")


def workdir_of(args: argparse.Namespace) -> str:
  """--workdir, else `<--bucket>/runs/<name>`, else `runs/<name>` on each VM's own disk."""
  if args.workdir:
    return args.workdir
  return f"{args.bucket.rstrip('/')}/runs/{args.name}" if args.bucket else f"runs/{args.name}"


def is_bucket(workdir: str) -> bool:
  return workdir.startswith("gs://")


def stdout_log(args: argparse.Namespace) -> str:
  """Where a worker's stdout goes, on its own disk: beside the results, or beside a gs:// workdir's name."""
  workdir = workdir_of(args)
  return f"runs/{args.name}.stdout.log" if is_bucket(workdir) else f"{workdir}/stdout.log"


def check_shared_workdir(args: argparse.Namespace, accelerator: str, workdir: str) -> None:
  """Refuses a multi-host run whose workdir is on each host's own disk: its checkpoints and results would split."""
  if num_hosts(accelerator) > 1 and not is_bucket(workdir) and not args.shared_disk:
    raise SystemExit(f"error: {accelerator} has {num_hosts(accelerator)} hosts and no shared disk: pass"
                     f" --workdir=gs://BUCKET/DIR or --bucket=gs://BUCKET (not {workdir}; or --shared-disk if every"
                     " host mounts it).")


def commands(args: argparse.Namespace) -> list[list[str]]:
  """The gcloud commands for `args.action`, in order."""
  if args.action == "create":
    accelerator = args.accelerator or DEFAULT_ACCELERATOR
    _parse_accelerator(accelerator)  # Refuses an unknown name, even with --version.
    version = args.version or runtime_version(accelerator)
    if args.queued:
      command = _gcloud(args, "queued-resources", "create", args.name, f"--node-id={args.name}",
                        f"--accelerator-type={accelerator}", f"--runtime-version={version}")
      return [command + (["--spot"] if args.spot else [])]
    command = _gcloud(args, "tpu-vm", "create", args.name, f"--accelerator-type={accelerator}",
                      f"--version={version}")
    return [command + (["--spot"] if args.spot else [])]
  if args.action == "sync":
    archive = "/tmp/icl_ft_jax.tar.gz"
    return [["git", "archive", "--format=tar.gz", f"--output={archive}", "HEAD"],
            _gcloud(args, "tpu-vm", "scp", archive, f"{args.name}:~/", "--worker=all"),
            _ssh(args, f"mkdir -p ~/{REMOTE_DIR} && tar -xzf ~/icl_ft_jax.tar.gz -C ~/{REMOTE_DIR}")]
  if args.action == "setup":
    return [_ssh(args, f"cd ~/{REMOTE_DIR} && bash launch/setup_env.sh tpu")]
  if args.action == "run":
    if not args.config:
      raise SystemExit("error: run needs --config=configs/<name>.py[:arg].")
    accelerator = slice_accelerator(args)
    workdir = workdir_of(args)
    check_shared_workdir(args, accelerator, workdir)
    if args.validate:
      stages = validate_config(args, accelerator)
      print(cost_table(stages, accelerator, args.mfu) if stages else "This job runs no model: no cost estimate.",
            flush=True)
    flags = [f"--config={args.config}", f"--workdir={workdir}", *args.override]
    if num_hosts(accelerator) > 1:
      flags.append("--distributed")
    python = ".venv/bin/python -m icl_ft_jax.main " + " ".join(shlex.quote(f) for f in flags)
    log = stdout_log(args)
    remote = (f"cd ~/{REMOTE_DIR} && mkdir -p {shlex.quote(os.path.dirname(log))} && "
              f"nohup {python} > {shlex.quote(log)} 2>&1 < /dev/null &")
    return [_ssh(args, remote)]
  if args.action == "logs":
    return [_ssh(args, f"tail -n 100 -F ~/{REMOTE_DIR}/{shlex.quote(stdout_log(args))}", worker="0")]
  if args.action == "fetch":
    workdir = workdir_of(args)
    if is_bucket(workdir):
      return [["mkdir", "-p", "runs"], ["gcloud", "storage", "cp", "--recursive", workdir, "runs/"]]
    return [_gcloud(args, "tpu-vm", "scp", "--recurse", f"{args.name}:~/{REMOTE_DIR}/{workdir}",
                    "runs/", "--worker=0")]
  if args.action == "delete":
    if args.queued:
      return [_gcloud(args, "queued-resources", "delete", args.name, "--force", "--quiet")]
    return [_gcloud(args, "tpu-vm", "delete", args.name, "--quiet")]
  raise SystemExit(f"error: unknown action {args.action!r}.")


def parse(argv: list[str]) -> argparse.Namespace:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("action", choices=["create", "sync", "setup", "run", "logs", "fetch", "delete"])
  parser.add_argument("--name", required=True, help="TPU VM (or queued resource) name.")
  parser.add_argument("--zone", required=True)
  parser.add_argument("--project", default="")
  parser.add_argument("--accelerator", default="",
                      help=f"e.g. v5litepod-8, v4-64 (create: default {DEFAULT_ACCELERATOR}; run: default asks the slice).")
  parser.add_argument("--version", default="", help="TPU runtime version (default: the one for the accelerator).")
  parser.add_argument("--queued", action="store_true", help="Use a queued resource (create/delete).")
  parser.add_argument("--spot", action="store_true")
  parser.add_argument("--config", default="", help="run: configs/<name>.py[:arg].")
  parser.add_argument("--workdir", default="", help="run/logs/fetch: the run's workdir, a gs://bucket/dir or a"
                      " folder on each VM (default <--bucket>/runs/<name>, else runs/<name>; multi-host: gs:// only).")
  parser.add_argument("--bucket", default="", help="run/logs/fetch: gs://bucket[/prefix] for the default workdir.")
  parser.add_argument("--shared-disk", action="store_true",
                      help="run: --workdir is a folder every host mounts (NFS, gcsfuse), allowed on a multi-host slice.")
  parser.add_argument("--override", action="append", default=[], help="run: extra --config.a.b=value flags.")
  parser.add_argument("--dry-run", action="store_true", help="Print the commands instead of running them.")
  parser.add_argument("--no-validate", dest="validate", action="store_false",
                      help="run: skip checking the config locally (and estimating its cost) before sending it.")
  parser.add_argument("--mfu", type=float, default=DEFAULT_MFU,
                      help=f"run: model FLOPs utilisation the cost estimate assumes (default {DEFAULT_MFU}: MaxText's"
                           " published 45%% for Llama 3.1 8B on v6e-256).")
  args = parser.parse_args(argv)
  if not 0 < args.mfu <= 1:
    raise SystemExit(f"error: --mfu must be in (0, 1], got {args.mfu}.")
  if args.bucket and not is_bucket(args.bucket):
    raise SystemExit(f"error: --bucket must be gs://BUCKET[/PREFIX], got {args.bucket}.")
  return args


def main(argv: list[str]) -> int:
  args = parse(argv)
  for command in commands(args):
    print("+ " + shlex.join(command), flush=True)
    if not args.dry_run:
      result = subprocess.run(command, check=False)
      if result.returncode:
        return result.returncode
  return 0


if __name__ == "__main__":
  sys.exit(main(sys.argv[1:]))
