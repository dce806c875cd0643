"""Where runs write: a local folder or a `gs://` bucket, through one path type (`etils.epath.Path`).

On a multi-host TPU slice each host has its own disk, so a run's workdir is a
bucket every host sees; on a laptop it is a folder. Everything a run writes goes
through `path(...)`, and the few things object stores lack have one answer here:
no rename (a file is written in one piece: one object write is atomic on GCS; on
disk a temporary file is renamed over it), no append (`log_handler` keeps the log
on the local disk and copies it up whole), no files for matplotlib (`write_figure`
renders to bytes).
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import sys
import tempfile
import threading
import time

from etils import epath

Path = epath.Path


def path(where: str | os.PathLike) -> epath.Path:
  """`where` as the path type every write goes through (`gs://bucket/dir` stays a bucket path)."""
  return epath.Path(where)


def is_local(where: str | os.PathLike) -> bool:
  """Whether `where` is on this machine's file system (not `gs://`, `s3://`, ...)."""
  return "://" not in os.fspath(where)


def absolute(where: str | os.PathLike) -> epath.Path:
  """`where` made absolute on disk; a bucket path as it is (epath's `absolute()` would make it a local path)."""
  where = path(where)
  return where.absolute() if is_local(where) else where


def write_text(where: str | os.PathLike, text: str) -> None:
  """Writes `text` so that a reader (another host, a rerun after a kill) sees the old or the new file whole."""
  where = path(where)
  if not is_local(where):
    where.write_text(text, encoding="utf-8")
    return
  tmp = where.with_name(f"{where.name}.{os.getpid()}.tmp")
  tmp.write_text(text, encoding="utf-8")
  tmp.replace(where)


def write_figure(fig, where: str | os.PathLike, *, dpi: int = 120) -> epath.Path:
  """Saves a matplotlib figure as PNG at `where` (rendered in memory: matplotlib writes local files only)."""
  where = path(where)
  buffer = io.BytesIO()
  fig.savefig(buffer, format="png", dpi=dpi)
  where.parent.mkdir(parents=True, exist_ok=True)
  where.write_bytes(buffer.getvalue())
  return where


def copy_tree(source: str | os.PathLike, destination: str | os.PathLike) -> None:
  """Copies the files under the local folder `source` to `destination` (a folder or a bucket prefix)."""
  source, destination = path(source), path(destination)
  for folder, _, files in source.walk():  # epath has no rglob (`**` would list a whole bucket).
    for name in sorted(files):
      target = destination / (folder / name).relative_to(source)
      target.parent.mkdir(parents=True, exist_ok=True)
      (folder / name).copy(target, overwrite=True)


@contextlib.contextmanager
def staged(where: str | os.PathLike):
  """A local folder to write into for writers that need local files (safetensors): `where` itself on disk;
  for a bucket, a temporary folder copied to `where` when the block ends without an error."""
  if is_local(where):
    yield path(where)
    return
  with tempfile.TemporaryDirectory(prefix="icl_ft_jax-") as local:
    yield path(local)
    copy_tree(local, where)


def log_handler(where: str | os.PathLike, *, upload_every_s: float = 60.0) -> logging.Handler:
  """A handler that appends log records to `where`: a plain file handler on disk, `UploadedLog` elsewhere."""
  if is_local(where):
    return logging.FileHandler(os.fspath(where))
  return UploadedLog(path(where), upload_every_s=upload_every_s)


class UploadedLog(logging.FileHandler):
  """The log of a run whose workdir has no append (GCS): written to a local file, copied up whole.

  The copy goes up at most every `upload_every_s` seconds (on the next record after that) and on
  close, so a killed run loses at most that much of its log; a rerun first copies the earlier log
  down, so the log continues across resumes.
  """

  def __init__(self, remote: epath.Path, *, upload_every_s: float = 60.0):
    self.remote = remote
    self._every_s = upload_every_s
    self._last = time.monotonic()
    self._uploading = threading.local()  # A backend that logs while uploading must not upload again.
    fd, local = tempfile.mkstemp(prefix="icl_ft_jax-", suffix="-log.txt")
    with os.fdopen(fd, "wb") as f:
      if remote.exists():
        f.write(remote.read_bytes())
    super().__init__(local, mode="a", encoding="utf-8")

  def emit(self, record: logging.LogRecord) -> None:
    super().emit(record)
    if time.monotonic() - self._last >= self._every_s:
      self.upload()

  def upload(self) -> None:
    if getattr(self._uploading, "active", False):
      return
    self._uploading.active = True
    try:
      self.flush()
      with open(self.baseFilename, "rb") as f:  # The local copy, not the workdir.
        self.remote.write_bytes(f.read())
      self._last = time.monotonic()
    except Exception as e:  # pylint: disable=broad-except  # A failed copy must not stop the run.
      print(f"warning: could not copy the log to {self.remote}: {e}", file=sys.stderr, flush=True)
    finally:
      self._uploading.active = False

  def close(self) -> None:
    if self.stream is not None:
      self.upload()
    super().close()
    if os.path.exists(self.baseFilename):
      os.remove(self.baseFilename)
