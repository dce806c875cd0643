"""Per dataset x split x condition x normalisation: mean and standard error over seeds, and a
95% bootstrap interval over facts (facts of every seed pooled: each seed draws its own dataset).

Beside them, the study's error bar: the mean and standard error of the split's inference
subtypes' accuracies (report/subtypes.py), and, from `summarize_subtypes`, one row per
subtype with the same statistics as a split's."""

from __future__ import annotations

import csv
import dataclasses
import io
import math
import os
from collections.abc import Sequence

from icl_ft_jax import storage
from icl_ft_jax.report import intervals, subtypes
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
  subtype: str = ""  # An inference subtype of the split ("syllogism/3-step"); "" for the whole split.
  # The study's error bar: mean and standard error of the subtypes' accuracies (seeds pooled), NaN with < 2.
  subtype_mean: float = math.nan
  subtype_stderr: float = math.nan
  num_subtypes: int = 0
  sentence_split: str = ""  # Fine-tuned conditions: how training documents were split (metadata).


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


def pooled_by_inference(records: Sequence[ResultRecord]) -> dict[str, dict[str, list[int]]]:
  """Each subtype's fact counts over several seeds' records, keyed by seed and fact."""
  pooled: dict[str, dict[str, list[int]]] = {}
  for r in records:
    for label, counts in r.by_inference.items():
      pooled.setdefault(label, {}).update({f"seed{r.seed}/{key}": list(c) for key, c in counts.items()})
  return pooled


def _groups(records: Sequence[ResultRecord]) -> dict[tuple, list[ResultRecord]]:
  groups: dict[tuple, list[ResultRecord]] = {}
  for r in records:
    groups.setdefault((r.dataset, r.split, r.condition, r.normalization), []).append(r)
  return groups


def _mean_and_stderr(values: Sequence[float]) -> tuple[float, float]:
  mean = sum(values) / len(values)
  var = sum((v - mean) ** 2 for v in values) / (len(values) - 1) if len(values) > 1 else 0.0
  return mean, math.sqrt(var / len(values))


def _sentence_split(records: Sequence[ResultRecord]) -> str:
  return ",".join(dict.fromkeys(str(r.metadata["sentence_split"]) for r in records if "sentence_split" in r.metadata))


def summarize(records: Sequence[ResultRecord]) -> list[Summary]:
  """One summary per split (subtype "")."""
  summaries = []
  for (dataset, split, condition, normalization), rs in _groups(records).items():
    mean, stderr = _mean_and_stderr([r.accuracy for r in rs])
    interval = interval_of(rs)
    spread = subtypes.spread(pooled_by_inference(rs))
    summaries.append(Summary(dataset=dataset, split=split, condition=condition, normalization=normalization,
                             mean=mean, stderr=stderr, num_seeds=len(rs),
                             n=rs[0].n, chance=rs[0].chance,
                             ci_low=interval.low if interval else math.nan,
                             ci_high=interval.high if interval else math.nan,
                             num_facts=interval.units if interval else 0,
                             subtype_mean=spread.mean if spread else math.nan,
                             subtype_stderr=spread.stderr if spread else math.nan,
                             num_subtypes=spread.num_subtypes if spread else 0,
                             sentence_split=_sentence_split(rs)))
  return summaries


def _subtype_chance(records: Sequence[ResultRecord], labels: Sequence[str]) -> float:
  """The question-weighted chance of the labels that make up a subtype."""
  weighted = total = 0.0
  for r in records:
    for label in labels:
      questions = sum(t for _, t in r.by_inference.get(label, {}).values())
      weighted += questions * r.inference_chance.get(label, r.chance)
      total += questions
  return weighted / total if total else math.nan


def summarize_subtypes(records: Sequence[ResultRecord]) -> list[Summary]:
  """One summary per inference subtype of each split, at every level that splits it (`subtypes.levels`)."""
  summaries = []
  for (dataset, split, condition, normalization), rs in _groups(records).items():
    per_seed = [subtypes.levels(r.by_inference) for r in rs]
    labels_of_split = pooled_by_inference(rs)
    for subtype, fact_counts in subtypes.levels(labels_of_split).items():
      seeds = [levels[subtype] for levels in per_seed if subtype in levels]
      mean, stderr = _mean_and_stderr([subtypes.accuracy(counts) for counts in seeds])
      interval = intervals.accuracy_interval(fact_counts)
      labels = [label for label in labels_of_split if subtype in subtypes.prefixes(label)]
      questions = sum(t for counts in seeds for _, t in counts.values())
      summaries.append(Summary(dataset=dataset, split=split, condition=condition, normalization=normalization,
                               mean=mean, stderr=stderr, num_seeds=len(seeds), n=round(questions / len(seeds)),
                               chance=_subtype_chance(rs, labels), ci_low=interval.low, ci_high=interval.high,
                               num_facts=interval.units, subtype=subtype, sentence_split=_sentence_split(rs)))
  return summaries


def csv_fields() -> list[str]:
  """Summary fields with `subtype` right after `split`."""
  names = [f.name for f in dataclasses.fields(Summary) if f.name != "subtype"]
  return [*names[:names.index("split") + 1], "subtype", *names[names.index("split") + 1:]]


def write_csv(path: str | os.PathLike, summaries: Sequence[Summary]) -> None:
  """Splits first, then their subtypes (pass `summarize(...) + summarize_subtypes(...)`)."""
  text = io.StringIO(newline="")
  writer = csv.DictWriter(text, fieldnames=csv_fields())
  writer.writeheader()
  for s in summaries:
    writer.writerow({k: round(v, 6) if isinstance(v, float) else v for k, v in dataclasses.asdict(s).items()})
  storage.write_text(path, text.getvalue())


def format_subtypes(split_summaries: Sequence[Summary], subtype_summaries: Sequence[Summary],
                    normalization: str = "sum") -> str:
  """Splits with subtypes: each split's mean +- standard error over subtypes, then each subtype's accuracy
  with its 95% interval over facts; a column per condition."""
  import tabulate  # pylint: disable=g-import-not-at-top

  from icl_ft_jax.report import records  # pylint: disable=g-import-not-at-top

  splits = [s for s in split_summaries if s.normalization == normalization and s.num_subtypes]
  parts = [s for s in subtype_summaries if s.normalization == normalization]
  conditions = sorted(dict.fromkeys(s.condition for s in splits), key=records.condition_rank)
  cells: dict[tuple, str] = {}
  rows: dict[tuple, tuple] = {}
  for s in splits:
    rows.setdefault((s.dataset, s.split, ""), (s.dataset, s.split, f"(mean of {s.num_subtypes} +- s.e.)", s.n))
    cells[(s.dataset, s.split, "", s.condition)] = f"{s.subtype_mean:.2f} +- {s.subtype_stderr:.2f}"
  for s in parts:
    if (s.dataset, s.split, "") in rows:
      rows.setdefault((s.dataset, s.split, s.subtype), (s.dataset, s.split, s.subtype, s.n))
      cells[(s.dataset, s.split, s.subtype, s.condition)] = f"{s.mean:.2f} [{s.ci_low:.2f}, {s.ci_high:.2f}]"
  if not rows:
    return ""
  body = [[*row, *(cells.get((*key, c), "-") for c in conditions)] for key, row in rows.items()]
  return (f"accuracy by inference type ({normalization}; split rows: mean +- standard error over subtypes,"
          " the study's error bars)\n" + tabulate.tabulate(
              body, headers=["dataset", "split", "subtype", "n", *conditions], disable_numparse=True))
