"""Per dataset x split x condition x normalisation: mean and standard error over seeds, and a
95% bootstrap interval over facts (facts of every seed pooled: each seed draws its own dataset)."""

from __future__ import annotations

import csv
import dataclasses
import math
import pathlib
from collections.abc import Sequence

from icl_ft_jax.report import intervals
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
  ci_low: float  # 95% bootstrap interval over facts (pooled over seeds).
  ci_high: float
  num_facts: int


def pooled_fact_counts(records: Sequence[ResultRecord]) -> dict[str, list[int]]:
  """Fact counts of several seeds' records, keyed by seed and fact (seeds draw different datasets)."""
  return {f"seed{r.seed}/{key}": list(counts) for r in records for key, counts in r.fact_counts.items()}


def interval_of(records: Sequence[ResultRecord]) -> intervals.Interval | None:
  """The pooled interval, or None for records written before intervals were recorded."""
  counts = pooled_fact_counts(records)
  return intervals.accuracy_interval(counts) if counts else None


def difference(records: Sequence[ResultRecord], first: str, second: str, *, dataset: str, split: str,
               normalization: str = "sum") -> intervals.Interval | None:
  """Paired `first - second` accuracy on one split, resampling facts (None if either is missing)."""
  pick = lambda condition: pooled_fact_counts([r for r in records if (r.dataset, r.split, r.condition,
                                                                       r.normalization) == (
      dataset, split, condition, normalization)])
  a, b = pick(first), pick(second)
  if not a or not b or not set(a) & set(b):
    return None
  return intervals.difference_interval(a, b)


def summarize(records: Sequence[ResultRecord]) -> list[Summary]:
  groups: dict[tuple, list[ResultRecord]] = {}
  for r in records:
    groups.setdefault((r.dataset, r.split, r.condition, r.normalization), []).append(r)
  summaries = []
  for (dataset, split, condition, normalization), rs in groups.items():
    accs = [r.accuracy for r in rs]
    mean = sum(accs) / len(accs)
    var = sum((a - mean) ** 2 for a in accs) / (len(accs) - 1) if len(accs) > 1 else 0.0
    interval = interval_of(rs)
    summaries.append(Summary(dataset=dataset, split=split, condition=condition, normalization=normalization,
                             mean=mean, stderr=math.sqrt(var / len(accs)), num_seeds=len(accs),
                             n=rs[0].n, chance=rs[0].chance,
                             ci_low=interval.low if interval else math.nan,
                             ci_high=interval.high if interval else math.nan,
                             num_facts=interval.units if interval else 0))
  return summaries


def write_csv(path: str | pathlib.Path, summaries: Sequence[Summary]) -> None:
  fields = [f.name for f in dataclasses.fields(Summary)]
  with pathlib.Path(path).open("w", newline="") as f:
    writer = csv.DictWriter(f, fieldnames=fields)
    writer.writeheader()
    for s in summaries:
      writer.writerow({k: round(v, 6) if isinstance(v, float) else v for k, v in dataclasses.asdict(s).items()})
