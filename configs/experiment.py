"""The whole study on one dataset: pretrained, ICL, FT and augmented FT, over seeds.

  python -m icl_ft_jax.main --config=configs/experiment.py:reversal_curse --workdir=runs/reversal
  python -m icl_ft_jax.main --config=configs/experiment.py:semantic_structure,size=study,seeds=3 \
      --config.model.name=gemma3-4b        # on a TPU VM (see launch/)

Args: dataset (reversal_curse, simple_reversals, simple_syllogisms,
semantic_structure, process_knowledge), size ("cpu" default, or "study"), seeds
(how many: 0..N-1). The Reversal Curse with nonsense names: configs/nonsense_names.py.
Rerunning the same command with the same --workdir skips what is done.
"""

from ml_collections import config_dict

from icl_ft_jax import config_defaults as defaults


def get_config(arg: str | None = None) -> config_dict.ConfigDict:
  args = defaults.parse_arg(arg, dataset="reversal_curse", size="cpu", seeds=1)
  return defaults.experiment(args["dataset"], args["size"], seeds=args["seeds"])
