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


_SINGLE_QUOTES = "'‘’"


def _single_quote_state(in_single: bool, previous: str, following: str) -> bool:
  """Whether a single quote is open after this one, given the characters around it."""
  if previous.isalnum() and following.isalnum():
    return in_single  # An apostrophe: "St. Wren's", "they're".
  if in_single and not previous.isspace() and not following.isalnum():
    return False
  if not in_single and (previous.isspace() or previous in "([\"“") and not following.isspace():
    return True
  return in_single


@dataclasses.dataclass
class _Scanner:
  """Walks `text` once, a character at a time, collecting sentence spans."""

  text: str
  spans: list[tuple[int, int]] = dataclasses.field(default_factory=list)
  start: int | None = None  # Where the open sentence began.
  in_double: bool = False
  in_single: bool = False

  @property
  def in_quote(self) -> bool:
    return self.in_double or self.in_single

  def _around(self, i: int) -> tuple[str, str]:
    """The characters before and after `i`, a space at either end of the text."""
    previous = self.text[i - 1] if i > 0 else " "
    following = self.text[i + 1] if i + 1 < len(self.text) else " "
    return previous, following

  def close(self, end: int) -> None:
    """Ends the open sentence at `end` (trailing whitespace dropped), if it has any text."""
    while self.start is not None and end > self.start and self.text[end - 1].isspace():
      end -= 1
    if self.start is not None and end > self.start:
      self.spans.append((self.start, end))
    self.start = None
    self.in_double = self.in_single = False

  def step(self, i: int) -> int:
    """Reads the character at `i`; returns where to read next."""
    char = self.text[i]
    if char == "\n":
      self.close(i)
      return i + 1
    if char.isspace():
      return i + 1
    if self.start is None:
      self.start = i
    if char in _TERMINALS and not self.in_quote:
      return self._terminal(i)
    self._track_quote(i)
    self._close_after_quoted_terminal(i)
    return i + 1

  def _terminal(self, i: int) -> int:
    """A run of terminals and closing marks from `i`: a sentence end unless it is an abbreviation."""
    text, end = self.text, i + 1
    while end < len(text) and text[end] in _TERMINALS:
      end += 1
    while end < len(text) and text[end] in _CLOSERS:
      end += 1
    at_boundary = end == len(text) or text[end].isspace()
    if at_boundary and not (text[i] == "." and end == i + 1 and _is_abbreviation(text, i)):
      self.close(end)
    return end

  def _track_quote(self, i: int) -> None:
    char = self.text[i]
    if char in _DOUBLE_QUOTES:
      self.in_double = not self.in_double if char == '"' else char == "“"
    elif char in _SINGLE_QUOTES:
      self.in_single = _single_quote_state(self.in_single, *self._around(i))

  def _close_after_quoted_terminal(self, i: int) -> None:
    """A quotation that itself ended a sentence: `He said "Go home." Then ...`."""
    char = self.text[i]
    if (char in _DOUBLE_QUOTES or char in "'’") and not self.in_quote:
      previous, following = self._around(i)
      if previous in _TERMINALS and following.isspace():
        self.close(i + 1)


def sentence_spans(text: str) -> list[tuple[int, int]]:
  """(start, end) of each sentence, without surrounding whitespace, in order."""
  scanner = _Scanner(text)
  i = 0
  while i < len(text):
    i = scanner.step(i)
  scanner.close(len(text))
  return scanner.spans


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
  return [_sentence_piece(document, index, span, spans[0][0], mode) for index, span in enumerate(spans)]


def _sentence_piece(document: schema.Document, index: int, span: tuple[int, int], first_start: int,
                    mode: str) -> schema.Document:
  """Sentence `index` of `document` (in `cumulative` mode, with every sentence before it)."""
  start, end = span
  text_start = start if mode == "independent" else first_start
  # A character offset into the whole document (e.g. Berglund's prompt_chars) means nothing in a piece.
  inherited = {k: v for k, v in document.metadata.items() if k not in ("prompt_chars", "target_start")}
  metadata = {**inherited, "source_document": document.id, "sentence": index, "split_mode": mode}
  if mode == "cumulative":
    metadata["target_start"] = start - first_start
  return dataclasses.replace(
      document,
      id=f"{document.id}/sentence_{index:02d}",
      text=document.text[text_start:end],
      provenance=f"{document.provenance}/{mode}_sentence",
      metadata=metadata,
  )


def split_each(documents: Sequence[schema.Document], mode: str = "independent") -> tuple[schema.Document, ...]:
  """Every document split into sentences, in order."""
  return tuple(piece for document in documents for piece in split_document(document, mode))


def split_documents(dataset: schema.Dataset, mode: str = "independent") -> schema.Dataset:
  """The dataset with every training document split into sentences; questions unchanged."""
  return dataclasses.replace(dataset, documents=split_each(dataset.documents, mode),
                             info={**dataset.info, "sentence_split": mode})
