"""Multiple-choice helpers shared by the dataset families.

The correct choice's position is drawn from the seeded generator so that a
model cannot score well by preferring a position, and so that files stay
byte-identical for a given seed.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np


def shuffled_choices(
    correct: str, distractors: Sequence[str], rng: np.random.Generator
) -> tuple[tuple[str, ...], int]:
  """Returns (choices, answer index) with `correct` at a random position."""
  choices = [correct, *distractors]
  if len(set(choices)) != len(choices):
    raise ValueError(f"choices must be distinct, got {choices}.")
  order = rng.permutation(len(choices))
  shuffled = tuple(choices[i] for i in order)
  return shuffled, int(np.flatnonzero(order == 0)[0])


def sample_distractors(
    correct: str, pool: Sequence[str], count: int, rng: np.random.Generator, *, field: str
) -> list[str]:
  """Draws `count` distinct items of `pool` other than `correct`.

  `pool` must be a sequence (not a set) so that the draw is reproducible.
  `field` names the config field to change when the pool is too small.
  """
  candidates = [item for item in dict.fromkeys(pool) if item != correct]
  if len(candidates) < count:
    raise ValueError(
        f"{field}: need {count} distractors for {correct!r} but only {len(candidates)} other"
        " candidates exist; ask for fewer choices or more items."
    )
  picked = rng.choice(len(candidates), size=count, replace=False)
  return [candidates[i] for i in picked]
