"""Bootstrap intervals over facts, for one accuracy and for the difference of two.

Questions about the same fact are not independent (a fine-tuned model that learned
a fact answers all its templates), so the unit of resampling is the fact: each
resample draws facts with replacement and pools their questions. A paired
difference resamples the same facts for both conditions. `scipy.stats.bootstrap`
(percentile method) does the resampling, seeded, so intervals are reproducible.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
RESAMPLES = 2000

# Fact key -> (questions answered correctly, questions).
FactCounts = Mapping[str, Sequence[int]]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Interval:
  estimate: float
  low: float
  high: float
  units: int  # Facts resampled.

  def contains(self, value: float) -> bool:
    return self.low <= value <= self.high

  def __str__(self) -> str:
    return f"{self.estimate:.2f} [{self.low:.2f}, {self.high:.2f}]"


def fact_key(fact_ids: Sequence[str], question_id: str) -> str:
  """The resampling unit of a question: its facts (or the question itself if it names none)."""
  return "|".join(sorted(fact_ids)) if fact_ids else question_id


def count_by_fact(keys: Sequence[str], correct: Sequence[bool]) -> dict[str, list[int]]:
  counts: dict[str, list[int]] = {}
  for key, is_correct in zip(keys, correct, strict=True):
    entry = counts.setdefault(key, [0, 0])
    entry[0] += int(is_correct)
    entry[1] += 1
  return counts


def _ratio(correct, total, axis=-1):
  return np.sum(correct, axis=axis) / np.sum(total, axis=axis)


def _bootstrap(arrays: tuple[np.ndarray, ...], statistic, estimate: float, seed: int) -> tuple[float, float]:
  """Percentile interval of `statistic` over paired resamples of facts (a point with < 2 facts)."""
  if len(arrays[0]) < 2:
    return estimate, estimate
  with np.errstate(invalid="ignore", divide="ignore"):
    result = stats.bootstrap(arrays, statistic, paired=True, vectorized=True, n_resamples=RESAMPLES,
                             confidence_level=CONFIDENCE, method="percentile", rng=np.random.default_rng(seed))
  low, high = float(result.confidence_interval.low), float(result.confidence_interval.high)
  return min(low, estimate), max(high, estimate)


def accuracy_interval(counts: FactCounts, *, seed: int = 0) -> Interval:
  """Accuracy with a 95% bootstrap interval over facts.

  With fewer than two facts, or facts all alike, resampling facts says nothing; the
  interval is then Wilson's over questions, so it is never a zero-width bar.
  """
  correct = np.array([c for c, _ in counts.values()], float)
  total = np.array([t for _, t in counts.values()], float)
  estimate = float(correct.sum() / total.sum())
  low, high = _bootstrap((correct, total), _ratio, estimate, seed)
  if low == high:
    wilson = stats.binomtest(int(correct.sum()), int(total.sum())).proportion_ci(CONFIDENCE, method="wilson")
    low, high = float(wilson.low), float(wilson.high)
  return Interval(estimate=estimate, low=low, high=high, units=len(counts))


def difference_interval(first: FactCounts, second: FactCounts, *, seed: int = 0) -> Interval:
  """`first - second` accuracy on the facts both scored, resampling facts for both at once."""
  shared = sorted(set(first) & set(second))
  if not shared:
    raise ValueError("The two results share no facts: a paired difference needs the same questions.")
  a = np.array([first[k] for k in shared], float)
  b = np.array([second[k] for k in shared], float)
  arrays = (a[:, 0], a[:, 1], b[:, 0], b[:, 1])
  statistic = lambda ca, ta, cb, tb, axis=-1: _ratio(ca, ta, axis) - _ratio(cb, tb, axis)
  estimate = float(statistic(*arrays))
  low, high = _bootstrap(arrays, statistic, estimate, seed)
  return Interval(estimate=estimate, low=low, high=high, units=len(shared))
