"""Simple syllogisms, checked by a model checker written apart from the generator.

The checker reads the statements back from the text and decides entailment by
enumerating every assignment of the three terms to subsets of a 3-element
universe (enough: a countermodel needs at most one witness per existential
statement, and there are at most three). Statements have no existential import.
"""

import collections
import itertools
import re

import pytest

from icl_ft_jax.data import syllogisms

import dataset_checks

_STATEMENT = re.compile(r"^(All|Some|No) (\w+) are (\w+)\.$")
_UNIVERSE = range(3)
_SUBSETS = [frozenset(s) for r in range(4) for s in itertools.combinations(_UNIVERSE, r)]


def parse(sentence):
  match = _STATEMENT.match(sentence.strip())
  assert match, sentence
  return match.groups()


def holds(statement, model):
  quantifier, x, y = statement
  if quantifier == "All":
    return model[x] <= model[y]
  if quantifier == "Some":
    return bool(model[x] & model[y])
  return not model[x] & model[y]


def entails(premises, conclusion):
  terms = sorted({t for s in (*premises, conclusion) for t in s[1:]})
  for sets in itertools.product(_SUBSETS, repeat=len(terms)):
    model = dict(zip(terms, sets))
    if all(holds(p, model) for p in premises) and not holds(conclusion, model):
      return False
  return True


def test_checker_knows_its_logic():
  assert entails([("All", "m", "p"), ("All", "s", "m")], ("All", "s", "p"))
  assert not entails([("All", "m", "p"), ("All", "s", "m")], ("Some", "s", "p"))  # No import.
  assert not entails([("All", "m", "p"), ("All", "m", "s")], ("Some", "s", "p"))  # Darapti.
  assert entails([("Some", "m", "p"), ("All", "m", "s")], ("Some", "p", "s"))


@pytest.fixture(scope="module")
def dataset():
  return syllogisms.generate(syllogisms.Config())


def premises_of(question, documents):
  return documents[question.id.rsplit("/", 1)[0] + "/premises"]


def test_study_sizes(dataset):
  assert len(dataset.documents) == 69
  assert len(dataset.splits["syllogism"]) == len(dataset.splits[syllogisms.SIX_WAY_SPLIT]) == 69
  forms = collections.Counter(q.metadata["form"] for q in dataset.questions)
  assert set(forms) == set(syllogisms.FORMS)
  assert 1 / 6 <= dataset.chance("syllogism") <= 1 / 5
  # Six choices; a symmetric conclusion's two orders both count (8 of the 9 forms conclude some/no).
  assert dataset.chance(syllogisms.SIX_WAY_SPLIT) == pytest.approx(
      sum(2 / 6 if q.metadata["mood"][2] in "IE" else 1 / 6 for q in dataset.splits["syllogism"]) / 69)


def entailed_choices(question, documents) -> list[int]:
  document = premises_of(question, documents)
  _, premises_text = document.text.split(": ", 1)
  premises = [parse(s + ".") for s in premises_text.rstrip(".").split(". ")]
  assert len(premises) == 2
  return [i for i, choice in enumerate(question.choices) if entails(premises, parse(choice))]


def test_exactly_the_correct_choice_is_entailed(dataset):
  documents = {d.id: d for d in dataset.documents}
  for question in dataset.splits["syllogism"]:
    assert entailed_choices(question, documents) == [question.answer], question
    assert question.also_correct == ()
    # Six statements minus the converse that means the same as the answer.
    quantifier = parse(question.correct_choice)[0]
    assert len(question.choices) == (6 if quantifier == "All" else 5)


def test_six_way_counts_exactly_the_entailed_choices_correct(dataset):
  documents = {d.id: d for d in dataset.documents}
  five_way = {q.id: q for q in dataset.splits["syllogism"]}
  for question in dataset.splits[syllogisms.SIX_WAY_SPLIT]:
    assert len(question.choices) == 6
    entailed = entailed_choices(question, documents)
    assert sorted((question.answer, *question.also_correct)) == entailed, question
    assert [question.is_correct(i) for i in range(6)] == [i in entailed for i in range(6)]
    same = five_way[question.id.removesuffix("_6way")]
    assert (same.prompt, same.correct_choice, same.inference) == (question.prompt, question.correct_choice,
                                                                  question.inference)
    assert set(same.choices) <= set(question.choices)


def test_five_way_split_is_the_same_without_the_six_way_one(dataset):
  alone = syllogisms.generate(syllogisms.Config(six_way=False))
  assert set(alone.splits) == {"syllogism"}
  assert alone.splits["syllogism"] == dataset.splits["syllogism"]


def test_context_and_prompt_name_the_right_entities(dataset):
  documents = {d.id: d for d in dataset.documents}
  for question in dataset.questions:
    document = premises_of(question, documents)
    named = re.match(r"The relationships between (\w+), (\w+) and (\w+) are:", document.text).groups()
    prompt_pair = re.fullmatch(r"The relationships between (\w+) and (\w+) are:", question.prompt).groups()
    _, subject, predicate = parse(question.correct_choice)
    assert set(prompt_pair) == {subject, predicate}
    assert set(prompt_pair) < set(named)
    assert question.correct_choice.strip() not in document.text


def test_entities_unique_across_examples(dataset):
  entities = [t for f in dataset.facts if f.metadata["role"] != "conclusion" for t in (f.subject, f.object)]
  assert len(set(entities)) == 3 * 69


def test_questions_well_formed(dataset):
  dataset_checks.check_questions_are_well_formed(dataset)


def test_determinism(tmp_path):
  a = dataset_checks.saved_bytes(syllogisms.generate(syllogisms.Config()), tmp_path / "a")
  b = dataset_checks.saved_bytes(syllogisms.generate(syllogisms.Config()), tmp_path / "b")
  c = dataset_checks.saved_bytes(syllogisms.generate(syllogisms.Config(seed=5)), tmp_path / "c")
  assert a == b
  assert a["documents.jsonl"] != c["documents.jsonl"]


def test_bad_config_names_the_field():
  with pytest.raises(ValueError, match="forms"):
    syllogisms.generate(syllogisms.Config(forms=("Darapti",)))
  with pytest.raises(ValueError, match="num_examples"):
    syllogisms.generate(syllogisms.Config(num_examples=10**6))
