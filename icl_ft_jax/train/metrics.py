"""Training metrics to a JSONL file and TensorBoard under the workdir."""

from __future__ import annotations

import json
import pathlib
from collections.abc import Mapping

from icl_ft_jax import distributed


class MetricWriter:
  """Writes `{"step": s, **scalars}` lines to `train_log.jsonl` and TensorBoard scalars.

  One line per step and kind (training or `eval/` scalars): a run resumed from
  `resume_step` first drops the lines a killed run logged past it, and a line
  logged again (the final evaluation of a finished run, rerun) replaces the old
  one. On several hosts only process 0 writes.
  """

  def __init__(self, workdir: str | pathlib.Path, *, tensorboard: bool = True, resume_step: int = 0):
    workdir = pathlib.Path(workdir)
    self.jsonl_path = workdir / "train_log.jsonl"
    self._enabled = distributed.is_primary()
    self._rows: dict[tuple[int, str], dict] = {}
    self._tensorboard = None
    if not self._enabled:
      return
    old = _read_rows(self.jsonl_path)
    self._rows = {_key(row): row for row in old if row["step"] <= resume_step}
    if len(self._rows) != len(old):
      self._rewrite()
    if tensorboard:
      from tensorboardX import SummaryWriter  # pylint: disable=g-import-not-at-top

      self._tensorboard = SummaryWriter(str(workdir / "tensorboard"))

  def _rewrite(self) -> None:
    tmp = self.jsonl_path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(row) + "\n" for row in self._rows.values()), encoding="utf-8")
    tmp.replace(self.jsonl_path)

  def write(self, step: int, scalars: Mapping[str, float]) -> None:
    if not self._enabled:
      return
    row = {"step": step, **{k: float(v) for k, v in scalars.items()}}
    replaced = _key(row) in self._rows
    self._rows[_key(row)] = row
    if replaced:
      self._rewrite()
    else:
      with self.jsonl_path.open("a", encoding="utf-8") as f:
        f.write(json.dumps(row) + "\n")
    if self._tensorboard is not None:
      for name, value in row.items():
        if name != "step":
          self._tensorboard.add_scalar(name, value, step)
      self._tensorboard.flush()

  def close(self) -> None:
    if self._tensorboard is not None:
      self._tensorboard.close()


def _key(row: Mapping) -> tuple[int, str]:
  return (int(row["step"]), "eval" if all(k.startswith("eval/") for k in row if k != "step") else "train")


def _read_rows(path: pathlib.Path) -> list[dict]:
  """The log's rows; a line cut short by a kill is dropped."""
  if not path.is_file():
    return []
  rows = []
  for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
    try:
      row = json.loads(line)
    except json.JSONDecodeError:
      continue
    if isinstance(row, dict) and isinstance(row.get("step"), int):
      rows.append(row)
  return rows
