"""One result record per dataset x split x condition x normalisation, and their files.

`results.json` is a list of records; writers merge by key so that stages which
run separately (ICL, fine-tuning, augmentation) add to one file.
"""

from __future__ import annotations

import dataclasses
import json
import os
from collections.abc import Iterable, Sequence
from typing import Any

from icl_ft_jax import storage


# Conditions in the order the study compares them (others follow, alphabetically).
# Every condition an experiment knows, in the order tables and plots show them (and the experiment
# config's default list); jobs/experiment.py says what each one trains on.
CONDITION_ORDER = ("pretrained", "icl", "ft", "ft+local", "ft+global", "ft+both", "ft+oracle")


def condition_rank(condition: str) -> tuple[int, str]:
  return (CONDITION_ORDER.index(condition) if condition in CONDITION_ORDER else len(CONDITION_ORDER), condition)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ResultRecord:
  dataset: str
  split: str
  condition: str  # "pretrained", "icl", "ft", "ft+local", ...
  normalization: str  # "sum" (headline), "per_token", "per_char".
  accuracy: float
  n: int
  chance: float
  seed: int = 0
  # 95% bootstrap interval over facts (see report/intervals.py), and the counts it comes from:
  # fact key -> [questions answered correctly, questions].
  ci_low: float | None = None
  ci_high: float | None = None
  fact_counts: dict[str, list[int]] = dataclasses.field(default_factory=dict)
  # This split's pro-rata share (by question count) of the condition's measured scoring time, in seconds:
  # the splits are scored in one call, so no split's own time is measured.
  prorated_scoring_s: float = 0.0
  metadata: dict[str, Any] = dataclasses.field(default_factory=dict)
  # By inference type (the questions' `inference` labels; see report/subtypes.py): label -> fact key ->
  # [correct, questions], each label's chance, and the study's error bar: the mean and standard error of
  # the labels' accuracies (None with fewer than two labels).
  by_inference: dict[str, dict[str, list[int]]] = dataclasses.field(default_factory=dict)
  inference_chance: dict[str, float] = dataclasses.field(default_factory=dict)
  subtype_mean: float | None = None
  subtype_stderr: float | None = None

  @property
  def key(self) -> tuple:
    return (self.dataset, self.split, self.condition, self.normalization, self.seed)


def read_results(path: str | os.PathLike) -> list[ResultRecord]:
  path = storage.path(path)
  if not path.is_file():
    return []
  return [ResultRecord(**_renamed_fields(raw)) for raw in json.loads(path.read_text())]


# Fields renamed since results files were first written: old name -> new name.
_RENAMED_FIELDS = {"wall_time_s": "prorated_scoring_s"}


def _renamed_fields(raw: dict[str, Any]) -> dict[str, Any]:
  """A record as read from an older file, its renamed fields under their new names."""
  return {_RENAMED_FIELDS.get(key, key): value for key, value in raw.items()}


def write_results(path: str | os.PathLike, records: Iterable[ResultRecord]) -> list[ResultRecord]:
  """Merges `records` into the file at `path` (same key: the new one wins); returns all."""
  path = storage.path(path)
  merged = {r.key: r for r in read_results(path)}
  merged.update({r.key: r for r in records})
  ordered = sorted(merged.values(), key=lambda r: r.key)
  storage.write_text(path, json.dumps([dataclasses.asdict(r) for r in ordered], indent=2) + "\n")
  return ordered


def format_table(records: Sequence[ResultRecord], normalization: str = "sum", tablefmt: str = "simple") -> str:
  """Accuracy per dataset/split (rows) and condition (columns), with chance and 95% intervals.

  A cell is the mean over seeds and, when facts were recorded, the bootstrap interval
  over facts (pooled over seeds) in brackets. `tablefmt` is tabulate's ("github": Markdown).
  """
  import tabulate  # pylint: disable=g-import-not-at-top

  chosen = [r for r in records if r.normalization == normalization]
  conditions = sorted(dict.fromkeys(r.condition for r in chosen), key=condition_rank)
  rows = list(dict.fromkeys((r.dataset, r.split) for r in chosen))
  cell: dict[tuple, list[ResultRecord]] = {}
  chance: dict[tuple, float] = {}
  for r in chosen:
    cell.setdefault((r.dataset, r.split, r.condition), []).append(r)
    chance[(r.dataset, r.split)] = r.chance
  body = []
  for dataset, split in rows:
    values = [_cell(cell.get((dataset, split, condition), [])) for condition in conditions]
    n = max(r.n for r in chosen if (r.dataset, r.split) == (dataset, split))
    body.append([dataset, split, n, f"{chance[(dataset, split)]:.2f}", *values])
  title = f"accuracy ({normalization}; [95% bootstrap interval over facts])"
  return title + "\n" + tabulate.tabulate(body, headers=["dataset", "split", "n", "chance", *conditions],
                                          disable_numparse=True, tablefmt=tablefmt)


def _cell(records: Sequence[ResultRecord]) -> str:
  if not records:
    return "-"
  from icl_ft_jax.report import aggregate  # pylint: disable=g-import-not-at-top

  mean = sum(r.accuracy for r in records) / len(records)
  interval = aggregate.interval_of(records)
  return f"{mean:.2f}" if interval is None else f"{mean:.2f} [{interval.low:.2f}, {interval.high:.2f}]"
