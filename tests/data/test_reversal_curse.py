"""Our Reversal Curse generator: sizes, determinism, no leaked answers."""

import pytest

from icl_ft_jax.data import reversal_curse
from icl_ft_jax.data import splitting

import dataset_checks


@pytest.fixture(scope="module")
def dataset():
  return reversal_curse.generate(reversal_curse.Config())


def test_study_sizes(dataset):
  assert len(dataset.documents) == 3600
  assert {split: len(qs) for split, qs in dataset.splits.items()} == {
      "reversal": 300, "forward": 300, "d2p_forward": 300, "d2p_reversal": 300, "both": 300,
  }
  assert dataset.chance("reversal") == 0.25
  assert len({f.subject for f in dataset.facts}) == 90
  assert len({f.object for f in dataset.facts}) == 90


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
  config = reversal_curse.Config(celebrities_per_group=5)
  first = dataset_checks.saved_bytes(reversal_curse.generate(config), tmp_path / "a")
  again = dataset_checks.saved_bytes(reversal_curse.generate(config), tmp_path / "b")
  other = dataset_checks.saved_bytes(
      reversal_curse.generate(reversal_curse.Config(celebrities_per_group=5, seed=1)), tmp_path / "c"
  )
  assert first == again
  assert first["documents.jsonl"] != other["documents.jsonl"]
  assert first["questions.jsonl"] != other["questions.jsonl"]


def test_questions_well_formed(dataset):
  dataset_checks.check_questions_are_well_formed(dataset)


def test_correct_choice_is_the_fact(dataset):
  facts = dataset.facts_by_id
  for question in dataset.questions:
    fact = facts[question.fact_ids[0]]
    expected = fact.subject if question.metadata["direction"] == "d2p" else fact.object
    assert question.correct_choice == " " + expected
    others = [c.strip() for i, c in enumerate(question.choices) if i != question.answer]
    pool = {f.subject for f in dataset.facts} if question.metadata["direction"] == "d2p" else {
        f.object for f in dataset.facts}
    assert set(others) <= pool
    assert len(question.choices) == 4


def _order_in_documents(dataset, fact):
  """For every training document about `fact`: does the name come first?"""
  orders = set()
  for document in dataset.documents:
    if fact.id in document.fact_ids:
      assert fact.subject in document.text and fact.object in document.text
      orders.add(document.text.index(fact.subject) < document.text.index(fact.object))
  return orders


def test_reversed_order_never_trained_except_both_group(dataset):
  for fact in dataset.facts:
    orders = _order_in_documents(dataset, fact)
    expected = {"p2d": {True}, "d2p": {False}, "both": {True, False}}[fact.metadata["group"]]
    assert orders == expected, fact


def test_no_test_sentence_in_training(dataset):
  texts = [d.text for d in dataset.documents]
  trained_texts = set(texts)
  for question in dataset.questions:
    assert question.prompt + question.correct_choice + "." not in trained_texts
  # Test templates are held out: no training document starts with a test prompt's opening words.
  for question in dataset.splits["reversal"][:50]:
    opening = question.prompt.split(" the ")[0]
    assert not any(text.startswith(opening + " ") for text in texts), opening


def test_facts_are_in_training_documents_as_sentences(dataset):
  for document in dataset.documents[:200]:
    assert len(splitting.split_sentences(document.text)) == 1, document.text


@pytest.mark.parametrize(
    "overrides, field",
    [
        ({"train_templates": 35, "test_templates": 10}, "train_templates"),
        ({"num_choices": 1}, "num_choices"),
        ({"celebrities_per_group": 0}, "celebrities_per_group"),
        ({"celebrities_per_group": 2000}, "celebrities_per_group"),
    ],
)
def test_unsatisfiable_sizes_name_the_field(overrides, field):
  with pytest.raises(ValueError, match=field):
    reversal_curse.generate(reversal_curse.Config(**overrides))


def test_p2d_only_groups_keep_the_default_draws_for_that_group():
  """groups=("p2d",) makes a P2D-only dataset whose names are never training targets."""
  only = reversal_curse.generate(reversal_curse.Config(celebrities_per_group=6, train_templates=4,
                                                       test_templates=3, groups=("p2d",)))
  assert {s for s in only.splits} == {"forward", "reversal"}
  assert {f.metadata["group"] for f in only.facts} == {"p2d"}
  assert len(only.documents) == 6 * 4
  assert all(len(only.splits[s]) == 6 * 3 for s in ("forward", "reversal"))
  names = {f.subject for f in only.facts}
  for question in only.splits["reversal"]:
    assert {c.strip() for c in question.choices} <= names
  for document in only.documents:  # Every name comes first, before its description.
    fact = next(f for f in only.facts if f.id == document.fact_ids[0])
    assert document.text.index(fact.subject) < document.text.index(fact.object)


@pytest.mark.parametrize("groups", [(), ("p2d", "p2d"), ("sideways",)])
def test_bad_groups_are_refused(groups):
  with pytest.raises(ValueError, match="groups"):
    reversal_curse.generate(reversal_curse.Config(celebrities_per_group=2, groups=groups))


def test_documents_mark_where_the_completion_starts(dataset):
  for document in dataset.documents[:200]:
    completion = document.text[document.metadata["prompt_chars"]:]
    fact = next(f for f in dataset.facts if f.id == document.fact_ids[0])
    last = fact.object if document.metadata["direction"] == "p2d" else fact.subject
    assert completion == f" {last}."


def test_facts_share_no_name_part_or_title_word_while_the_pools_last():
  """Shared words make facts interfere (two "Orla"s, two "Silent ..." titles): the quickstart's size has none."""
  facts = reversal_curse.generate(reversal_curse.Config(celebrities_per_group=20, groups=("p2d",))).facts
  firsts = [f.subject.split()[0] for f in facts]
  lasts = [f.subject.split()[1] for f in facts]
  assert len(set(firsts)) == len(set(lasts)) == len(facts) == 20
  titles = [f.object.split("'")[1] for f in facts if "'" in f.object]
  title_words = [w for t in titles for w in t.replace("'s", "").split()
                 if w[0].isupper() and w not in ("The", "A", "An", "Dr.", "St.", "Letters", "Beneath", "Sea")]
  assert len(title_words) == len(set(title_words)), title_words
  assert not set(title_words) & set(lasts)
