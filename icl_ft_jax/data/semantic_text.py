"""How the semantic benchmark's statements read: the nonsense lexicon and the templates.

Every content word of the hierarchy (category, adjective, noun, verb, food,
habitat) becomes one nonsense word; function words and the relation words
("is", "have", "can", "eat", "live in", "kind of") stay English, as in the
study's examples ("gruds are a type of abmes"). Plurals add "s", which the
nonsense-word generator keeps unambiguous.

Training templates always put the subject first. Test templates use wordings no
training template uses, and reversed test templates put the object first, so a
test sentence never appears verbatim in training.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping

import numpy as np

from icl_ft_jax.data import semantic_knowledge
from icl_ft_jax.data import words

# Fields: {S} plural subject, {a_s} singular subject with its article, {o} object in its
# bare form, {O} object in plural, {a_o} singular object with its article.
TRAIN_TEMPLATES: dict[str, tuple[str, ...]] = {
    "is_a": ("{S} are a kind of {o}.", "{a_s} is a type of {o}.", "{S} are {O}.",
             "{S} are one kind of {o}.", "{a_s} is {a_o}."),
    "is": ("{S} are {o}.", "{a_s} is {o}.", "Every {s} is {o}."),
    "has": ("{S} have {O}.", "{a_s} has {O}.", "Every {s} has {O}."),
    "can": ("{S} can {o}.", "{a_s} can {o}.", "{S} are able to {o}."),
    "eats": ("{S} eat {O}.", "{a_s} eats {O}.", "The diet of {S} consists of {O}."),
    "lives_in": ("{S} live in the {o}.", "{a_s} lives in the {o}.", "The home of {S} is the {o}."),
}
# Templates that still read well with "they" as the subject, for running text.
PRONOUN_TEMPLATES: dict[str, tuple[str, ...]] = {
    "is_a": ("They are a kind of {o}.", "They are {O}."),
    "is": ("They are {o}.",),
    "has": ("They have {O}.",),
    "can": ("They can {o}.", "They are able to {o}."),
    "eats": ("They eat {O}.",),
    "lives_in": ("They live in the {o}.",),
}
TRAIN_QUESTIONS: dict[str, tuple[str, ...]] = {
    "is_a": ("What kind of thing is {a_s}?", "What are {S}?"),
    "is": ("What are {S} like?",),
    "has": ("What do {S} have?",),
    "can": ("What can {S} do?",),
    "eats": ("What do {S} eat?",),
    "lives_in": ("Where do {S} live?",),
}
# Test questions: (prompt, choice). The varied term goes in the choice.
FORWARD_QUESTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "is_a": (("{S} are classified among the", " {O}."), ("By definition, every {s} counts among the", " {O}.")),
    "is": (("{S} can be described as", " {o}."), ("A word that describes {S} is", " {o}.")),
    "has": (("One feature of {S} is that they have", " {O}."), ("If you look closely at {S}, you will see their", " {O}.")),
    "can": (("{S} have the ability to", " {o}."), ("Something {S} are capable of is to", " {o}.")),
    "eats": (("{S} feed on", " {O}."), ("The usual food of {S} is", " {O}.")),
    "lives_in": (("{S} make their home in the", " {o}."), ("{S} are found living in the", " {o}.")),
}
REVERSE_QUESTIONS: dict[str, tuple[tuple[str, str], ...]] = {
    "is_a": (("{O} include", " {S}."), ("Among the kinds of {O} are the", " {S}.")),
    "is": (("Things that are {o} include", " {S}."), ("Examples of {o} things are", " {S}.")),
    "has": (("Things that have {O} include", " {S}."), ("{O} are found on", " {S}.")),
    "can": (("Things that can {o} include", " {S}."), ("Among those able to {o} are", " {S}.")),
    "eats": (("{O} are eaten by", " {S}."), ("{O} are food for", " {S}.")),
    "lives_in": (("The {o} is home to", " {S}."), ("Living in the {o} are", " {S}.")),
}


def article(word: str) -> str:
  return "an" if word[0] in "aeiou" else "a"


def capitalize_first(text: str) -> str:
  return text[:1].upper() + text[1:]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Lexicon:
  """Real word -> nonsense word, one to one."""

  nonsense: Mapping[str, str]

  def __getitem__(self, real: str) -> str:
    return self.nonsense[real]

  def plural(self, real: str) -> str:
    return self.nonsense[real] + "s"

  def fields(self, subject: str | None, obj: str | None) -> dict[str, str]:
    """Template fields for a (subject, object) pair of real words."""
    out = {}
    if subject is not None:
      s = self.nonsense[subject]
      out.update(S=s + "s", s=s, a_s=f"{article(s)} {s}")
    if obj is not None:
      o = self.nonsense[obj]
      out.update(O=o + "s", o=o, a_o=f"{article(o)} {o}")
    return out


# Words ending in these letters make awkward plurals ("oupess", "bloxs").
_AWKWARD_ENDINGS = ("s", "x", "z")


def build_lexicon(hierarchy: semantic_knowledge.Hierarchy, rng: np.random.Generator) -> Lexicon:
  """Draws one nonsense word per content word, assigned in the file's order."""
  real = hierarchy.content_words()
  drawn = words.nonsense_words(3 * len(real), rng)
  usable = [w for w in drawn if not w.endswith(_AWKWARD_ENDINGS)]
  if len(usable) < len(real):
    raise ValueError(f"Drew only {len(usable)} usable nonsense words for {len(real)} content words.")
  return Lexicon(nonsense=dict(zip(real, usable[:len(real)])))


def real_text(text: str, lexicon: Lexicon) -> str:
  """`text` with each nonsense word back in real words, for readers and debugging.

  Plurals read "<word>s" ("robins", "living things"); capitals are kept at sentence starts.
  """
  real_of = {nonsense: real for real, nonsense in lexicon.nonsense.items()}

  def replace(match: re.Match[str]) -> str:
    word = match.group(0)
    lower = word.lower()
    if lower in real_of:
      real = real_of[lower]
    elif lower.endswith("s") and lower[:-1] in real_of:
      real = real_of[lower[:-1]] + "s"
    else:
      return word
    return capitalize_first(real) if word[0].isupper() else real

  return re.sub(r"[A-Za-z]+", replace, text)


def render(template: str, lexicon: Lexicon, subject: str | None, obj: str | None) -> str:
  """Fills a template and capitalises the sentence start."""
  return capitalize_first(template.format(**lexicon.fields(subject, obj)))


def choice_text(template: str, lexicon: Lexicon, term: str, varied: str) -> str:
  """A test choice: the varied term (subject or object) in its template form."""
  fields = lexicon.fields(term, None) if varied == "subject" else lexicon.fields(None, term)
  return template.format(**fields)
