"""Training metrics through `clu.metric_writers`: TensorBoard and `train_log.jsonl`, process 0 only.

    writer = create_writer(workdir, resume_step=latest)
    writer.write_scalars(step, {"loss": 0.5})
    writer.flush(); writer.close()

clu has no JSONL writer, so `JsonlWriter` is one more `metric_writers.MetricWriter`; TensorBoard
is clu's `SummaryWriter`; `MultiWriter` sends every call to both.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from typing import Any

from clu import metric_writers
from etils import epath

from icl_ft_jax import distributed, storage

LOG_NAME = "train_log.jsonl"


class JsonlWriter(metric_writers.MetricWriter):
  """Writes `{"step": s, **scalars}` lines to a JSONL file; only scalars are logged.

  One line per step and kind (training or `eval/` scalars): a run resumed from
  `resume_step` first drops the lines a killed run logged past it, and a line
  logged again (the final evaluation of a finished run, rerun) replaces the old one. On disk a new
  line is appended; in a bucket (no append) the file is rewritten whole, one small write per log step.
  """

  def __init__(self, path: str | os.PathLike, *, resume_step: int = 0, append: bool | None = None):
    self.path = storage.path(path)
    self._append = storage.is_local(self.path) if append is None else append
    old = _read_rows(self.path)
    self._rows = {_key(row): row for row in old if row["step"] <= resume_step}
    if len(self._rows) != len(old):
      self._rewrite()

  def _rewrite(self) -> None:
    storage.write_text(self.path, "".join(json.dumps(row) + "\n" for row in self._rows.values()))

  def write_scalars(self, step: int, scalars: Mapping[str, Any]) -> None:
    row = {"step": int(step), **{k: float(v) for k, v in scalars.items()}}
    replaced = _key(row) in self._rows
    self._rows[_key(row)] = row
    if replaced or not self._append:
      self._rewrite()
    else:
      with self.path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")

  # Not scalars: nothing to log in a JSONL of scalars.
  def write_summaries(self, step, values, metadata=None) -> None:
    pass

  def write_images(self, step, images) -> None:
    pass

  def write_videos(self, step, videos) -> None:
    pass

  def write_audios(self, step, audios, *, sample_rate) -> None:
    pass

  def write_texts(self, step, texts) -> None:
    pass

  def write_histograms(self, step, arrays, num_buckets=None) -> None:
    pass

  def write_hparams(self, hparams) -> None:
    pass

  def flush(self) -> None:
    pass  # Every line is written (and closed) as it comes.

  def close(self) -> None:
    pass


def create_writer(workdir: str | os.PathLike, *, resume_step: int = 0, tensorboard: bool = True
                  ) -> metric_writers.MetricWriter:
  """`train_log.jsonl` and TensorBoard events (`tensorboard/`) under `workdir`, written by process 0;
  other processes get a writer that writes nothing."""
  if not distributed.is_primary():
    return metric_writers.MultiWriter([])
  workdir = storage.path(workdir)
  writers: list[metric_writers.MetricWriter] = [JsonlWriter(workdir / LOG_NAME, resume_step=resume_step)]
  if tensorboard:
    writers.append(metric_writers.SummaryWriter(str(workdir / "tensorboard")))
  return metric_writers.MultiWriter(writers)


def _key(row: Mapping) -> tuple[int, str]:
  return (int(row["step"]), "eval" if all(k.startswith("eval/") for k in row if k != "step") else "train")


def _read_rows(path: epath.Path) -> list[dict]:
  """The log's rows; a line cut short by a kill is dropped."""
  if not path.is_file():
    return []
  rows = []
  for line in path.read_bytes().decode("utf-8", errors="replace").splitlines():
    try:
      row = json.loads(line)
    except json.JSONDecodeError:
      continue
    if isinstance(row, dict) and isinstance(row.get("step"), int):
      rows.append(row)
  return rows
