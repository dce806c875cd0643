"""Job `datasets`: write every configured dataset as JSONL and print a summary table."""

from __future__ import annotations

import pathlib

from icl_ft_jax.data import export, schema
from icl_ft_jax.errors import ConfigError


def run(config, workdir: pathlib.Path) -> None:
  try:
    datasets = export.export_datasets(config.datasets, workdir)
  except (ValueError, TypeError, FileNotFoundError) as e:
    raise ConfigError(str(e)) from None
  print(export.format_summary_table(schema.summary_rows(datasets)))
  print(f"\nWrote {len(datasets)} dataset(s) under {workdir}")
