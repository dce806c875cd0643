"""Reading generated statements as claims about a dataset's ground truth, per family.

A `Checker` turns a statement into the claims it makes (`Claim`: a canonical
proposition key, whether it is true or validly entailed by the dataset's facts, and
whether it names the object before the subject) and says which claim would answer
each test question. Statements our readers cannot parse make no claim: they count
as neither valid nor covering anything. The readers follow the wordings of our
templates and of the worked examples, and some common paraphrases. A denial ("is not",
"never", "cannot") makes no claim either: it would otherwise read as the fact it denies.

Families:
  * reversal curse: a full name and a description (title or feat) in one statement;
  * simple reversals: "X are <comparative> than Y"; true for the stated comparative
    or, reversed, its antonym;
  * syllogisms: "All/Some/No X are (not) Y" on the three terms of one example, judged
    by enumerating every Venn model of the premises (no existential import);
  * semantic structure: two lexicon terms and a relation cue; true when the triple
    is in the deductive closure (`semantic_logic.entailments`).
"""

from __future__ import annotations

import dataclasses
import itertools
import json
import re
from collections.abc import Mapping, Sequence

from icl_ft_jax import families
from icl_ft_jax.data import schema


@dataclasses.dataclass(frozen=True)
class Claim:
  key: tuple[str, ...]  # Canonical proposition, comparable with `Checker.required`.
  valid: bool
  object_first: bool


@dataclasses.dataclass(frozen=True)
class Requirement:
  """What a statement must claim to answer a question: the key, and the order if it matters."""

  key: tuple[str, ...]
  object_first: bool | None  # None: either order.


_NEGATION = re.compile(r"\b(?:not|never|no longer|cannot)\b|n't\b", re.IGNORECASE)


def _denies(statement: str, names: Sequence[str] = ()) -> bool:
  """Whether `statement` negates, outside the dataset `names` it holds (a title may say "never")."""
  if _NEGATION.search(statement) is None:
    return False
  for name in names:
    statement = re.sub(re.escape(name), " ", statement, flags=re.IGNORECASE)
  return _NEGATION.search(statement) is not None


def _first(text: str, term: str) -> int:
  match = re.search(r"(?<![A-Za-z])" + re.escape(term.casefold()), text.casefold())
  return match.start() if match else -1


# ----------------------------------------------------------------------------- reversal curse


def _description_cues(description: str) -> tuple[str, ...]:
  """Ways a statement may name a description: whole, without its article, or its quoted title."""
  bare = re.sub(r"^(the|a|an) ", "", description)
  cues = [description, bare]
  title = re.search(r"'([^']+)'", description)
  if title:
    cues.append(title.group(0))
  return tuple(cues)


@dataclasses.dataclass(frozen=True)
class ReversalCurseChecker:
  facts: tuple[schema.Fact, ...]

  def claims(self, statement: str) -> tuple[Claim, ...]:
    if _denies(statement, [f.object for f in self.facts]):
      return ()
    out = []
    for person in self.facts:
      name_at = _first(statement, person.subject)
      if name_at < 0:
        continue
      for described in self.facts:
        cue_at = [_first(statement, cue) for cue in _description_cues(described.object)]
        cue_at = [a for a in cue_at if a >= 0]
        if cue_at:
          out.append(Claim(("is", person.subject, described.object), person.id == described.id,
                           min(cue_at) < name_at))
    return tuple(out)

  def required(self, question: schema.Question) -> Requirement | None:
    fact = {f.id: f for f in self.facts}.get(question.fact_ids[0]) if question.fact_ids else None
    if fact is None:
      return None
    return Requirement(("is", fact.subject, fact.object), question.metadata.get("direction") == "d2p")


# ----------------------------------------------------------------------------- simple reversals

_COMPARISON = re.compile(r"(?<![A-Za-z])([a-z]+) (?:are|is) ((?:more|less) [a-z]+|[a-z]+) than (?:the )?([a-z]+)",
                         re.IGNORECASE)


