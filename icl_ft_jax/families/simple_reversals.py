"""Simple nonsense reversals: "X are <comparative> than Y", tested as "Y are <antonym> than X"."""

from icl_ft_jax import families
from icl_ft_jax.data import simple_reversals


def checker(dataset):
  from icl_ft_jax.augment import claims  # pylint: disable=g-import-not-at-top
  return claims.SimpleReversalsChecker(dataset.facts)


def oracle(dataset, include_derived):
  del include_derived  # A reversal is the only inference.
  from icl_ft_jax.augment import oracle as oracle_lib  # pylint: disable=g-import-not-at-top
  return oracle_lib.simple_reversals_statements(dataset)


FAMILY = families.Family(
    name="simple_reversals",
    generator=simple_reversals,
    presets={"study": {}, "cpu": {"num_facts": 40, "articles_per_fact": 3}},
    schedule=families.Schedule(cpu_steps=60, study_steps=300, max_length=32, sentence_split="none"),
    inference_splits=("reversal",),
    checker=checker,
    oracle=oracle,
    example_kinds=("comparison",),
    chars_per_token=(4.14, 3.75),
)
