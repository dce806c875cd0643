"""Evaluation refuses a bad split choice with a one-line config error."""

import pytest

from icl_ft_jax import evaluation
from icl_ft_jax.data import registry
from icl_ft_jax.errors import ConfigError


def test_unknown_split_is_a_config_error():
  dataset = registry.build_dataset({"family": "simple_reversals", "num_facts": 2, "articles_per_fact": 1})
  with pytest.raises(ConfigError, match=r"scoring.splits: .*no split\(s\) \['nope'\]"):
    evaluation.evaluate(None, dataset, condition="pretrained", splits=("nope",))


def test_max_questions_draws_across_the_split_not_a_prefix():
  from icl_ft_jax import evaluation  # pylint: disable=g-import-not-at-top
  from icl_ft_jax.data import schema  # pylint: disable=g-import-not-at-top

  questions = [schema.Question(id=f"fact{i // 10}/q{i % 10}", split="s", prompt="p", choices=(" a", " b"), answer=0)
               for i in range(100)]
  chosen = evaluation.subsample_questions(questions, 20, seed=0)
  assert len(chosen) == 20 and len({q.id for q in chosen}) == 20
  assert len({q.id.split("/")[0] for q in chosen}) >= 6  # A prefix of 20 would cover only 2 facts.
  assert [questions.index(q) for q in chosen] == sorted(questions.index(q) for q in chosen)
  assert evaluation.subsample_questions(questions, 20, seed=0) == chosen
  assert evaluation.subsample_questions(questions, 20, seed=1) != chosen
  assert evaluation.subsample_questions(questions, 0, seed=0) == tuple(questions)
