"""The whole study on one dataset: pretrained, ICL, FT and augmented FT, over seeds.

  python -m icl_ft_jax.main --config=configs/experiment.py:reversal_curse --workdir=runs/reversal
  python -m icl_ft_jax.main --config=configs/experiment.py:semantic_structure,size=study,seeds=3 \
      --config.model.name=gemma3-4b        # on a TPU VM (see launch/)

Args: dataset (reversal_curse, simple_reversals, simple_syllogisms,
semantic_structure), size ("cpu" default, or "study"), seeds (how many: 0..N-1).
Rerunning the same command with the same --workdir skips what is done.
"""

from ml_collections import config_dict

from icl_ft_jax import config_defaults as defaults


def get_config(arg: str | None = None) -> config_dict.ConfigDict:
  args = defaults.parse_arg(arg, dataset="reversal_curse", size="cpu", seeds=1)
  config = config_dict.ConfigDict()
  config.job = "experiment"
  config.seed = 0  # Set per seed from `seeds`.
  config.seeds = tuple(range(args["seeds"]))
  config.conditions = ("pretrained", "icl", "ft", "ft+local", "ft+global", "ft+both", "ft+oracle")
  config.model = defaults.model()
  config.mesh = defaults.mesh()
  config.dataset_name = args["dataset"]
  config.dataset = defaults.dataset(args["dataset"], args["size"])
  config.icl = defaults.icl()
  if args["size"] == "study" and args["dataset"] in ("reversal_curse", "semantic_structure"):
    config.icl.subsample = 0.125  # The study subsamples its largest datasets 8x in context.
    config.icl.fit = "subsample"
  config.scoring = defaults.scoring()
  for section, value in defaults.finetune(args["dataset"], args["size"]).items():
    config[section] = value
  config.augment = defaults.augment()
  return config
