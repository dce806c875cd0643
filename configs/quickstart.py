"""The README's main job: the reversal-curse comparison on the embedded Gemma 3 270M, on a CPU.

  python -m icl_ft_jax.main --config=configs/quickstart.py

Runs the pretrained baseline and in-context learning on a CPU-sized Reversal
Curse dataset, then prints the comparison table. (It grows into the full
experiment, with fine-tuning and augmented fine-tuning, as those stages land.)
"""

from ml_collections import config_dict

from icl_ft_jax import config_defaults as defaults


def get_config(arg: str | None = None) -> config_dict.ConfigDict:
  del arg
  config = config_dict.ConfigDict()
  config.job = "icl"
  config.seed = 0
  config.model = defaults.model()
  config.mesh = defaults.mesh()
  config.dataset_name = "reversal_curse"
  config.dataset = defaults.dataset("reversal_curse", "cpu")
  config.conditions = ("pretrained", "icl")
  config.icl = defaults.icl()
  config.scoring = defaults.scoring()
  config.scoring.splits = ("forward", "reversal")
  config.scoring.max_questions = 40
  return config
