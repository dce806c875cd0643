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


def generate(config: Config) -> schema.Dataset:
  _check_config(config)
  rng = np.random.default_rng(config.seed)
  six_way_rng = np.random.default_rng([config.seed, _SIX_WAY_STREAM])
  try:
    entities = words.nonsense_words(3 * config.num_examples, rng)
  except ValueError as e:
    raise ValueError(f"num_examples={config.num_examples}: {e}") from None
  forms = [config.forms[i % len(config.forms)] for i in range(config.num_examples)]
  forms = [forms[i] for i in rng.permutation(len(forms))]

  facts, documents, questions = [], [], []
  for i, form in enumerate(forms):
    mood, figure = FORMS[form]
    terms = dict(zip("SMP", entities[3 * i : 3 * i + 3]))
    example_id = f"simple_syllogisms/{i:02d}"
    premises = []
    for role, quantifier, (subject_role, predicate_role) in zip(("major", "minor"), mood[:2], FIGURES[figure]):
      fact = schema.Fact(
          id=f"{example_id}/{role}", subject=terms[subject_role], relation=relation(quantifier),
          object=terms[predicate_role], metadata={"form": form, "role": role},
      )
      premises.append((fact, statement(quantifier, terms[subject_role], terms[predicate_role])))
    conclusion_quantifier = mood[2]
    conclusion = schema.Fact(
        id=f"{example_id}/conclusion", subject=terms["S"], relation=relation(conclusion_quantifier),
        object=terms["P"], metadata={"form": form, "role": "conclusion", "derived": True},
    )
    facts.extend([premises[0][0], premises[1][0], conclusion])

    # Entity order and premise order carry no information about the form.
    named = [entities[3 * i + j] for j in rng.permutation(3)]
    if rng.integers(2):
      premises.reverse()
    text = (
        f"The relationships between {named[0]}, {named[1]} and {named[2]} are: "
        + " ".join(f"{sentence}." for _, sentence in premises)
    )
    documents.append(schema.Document(
        id=f"{example_id}/premises", text=text, provenance=f"simple_syllogisms/{form}",
        fact_ids=tuple(fact.id for fact, _ in premises), metadata={"form": form, "figure": figure},
    ))

    pair = [terms["S"], terms["P"]]
    if rng.integers(2):
      pair.reverse()
    correct = " " + statement(conclusion_quantifier, terms["S"], terms["P"]) + "."
    converse = " " + statement(conclusion_quantifier, terms["P"], terms["S"]) + "."
    candidates = [
        " " + statement(q, x, y) + "."
        for q in "AIE"
        for x, y in ((terms["S"], terms["P"]), (terms["P"], terms["S"]))
    ]
    symmetric = conclusion_quantifier in SYMMETRIC
    five_way = [c for c in candidates if c != correct and not (symmetric and c == converse)]
    question_choices, answer = choices_lib.shuffled_choices(correct, five_way, rng)
    question = schema.Question(
        id=f"{example_id}/conclusion", split="syllogism",
        prompt=f"The relationships between {pair[0]} and {pair[1]} are:",
        choices=question_choices, answer=answer,
        fact_ids=(premises[0][0].id, premises[1][0].id, conclusion.id),
        inference=f"syllogism/{form}", metadata={"form": form, "mood": mood, "figure": figure},
    )
    questions.append(question)
    if config.six_way:
      six_choices, six_answer = choices_lib.shuffled_choices(
          correct, [c for c in candidates if c != correct], six_way_rng)
      questions.append(dataclasses.replace(
          question, id=f"{example_id}/conclusion_6way", split=SIX_WAY_SPLIT, choices=six_choices,
          answer=six_answer, also_correct=(six_choices.index(converse),) if symmetric else ()))

  return schema.Dataset(
      name="simple_syllogisms",
      documents=tuple(documents),
      questions=tuple(questions),
      facts=tuple(facts),
      info={"family": "simple_syllogisms", "num_examples": config.num_examples,
            "forms": ",".join(config.forms), "six_way": config.six_way, "seed": config.seed},
  )
