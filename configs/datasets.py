"""Generates every dataset of the study as JSONL under the workdir.

  python -m icl_ft_jax.main --config=configs/datasets.py --workdir=/tmp/datasets

Override a field with e.g. `--config.datasets.reversal_curse.seed=1`. To also
load Berglund et al.'s original files, add
`datasets.berglund_reversal_curse = {family: "berglund_reversal_curse", path: ...}`.
"""

import ml_collections

from icl_ft_jax import config_defaults


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.job = "datasets"
  config.tfds = False  # Also build TFDS (array_record) datasets under DIR/tfds.
  # Every generation field is listed (study sizes), so each can be overridden by flag.
  config.datasets = ml_collections.ConfigDict({
      name: config_defaults.dataset(name, "study")
      for name in ("reversal_curse", "simple_reversals", "simple_syllogisms", "semantic_structure", "process_knowledge")
  })
  return config