@dataclasses.dataclass(frozen=True)
class SimpleReversalsChecker:
  facts: tuple[schema.Fact, ...]

  def claims(self, statement: str) -> tuple[Claim, ...]:
    by_pair = {frozenset((f.subject, f.object)): f for f in self.facts}
    out = []
    for match in _COMPARISON.finditer(statement):
      left, comparative, right = (g.casefold() for g in match.groups())
      fact = by_pair.get(frozenset((left, right)))
      if fact is None:
        entities = {e for f in self.facts for e in (f.subject, f.object)}
        if left in entities and right in entities:  # Two unrelated entities: nothing entails it.
          out.append(Claim(("compare", left, comparative, right), False, False))
        continue
      forward = left == fact.subject
      true = comparative == (fact.metadata["comparative"] if forward else fact.metadata["antonym"])
      out.append(Claim(("compare", fact.id), true, not forward))
    return tuple(out)

  def required(self, question: schema.Question) -> Requirement | None:
    return Requirement(("compare", question.fact_ids[0]), question.split == "reversal")


# ----------------------------------------------------------------------------- syllogisms

_QUANTIFIED = re.compile(r"(?<![A-Za-z])(all|some|no) ([a-z]+) are (not )?([a-z]+)", re.IGNORECASE)
_LETTER = {"all": "A", "some": "I", "no": "E"}


def _holds(form: str, x: str, y: str, model: frozenset) -> bool:
  """`model` is the set of non-empty Venn regions; a region is the frozenset of terms it lies in."""
  both = any(x in r and y in r for r in model)
  x_not_y = any(x in r and y not in r for r in model)
  return {"A": not x_not_y, "I": both, "E": not both, "O": x_not_y}[form]


def _models(terms: Sequence[str]):
  regions = [frozenset(t for t, keep in zip(terms, bits) if keep)
             for bits in itertools.product((0, 1), repeat=len(terms))]
  for mask in itertools.product((0, 1), repeat=len(regions)):
    yield frozenset(r for r, keep in zip(regions, mask) if keep)


def entails(premises: Sequence[tuple[str, str, str]], conclusion: tuple[str, str, str], terms: Sequence[str]) -> bool:
  """Whether the (form, x, y) conclusion holds in every Venn model of the premises."""
  return all(_holds(*conclusion, model) for model in _models(terms)
             if all(_holds(*p, model) for p in premises))


def _syllogism_key(example_id: str, form: str, x: str, y: str) -> tuple[str, ...]:
  """"Some"/"no" statements equal their converse: one key for both orders."""
  if form in "IE":
    x, y = sorted((x, y))
  return ("syllogism", example_id, form, x, y)


@dataclasses.dataclass(frozen=True)
class SyllogismsChecker:
  facts: tuple[schema.Fact, ...]

  def _examples(self) -> dict[str, list[schema.Fact]]:
    grouped: dict[str, list[schema.Fact]] = {}
    for fact in self.facts:
      grouped.setdefault(fact.id.rsplit("/", 1)[0], []).append(fact)
    return grouped

  @staticmethod
  def _form(fact: schema.Fact) -> tuple[str, str, str]:
    return (_LETTER[fact.relation.removesuffix("_are")], fact.subject, fact.object)

  def claims(self, statement: str) -> tuple[Claim, ...]:
    out = []
    for match in _QUANTIFIED.finditer(statement):
      quantifier, x, negated, y = match.groups()
      x, y, quantifier = x.casefold(), y.casefold(), quantifier.casefold()
      form = "O" if negated and quantifier == "some" else _LETTER[quantifier]
      if negated and quantifier != "some":
        continue  # "All X are not Y" is ambiguous; no claim.
      for example_id, facts in self._examples().items():
        premises = [self._form(f) for f in facts if f.metadata.get("role") in ("major", "minor")]
        terms = sorted({t for p in premises for t in p[1:]})
        if x in terms and y in terms and x != y:
          out.append(Claim(_syllogism_key(example_id, form, x, y), entails(premises, (form, x, y), terms), False))
    return tuple(out)

  def required(self, question: schema.Question) -> Requirement | None:
    conclusion = next((f for f in self.facts if f.id in question.fact_ids and f.metadata.get("role") == "conclusion"),
                      None)
    if conclusion is None:
      return None
    form = self._form(conclusion)
    return Requirement(_syllogism_key(conclusion.id.rsplit("/", 1)[0], *form), None)


