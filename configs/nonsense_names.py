"""The Reversal Curse with nonsense names vs real names (the study's appendix B.2), on ICL and FT.

  python -m icl_ft_jax.main --config=configs/nonsense_names.py:names=real --workdir=runs/names
  python -m icl_ft_jax.main --config=configs/nonsense_names.py:names=nonsense --workdir=runs/names

Run both into one workdir: `results.json` and `results.csv` then hold `reversal_curse`
and `reversal_curse_nonsense` side by side. The two datasets are the same draw
(descriptions, templates, question order, choice positions) with each celebrity's
name replaced by two nonsense words, so only the names differ. Args: names
(real | nonsense, default nonsense), size (cpu | study), seeds. Conditions:
pretrained, icl, ft (add augmentation with --config.conditions=...).
"""

from ml_collections import config_dict

from icl_ft_jax import config_defaults as defaults
from icl_ft_jax.data import reversal_curse


def get_config(arg: str | None = None) -> config_dict.ConfigDict:
  args = defaults.parse_arg(arg, names="nonsense", size="cpu", seeds=1)
  if args["names"] not in reversal_curse.NAME_KINDS:
    raise ValueError(f"names must be one of {reversal_curse.NAME_KINDS}, got {args['names']!r}.")
  config = defaults.experiment("reversal_curse", args["size"], seeds=args["seeds"])
  config.dataset.names = args["names"]
  config.dataset_name = "reversal_curse" if args["names"] == "real" else "reversal_curse_nonsense"
  config.conditions = ("pretrained", "icl", "ft")
  return config
