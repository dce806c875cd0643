"""Generates every dataset of the study as JSONL under the workdir.

  python -m icl_ft_jax.main --config=configs/datasets.py --workdir=/tmp/datasets
  python -m icl_ft_jax.main --config=configs/datasets.py:berglund=/path/to/june_version_7921032488 ...

Override a field with e.g. `--config.datasets.reversal_curse.seed=1`. The arg
`berglund=PATH` also loads Berglund et al.'s original Reversal Curse files from PATH
(the folder `data/reverse_experiments/june_version_7921032488/` of their repository).
"""

import ml_collections

from icl_ft_jax import config_defaults


def get_config(arg: str | None = None) -> ml_collections.ConfigDict:
  args = config_defaults.parse_arg(arg, berglund="")
  config = ml_collections.ConfigDict()
  config.job = "datasets"
  config.tfds = False  # Also build TFDS (array_record) datasets under DIR/tfds.
  # Every generation field is listed (study sizes), so each can be overridden by flag.
  config.datasets = ml_collections.ConfigDict({
      name: config_defaults.dataset(name, "study")
      for name in ("reversal_curse", "simple_reversals", "simple_syllogisms", "semantic_structure", "process_knowledge")
  })
  if args["berglund"]:
    config.datasets.berglund_reversal_curse = {"family": "berglund_reversal_curse", "path": args["berglund"]}
  return config
