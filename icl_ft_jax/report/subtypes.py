"""Accuracy by inference type within a split, and the study's error bars: standard error over subtypes.

A question's `inference` label is a path ("syllogism/3-step/can", "syllogism/Darii",
"reversal/is_a"). Results keep, per label, the questions right and asked per fact,
so each subtype gets its own accuracy and bootstrap interval. The study plots each
split with the standard error of its subtypes' accuracies; `spread` computes that
over the finest labels, and `levels` names the coarser groups reported too (the
depth of a deduction: "syllogism/3-step").
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence

# Inference label -> fact key -> [questions answered correctly, questions].
ByInference = Mapping[str, Mapping[str, Sequence[int]]]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Spread:
  """Mean and standard error of the subtypes' accuracies (each subtype weighs the same)."""

  mean: float
  stderr: float
  num_subtypes: int


def count_by_inference(labels: Sequence[str], fact_keys: Sequence[str],
                       correct: Sequence[bool]) -> dict[str, dict[str, list[int]]]:
  counts: dict[str, dict[str, list[int]]] = {}
  for label, key, is_correct in zip(labels, fact_keys, correct, strict=True):
    entry = counts.setdefault(label, {}).setdefault(key, [0, 0])
    entry[0] += int(is_correct)
    entry[1] += 1
  return counts


def accuracy(fact_counts: Mapping[str, Sequence[int]]) -> float:
  return sum(c for c, _ in fact_counts.values()) / sum(t for _, t in fact_counts.values())


def spread(by_inference: ByInference) -> Spread | None:
  """Over the labels as given; None with fewer than two (a split of one type has no such bar)."""
  accuracies = [accuracy(counts) for counts in by_inference.values()]
  if len(accuracies) < 2:
    return None
  mean = sum(accuracies) / len(accuracies)
  variance = sum((a - mean) ** 2 for a in accuracies) / (len(accuracies) - 1)
  return Spread(mean=mean, stderr=math.sqrt(variance / len(accuracies)), num_subtypes=len(accuracies))


def prefixes(label: str) -> list[str]:
  """"syllogism/3-step/can" -> ["syllogism/3-step", "syllogism/3-step/can"]; a one-part label has none."""
  parts = label.split("/")
  return ["/".join(parts[:k]) for k in range(2, len(parts) + 1)]


def levels(by_inference: ByInference) -> dict[str, dict[str, list[int]]]:
  """Fact counts of every subtype at every level of the labels, coarser ones merged from finer.

  A level is kept when it splits the split: at least two distinct labels there.
  """
  merged: dict[str, dict[str, list[int]]] = {}
  depth_of: dict[str, int] = {}
  for label, fact_counts in by_inference.items():
    for depth, group in enumerate(prefixes(label), start=2):
      depth_of[group] = depth
      target = merged.setdefault(group, {})
      for key, (c, t) in fact_counts.items():
        entry = target.setdefault(key, [0, 0])
        entry[0] += c
        entry[1] += t
  per_depth: dict[int, int] = {}
  for group, depth in depth_of.items():
    per_depth[depth] = per_depth.get(depth, 0) + 1
  return {group: counts for group, counts in sorted(merged.items()) if per_depth[depth_of[group]] >= 2}
