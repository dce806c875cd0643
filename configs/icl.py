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
  config = config_dict.ConfigDict()
  config.job = "icl"
  config.seed = args["seed"]
  config.model = defaults.model()
  config.mesh = defaults.mesh()
  config.dataset_name = args["dataset"]
  config.dataset = defaults.dataset(args["dataset"], args["size"], args["seed"])
  config.conditions = ("pretrained", "icl")
  config.icl = defaults.icl()
  config.icl.seed = args["seed"]
  if args["dataset"] == "semantic_structure" or (args["size"] == "study" and args["dataset"] == "reversal_curse"):
    config.icl.subsample = 0.125  # The study subsamples its largest datasets 8x in context.
    config.icl.fit = "subsample"
  config.scoring = defaults.scoring()
  return config
