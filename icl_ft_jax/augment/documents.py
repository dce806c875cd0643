"""Augmented statements as training `Document`s with provenance, and the FT data mix.

Every augmented document records where it came from: id and provenance
`augment/<strategy>/<source document id>/<sample>` (plus the statement's index in
the id), the source's fact ids, and the strategy, source and sample in metadata.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence

from icl_ft_jax.data import schema


def source_entities(dataset: schema.Dataset, document: schema.Document) -> tuple[str, ...]:
  """The entities a statement about `document` should name: the subjects and objects of its facts."""
  facts = dataset.facts_by_id
  entities = []
  for fact_id in document.fact_ids:
    fact = facts.get(fact_id)
    if fact is not None:
      entities += [fact.subject, fact.object]
  return tuple(dict.fromkeys(entities))


def augmented_document(*, strategy: str, source: schema.Document | None, source_id: str, sample: int, index: int,
                       text: str) -> schema.Document:
  provenance = f"augment/{strategy}/{source_id}/{sample}"
  return schema.Document(
      id=f"{provenance}/{index:03d}", text=text, provenance=provenance,
      fact_ids=source.fact_ids if source is not None else (),
      metadata={"strategy": strategy, "source_document": source_id, "sample": sample})


@dataclasses.dataclass(frozen=True)
class Mix:
  """The fine-tuning documents and what they are made of."""

  documents: tuple[schema.Document, ...]
  counts: Mapping[str, int]  # "original" and each strategy -> number of documents; "total".


def mix_documents(original: Sequence[schema.Document],
                  augmented: Mapping[str, Sequence[schema.Document]]) -> Mix:
  """The original FT documents followed by each strategy's augmented documents, in the given order."""
  documents = list(original)
  counts = {"original": len(original)}
  for strategy, docs in augmented.items():
    documents += docs
    counts[strategy] = len(docs)
  counts["total"] = len(documents)
  return Mix(tuple(documents), counts)
