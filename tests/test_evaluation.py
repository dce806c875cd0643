"""Evaluation refuses a bad split choice with a one-line config error."""

import pytest

from icl_ft_jax import evaluation
from icl_ft_jax.data import registry
from icl_ft_jax.errors import ConfigError


def test_unknown_split_is_a_config_error():
  dataset = registry.build_dataset({"family": "simple_reversals", "num_facts": 2, "articles_per_fact": 1})
  with pytest.raises(ConfigError, match=r"scoring.splits: .*no split\(s\) \['nope'\]"):
    evaluation.evaluate(None, dataset, condition="pretrained", splits=("nope",))
