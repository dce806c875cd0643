"""Generates every dataset of the study as JSONL under the workdir.

  python -m icl_ft_jax.main --config=configs/datasets.py --workdir=/tmp/datasets

Override a field with e.g. `--config.datasets.reversal_curse.seed=1`. To also
load Berglund et al.'s original files, add
`datasets.berglund_reversal_curse = {family: "berglund_reversal_curse", path: ...}`.
"""

import ml_collections


def get_config() -> ml_collections.ConfigDict:
  config = ml_collections.ConfigDict()
  config.job = "datasets"
  config.datasets = ml_collections.ConfigDict({
      "reversal_curse": {"family": "reversal_curse", "seed": 0},
      "simple_reversals": {"family": "simple_reversals", "seed": 0},
      "simple_syllogisms": {"family": "simple_syllogisms", "seed": 0},
      "semantic_structure": {"family": "semantic_structure", "seed": 0},
  })
  return config
