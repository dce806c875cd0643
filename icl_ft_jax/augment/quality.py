"""Augmentation quality against ground truth: validity and coverage of test inferences.

Possible because our datasets are synthetic. For a set of statements:
  * validity: the share whose claims are all true or validly entailed (a statement
    our readers cannot parse counts as not valid, so validity is a lower bound);
  * coverage: per test split, the share of questions whose answer some valid
    statement states, in the order the question asks it (a reversal needs the
    object first); `inference_coverage` averages the splits that test an inference
    the training documents do not state (the family's `inference_splits`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from icl_ft_jax import families
from icl_ft_jax.augment import claims as claims_lib
from icl_ft_jax.data import schema

@dataclasses.dataclass(frozen=True, kw_only=True)
class Quality:
  num_statements: int
  num_valid: int
  num_false: int  # Some claim contradicts the ground truth or is not entailed.
  num_unverifiable: int  # No claim our readers can check.
  coverage: Mapping[str, float]  # Split -> share of its questions answered by a valid statement.
  inference_coverage: float

  @property
  def validity(self) -> float:
    return self.num_valid / self.num_statements if self.num_statements else 0.0

  def to_json(self) -> dict:
    return {**dataclasses.asdict(self), "coverage": dict(self.coverage), "validity": round(self.validity, 4)}


def assess(dataset: schema.Dataset, statements: Sequence[str]) -> Quality:
  """Validity and coverage of `statements` as augmentation of `dataset`."""
  checker = claims_lib.checker_for(dataset)
  valid_claims: set[tuple[tuple[str, ...], bool]] = set()
  num_valid = num_false = num_unverifiable = 0
  for statement in statements:
    found = checker.claims(statement)
    if not found:
      num_unverifiable += 1
    elif all(c.valid for c in found):
      num_valid += 1
    else:
      num_false += 1
    valid_claims.update((c.key, c.object_first) for c in found if c.valid)
  coverage = {}
  for split, questions in dataset.splits.items():
    covered = total = 0
    for question in questions:
      requirement = checker.required(question)
      if requirement is None:
        continue
      total += 1
      orders = (True, False) if requirement.object_first is None else (requirement.object_first,)
      covered += any((requirement.key, order) in valid_claims for order in orders)
    coverage[split] = round(covered / total, 4) if total else 0.0
  relevant = [coverage[s] for s in families.of(dataset).inference_splits if s in coverage]
  return Quality(num_statements=len(statements), num_valid=num_valid, num_false=num_false,
                 num_unverifiable=num_unverifiable, coverage=coverage,
                 inference_coverage=round(sum(relevant) / len(relevant), 4) if relevant else 0.0)
