"""Generated text -> candidate statements, with the reason each dropped one was dropped.

A local generation is a block of lines. It ends at the first blank line or at the
start of a new example block (small models often carry on with "Statement: ...").
A global generation is a reasoning trace (`trace=True`): blank lines do not end it,
only a new block does. Each line may hold several sentences; each sentence is one
candidate, and a reasoning step ("..., and I learned earlier that ...; therefore
Z.") also yields its conclusion Z as a candidate of its own. The filters drop
what cannot be useful fine-tuning data: empty or unfinished sentences, repeats,
over-long ones, verbatim copies (of the source or of a worked example), and
off-topic ones that name no entity of the source document.
"""

from __future__ import annotations

import collections
import dataclasses
import re
from collections.abc import Iterable, Sequence

from icl_ft_jax.augment import prompts
from icl_ft_jax.data import splitting

DROP_REASONS = ("empty", "unfinished", "too_long", "copied_source", "copied_example", "off_topic", "repeated")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_CONCLUSION = re.compile(r"(?:[;,]\s*|\s)(?:therefore|so|hence|thus|which means that)\s*,?\s+(?P<z>[^;]+)$",
                         re.IGNORECASE)


@dataclasses.dataclass(frozen=True, kw_only=True)
class FilterConfig:
  max_chars: int = 200
  min_words: int = 3


@dataclasses.dataclass(frozen=True)
class Statement:
  text: str
  sample: int
  index: int  # Position among the kept statements of its source.


@dataclasses.dataclass(frozen=True)
class Parsed:
  """The kept statements of one source, and how many candidates each filter dropped."""

  kept: tuple[Statement, ...]
  dropped: collections.Counter

  @property
  def num_candidates(self) -> int:
    return len(self.kept) + sum(self.dropped.values())


def normalize(text: str) -> str:
  """Case, spacing and final punctuation do not make a statement new."""
  return re.sub(r"\s+", " ", text.strip().rstrip(".!?").strip()).casefold()


def candidate_sentences(generation: str, trace: bool = False) -> list[str]:
  """The sentences of a generated block, bullets removed; stops at a new block (or, unless `trace`, a blank line).

  In a trace, each reasoning step's conclusion follows the step as a candidate of its own.
  """
  lines = []
  for line in generation.split("\n"):
    if not line.strip():
      if lines and not trace:
        break
      continue
    if line.strip().startswith(prompts.BLOCK_PREFIXES):
      break
    lines.append(_BULLET.sub("", line).strip())
  sentences = [line[a:b] for line in lines for a, b in splitting.sentence_spans(line)]
  if not trace:
    return sentences
  out = []
  for sentence in sentences:
    out.append(sentence)
    match = _CONCLUSION.search(sentence)
    if match and match.start() > 0:
      conclusion = match.group("z").strip()
      out.append(conclusion[:1].upper() + conclusion[1:])
  return out


def mentions(text: str, entity: str) -> bool:
  """`entity` at a word start in `text`, ignoring case (plurals and possessives count)."""
  return re.search(r"(?<![A-Za-z])" + re.escape(entity.casefold()), text.casefold()) is not None


def _reason(sentence: str, source_sentences: set[str], entities: Sequence[str], config: FilterConfig,
            examples: set[str]) -> str | None:
  text = sentence.strip()
  if len(text.split()) < config.min_words:
    return "empty"
  if text[-1] not in ".!?\"'”’)":
    return "unfinished"  # Cut off by the token limit.
  if len(text) > config.max_chars:
    return "too_long"
  key = normalize(text)
  if key in source_sentences:
    return "copied_source"
  if key in examples:
    return "copied_example"
  if entities and not any(mentions(text, e) for e in entities):
    return "off_topic"
  return None


def parse(generations: Iterable[tuple[int, str]], source_text: str, entities: Sequence[str],
          config: FilterConfig = FilterConfig(), *, trace: bool = False) -> Parsed:
  """Statements from the (sample index, text) generations for one source document (`trace`: global)."""
  source_sentences = {normalize(source_text)} | {
      normalize(source_text[a:b]) for a, b in splitting.sentence_spans(source_text)}
  examples = {normalize(t) for t in prompts.example_texts()}
  kept: list[Statement] = []
  seen: set[str] = set()
  dropped: collections.Counter = collections.Counter()
  for sample, text in generations:
    for sentence in candidate_sentences(text, trace):
      reason = _reason(sentence, source_sentences, entities, config, examples)
      if reason is None and normalize(sentence) in seen:
        reason = "repeated"
      if reason:
        dropped[reason] += 1
        continue
      seen.add(normalize(sentence))
      kept.append(Statement(sentence.strip(), sample, len(kept)))
  return Parsed(tuple(kept), dropped)
