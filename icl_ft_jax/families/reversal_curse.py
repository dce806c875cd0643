"""The Reversal Curse: fictitious people, each described in one direction, asked about in both."""

from icl_ft_jax import families
from icl_ft_jax.data import reversal_curse


def checker(dataset):
  from icl_ft_jax.augment import claims  # pylint: disable=g-import-not-at-top
  return claims.ReversalCurseChecker(dataset.facts)


def oracle(dataset, include_derived):
  del include_derived  # A reversal is the only inference.
  from icl_ft_jax.augment import oracle as oracle_lib  # pylint: disable=g-import-not-at-top
  return oracle_lib.reversal_curse_statements(dataset)


FAMILY = families.Family(
    name="reversal_curse",
    generator=reversal_curse,
    presets={"study": {}, "cpu": {"celebrities_per_group": 10, "train_templates": 3}},
    schedule=families.Schedule(cpu_steps=60, study_steps=1000, max_length=64, sentence_split="none"),
    inference_splits=("reversal", "d2p_reversal"),
    checker=checker,
    oracle=oracle,
    example_kinds=("person",),
    chars_per_token=(4.51, 4.53),
)
