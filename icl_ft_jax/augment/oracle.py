"""Oracle augmentation: templated ground-truth rephrasings, reversals and inferences.

The control for model-written augmentation (the "hard-coded augmentation" of earlier
work): what a perfect augmenter would write, built from each family's Facts with no
model. Its statements go through the same filters, provenance and quality checks as
the model's, so the gap between the two is measured on equal terms. Reversed
wordings differ from the test templates, as a model's would.
"""

from __future__ import annotations

import json
from collections.abc import Iterator

from icl_ft_jax import families
from icl_ft_jax.data import schema
from icl_ft_jax.data import syllogisms

OracleStatement = families.OracleStatement


def _capitalize(text: str) -> str:
  return text[:1].upper() + text[1:]


def _first_document(dataset: schema.Dataset) -> dict[str, str]:
  """Fact id -> id of the first training document that states it."""
  found: dict[str, str] = {}
  for document in dataset.documents:
    for fact_id in document.fact_ids:
      found.setdefault(fact_id, document.id)
  return found


def reversal_curse_statements(dataset: schema.Dataset) -> Iterator[OracleStatement]:
  sources = _first_document(dataset)
  for fact in dataset.facts:
    source = sources.get(fact.id, "")
    yield source, f"{fact.subject} is {fact.object}."
    yield source, f"{_capitalize(fact.object)} is {fact.subject}."
    yield source, f"The person known as {fact.object} is {fact.subject}."


def simple_reversals_statements(dataset: schema.Dataset) -> Iterator[OracleStatement]:
  sources = _first_document(dataset)
  for fact in dataset.facts:
    source = sources.get(fact.id, "")
    yield source, f"{_capitalize(fact.subject)} are {fact.metadata['comparative']} than {fact.object}."
    yield source, f"{_capitalize(fact.object)} are {fact.metadata['antonym']} than {fact.subject}."


def syllogism_statements(dataset: schema.Dataset, include_derived: bool) -> Iterator[OracleStatement]:
  sources = _first_document(dataset)
  for fact in dataset.facts:
    role = fact.metadata.get("role")
    if role == "conclusion" and not include_derived:
      continue
    example = fact.id.rsplit("/", 1)[0]
    source = sources.get(f"{example}/major", "")
    letter = {"all_are": "A", "some_are": "I", "no_are": "E"}[fact.relation]
    yield source, syllogisms.statement(letter, fact.subject, fact.object) + "."
    if letter in syllogisms.SYMMETRIC:
      yield source, syllogisms.statement(letter, fact.object, fact.subject) + "."


# Object-first wordings the test templates do not use.
_SEMANTIC_REVERSED = {
    "is_a": "One kind of {o} is the {s}.",
    "is": "Something that is {o} is the {s}.",
    "has": "Something that has {O} is the {s}.",
    "can": "Something that can {o} is the {s}.",
    "eats": "{O} are a food of {S}.",
    "lives_in": "The {o} is where {S} live.",
}


def semantic_statements(dataset: schema.Dataset, include_derived: bool) -> Iterator[OracleStatement]:
  from icl_ft_jax.data import semantic_knowledge, semantic_logic, semantic_questions  # pylint: disable=g-import-not-at-top
  from icl_ft_jax.data import semantic_text  # pylint: disable=g-import-not-at-top

  hierarchy = semantic_knowledge.load_hierarchy(dataset.info.get("hierarchy_path") or semantic_knowledge.DEFAULT_PATH)
  lexicon = semantic_text.Lexicon(nonsense=json.loads(dataset.info["lexicon"]))
  sources = _first_document(dataset)
  trained = {(f.metadata["subject_real"], f.relation, f.metadata["object_real"])
             for f in dataset.facts if f.metadata.get("trained")}
  for fact in dataset.facts:
    if not fact.metadata.get("trained"):
      continue
    subject, obj = fact.metadata["subject_real"], fact.metadata["object_real"]
    source = sources.get(fact.id, "")
    yield source, semantic_text.render(semantic_text.TRAIN_TEMPLATES[fact.relation][0], lexicon, subject, obj)
    yield source, semantic_text.render(_SEMANTIC_REVERSED[fact.relation], lexicon, subject, obj)
  if not include_derived:
    return
  for entailment in semantic_logic.derived(semantic_logic.entailments(hierarchy)).values():
    if not all(p in trained for p in entailment.premises):
      continue  # True, but not inferable from the training documents.
    subject, relation, obj = entailment.triple
    source = sources.get(semantic_questions.fact_id(entailment.premises[0]), "")
    yield source, semantic_text.render(semantic_text.TRAIN_TEMPLATES[relation][0], lexicon, subject, obj)


def oracle_statements(dataset: schema.Dataset, *, include_derived: bool = True) -> list[OracleStatement]:
  """(source document id, statement) pairs for `dataset`, in a deterministic order."""
  return list(families.of(dataset).oracle(dataset, include_derived))
