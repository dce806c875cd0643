"""Sentence splitting of training documents, one fine-tuning example per sentence.

The study found that fine-tuning learns much better from single sentences than
from whole multi-sentence documents. `split_documents` turns each document into
one example per sentence, either `independent` (the sentence alone) or
`cumulative` (the sentence with all preceding sentences of its document as
context; `metadata["target_start"]` marks where the new sentence begins, so a
trainer can restrict the loss to it).

The splitter is written for our generated text: periods inside quoted titles
('Dr. Quill and the Glass Harbor', "A Journey Through Time."), abbreviations
(Dr., St., e.g.) and initials do not end a sentence; a line break always does.
Splitting never changes text: sentences are spans of the original string and
only whitespace lies between them.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from icl_ft_jax.data import schema

MODES = ("independent", "cumulative")

# Lower-case tokens that end in a period without ending the sentence.
ABBREVIATIONS = frozenset({
    "dr", "mr", "mrs", "ms", "prof", "st", "mt", "jr", "sr", "sgt", "capt", "col", "gen", "lt",
    "rev", "hon", "vs", "e.g", "i.e", "cf", "approx", "fig", "no", "vol", "ca",
})
_TERMINALS = ".!?"
_CLOSERS = "\"'”’)]"
_DOUBLE_QUOTES = "\"“”"
_WORD_BEFORE = re.compile(r"([A-Za-z][A-Za-z.]*)$")


def _is_abbreviation(text: str, period: int) -> bool:
  """Whether the period at `period` ends an abbreviation or an initial ("J.")."""
  match = _WORD_BEFORE.search(text, 0, period)
  if not match:
    return False
  word = match.group(1)
  if len(word) == 1 and word.isupper():
    return True
  return word.lower() in ABBREVIATIONS


def sentence_spans(text: str) -> list[tuple[int, int]]:
  """(start, end) of each sentence, without surrounding whitespace, in order."""
  spans: list[tuple[int, int]] = []
  start = None
  in_double = False
  in_single = False
  i = 0
  n = len(text)

  def close(end: int) -> None:
    nonlocal start, in_double, in_single
    while start is not None and end > start and text[end - 1].isspace():
      end -= 1
    if start is not None and end > start:
      spans.append((start, end))
    start = None
    in_double = in_single = False

  while i < n:
    char = text[i]
    if char == "\n":
      close(i)
      i += 1
      continue
    if char.isspace():
      i += 1
      continue
    if start is None:
      start = i
    previous = text[i - 1] if i > 0 else " "
    following = text[i + 1] if i + 1 < n else " "
    if char in _DOUBLE_QUOTES:
      in_double = not in_double if char == '"' else char == "“"
    elif char in "'‘’":
      if previous.isalnum() and following.isalnum():
        pass  # An apostrophe: "St. Wren's", "they're".
      elif in_single and not previous.isspace() and not following.isalnum():
        in_single = False
      elif not in_single and (previous.isspace() or previous in "([\"“") and not following.isspace():
        in_single = True
    elif char in _TERMINALS and not (in_double or in_single):
      end = i + 1
      while end < n and text[end] in _TERMINALS:
        end += 1
      while end < n and text[end] in _CLOSERS:
        end += 1
      at_boundary = end == n or text[end].isspace()
      if at_boundary and not (char == "." and end == i + 1 and _is_abbreviation(text, i)):
        close(end)
      i = end
      continue
    if (char in _DOUBLE_QUOTES or char in "'’") and not (in_double or in_single):
      # A quotation that itself ended a sentence: `He said "Go home." Then ...`.
      if previous in _TERMINALS and (i + 1 == n or text[i + 1].isspace()):
        close(i + 1)
    i += 1
  close(n)
  return spans


def split_sentences(text: str) -> list[str]:
  """The sentences of `text`, each stripped of surrounding whitespace."""
  return [text[s:e] for s, e in sentence_spans(text)]


def split_document(document: schema.Document, mode: str = "independent") -> list[schema.Document]:
  """One document per sentence; a one-sentence document comes back unchanged.

  Sentences inherit the document's `fact_ids` (which sentence states which fact
  is not known in general).
  """
  if mode not in MODES:
    raise ValueError(f"Unknown sentence-splitting mode {mode!r}; use one of {MODES}.")
  spans = sentence_spans(document.text)
  if len(spans) <= 1:
    return [document]
  first_start = spans[0][0]
  pieces = []
  for index, (start, end) in enumerate(spans):
    text_start = start if mode == "independent" else first_start
    # A character offset into the whole document (e.g. Berglund's prompt_chars) means nothing in a piece.
    inherited = {k: v for k, v in document.metadata.items() if k not in ("prompt_chars", "target_start")}
    metadata = {**inherited, "source_document": document.id, "sentence": index, "split_mode": mode}
    if mode == "cumulative":
      metadata["target_start"] = start - first_start
    pieces.append(dataclasses.replace(
        document,
        id=f"{document.id}/sentence_{index:02d}",
        text=document.text[text_start:end],
        provenance=f"{document.provenance}/{mode}_sentence",
        metadata=metadata,
    ))
  return pieces


def split_each(documents: Sequence[schema.Document], mode: str = "independent") -> tuple[schema.Document, ...]:
  """Every document split into sentences, in order."""
  return tuple(piece for document in documents for piece in split_document(document, mode))


def split_documents(dataset: schema.Dataset, mode: str = "independent") -> schema.Dataset:
  """The dataset with every training document split into sentences; questions unchanged."""
  return dataclasses.replace(dataset, documents=split_each(dataset.documents, mode),
                             info={**dataset.info, "sentence_split": mode})
