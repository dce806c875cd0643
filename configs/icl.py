"""Pretrained (no context) and in-context learning on one dataset.

  python -m icl_ft_jax.main --config=configs/icl.py:reversal_curse --workdir=/tmp/icl
  python -m icl_ft_jax.main --config=configs/icl.py:semantic_structure,size=study \
      --config.icl.subsample=0.125

Args: dataset (reversal_curse, simple_reversals, simple_syllogisms,
semantic_structure), size ("cpu" default, or "study"), seed.
"""

from ml_collections import config_dict

from icl_ft_jax import config_defaults as defaults


def get_config(arg: str | None = None) -> config_dict.ConfigDict:
  args = defaults.parse_arg(arg, dataset="reversal_curse", size="cpu", seed=0)
  config = defaults.base("icl", args["dataset"], args["size"], args["seed"])
  config.conditions = ("pretrained", "icl")
  config.icl = defaults.icl_for(args["dataset"], args["size"], args["seed"])
  config.scoring = defaults.scoring()
  return config
