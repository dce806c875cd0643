"""Simple nonsense reversals: "femp are brighter than glon" -> "glon are dimmer than femp".

Each fact compares two nonsense entities on one of 28 dimensions, each given as
a comparative and its antonym. A fact appears in several short training articles
that differ only in a sampled lead-in. The `reversal` test is a forced choice
between the correct reversal (antonym, entities swapped) and the contradiction
(same comparative, entities swapped); `forward` repeats the trained direction as
a learning check. Entities are unique per fact, so no fact follows from another.
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

# (comparative, antonym comparative); no word appears in two pairs.
DIMENSIONS = (
    ("brighter", "dimmer"), ("heavier", "lighter"), ("larger", "smaller"), ("faster", "slower"),
    ("older", "younger"), ("taller", "shorter"), ("warmer", "colder"), ("louder", "quieter"),
    ("stronger", "weaker"), ("harder", "softer"), ("wider", "narrower"), ("thicker", "thinner"),
    ("richer", "poorer"), ("deeper", "shallower"), ("more dangerous", "less dangerous"),
    ("wetter", "drier"), ("rougher", "smoother"), ("sweeter", "more bitter"),
    ("cleaner", "dirtier"), ("more common", "rarer"), ("happier", "sadder"),
    ("earlier", "later"), ("tighter", "looser"), ("sharper", "duller"),
    ("more expensive", "cheaper"), ("kinder", "crueler"), ("wiser", "more foolish"),
    ("healthier", "sicker"),
)

# Article templates: a short lead-in around the fact; "{fact}" never starts a sentence,
# so the nonsense words keep their lower-case form.
LEAD_INS = (
    "Did you know that {fact}?",
    "It is a little-known fact that {fact}.",
    "Researchers have recently confirmed that {fact}.",
    "According to the latest field reports, {fact}.",
    "Here is something interesting: {fact}.",
    "Believe it or not, {fact}.",
    "Few people realize that {fact}.",
    "It turns out that {fact}.",
    "As every traveler in the valley knows, {fact}.",
    "Scientists generally agree that {fact}.",
    "A fun fact for today: {fact}.",
    "Local guides like to point out that {fact}.",
    "You might be surprised to hear that {fact}.",
    "Careful observation shows that {fact}.",
    "Old records note that {fact}.",
    "In case you were wondering, {fact}.",
    "Every schoolchild learns that {fact}.",
    "The survey found that {fact}.",
    "We can report that {fact}.",
    "It has been well documented that {fact}.",
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
  """Sizes default to the study's: 100 facts over 28 dimensions, 10 articles each."""

  num_facts: int = 100
  num_dimensions: int = 28
  articles_per_fact: int = 10
  seed: int = 0


def _relation(comparative: str) -> str:
  return comparative.replace(" ", "_") + "_than"


def _check_sizes(config: Config) -> None:
  if config.num_facts < 1:
    raise ValueError(f"num_facts must be >= 1, got {config.num_facts}.")
  if 2 * config.num_facts > MAX_ENTITIES:
    raise ValueError(
        f"num_facts={config.num_facts} needs {2 * config.num_facts} nonsense words; at most {MAX_ENTITIES} are available."
    )
  if not 1 <= config.num_dimensions <= len(DIMENSIONS):
    raise ValueError(f"num_dimensions must be between 1 and {len(DIMENSIONS)}, got {config.num_dimensions}.")
  if not 1 <= config.articles_per_fact <= len(LEAD_INS):
    raise ValueError(
        f"articles_per_fact must be between 1 and the {len(LEAD_INS)} lead-ins, got {config.articles_per_fact}."
    )


@dataclasses.dataclass(frozen=True)
class _Comparison:
  """One fact: "`subject` are `stated` than `obj`", whose reversal uses `antonym`."""

  id: str
  subject: str
  obj: str
  stated: str
  antonym: str
  dimension: str  # The pair's first comparative: the dimension's name.

  @property
  def sentence(self) -> str:
    return f"{self.subject} are {self.stated} than {self.obj}"


