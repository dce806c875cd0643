"""Training metrics to a JSONL file and TensorBoard under the workdir."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Mapping

from icl_ft_jax import distributed


class MetricWriter:
  """Appends `{"step": s, **scalars}` lines to `train_log.jsonl` and TensorBoard scalars.

  A resumed run appends; steps repeated after a kill show up twice in the JSONL,
  each line with the values of the run that logged it. On several hosts only
  process 0 writes.
  """

  def __init__(self, workdir: str | pathlib.Path, *, tensorboard: bool = True):
    workdir = pathlib.Path(workdir)
    self.jsonl_path = workdir / "train_log.jsonl"
    self._enabled = distributed.is_primary()
    self._jsonl = self.jsonl_path.open("a", encoding="utf-8") if self._enabled else None
    self._tensorboard = None
    if tensorboard and self._enabled:
      from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top

      self._tensorboard = SummaryWriter(str(workdir / "tensorboard"))

  def write(self, step: int, scalars: Mapping[str, float]) -> None:
    if not self._enabled:
      return
    scalars = {k: float(v) for k, v in scalars.items()}
    self._jsonl.write(json.dumps({"step": step, **scalars}) + "\n")
    self._jsonl.flush()
    if self._tensorboard is not None:
      for name, value in scalars.items():
        self._tensorboard.add_scalar(name, value, step)
      self._tensorboard.flush()

  def close(self) -> None:
    if self._jsonl is not None:
      self._jsonl.close()
    if self._tensorboard is not None:
      self._tensorboard.close()
