"""Shared checks for the dataset tests."""

from __future__ import annotations

import pathlib

from icl_ft_jax.data import schema


def saved_bytes(dataset: schema.Dataset, directory: pathlib.Path) -> dict[str, bytes]:
  schema.save_dataset(dataset, directory)
  return {path.name: path.read_bytes() for path in sorted(directory.iterdir())}


def check_questions_are_well_formed(dataset: schema.Dataset) -> None:
  """Distinct choices, one answer, and every question's stated facts are trained on."""
  trained = {fact_id for document in dataset.documents for fact_id in document.fact_ids}
  facts = dataset.facts_by_id
  assert dataset.questions
  for question in dataset.questions:
    assert len(set(question.choices)) == len(question.choices), question
    assert 0 <= question.answer < len(question.choices)
    assert all(choice.startswith(" ") for choice in question.choices), question
    assert not question.prompt.endswith(" "), question
    for fact_id in question.fact_ids:
      assert fact_id in facts, fact_id
      if not facts[fact_id].metadata.get("derived"):
        assert fact_id in trained, f"{question.id} tests {fact_id}, which no document states"
