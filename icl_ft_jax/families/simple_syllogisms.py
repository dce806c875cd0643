"""Simple syllogisms over nonsense terms: two premises per example, the conclusion tested."""

from icl_ft_jax import families
from icl_ft_jax.data import syllogisms


def checker(dataset):
  from icl_ft_jax.augment import claims  # pylint: disable=g-import-not-at-top
  return claims.SyllogismsChecker(dataset.facts)


def oracle(dataset, include_derived):
  from icl_ft_jax.augment import oracle as oracle_lib  # pylint: disable=g-import-not-at-top
  return oracle_lib.syllogism_statements(dataset, include_derived)


FAMILY = families.Family(
    name="simple_syllogisms",
    generator=syllogisms,
    presets={"study": {}, "cpu": {}},
    schedule=families.Schedule(cpu_steps=60, study_steps=200, max_length=64, sentence_split="independent"),
    inference_splits=("syllogism",),
    checker=checker,
    oracle=oracle,
    example_kinds=("quantified",),
    chars_per_token=(3.36, 3.78),
)