# ----------------------------------------------------------------------------- semantic structure

# Cue words for each relation; a reversed cue puts the object first in the sentence.
_SEMANTIC_CUES = (
    ("is_a", r"kinds? of|types? of|sorts? of|classified"),
    ("has", r"\bha(?:ve|s)\b|feature|found on"),
    ("can", r"\bcan\b|able to|capable"),
    ("eats", r"\beats?\b|eaten|feed|diet|food"),
    ("lives_in", r"\blives?\b|living|home|habitat"),
    ("is_a", r"include|among|are an? |is an? |example|\bare\b"),
)
_REVERSED_CUES = r"include|among|eaten by|home to|food (?:for|of)|found on|examples of|one kind of"


@dataclasses.dataclass(frozen=True)
class SemanticChecker:
  facts: tuple[schema.Fact, ...]
  info: Mapping

  def _world(self):
    from icl_ft_jax.data import semantic_knowledge, semantic_logic  # pylint: disable=g-import-not-at-top

    cached = getattr(self, "_cached", None)
    if cached is None:
      hierarchy = semantic_knowledge.load_hierarchy(self.info.get("hierarchy_path") or semantic_knowledge.DEFAULT_PATH)
      lexicon = json.loads(self.info["lexicon"])
      real_of = {nonsense: real for real, nonsense in lexicon.items()}
      cached = (hierarchy, real_of, semantic_logic.entailments(hierarchy))
      object.__setattr__(self, "_cached", cached)
    return cached

  def _terms(self, statement: str) -> list[tuple[int, str]]:
    """(position, real word) of each lexicon term in `statement`, plurals included, in order."""
    _, real_of, _ = self._world()
    found = []
    for match in re.finditer(r"[A-Za-z]+", statement):
      word = match.group(0).casefold()
      real = real_of.get(word) or (real_of.get(word[:-1]) if word.endswith("s") else None)
      if real is not None:
        found.append((match.start(), real))
    return found

  def claims(self, statement: str) -> tuple[Claim, ...]:
    hierarchy, _, entailed = self._world()
    terms = self._terms(statement)
    if len(terms) != 2 or terms[0][1] == terms[1][1] or _denies(statement):
      return ()
    first, second = terms[0][1], terms[1][1]
    lowered = statement.casefold()
    categories = set(hierarchy.names)
    reversed_wording = re.search(_REVERSED_CUES, lowered) is not None
    relation = next((r for r, cue in _SEMANTIC_CUES if re.search(cue, lowered)
                     and (r != "is_a" or {first, second} <= categories)), "is")
    if first in categories and second in categories:
      subject, obj = (second, first) if reversed_wording else (first, second)
    elif first in categories or second in categories:  # The category is the subject of a property.
      subject, obj = (first, second) if first in categories else (second, first)
    else:
      return ()
    triple = (subject, relation, obj)
    return (Claim(("semantic", *triple), triple in entailed, obj == first),)

  def required(self, question: schema.Question) -> Requirement | None:
    meta = question.metadata
    if "subject_real" not in meta:
      return None
    return Requirement(("semantic", meta["subject_real"], meta["relation"], meta["object_real"]),
                       True if meta.get("varied") == "subject" else None)


def checker_for(dataset: schema.Dataset):
  """The claim checker of the dataset's family (its `Family.checker`)."""
  return families.of(dataset).checker(dataset)
