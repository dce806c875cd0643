"""Dataset families by name: one module each, imported only when asked for.

Each family module defines a frozen keyword-only dataclass `Config` (its
generation parameters, with the study's sizes as defaults, including `seed`) and
`generate(config: Config) -> schema.Dataset`. `build_dataset` turns the dataset
part of an experiment config (a mapping with `family` plus overrides) into a
Dataset, with clear errors for unknown families or fields.
"""

from __future__ import annotations

import importlib
from collections.abc import Mapping
from typing import Any

from icl_ft_jax import config_sections
from icl_ft_jax.data import schema

FAMILIES: dict[str, str] = {
    "reversal_curse": "icl_ft_jax.data.reversal_curse",
    "berglund_reversal_curse": "icl_ft_jax.data.berglund",
    "simple_reversals": "icl_ft_jax.data.simple_reversals",
    "simple_syllogisms": "icl_ft_jax.data.syllogisms",
    "semantic_structure": "icl_ft_jax.data.semantic_structure",
    "process_knowledge": "icl_ft_jax.data.process_knowledge",
}


def family_module(family: str):
  if family not in FAMILIES:
    raise ValueError(f"Unknown dataset family {family!r}. Known families: {', '.join(sorted(FAMILIES))}.")
  return importlib.import_module(FAMILIES[family])


def family_config(family: str, overrides: Mapping[str, Any] | None = None):
  """The family's `Config` with `overrides` applied; unknown fields are an error."""
  return config_sections.build(family_module(family).Config, overrides or {}, f"Dataset family {family!r}")


def build_dataset(spec: Mapping[str, Any]) -> schema.Dataset:
  """Generates (or loads) a dataset from `{"family": name, **config_fields}`."""
  spec = dict(spec)
  if "family" not in spec:
    raise ValueError("The dataset config needs a `family` field, one of: " + ", ".join(sorted(FAMILIES)))
  family = spec.pop("family")
  module = family_module(family)
  return module.generate(family_config(family, spec))
