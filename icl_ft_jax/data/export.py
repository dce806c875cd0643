"""Builds the datasets an experiment config names and writes them as JSONL.

`main.py` calls `export_datasets(config.datasets, workdir)` and prints
`format_summary_table(schema.summary_rows(datasets))`.
"""

from __future__ import annotations

import pathlib
from collections.abc import Mapping, Sequence
from typing import Any

from etils import epath

from icl_ft_jax import families
from icl_ft_jax.data import schema
from icl_ft_jax.errors import UserError


def plain_spec(spec: Mapping[str, Any]) -> dict[str, Any]:
  """A ConfigDict or mapping as a plain dict; lists become tuples (frozen configs)."""
  if hasattr(spec, "to_dict"):
    spec = spec.to_dict()
  return {key: tuple(value) if isinstance(value, list) else value for key, value in dict(spec).items()}


def export_datasets(dataset_specs: Mapping[str, Mapping[str, Any]], workdir: str | pathlib.Path) -> list[schema.Dataset]:
  """Generates each `name -> {family, **fields}` and saves it under `workdir/<name>/`."""
  workdir = epath.Path(workdir)
  datasets = []
  for name, spec in dataset_specs.items():
    try:
      dataset = families.build_dataset(plain_spec(spec))
    except (UserError, ValueError, TypeError, FileNotFoundError) as e:
      raise type(e)(f"datasets.{name}: {e}") from None
    schema.save_dataset(dataset, workdir / name)
    datasets.append(dataset)
  return datasets


def format_summary_table(rows: Sequence[Mapping[str, Any]]) -> str:
  """A plain text table (tabulate's), one line per row; numbers right-aligned, floats to 4 places."""
  import tabulate  # pylint: disable=g-import-not-at-top

  if not rows:
    return "(no datasets)"
  return tabulate.tabulate([dict(row) for row in rows], headers="keys", floatfmt=".4f")
