"""Pieces every job shares: building the configured dataset, naming records, writing results."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Mapping, Sequence
from typing import Any

from etils import epath

from icl_ft_jax import distributed, families, sharding
from icl_ft_jax.data import schema
from icl_ft_jax.errors import ConfigError
from icl_ft_jax.jobs import run_identity
from icl_ft_jax.report import records


_BUILT: dict[str, schema.Dataset] = {}  # The last dataset built: checking a config builds it once.


def build_dataset(spec: Mapping[str, Any]) -> schema.Dataset:
  """The dataset a config section describes; bad fields are a one-line ConfigError."""
  spec = spec.to_dict() if hasattr(spec, "to_dict") else dict(spec)
  key = json.dumps(spec, sort_keys=True, default=str)
  if key not in _BUILT:
    try:
      dataset = families.build_dataset(spec)
    except (ConfigError, ValueError, TypeError, OSError) as e:
      raise ConfigError(f"dataset: {e}") from None
    _BUILT.clear()
    _BUILT[key] = dataset
  return _BUILT[key]


def check_scoring(config, dataset: schema.Dataset) -> None:
  """The scoring section's values, and every batch size against the mesh, checked before the model loads."""
  scoring = config.scoring
  for key in ("batch_size", "context_batch_size", "prefill_chunk"):
    if key in scoring and scoring[key] < 1:
      raise ConfigError(f"scoring.{key} must be >= 1, got {scoring[key]}.")
  sharding.check_batch_settings(config, sharding.make_mesh(config.mesh.to_dict()))
  if scoring.max_questions < 0:
    raise ConfigError(f"scoring.max_questions must be >= 0 (0 = every question), got {scoring.max_questions}.")
  unknown = [s for s in scoring.splits if s not in dataset.splits]
  if unknown:
    raise ConfigError(f"scoring.splits: dataset {dataset.name!r} has no split(s) {unknown};"
                      f" it has {sorted(dataset.splits)}.")


def under_dataset_name(results: Sequence[records.ResultRecord], dataset_name: str) -> list[records.ResultRecord]:
  """Records under the config's name for the dataset (e.g. "reversal_curse", not the family's)."""
  return [dataclasses.replace(r, dataset=dataset_name) for r in results]


def save_results(workdir: epath.Path, results: Sequence[records.ResultRecord]) -> list[records.ResultRecord]:
  """Merges `results` into `workdir/results.json` (process 0 only); returns all records."""
  if not distributed.is_primary():
    return list(results)
  return records.write_results(workdir / "results.json", results)


def save_condition(workdir: epath.Path, results: Sequence[records.ResultRecord], dataset_name: str,
                   ident: Mapping[str, Any]) -> list[records.ResultRecord]:
  """Saves one finished condition: its records under `dataset_name`, stamped with its identity."""
  run_identity.record(workdir, [ident])
  return save_results(workdir, run_identity.stamped(under_dataset_name(results, dataset_name), ident))
