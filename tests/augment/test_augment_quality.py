"""The ground-truth checker: oracle augmentations are all valid and cover the test inferences; false ones are flagged."""

import functools

import pytest

from icl_ft_jax import config_defaults, families
from icl_ft_jax.augment import claims, oracle, pipeline, prompts, quality
from icl_ft_jax.data import reversal_curse

DATASETS = ("reversal_curse", "simple_reversals", "simple_syllogisms", "semantic_structure")


@functools.cache
def dataset(name):
  return families.build_dataset(config_defaults.dataset(name, "cpu").to_dict())


@pytest.mark.parametrize("name", DATASETS)
def test_oracle_statements_are_all_valid_and_cover_every_split(name):
  result = pipeline.run_oracle(dataset(name), pipeline.AugmentConfig(strategies=("oracle",)))
  assert result.documents
  assert result.quality.validity == 1.0
  assert result.quality.num_statements == len(result.documents)
  assert all(c == 1.0 for c in result.quality.coverage.values()), result.quality.coverage
  assert result.quality.inference_coverage == 1.0
  assert all(d.provenance.startswith("augment/oracle/") for d in result.documents)


def test_oracle_without_derived_inferences_covers_reversals_not_syllogisms():
  semantic = quality.assess(dataset("semantic_structure"),
                            [s for _, s in oracle.oracle_statements(dataset("semantic_structure"), include_derived=False)])
  assert semantic.coverage["reversal"] == 1.0 and semantic.coverage["rephrasing"] == 1.0
  assert semantic.coverage["syllogism"] < 0.2
  syllogisms = quality.assess(dataset("simple_syllogisms"),
                              [s for _, s in oracle.oracle_statements(dataset("simple_syllogisms"),
                                                                      include_derived=False)])
  assert syllogisms.validity == 1.0 and syllogisms.coverage["syllogism"] < 0.5


def test_reversal_curse_checker():
  facts = dataset("reversal_curse").facts
  a, b = facts[0], facts[1]
  checker = claims.checker_for(dataset("reversal_curse"))
  (right,) = checker.claims(f"{a.object[0].upper()}{a.object[1:]} is {a.subject}.")
  assert right.valid and right.object_first
  (swapped,) = checker.claims(f"{a.subject} is {b.object}.")
  assert not swapped.valid and not swapped.object_first
  assert checker.claims("Somebody did something.") == ()
  q = quality.assess(dataset("reversal_curse"), [f"{a.subject} is {a.object}.", f"{a.subject} is {b.object}.",
                                                 "Nothing here."])
  assert (q.num_valid, q.num_false, q.num_unverifiable) == (1, 1, 1)
  # Name-first statements do not cover a reversal question (description first, name asked).
  assert q.coverage["reversal"] == 0.0


def test_simple_reversals_checker_flags_the_contradiction():
  ds = dataset("simple_reversals")
  fact = ds.facts[0]
  stated, antonym = fact.metadata["comparative"], fact.metadata["antonym"]
  checker = claims.checker_for(ds)
  assert [c.valid for c in checker.claims(f"{fact.object} are {antonym} than {fact.subject}.")] == [True]
  assert [c.valid for c in checker.claims(f"{fact.object} are {stated} than {fact.subject}.")] == [False]
  assert [c.valid for c in checker.claims(f"{fact.subject} are {antonym} than {fact.object}.")] == [False]
  other = ds.facts[1]
  assert [c.valid for c in checker.claims(f"{fact.subject} are {stated} than {other.object}.")] == [False]


def test_syllogism_checker_knows_valid_from_invalid_conclusions():
  premises = [("A", "m", "p"), ("A", "s", "m")]
  assert claims.entails(premises, ("A", "s", "p"), ["m", "p", "s"])
  assert not claims.entails(premises, ("A", "p", "s"), ["m", "p", "s"])
  assert not claims.entails(premises, ("I", "s", "p"), ["m", "p", "s"])  # No existential import.
  assert claims.entails([("I", "m", "p")], ("I", "p", "m"), ["m", "p"])
  ds = dataset("simple_syllogisms")
  conclusion = next(f for f in ds.facts if f.metadata.get("role") == "conclusion" and f.relation == "all_are")
  checker = claims.checker_for(ds)
  assert [c.valid for c in checker.claims(f"All {conclusion.subject} are {conclusion.object}.")] == [True]
  assert [c.valid for c in checker.claims(f"All {conclusion.object} are {conclusion.subject}.")] == [False]
  assert [c.valid for c in checker.claims(f"No {conclusion.subject} are {conclusion.object}.")] == [False]


