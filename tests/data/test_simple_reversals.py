"""Simple nonsense reversals: 100 facts, 28 dimensions, 10 articles each."""

import collections

import pytest

from icl_ft_jax.data import simple_reversals
from icl_ft_jax.data import words

import dataset_checks


@pytest.fixture(scope="module")
def dataset():
  return simple_reversals.generate(simple_reversals.Config())


def test_study_sizes(dataset):
  assert len(dataset.facts) == 100
  assert len(dataset.documents) == 1000
  assert len(dataset.splits["reversal"]) == 100
  assert dataset.chance("reversal") == 0.5
  assert len({f.metadata["dimension"] for f in dataset.facts}) == 28
  per_fact = collections.Counter(d.fact_ids[0] for d in dataset.documents)
  assert set(per_fact.values()) == {10}
  for fact_id in per_fact:
    texts = [d.text for d in dataset.documents if d.fact_ids == (fact_id,)]
    assert len(set(texts)) == 10  # Distinct lead-ins.


def test_antonym_pairs_share_no_word():
  used = [c for pair in simple_reversals.DIMENSIONS for c in pair]
  assert len(used) == len(set(used)) == 56


def test_entities_are_nonsense_and_unique(dataset):
  entities = [e for f in dataset.facts for e in (f.subject, f.object)]
  assert len(set(entities)) == 200
  assert not set(entities) & words.english_words()
  assert all(4 <= len(e) <= 5 for e in entities)


def test_reversal_is_antonym_with_entities_swapped(dataset):
  facts = dataset.facts_by_id
  for question in dataset.splits["reversal"]:
    fact = facts[question.fact_ids[0]]
    assert question.prompt == f"{fact.object} are"
    assert question.correct_choice == f" {fact.metadata['antonym']} than {fact.subject}"
    wrong = question.choices[1 - question.answer]
    assert wrong == f" {fact.metadata['comparative']} than {fact.subject}"


def test_no_test_statement_in_training(dataset):
  corpus = "\n".join(d.text for d in dataset.documents)
  for question in dataset.splits["reversal"]:
    for choice in question.choices:
      assert question.prompt + choice not in corpus
  for question in dataset.splits["forward"]:
    assert question.prompt + question.correct_choice in corpus  # The trained statement.


def test_questions_well_formed(dataset):
  dataset_checks.check_questions_are_well_formed(dataset)


def test_determinism(tmp_path):
  config = simple_reversals.Config(num_facts=20)
  a = dataset_checks.saved_bytes(simple_reversals.generate(config), tmp_path / "a")
  b = dataset_checks.saved_bytes(simple_reversals.generate(config), tmp_path / "b")
  c = dataset_checks.saved_bytes(simple_reversals.generate(simple_reversals.Config(num_facts=20, seed=1)), tmp_path / "c")
  assert a == b
  assert a["facts.jsonl"] != c["facts.jsonl"]


@pytest.mark.parametrize(
    "overrides, field",
    [({"articles_per_fact": 21}, "articles_per_fact"), ({"num_dimensions": 29}, "num_dimensions"),
     ({"num_facts": 0}, "num_facts"), ({"num_facts": 10**6}, "num_facts")],
)
def test_unsatisfiable_sizes_name_the_field(overrides, field):
  with pytest.raises(ValueError, match=field):
    simple_reversals.generate(simple_reversals.Config(**overrides))
