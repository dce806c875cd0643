"""The workdir a run writes into: created only once the config is valid, locked, and left clean.

A second run in the same workdir is refused in one line instead of racing the
first (process 0 holds an exclusive lock on `.lock` for the whole run). A run
refused after the workdir was made, but before it wrote anything of its own,
removes the folder again, so a fixed command starts from a clean slate.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import os
import pathlib
import shutil

import jax

from icl_ft_jax import distributed
from icl_ft_jax.errors import UserError
from icl_ft_jax.train import checkpointing

LOCK_FILE = ".lock"
# What a run writes before any work (the entry point's files and the fine-tuning identity): a workdir
# holding only these has nothing to keep, and keeping it would refuse the corrected rerun.
OWN_FILES = frozenset({LOCK_FILE, "config.json", "log.txt", checkpointing.IDENTITY_FILE})


def default_path(job: str) -> pathlib.Path:
  return pathlib.Path("runs") / f"{job}-{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}"


def predictions_path(workdir: pathlib.Path | None, condition: str, seed: int) -> pathlib.Path | None:
  """Where `condition`'s per-question predictions go: written by process 0 only (None elsewhere)."""
  if workdir is None or not distributed.is_primary():
    return None
  return pathlib.Path(workdir) / "predictions" / f"{condition}-seed{seed}.jsonl"


def _first_missing(path: pathlib.Path) -> pathlib.Path | None:
  """The outermost folder of `path` that does not exist yet (None if `path` exists)."""
  missing = None
  for folder in (path, *path.parents):
    if folder.exists():
      return missing
    missing = folder
  return missing


def _make(path: pathlib.Path) -> None:
  if path.exists() and not path.is_dir():
    raise UserError(f"--workdir {path} is a file, not a folder; give a folder path.")
  try:
    path.mkdir(parents=True, exist_ok=True)
  except OSError as e:
    raise UserError(f"Cannot create the workdir {path} ({e.strerror}); give a --workdir you can write to.") from None
  if not os.access(path, os.W_OK | os.X_OK):
    raise UserError(f"The workdir {path} is not writable; give a --workdir you can write to.")


@contextlib.contextmanager
def _locked(path: pathlib.Path):
  lock_path = path / LOCK_FILE
  try:
    lock = lock_path.open("a+")
  except OSError as e:
    raise UserError(f"Cannot write to the workdir {path} ({e.strerror}); give a --workdir you can write to.") from None
  with lock:
    try:
      fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
      lock.seek(0)
      owner = lock.read().strip() or "unknown"
      raise UserError(f"The workdir {path} is in use by another run (process {owner}); wait for it to finish,"
                      " or use another --workdir.") from None
    lock.seek(0)
    lock.truncate()
    lock.write(f"{os.getpid()}\n")
    lock.flush()
    try:
      yield
    finally:
      fcntl.flock(lock, fcntl.LOCK_UN)


def _remove_if_unused(created: pathlib.Path | None, path: pathlib.Path) -> None:
  """Removes the folders this run created when nothing but the entry point's own files is inside."""
  if created is None or not path.is_dir() or any(p.name not in OWN_FILES for p in path.iterdir()):
    return
  shutil.rmtree(path, ignore_errors=True)
  for folder in path.parents:  # Up to and including `created`, while empty.
    if created not in (folder, *folder.parents):
      break
    with contextlib.suppress(OSError):
      folder.rmdir()


@contextlib.contextmanager
def claimed(workdir: str | None, job: str):
  """Creates and locks the run's workdir; yields its path. Process 0 locks and cleans up."""
  if workdir:
    path = pathlib.Path(workdir)
  elif jax.process_count() > 1:
    # Each process would stamp its own time: checkpoints and results would land in different folders.
    raise UserError("A multi-host run needs an explicit --workdir, the same on every process.")
  else:
    path = default_path(job)
  created = _first_missing(path.absolute())
  _make(path)
  if not distributed.is_primary():
    yield path
    return
  with _locked(path):
    try:
      yield path
    except BaseException:
      _remove_if_unused(created, path.absolute())
      raise
