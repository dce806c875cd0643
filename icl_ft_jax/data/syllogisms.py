"""Simple syllogisms over nonsense entities.

Each training example names three entities and states two premises from a
valid categorical syllogism ("All glon are yomp. All troff are glon."). The
test names the two conclusion entities and scores the candidate statements
{all, some, no} x both orders ("some X are not Y" is omitted, as in the study).

Uniqueness of the answer. We read the statements without existential import
(an "all" premise does not assert that anything exists), and use only the nine
forms valid under that reading whose conclusion is all/some/no. "All S are P" is
then the only one of the six candidates entailed. "Some" and "no" statements
are symmetric, so their converse is entailed too; we drop that converse from
the choices (5 choices), so that exactly one choice is entailed and every other
is not. The tests check this with an independent model checker.

The study's own test has all six candidates. With `six_way` (default on) each
example is also asked in split `syllogism_6way`: the six statements, the converse
of a symmetric conclusion among them and counted correct too (`also_correct`),
so that score is comparable to the study's. Its choices are shuffled from a
random stream of their own, so the 5-way split is the same with or without it.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from icl_ft_jax.data import choices as choices_lib
from icl_ft_jax.data import generation
from icl_ft_jax.data import schema
from icl_ft_jax.data import words

# Far below the ~100k pronounceable words `words` can make, so generation stays fast.
MAX_ENTITIES = 20_000

QUANTIFIERS = {"A": "all", "I": "some", "E": "no"}
SYMMETRIC = frozenset("IE")
SIX_WAY_SPLIT = "syllogism_6way"
_SIX_WAY_STREAM = 1  # default_rng([seed, 1]): the 6-way choice order, apart from the main stream.

# Classical figures: (major premise terms, minor premise terms); conclusion is S-P.
FIGURES = {
    1: (("M", "P"), ("S", "M")),
    2: (("P", "M"), ("S", "M")),
    3: (("M", "P"), ("M", "S")),
    4: (("P", "M"), ("M", "S")),
}

# Forms valid without existential import, with no "some ... not" statement.
# name: (mood: major, minor, conclusion quantifier letters; figure).
FORMS = {
    "Barbara": ("AAA", 1),
    "Celarent": ("EAE", 1),
    "Darii": ("AII", 1),
    "Cesare": ("EAE", 2),
    "Camestres": ("AEE", 2),
    "Datisi": ("AII", 3),
    "Disamis": ("IAI", 3),
    "Calemes": ("AEE", 4),
    "Dimatis": ("IAI", 4),
}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
  """Sizes default to the study's: 69 examples, the forms used in rotation."""

  num_examples: int = 69
  forms: tuple[str, ...] = tuple(FORMS)
  six_way: bool = True  # Also split "syllogism_6way": the study's six choices, either converse correct.
  seed: int = 0


def statement(quantifier: str, subject: str, predicate: str) -> str:
  """"All glon are yomp" from ("A", "glon", "yomp")."""
  return f"{QUANTIFIERS[quantifier].capitalize()} {subject} are {predicate}"


def relation(quantifier: str) -> str:
  return f"{QUANTIFIERS[quantifier]}_are"


def _check_config(config: Config) -> None:
  if config.num_examples < 1:
    raise ValueError(f"num_examples must be >= 1, got {config.num_examples}.")
  if 3 * config.num_examples > MAX_ENTITIES:
    raise ValueError(
        f"num_examples={config.num_examples} needs {3 * config.num_examples} nonsense words; at most {MAX_ENTITIES} are available."
    )
  unknown = [f for f in config.forms if f not in FORMS]
  if unknown or not config.forms:
    raise ValueError(f"forms: unknown or empty {unknown or list(config.forms)}; choose from {', '.join(FORMS)}.")


@dataclasses.dataclass(frozen=True)
class _Example:
  """One syllogism: its form and the entities in each role (S, M, P)."""

  id: str
  form: str
  terms: dict[str, str]  # "S", "M", "P" -> entity.

  @property
  def mood(self) -> str:
    return FORMS[self.form][0]

  @property
  def figure(self) -> int:
    return FORMS[self.form][1]


def _premises(example: _Example) -> list[tuple[schema.Fact, str]]:
  """The major and minor premise: each fact and its sentence (without the period)."""
  premises = []
  for role, quantifier, (subject_role, predicate_role) in zip(("major", "minor"), example.mood[:2],
                                                               FIGURES[example.figure]):
    subject, predicate = example.terms[subject_role], example.terms[predicate_role]
    fact = schema.Fact(
        id=f"{example.id}/{role}", subject=subject, relation=relation(quantifier),
        object=predicate, metadata={"form": example.form, "role": role},
    )
    premises.append((fact, statement(quantifier, subject, predicate)))
  return premises


