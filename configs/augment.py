"""Augmentation of one dataset: local and global model inferences, and the oracle control.

  python -m icl_ft_jax.main --config=configs/augment.py:reversal_curse --workdir=/tmp/augment
  python -m icl_ft_jax.main --config=configs/augment.py:simple_reversals \
      --config.augment.temperature=0.8 --config.augment.samples_per_input=8

Args: dataset (reversal_curse, simple_reversals, simple_syllogisms,
semantic_structure), size ("cpu" default, or "study"), seed.
"""

from ml_collections import config_dict

from icl_ft_jax import config_defaults as defaults


def get_config(arg: str | None = None) -> config_dict.ConfigDict:
  args = defaults.parse_arg(arg, dataset="reversal_curse", size="cpu", seed=0)
  config = defaults.base("augment", args["dataset"], args["size"], args["seed"])
  config.augment = defaults.augment(args["size"])
  config.augment.seed = args["seed"]
  return config
