"""The one entry point: `python -m icl_ft_jax.main --config=configs/<name>.py --workdir=DIR`.

The config (an ml_collections `get_config(arg)` file, big_vision style) names a
`job`; the job's module runs it and writes everything under the workdir.
Overrides: `--config=configs/x.py:arg` and `--config.a.b=value` (and
`--config.dataset.family=F`, see `overrides`). Unknown keys and wrong types are
refused by the flag parser; missing required fields by `validate` and every
section's values by the job's `check`, all before the workdir is made. The
workdir is locked for the run, and every refusal is one line on stderr.
"""

from __future__ import annotations

import os

# TensorFlow (imported by the gemma library's kauldron) is not used for compute; keep it quiet.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")

import datetime
import errno
import importlib
import logging
import sys

import jax
from absl import app, flags
from etils import epath
from ml_collections import config_dict, config_flags

from icl_ft_jax import distributed, overrides, storage
from icl_ft_jax.errors import ConfigError, Interrupted, UserError
from icl_ft_jax.jobs import workdir as workdir_lib

_CONFIG = config_flags.DEFINE_config_file("config", None, "Experiment config file (configs/<name>.py[:arg]).")
_WORKDIR = flags.DEFINE_string("workdir", None, "Where the run writes everything: a folder or gs://bucket/dir"
                                " (default: a new ./runs/<job>-<time>).")
_DISTRIBUTED = flags.DEFINE_bool("distributed", False, "Initialise multi-host JAX (also ICL_FT_JAX_DISTRIBUTED=1).")
_COORDINATOR = flags.DEFINE_string("coordinator_address", None, "host:port of process 0 (auto on TPU pods).")
_NUM_PROCESSES = flags.DEFINE_integer("num_processes", None, "Processes in the job (auto on TPU pods).")
_PROCESS_ID = flags.DEFINE_integer("process_id", None, "This process's index (auto on TPU pods).")

JOBS = {
    "datasets": "icl_ft_jax.jobs.datasets",
    "icl": "icl_ft_jax.jobs.icl",
    "finetune": "icl_ft_jax.jobs.finetune",
    "augment": "icl_ft_jax.jobs.augment",
    "experiment": "icl_ft_jax.jobs.experiment",
    "export": "icl_ft_jax.jobs.export",
    "report": "icl_ft_jax.jobs.report",
}


def missing_fields(config: config_dict.ConfigDict, prefix: str = "") -> list[str]:
  """Dotted names of required fields (placeholders) left unset."""
  missing = []
  for key, value in config.items():
    name = f"{prefix}{key}"
    if isinstance(value, config_dict.ConfigDict):
      missing += missing_fields(value, prefix=name + ".")
    elif value is None and isinstance(config._fields.get(key), config_dict.FieldReference):  # pylint: disable=protected-access
      missing.append(name)
  return missing


def validate(config: config_dict.ConfigDict) -> None:
  """Checks what the flag parser can't: the job exists and required fields are set."""
  job = config.get("job")
  if job not in JOBS:
    raise ConfigError(f"config.job is {job!r}; it must be one of: {', '.join(sorted(JOBS))}.")
  missing = missing_fields(config)
  if missing:
    raise ConfigError(
        f"Required config field(s) not set: {', '.join(missing)}. Set them in the config file or with"
        f" --config.{missing[0]}=VALUE."
    )


def _log_to_file(workdir: epath.Path) -> logging.Handler | None:
  if not distributed.is_primary():
    return None
  handler = storage.log_handler(workdir / "log.txt")
  handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(module)s: %(message)s"))
  handler.addFilter(_DropLibraryChatter())
  logging.getLogger().addHandler(handler)
  return handler


class _QuietOrbaxConsole(logging.Filter):
  """Orbax's errors and warnings go to log.txt only: a full disk printed 300 lines of its background
  threads' tracebacks; `main` prints the one line that says what to do, and re-raises real bugs."""

  def filter(self, record: logging.LogRecord) -> bool:
    return "/orbax/" not in record.pathname


class _DropLibraryChatter(logging.Filter):
  """Orbax logs every restore at INFO; keep our own INFO lines readable."""

  def filter(self, record: logging.LogRecord) -> bool:
    return record.levelno >= logging.WARNING or "/orbax/" not in record.pathname


class DropClosedLoopTracebacks:
  """Wraps stderr, dropping the tracebacks that end in "RuntimeError: Event loop is closed".

  When a save fails (a full disk), tensorstore's completion callbacks keep calling into Orbax's
  closed asyncio loop, and its C++ code prints each failure straight to stderr: dozens of
  tracebacks around the one line `main` prints, none of them actionable. Every other write
  passes through as it comes (progress bars included); other tracebacks are printed whole.
  """

  _START = "Traceback (most recent call last):"
  _DROPPED = "RuntimeError: Event loop is closed"

  def __init__(self, stream):
    self._stream = stream
    self._held: list[str] = []

  def write(self, text: str) -> int:
    if not self._held and not text.startswith(self._START):
      return self._stream.write(text)
    self._held.append(text)
    held = "".join(self._held)
    last = [line for line in held.splitlines() if line and not line.startswith((" ", self._START))]
    if last and held.endswith("\n"):  # The exception's own line: the traceback is complete.
      self._held = []
      if last[-1].strip() != self._DROPPED:
        self._stream.write(held)
    return len(text)

  def write_now(self, text: str) -> None:
    """Writes `text` at once, outside any traceback being held (main's own one-line error can arrive while
    a background thread is half-way through printing one)."""
    self._stream.write(text)
    self._stream.flush()

  def flush(self) -> None:
    self._stream.flush()

  def __getattr__(self, name):
    return getattr(self._stream, name)


