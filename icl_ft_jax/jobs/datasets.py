"""Job `datasets`: write every configured dataset as JSONL and print a summary table.

With `config.tfds = True` it also builds each one as a TFDS dataset (array_record).
"""

from __future__ import annotations

from etils import epath

from icl_ft_jax.data import export, schema
from icl_ft_jax.errors import ConfigError
from icl_ft_jax.jobs import common


def check(config) -> None:
  """Every dataset builds (bad fields, missing files) before the workdir is made."""
  for spec in config.datasets.values():
    common.build_dataset(export.plain_spec(spec))


def run(config, workdir: epath.Path) -> None:
  try:
    datasets = export.export_datasets(config.datasets, workdir)
  except (ValueError, TypeError, FileNotFoundError) as e:
    raise ConfigError(str(e)) from None
  print(export.format_summary_table(schema.summary_rows(datasets)))
  print(f"\nWrote {len(datasets)} dataset(s) as JSONL under {workdir}")
  if config.get("tfds", False):
    from icl_ft_jax.data import tfds_builders  # pylint: disable=g-import-not-at-top

    for name, spec in config.datasets.items():
      builder_dir = tfds_builders.build(name, export.plain_spec(spec), workdir / "tfds")
      print(f"TFDS (array_record): {builder_dir}  ->  tfds.data_source('icl_ft_dataset/{name}',"
            f" data_dir='{workdir / 'tfds'}')")