def test_semantic_checker_flags_false_relations_and_reads_reversals():
  ds = dataset("semantic_structure")
  checker = claims.checker_for(ds)
  is_a = next(f for f in ds.facts if f.relation == "is_a" and f.metadata["trained"])
  s, o = is_a.subject, is_a.object
  assert [(c.valid, c.object_first) for c in checker.claims(f"{s.capitalize()}s are a kind of {o}.")] == [(True, False)]
  assert [(c.valid, c.object_first) for c in checker.claims(f"{o.capitalize()}s include {s}s.")] == [(True, True)]
  assert [c.valid for c in checker.claims(f"{o.capitalize()}s are a kind of {s}.")] == [False]


def test_worked_examples_name_no_dataset_entity():
  entities = set()
  for name in DATASETS:
    for fact in dataset(name).facts:
      entities |= {fact.subject.casefold(), fact.object.casefold()}
  people = {f.casefold() for f in reversal_curse.FIRST_NAMES + reversal_curse.LAST_NAMES}
  words = {w.strip(".,'?").casefold() for t in prompts.example_texts() for w in t.split()}
  assert not words & people
  # Single-word dataset entities (nonsense words) never appear in an example.
  assert not {e for e in entities if " " not in e} & ({w for w in words} | {w.rstrip("s") for w in words})


# Hand-written statements, not the oracle's templates: paraphrases and reversals the checker must
# read as valid (and as answering the reversal question), and wrong ones it must not count as valid.
def _reversal_curse_statements(ds):
  a = next(f for f in ds.facts if "'" in f.object and f.metadata["group"] == "p2d")  # A titled work.
  b = next(f for f in ds.facts if f is not a)
  bare = lambda fact: fact.object.removeprefix("the ")
  title = a.object[a.object.index("'"):]
  accepted = [f"The {bare(a)} is none other than {a.subject}.",
              f"Ask who is {a.object}, and you will hear of {a.subject}.",
              f"{title} owes its fame to {a.subject}."]
  rejected = [f"The {bare(b)} is {a.subject}.",  # Another person's description.
              f"{a.subject} is not {a.object}.",  # A denial.
              f"{a.subject} has never been {a.object}.",
              f"{a.subject.split()[0]} is {a.object}."]  # A first name alone names nobody.
  return a, accepted, rejected


def _simple_reversals_statements(ds):
  f = ds.facts[0]
  stated, antonym = f.metadata["comparative"], f.metadata["antonym"]
  accepted = [f"It follows that {f.object} are {antonym} than {f.subject}.",
              f"In other words, the {f.object} is {antonym} than the {f.subject}.",
              f"{f.object.capitalize()} are {antonym} than {f.subject}."]
  rejected = [f"{f.object} are {stated} than {f.subject}.",  # The reversal with the same comparative.
              f"{f.object} are more {antonym} than {f.subject}.",  # Not a comparative we know.
              f"{f.object} are not {stated} than {f.subject}.",
              f"{f.subject} are {antonym} than {f.object}."]
  return f, accepted, rejected


def _semantic_structure_statements(ds):
  can = next(f for f in ds.facts if f.relation == "can" and f.metadata["trained"])
  is_a = next(f for f in ds.facts if f.relation == "is_a" and f.metadata["trained"])
  accepted = [f"Among those able to {can.object} are {can.subject}s.",
              f"Able to {can.object}: that describes {can.subject}s."]
  rejected = [f"{can.subject.capitalize()}s cannot {can.object}.",
              f"{is_a.subject.capitalize()}s are not a kind of {is_a.object}.",
              f"{is_a.object.capitalize()}s are a kind of {is_a.subject}."]  # The converse.
  return can, accepted, rejected


HAND_WRITTEN = {"reversal_curse": _reversal_curse_statements, "simple_reversals": _simple_reversals_statements,
                "semantic_structure": _semantic_structure_statements}


@pytest.mark.parametrize("name", sorted(HAND_WRITTEN))
def test_hand_written_paraphrases_are_read_and_wrong_ones_are_not_valid(name):
  ds = dataset(name)
  checker = claims.checker_for(ds)
  fact, accepted, rejected = HAND_WRITTEN[name](ds)
  question = next(q for q in ds.splits["reversal"] if fact.id in q.fact_ids)
  required = checker.required(question)
  for statement in accepted:
    found = checker.claims(statement)
    assert [(c.key, c.valid) for c in found] == [(required.key, True)], statement
    assert required.object_first in (None, found[0].object_first), statement  # Answers the reversal question.
  for statement in rejected:
    assert not any(c.valid for c in checker.claims(statement)), statement
    assert quality.assess(ds, [statement]).coverage["reversal"] == 0.0, statement
