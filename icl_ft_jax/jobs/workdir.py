"""The workdir a run writes into: created only once the config is valid, locked, and left clean.

A workdir is a local folder or a `gs://` bucket path (`icl_ft_jax.storage`); a
multi-host run needs one every host sees. A second run in the same workdir is
refused in one line instead of racing the first: on disk, process 0 holds an
exclusive lock on `.lock` for the whole run; in a bucket (no locks), process 0
writes `.lock` with its host and the time and rewrites it every minute, and a
run finding a `.lock` written in the last `REMOTE_LOCK_STALE_S` seconds is
refused (one that died frees the workdir that long after; two runs started in
the same second are not told apart). A run refused after the workdir was made,
but before it wrote anything of its own, removes the folder again, so a fixed
command starts from a clean slate.
"""

from __future__ import annotations

import contextlib
import datetime
import fcntl
import json
import logging
import os
import socket
import threading
import time

import jax
from etils import epath

from icl_ft_jax import distributed, storage
from icl_ft_jax.errors import UserError
from icl_ft_jax.train import checkpointing

LOCK_FILE = ".lock"
# What a run writes before any work (the entry point's files and the fine-tuning identity): a workdir
# holding only these has nothing to keep, and keeping it would refuse the corrected rerun.
OWN_FILES = frozenset({LOCK_FILE, "config.json", "log.txt", checkpointing.IDENTITY_FILE})
REMOTE_LOCK_BEAT_S = 60  # How often a run rewrites its `.lock` in a bucket.
REMOTE_LOCK_STALE_S = 300  # A bucket `.lock` not rewritten for this long belongs to a run that died.


def default_path(job: str) -> epath.Path:
  return storage.path("runs") / f"{job}-{datetime.datetime.now().strftime('%Y%m%d-%H%M%S')}"


def predictions_path(workdir: str | os.PathLike | None, condition: str, seed: int) -> epath.Path | None:
  """Where `condition`'s per-question predictions go: written by process 0 only (None elsewhere)."""
  if workdir is None or not distributed.is_primary():
    return None
  return storage.path(workdir) / "predictions" / f"{condition}-seed{seed}.jsonl"


def _first_missing(path: epath.Path) -> epath.Path | None:
  """The outermost folder of `path` that does not exist yet (None if `path` exists)."""
  if not storage.is_local(path):  # A bucket has no folders above the workdir to create.
    return None if path.exists() else path
  missing = None
  for folder in (path, *path.parents):
    if folder.exists():
      return missing
    missing = folder
  return missing


def _reason(error: Exception) -> str:
  lines = str(getattr(error, "strerror", None) or error).strip().splitlines()
  return lines[0] if lines else type(error).__name__


def _make(path: epath.Path) -> None:
  try:
    if path.exists() and not path.is_dir():
      raise UserError(f"--workdir {path} is a file, not a folder; give a folder path.")
    path.mkdir(parents=True, exist_ok=True)
  except UserError:
    raise
  except Exception as e:  # pylint: disable=broad-except  # OSError on disk; the backend's own errors for gs://.
    raise UserError(f"Cannot create the workdir {path} ({_reason(e)}); give a --workdir you can write to.") from None
  if storage.is_local(path) and not os.access(path, os.W_OK | os.X_OK):
    raise UserError(f"The workdir {path} is not writable; give a --workdir you can write to.")


@contextlib.contextmanager
def _locked(path: epath.Path):
  lock_path = path / LOCK_FILE
  try:
    lock = open(os.fspath(lock_path), "a+", encoding="utf-8")  # flock needs a local file (epath has no "a+").
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


def _lock_owner() -> dict:
  return {"host": socket.gethostname(), "pid": os.getpid(), "time": time.time()}


@contextlib.contextmanager
def _remote_locked(path: epath.Path):
  """The bucket's stand-in for a lock: a `.lock` object kept fresh while the run lives (see the docstring)."""
  lock_path = path / LOCK_FILE
  if lock_path.exists():
    try:
      owner = json.loads(lock_path.read_text())
      age = time.time() - float(owner["time"])
    except (ValueError, KeyError, TypeError):
      owner, age = {}, 0.0
    if age < REMOTE_LOCK_STALE_S:
      raise UserError(f"The workdir {path} is in use by another run (host {owner.get('host', 'unknown')}, process"
                      f" {owner.get('pid', 'unknown')}, seen {age:.0f} s ago); wait for it to finish, or use another"
                      f" --workdir (a run that died frees it {REMOTE_LOCK_STALE_S} s after it was last seen).")
  try:
    lock_path.write_text(json.dumps(_lock_owner()) + "\n")
  except Exception as e:  # pylint: disable=broad-except
    raise UserError(f"Cannot write to the workdir {path} ({_reason(e)}); give a --workdir you can write to.") from None
  stop = threading.Event()

  def beat() -> None:
    while not stop.wait(REMOTE_LOCK_BEAT_S):
      try:
        lock_path.write_text(json.dumps(_lock_owner()) + "\n")
      except Exception as e:  # pylint: disable=broad-except  # A missed beat must not stop the run.
        logging.warning("Could not refresh %s: %s", lock_path, e)

  thread = threading.Thread(target=beat, name="workdir-lock", daemon=True)
  thread.start()
  try:
    yield
  finally:
    stop.set()
    thread.join()
    with contextlib.suppress(Exception):
      lock_path.unlink(missing_ok=True)


def _remove_if_unused(created: epath.Path | None, path: epath.Path) -> None:
  """Removes the folders this run created when nothing but the entry point's own files is inside."""
  if created is None or not path.is_dir() or any(p.name not in OWN_FILES for p in path.iterdir()):
    return
  path.rmtree(missing_ok=True)
  if not storage.is_local(path):
    return
  for folder in path.parents:  # Up to and including `created`, while empty.
    if created not in (folder, *folder.parents):
      break
    with contextlib.suppress(OSError):
      folder.rmdir()


@contextlib.contextmanager
def claimed(workdir: str | None, job: str):
  """Creates and locks the run's workdir (a folder or `gs://...`); yields its path. Process 0 locks and cleans up."""
  if workdir:
    path = storage.path(workdir)
  elif jax.process_count() > 1:
    # Each process would stamp its own time: checkpoints and results would land in different folders.
    raise UserError("A multi-host run needs an explicit --workdir that every host sees (gs://bucket/dir), the same on"
                    " every process.")
  else:
    path = default_path(job)
  created = _first_missing(storage.absolute(path))
  _make(path)
  if not distributed.is_primary():
    yield path
    return
  with (_locked if storage.is_local(path) else _remote_locked)(path):
    try:
      yield path
    except BaseException:
      _remove_if_unused(created, storage.absolute(path))
      raise
