"""Cloud TPU VM lifecycle for icl_ft_jax: create, set up, run, watch, fetch, delete.

  python launch/tpu.py create  --name=icl --zone=us-central2-b --accelerator=v4-64
  python launch/tpu.py sync    --name=icl --zone=us-central2-b      # code -> every worker
  python launch/tpu.py setup   --name=icl --zone=us-central2-b      # .venv + jax[tpu], locked
  python launch/tpu.py run     --name=icl --zone=us-central2-b --config=configs/tpu/gemma3_4b_reversal.py
  python launch/tpu.py logs    --name=icl --zone=us-central2-b
  python launch/tpu.py fetch   --name=icl --zone=us-central2-b --workdir=runs/gemma3_4b_reversal
  python launch/tpu.py delete  --name=icl --zone=us-central2-b

Every command takes --dry-run, which prints the exact gcloud commands instead of
running them. `run` starts the same command on all workers (multi-host JAX is
switched on with --distributed when the slice has more than one host) and returns;
`logs` streams worker 0's log; `fetch` copies worker 0's workdir back (process 0
writes all results).
"""

from __future__ import annotations

import argparse
import shlex
import subprocess
import sys

REMOTE_DIR = "icl_ft_jax"
# Chips per host for the TPU generations we use; more chips than this means several hosts.
CHIPS_PER_HOST = {"v2": 4, "v3": 4, "v4": 4, "v5litepod": 4, "v5e": 4, "v5p": 4, "v6e": 4}


def num_hosts(accelerator: str) -> int:
  """Hosts in a slice, e.g. v4-8 -> 1, v4-64 -> 8, v5litepod-64 -> 16, v5e-8 -> 1 (8 chips on one host)."""
  generation, _, size = accelerator.partition("-")
  if not size.isdigit() or generation not in CHIPS_PER_HOST:
    raise SystemExit(f"error: unknown accelerator type {accelerator!r} (e.g. v4-8, v4-64, v5litepod-16).")
  chips = int(size) // (2 if generation in ("v2", "v3", "v4", "v5p") else 1)  # Those count cores.
  if generation in ("v5litepod", "v5e", "v6e") and chips <= 8:
    return 1
  return max(1, chips // CHIPS_PER_HOST[generation])


def _gcloud(args: argparse.Namespace, *command: str) -> list[str]:
  base = ["gcloud", "compute", "tpus", *command, f"--zone={args.zone}"]
  if args.project:
    base.append(f"--project={args.project}")
  return base


def _ssh(args, remote: str, worker: str = "all") -> list[str]:
  return _gcloud(args, "tpu-vm", "ssh", args.name, f"--worker={worker}", f"--command={remote}")


def commands(args: argparse.Namespace) -> list[list[str]]:
  """The gcloud commands for `args.action`, in order."""
  if args.action == "create":
    if args.queued:
      command = _gcloud(args, "queued-resources", "create", args.name, f"--node-id={args.name}",
                        f"--accelerator-type={args.accelerator}", f"--runtime-version={args.version}")
      return [command + (["--spot"] if args.spot else [])]
    command = _gcloud(args, "tpu-vm", "create", args.name, f"--accelerator-type={args.accelerator}",
                      f"--version={args.version}")
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
    workdir = args.workdir or f"runs/{args.name}"
    flags = [f"--config={args.config}", f"--workdir={workdir}", *args.override]
    if num_hosts(args.accelerator) > 1:
      flags.append("--distributed")
    python = ".venv/bin/python -m icl_ft_jax.main " + " ".join(shlex.quote(f) for f in flags)
    remote = (f"cd ~/{REMOTE_DIR} && mkdir -p {shlex.quote(workdir)} && "
              f"nohup {python} > {shlex.quote(workdir)}/stdout.log 2>&1 < /dev/null &")
    return [_ssh(args, remote)]
  if args.action == "logs":
    workdir = args.workdir or f"runs/{args.name}"
    return [_ssh(args, f"tail -n 100 -F ~/{REMOTE_DIR}/{shlex.quote(workdir)}/stdout.log", worker="0")]
  if args.action == "fetch":
    workdir = args.workdir or f"runs/{args.name}"
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
  parser.add_argument("--accelerator", default="v5litepod-8", help="e.g. v5litepod-8, v4-64.")
  parser.add_argument("--version", default="v2-alpha-tpuv5-lite", help="TPU software (runtime) version.")
  parser.add_argument("--queued", action="store_true", help="Use a queued resource (create/delete).")
  parser.add_argument("--spot", action="store_true")
  parser.add_argument("--config", default="", help="run: configs/<name>.py[:arg].")
  parser.add_argument("--workdir", default="", help="run/logs/fetch: workdir on the VM (default runs/<name>).")
  parser.add_argument("--override", action="append", default=[], help="run: extra --config.a.b=value flags.")
  parser.add_argument("--dry-run", action="store_true", help="Print the commands instead of running them.")
  return parser.parse_args(argv)


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
