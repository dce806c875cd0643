"""What every dataset generator shares: seeded random streams and the record of what it generated."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

from icl_ft_jax.data import schema


def stream(seed: int, index: int) -> np.random.Generator:
  """An independent random stream per (seed, index): changing how one part draws leaves the others' draws."""
  return np.random.default_rng([seed, index])


def dataset(name: str, config: Any, *, documents: Iterable[schema.Document], questions: Iterable[schema.Question],
            facts: Iterable[schema.Fact], extra_info: Mapping[str, Any] | None = None) -> schema.Dataset:
  """The generated dataset, its info naming its family and every field of its config.

  `extra_info` adds what the generator derived, or records a field in another form (same key).
  """
  return schema.Dataset(name=name, documents=tuple(documents), questions=tuple(questions), facts=tuple(facts),
                        info={"family": name, **dataclasses.asdict(config), **(extra_info or {})})
