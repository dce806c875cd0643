"""The semantic structure benchmark: a real-world hierarchy in nonsense words, tested on rephrasings,
reversals, syllogisms and held-out categories."""

from icl_ft_jax import families
from icl_ft_jax.data import semantic_structure


def checker(dataset):
  from icl_ft_jax.augment import claims  # pylint: disable=g-import-not-at-top
  return claims.SemanticChecker(dataset.facts, dataset.info)


def oracle(dataset, include_derived):
  from icl_ft_jax.augment import oracle as oracle_lib  # pylint: disable=g-import-not-at-top
  return oracle_lib.semantic_statements(dataset, include_derived)


FAMILY = families.Family(
    name="semantic_structure",
    generator=semantic_structure,
    presets={"study": {}, "cpu": {"num_documents": 400, "num_rephrasing_questions": 60,
                                  "num_reversal_questions": 60, "num_syllogism_questions": 80}},
    # The study kept the FT baseline's articles whole (up to 512 tokens).
    schedule=families.Schedule(cpu_steps=100, study_steps=1000, max_length=512, sentence_split="none"),
    inference_splits=("reversal", "syllogism", "category_holdout"),
    checker=checker,
    oracle=oracle,
    # The study split the augmented conditions' documents into sentences; a sentence or augmented
    # statement (at most augment.max_chars=200 characters) fits in 128 tokens.
    augmented_data={"sentence_split": "independent", "max_length": 128},
    icl_subsample=0.125,  # The study subsampled its long context 8x here, where long contexts interfere.
    example_kinds=("category",),
    chars_per_token=(2.68, 3.65),
)
