"""Job `report`: one figure and one Markdown table over several experiment workdirs.

Reads each workdir's `results.json`, summarises it as the experiment job does
(`report.aggregate`: mean over seeds, bootstrap interval over facts pooled over
seeds) and writes into the report's workdir `report.md` and `plots/report.png`
(one panel per dataset). Nothing is recomputed: no model is loaded.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Sequence

from etils import epath

from icl_ft_jax import distributed, storage
from icl_ft_jax.errors import ConfigError
from icl_ft_jax.report import aggregate, plots, records

NORMALIZATIONS = ("sum", "per_token", "per_char")


def workdirs_of(config) -> tuple[epath.Path, ...]:
  """`config.workdirs` (folders or gs:// paths), also when given on the command line as "runs/a,runs/b"."""
  return tuple(storage.path(w.strip()) for item in config.workdirs for w in item.split(",") if w.strip())


def check(config) -> None:
  workdirs = workdirs_of(config)
  if not workdirs:
    raise ConfigError("workdirs is empty: give experiment workdirs, e.g. --config=configs/report.py:runs/a,runs/b.")
  missing = [str(w) for w in workdirs if not (w / "results.json").is_file()]
  if missing:
    raise ConfigError(f"no results.json in {', '.join(missing)}: give workdirs of finished experiment runs.")
  if config.normalization not in NORMALIZATIONS:
    raise ConfigError(f"normalization must be one of {', '.join(NORMALIZATIONS)}, got {config.normalization!r}.")


def read_all(workdirs: Sequence[epath.Path]) -> list[records.ResultRecord]:
  """Every workdir's records; a dataset found in several workdirs is named `<dataset> (<workdir>)` in each."""
  found = {w: records.read_results(w / "results.json") for w in workdirs}
  homes = collections.defaultdict(set)
  for workdir, rs in found.items():
    for r in rs:
      homes[r.dataset].add(workdir)
  return [dataclasses.replace(r, dataset=f"{r.dataset} ({workdir})") if len(homes[r.dataset]) > 1 else r
          for workdir, rs in found.items() for r in rs]


def markdown(everything: Sequence[records.ResultRecord], workdirs: Sequence[epath.Path], normalization: str) -> str:
  sources = "\n".join(f"- `{w}`" for w in workdirs)
  return (f"# Results\n\nFrom the experiment workdirs:\n{sources}\n\n"
          + records.format_table(everything, normalization, tablefmt="github") + "\n")


def run(config, workdir: epath.Path) -> None:
  check(config)
  if not distributed.is_primary():
    return
  workdirs = workdirs_of(config)
  everything = read_all(workdirs)
  text = markdown(everything, workdirs, config.normalization)
  storage.write_text(workdir / "report.md", text)
  plot = plots.plot_datasets(aggregate.summarize(everything), workdir / "plots" / "report.png", config.normalization)
  print(text + f"\nTable: {workdir / 'report.md'}\nPlot: {plot}")