def _record_config(workdir: epath.Path, config: config_dict.ConfigDict) -> None:
  """Writes `config.json`; a rerun with a different config keeps the first and adds a dated copy."""
  text = config.to_json_best_effort(indent=2, sort_keys=True) + "\n"
  path = workdir / "config.json"
  if path.is_file() and path.read_text() != text:
    path = workdir / f"config-{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}.json"
  path.write_text(text)


def check(config: config_dict.ConfigDict):
  """Every check that needs no model and no workdir (also for launchers, before sending a config); returns
  the job's module."""
  validate(config)
  job = importlib.import_module(JOBS[config.job])
  job.check(config)
  return job


def run(config: config_dict.ConfigDict, workdir: str | os.PathLike | None) -> epath.Path:
  """Checks `config` (all of it, before anything is written), then runs its job; returns the workdir."""
  job = check(config)
  with workdir_lib.claimed(workdir, config.job) as path:
    handler = _log_to_file(path)
    try:
      if hasattr(job, "check_workdir"):  # What the workdir already holds must belong to this run.
        job.check_workdir(config, path)
      if distributed.is_primary():
        _record_config(path, config)
      logging.info("Running job %r in %s", config.job, path)
      job.run(config, path)
    finally:
      if handler is not None:
        logging.getLogger().removeHandler(handler)
        handler.close()
  return path


def main(argv: list[str]) -> None:
  if len(argv) > 1:
    raise app.UsageError(f"Unexpected arguments: {argv[1:]}")
  if _CONFIG.value is None:
    raise app.UsageError("Pass --config=configs/<name>.py (see configs/).")
  logging.getLogger().setLevel(logging.INFO)
  logging.getLogger("jax._src.xla_bridge").setLevel(logging.WARNING)  # "Unable to initialize backend 'tpu'".
  for handler in logging.getLogger().handlers:
    handler.addFilter(_DropLibraryChatter())
    handler.addFilter(_QuietOrbaxConsole())
  sys.stderr = DropClosedLoopTracebacks(sys.stderr)
  if distributed.requested(_DISTRIBUTED.value):  # Before anything touches devices.
    distributed.initialize(_COORDINATOR.value, _NUM_PROCESSES.value, _PROCESS_ID.value)
  try:
    run(_CONFIG.value, _WORKDIR.value)
  except Interrupted as e:
    _exit(f"error: {e}", 130)
  except UserError as e:
    _exit(f"error: {e}", 2)
  except KeyboardInterrupt:
    _exit("error: interrupted. Rerun the same command with the same --workdir to resume.", 130)
  except Exception as e:  # pylint: disable=broad-except
    message = environment_error(e)
    if message is None:
      raise
    _exit(f"error: {message}", 1)


def environment_error(error: BaseException) -> str | None:
  """One line for a failure of the machine rather than the code (disk full, read-only disk), else None."""
  seen = error
  while seen is not None:
    number = getattr(seen, "errno", None)
    text = str(seen)
    if number == errno.ENOSPC or "No space left on device" in text:
      return ("the disk is full (No space left on device). Free some space, then rerun the same command with"
              " the same --workdir to resume.")
    if number in (errno.EROFS, errno.EACCES) or "Read-only file system" in text:
      return f"cannot write ({getattr(seen, 'strerror', None) or text}): give a --workdir you can write to."
    seen = seen.__cause__ or seen.__context__
  return None


def _exit(line: str, status: int) -> None:
  line = " ".join(line.split()) + "\n"
  if isinstance(sys.stderr, DropClosedLoopTracebacks):
    sys.stderr.write_now(line)
  else:
    sys.stderr.write(line)
  sys.exit(status)


def _parse_flags(argv: list[str]) -> list[str]:
  """absl's flag parsing plus `--config.dataset.family`, with every mistake as one line, no traceback."""
  argv, family, dataset_fields = overrides.split_dataset_family(argv)
  sys.argv = argv  # config_flags reads its overrides from sys.argv.
  try:
    rest = flags.FLAGS(argv)
    if _CONFIG.value is not None:
      list(_CONFIG.value.keys())  # A config file that failed to load raises only when first read.
      if family is not None:
        overrides.apply_dataset_family(_CONFIG.value, family, dataset_fields, argv)
    return rest
  except UserError as e:
    message = str(e)
  except Exception as e:  # pylint: disable=broad-except  # A config file that fails to load, or an override.
    message = _flag_error(e, argv)
  _exit(f"error: bad config: {message}", 2)
  return []


def _config_without_overrides(argv: list[str]) -> config_dict.ConfigDict | None:
  """The config file's config alone, to name the override it lacks (None if that fails too)."""
  plain = [a for a in argv if not a.startswith("--config.")]
  try:
    flags.FLAGS.unparse_flags()
    sys.argv = plain
    flags.FLAGS(plain)
    return _CONFIG.value if isinstance(_CONFIG.value, config_dict.ConfigDict) else None
  except Exception:  # pylint: disable=broad-except
    return None


def _flag_error(error: Exception, argv: list[str]) -> str:
  text = str(error)
  if "Error whilst parsing config file" in text or "Failed loading config file" in text:
    return overrides.config_file_error(text)
  config = _config_without_overrides(argv) if isinstance(error, (AttributeError, KeyError)) else None
  unknown = overrides.unknown_override(config, argv)
  if unknown:
    return unknown
  lines = [line for line in text.replace("\\n", "\n").splitlines() if line.strip()]
  first = " ".join(lines[0].replace("\\'", "'").strip("'\" ").split()) if lines else type(error).__name__
  return first if len(lines) <= 1 else f"{first} {lines[-1].strip()}"


if __name__ == "__main__":
  app.run(main, flags_parser=_parse_flags)
