"""Fine-tuning on one dataset, then testing with no context (the study's FT condition).

  python -m icl_ft_jax.main --config=configs/finetune.py:simple_reversals --workdir=/tmp/ft
  python -m icl_ft_jax.main --config=configs/finetune.py:reversal_curse,size=study \
      --config.tuning.lora_rank=16 --config.train.steps=1000

Args: dataset (reversal_curse, simple_reversals, simple_syllogisms,
semantic_structure), size ("cpu" default, or "study"), seed. Rerunning the
same command with the same --workdir resumes from the last checkpoint.
"""

from ml_collections import config_dict

from icl_ft_jax import config_defaults as defaults


def get_config(arg: str | None = None) -> config_dict.ConfigDict:
  args = defaults.parse_arg(arg, dataset="simple_reversals", size="cpu", seed=0)
  config = defaults.base("finetune", args["dataset"], args["size"], args["seed"])
  for section, value in defaults.finetune(args["dataset"], args["size"]).items():
    config[section] = value
  config.scoring = defaults.scoring()
  return config
