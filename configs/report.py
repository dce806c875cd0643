"""One figure and one Markdown table for a whole study: several experiment workdirs together.

  python -m icl_ft_jax.main --config=configs/report.py:runs/reversal,runs/syllogisms --workdir=runs/report
  python -m icl_ft_jax.main --config=configs/report.py --config.workdirs=runs/a,runs/b

Arg: the experiment workdirs (each with a `results.json`), comma-separated. Writes
`report.md` (accuracy per dataset, split and condition with 95% intervals over facts)
and `plots/report.png` (a panel per dataset, splits on the x axis, a bar per
condition, chance dashed) into --workdir. A dataset found in two workdirs (say two
models) gets a panel for each, named after its workdir.
"""

from ml_collections import config_dict


def get_config(arg: str | None = None) -> config_dict.ConfigDict:
  config = config_dict.ConfigDict()
  config.job = "report"
  # Experiment workdirs; an item may hold several, comma-separated (as on the command line).
  config.workdirs = tuple(w for w in (arg or "").split(",") if w)
  config.normalization = "sum"  # The headline scoring ("per_token" and "per_char" are also recorded).
  return config
