"""Process knowledge: rules of an algebra and worked examples; tested on held-out rule combinations."""

from icl_ft_jax import families
from icl_ft_jax.data import process_knowledge


def checker(dataset):
  from icl_ft_jax.augment import process_knowledge as augment_pk  # pylint: disable=g-import-not-at-top
  return augment_pk.ProcessKnowledgeChecker(dataset.facts, dict(dataset.info))


def oracle(dataset, include_derived):
  from icl_ft_jax.augment import process_knowledge as augment_pk  # pylint: disable=g-import-not-at-top
  return augment_pk.oracle_statements(dataset, include_derived)


FAMILY = families.Family(
    name="process_knowledge",
    generator=process_knowledge,
    presets={"study": {}, "cpu": {"num_primitives": 4, "statements_per_rule": 2, "num_worked_examples": 36,
                                  "num_compositional_questions": 40, "num_in_distribution_questions": 40}},
    # Worked examples stay whole (a derivation split into sentences loses its steps); up to 560 tokens.
    schedule=families.Schedule(cpu_steps=60, study_steps=500, max_length=640, sentence_split="none"),
    inference_splits=("compositional", "in_distribution"),
    checker=checker,
    oracle=oracle,
    chars_per_token=(2.02, 1.84),
)
