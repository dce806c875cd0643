"""Mean and standard error over seeds, per dataset x split x condition x normalisation."""

from __future__ import annotations

import csv
import dataclasses
import math
import pathlib
from collections.abc import Sequence

from icl_ft_jax.report.records import ResultRecord


@dataclasses.dataclass(frozen=True, kw_only=True)
class Summary:
  dataset: str
  split: str
  condition: str
  normalization: str
  mean: float
  stderr: float  # Standard error of the mean over seeds (0 with one seed).
  num_seeds: int
  n: int  # Questions per seed.
  chance: float


def summarize(records: Sequence[ResultRecord]) -> list[Summary]:
  groups: dict[tuple, list[ResultRecord]] = {}
  for r in records:
    groups.setdefault((r.dataset, r.split, r.condition, r.normalization), []).append(r)
  summaries = []
  for (dataset, split, condition, normalization), rs in groups.items():
    accs = [r.accuracy for r in rs]
    mean = sum(accs) / len(accs)
    var = sum((a - mean) ** 2 for a in accs) / (len(accs) - 1) if len(accs) > 1 else 0.0
    summaries.append(Summary(dataset=dataset, split=split, condition=condition, normalization=normalization,
                             mean=mean, stderr=math.sqrt(var / len(accs)), num_seeds=len(accs),
                             n=rs[0].n, chance=rs[0].chance))
  return summaries


def write_csv(path: str | pathlib.Path, summaries: Sequence[Summary]) -> None:
  fields = [f.name for f in dataclasses.fields(Summary)]
  with pathlib.Path(path).open("w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=fields)
    writer.writeheader()
    for s in summaries:
      writer.writerow({k: round(v, 6) if isinstance(v, float) else v for k, v in dataclasses.asdict(s).items()})
