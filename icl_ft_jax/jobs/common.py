"""Pieces every job shares: building the configured dataset, naming records, writing results."""

from __future__ import annotations

import dataclasses
import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

from icl_ft_jax import distributed
from icl_ft_jax.data import registry, schema
from icl_ft_jax.errors import ConfigError
from icl_ft_jax.report import records


def build_dataset(spec: Mapping[str, Any]) -> schema.Dataset:
  """The dataset a config section describes; bad fields are a one-line ConfigError."""
  spec = spec.to_dict() if hasattr(spec, "to_dict") else dict(spec)
  try:
    return registry.build_dataset(spec)
  except (ValueError, TypeError, FileNotFoundError) as e:
    raise ConfigError(f"dataset: {e}") from None


def named(results: Sequence[records.ResultRecord], dataset_name: str) -> list[records.ResultRecord]:
  """Records under the config's name for the dataset (e.g. "reversal_curse", not the family's)."""
  return [dataclasses.replace(r, dataset=dataset_name) for r in results]


def save_results(workdir: pathlib.Path, results: Sequence[records.ResultRecord]) -> list[records.ResultRecord]:
  """Merges `results` into `workdir/results.json` (process 0 only); returns all records."""
  if not distributed.is_primary():
    return list(results)
  return records.write_results(workdir / "results.json", results)