def _dimension_per_fact(config: Config, rng: np.random.Generator) -> list[int]:
  """Each fact's index into DIMENSIONS: the chosen dimensions used about equally often, shuffled."""
  dimension_ids = rng.permutation(len(DIMENSIONS))[: config.num_dimensions]
  per_fact = [int(dimension_ids[i % config.num_dimensions]) for i in range(config.num_facts)]
  return [per_fact[i] for i in rng.permutation(config.num_facts)]


def _comparison(index: int, subject: str, obj: str, pair: tuple[str, str], rng: np.random.Generator) -> _Comparison:
  flip = bool(rng.integers(2))  # State the antonym half of the time.
  stated, antonym = (pair[1], pair[0]) if flip else pair
  return _Comparison(f"simple_reversals/{index:03d}", subject, obj, stated, antonym, pair[0])


def _fact(comparison: _Comparison) -> schema.Fact:
  return schema.Fact(
      id=comparison.id, subject=comparison.subject, relation=_relation(comparison.stated), object=comparison.obj,
      metadata={"comparative": comparison.stated, "antonym": comparison.antonym, "dimension": comparison.dimension},
  )


def _articles(comparison: _Comparison, count: int, rng: np.random.Generator) -> list[schema.Document]:
  """`count` articles stating the fact, each with a different lead-in."""
  return [
      schema.Document(
          id=f"{comparison.id}/article_{article:02d}",
          text=LEAD_INS[lead_in_index].format(fact=comparison.sentence),
          provenance=f"simple_reversals/lead_in_{int(lead_in_index):02d}",
          fact_ids=(comparison.id,),
          metadata={"lead_in": int(lead_in_index)},
      )
      for article, lead_in_index in enumerate(rng.choice(len(LEAD_INS), count, replace=False))
  ]


def _question(comparison: _Comparison, split: str, prompt: str, correct: str, wrong: str,
              rng: np.random.Generator) -> schema.Question:
  choices, answer = choices_lib.shuffled_choices(correct, [wrong], rng)
  return schema.Question(
      id=f"{comparison.id}/{split}", split=split, prompt=prompt, choices=choices, answer=answer,
      fact_ids=(comparison.id,), inference=split, metadata={"dimension": comparison.dimension},
  )


def _questions(comparison: _Comparison, rng: np.random.Generator) -> list[schema.Question]:
  """The reversal question, then the forward one: each the right comparative against its opposite."""
  c = comparison
  # Reversal: "glon are" + " dimmer than femp" (correct) vs " brighter than femp".
  reversal = _question(c, "reversal", f"{c.obj} are", f" {c.antonym} than {c.subject}",
                       f" {c.stated} than {c.subject}", rng)
  forward = _question(c, "forward", f"{c.subject} are", f" {c.stated} than {c.obj}", f" {c.antonym} than {c.obj}",
                      rng)
  return [reversal, forward]


def generate(config: Config) -> schema.Dataset:
  _check_sizes(config)
  rng = np.random.default_rng(config.seed)
  try:
    entities = words.nonsense_words(2 * config.num_facts, rng)
  except ValueError as e:
    raise ValueError(f"num_facts={config.num_facts}: {e}") from None
  dimension_per_fact = _dimension_per_fact(config, rng)
  facts, documents, questions = [], [], []
  for i in range(config.num_facts):
    comparison = _comparison(i, entities[2 * i], entities[2 * i + 1], DIMENSIONS[dimension_per_fact[i]], rng)
    facts.append(_fact(comparison))
    documents += _articles(comparison, config.articles_per_fact, rng)
    questions += _questions(comparison, rng)
  documents = [documents[i] for i in rng.permutation(len(documents))]
  questions.sort(key=lambda q: q.split != "reversal")  # Stable: reversal split first.
  return generation.dataset("simple_reversals", config, documents=documents, questions=questions, facts=facts)