def _conclusion(example: _Example) -> schema.Fact:
  return schema.Fact(
      id=f"{example.id}/conclusion", subject=example.terms["S"], relation=relation(example.mood[2]),
      object=example.terms["P"], metadata={"form": example.form, "role": "conclusion", "derived": True},
  )


def _document(example: _Example, premises: list[tuple[schema.Fact, str]],
              rng: np.random.Generator) -> schema.Document:
  """The three entities and the two premises, each in a random order: neither carries information
  about the form. The document's `fact_ids` are the premises in the order the text states them."""
  entities = [example.terms[role] for role in "SMP"]
  listed = [entities[j] for j in rng.permutation(3)]
  stated = premises[::-1] if rng.integers(2) else premises
  text = (
      f"The relationships between {listed[0]}, {listed[1]} and {listed[2]} are: "
      + " ".join(f"{sentence}." for _, sentence in stated)
  )
  return schema.Document(
      id=f"{example.id}/premises", text=text, provenance=f"simple_syllogisms/{example.form}",
      fact_ids=tuple(fact.id for fact, _ in stated), metadata={"form": example.form, "figure": example.figure},
  )


def _questions(example: _Example, fact_ids: tuple[str, ...], config: Config, rng: np.random.Generator,
               six_way_rng: np.random.Generator) -> list[schema.Question]:
  """The 5-way question (one entailed choice) and, with `six_way`, the study's six choices."""
  s, p, quantifier = example.terms["S"], example.terms["P"], example.mood[2]
  pair = [s, p]
  if rng.integers(2):
    pair.reverse()
  correct = " " + statement(quantifier, s, p) + "."
  converse = " " + statement(quantifier, p, s) + "."
  candidates = [" " + statement(q, x, y) + "." for q in "AIE" for x, y in ((s, p), (p, s))]
  symmetric = quantifier in SYMMETRIC
  five_way = [c for c in candidates if c != correct and not (symmetric and c == converse)]
  question_choices, answer = choices_lib.shuffled_choices(correct, five_way, rng)
  question = schema.Question(
      id=f"{example.id}/conclusion", split="syllogism",
      prompt=f"The relationships between {pair[0]} and {pair[1]} are:",
      choices=question_choices, answer=answer, fact_ids=fact_ids,
      inference=f"syllogism/{example.form}",
      metadata={"form": example.form, "mood": example.mood, "figure": example.figure},
  )
  if not config.six_way:
    return [question]
  six_choices, six_answer = choices_lib.shuffled_choices(correct, [c for c in candidates if c != correct],
                                                         six_way_rng)
  return [question, dataclasses.replace(
      question, id=f"{example.id}/conclusion_6way", split=SIX_WAY_SPLIT, choices=six_choices,
      answer=six_answer, also_correct=(six_choices.index(converse),) if symmetric else ())]


def _examples(config: Config, rng: np.random.Generator) -> list[_Example]:
  """`num_examples` syllogisms, the forms in rotation and shuffled, each with three fresh entities."""
  try:
    entities = words.nonsense_words(3 * config.num_examples, rng)
  except ValueError as e:
    raise ValueError(f"num_examples={config.num_examples}: {e}") from None
  forms = [config.forms[i % len(config.forms)] for i in range(config.num_examples)]
  forms = [forms[i] for i in rng.permutation(len(forms))]
  return [_Example(f"simple_syllogisms/{i:02d}", form, dict(zip("SMP", entities[3 * i : 3 * i + 3])))
          for i, form in enumerate(forms)]


def generate(config: Config) -> schema.Dataset:
  _check_config(config)
  rng = np.random.default_rng(config.seed)
  six_way_rng = generation.stream(config.seed, _SIX_WAY_STREAM)
  facts, documents, questions = [], [], []
  for example in _examples(config, rng):
    premises = _premises(example)
    conclusion = _conclusion(example)
    facts.extend([premises[0][0], premises[1][0], conclusion])
    document = _document(example, premises, rng)
    documents.append(document)
    questions += _questions(example, (*document.fact_ids, conclusion.id), config, rng, six_way_rng)
  return generation.dataset("simple_syllogisms", config, documents=documents, questions=questions, facts=facts,
                            extra_info={"forms": ",".join(config.forms)})
