"""Multiple-choice test questions for the semantic structure benchmark.

A question asks for one term of a true statement: the object ("Glons feed on" ->
" worms.") or, for reversals, the subject ("Worms are eaten by" -> " glons.").
Distractors are hard: each is a term that stands in the asked relation to some
other category in the training facts, so every choice is a familiar answer to that
kind of question, and none makes a true statement. "True" is judged against the
full deductive closure, and generously: a subject whose descendants make the
statement true, or an object below the right answer in the tree, is not used either.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

import numpy as np

from icl_ft_jax.data import schema
from icl_ft_jax.data import semantic_knowledge
from icl_ft_jax.data import semantic_logic
from icl_ft_jax.data import semantic_text

Triple = semantic_knowledge.Triple


def fact_id(triple: Triple) -> str:
  """A readable, seed-independent id: "has:bird:feather", "is_a:animal:living_thing"."""
  return ":".join(part.replace(" ", "_") for part in (triple[1], triple[0], triple[2]))


@dataclasses.dataclass(frozen=True, kw_only=True)
class QuestionSpec:
  """What to ask: a true statement, which of its terms to vary, and why it is true."""

  split: str
  triple: Triple
  varied: str  # "object" or "subject".
  premises: tuple[Triple, ...]
  inference: str


@dataclasses.dataclass(frozen=True, kw_only=True)
class QuestionWriter:
  """Turns specs into questions with hard distractors; randomness only from the `rng` passed in."""

  hierarchy: semantic_knowledge.Hierarchy
  lexicon: semantic_text.Lexicon
  entailed: Mapping[Triple, semantic_logic.Entailment]
  trained: tuple[Triple, ...]
  num_distractors: int

  def __post_init__(self):
    descendants = {name: self.hierarchy.descendants(name) for name in self.hierarchy.names}
    object.__setattr__(self, "_descendants", descendants)

  def candidates(self, relation: str, varied: str) -> tuple[str, ...]:
    """Terms that fill the varied slot of some trained fact with this relation, in file order."""
    position = 2 if varied == "object" else 0
    return tuple(dict.fromkeys(t[position] for t in self.trained if t[1] == relation))

  def _true_or_close(self, subject: str, relation: str, obj: str, varied: str) -> bool:
    """Whether a candidate statement is true, or too close to true to be a fair distractor."""
    if (subject, relation, obj) in self.entailed:
      return True
    names = self.hierarchy.by_name
    if varied == "subject":
      if relation == semantic_knowledge.IS_A and subject == obj:
        return True
      # "Things that can fly include birds" is half true when robins can fly.
      return subject in names and any((d, relation, obj) in self.entailed for d in self._descendants[subject])
    if relation == semantic_knowledge.IS_A:
      return obj == subject or obj in self._descendants[subject]
    if relation == "eats" and obj in names:
      # "Frogs feed on bees" is close to true when frogs eat insects.
      return any((subject, relation, a) in self.entailed for a in self.hierarchy.ancestors(obj))
    return False

  def make(self, spec: QuestionSpec, question_id: str, rng: np.random.Generator) -> schema.Question | None:
    """The question, or None when too few fair distractors exist."""
    subject, relation, obj = spec.triple
    correct = obj if spec.varied == "object" else subject
    pool = []
    for term in self.candidates(relation, spec.varied):
      statement = (subject, relation, term) if spec.varied == "object" else (term, relation, obj)
      if term != correct and not self._true_or_close(*statement, spec.varied):
        pool.append(term)
    if len(pool) < self.num_distractors:
      return None
    distractors = [pool[i] for i in rng.choice(len(pool), size=self.num_distractors, replace=False)]
    answer = int(rng.integers(self.num_distractors + 1))
    terms = distractors[:answer] + [correct] + distractors[answer:]
    templates = semantic_text.FORWARD_QUESTIONS if spec.varied == "object" else semantic_text.REVERSE_QUESTIONS
    template_index = int(rng.integers(len(templates[relation])))
    prompt_template, choice_template = templates[relation][template_index]
    prompt = semantic_text.render(prompt_template, self.lexicon, subject if spec.varied == "object" else None,
                         obj if spec.varied == "subject" else None)
    return schema.Question(
        id=question_id,
        split=spec.split,
        prompt=prompt,
        choices=tuple(semantic_text.choice_text(choice_template, self.lexicon, t, spec.varied) for t in terms),
        answer=answer,
        fact_ids=tuple(fact_id(p) for p in spec.premises),
        inference=spec.inference,
        metadata={
            "subject": self.lexicon[subject],
            "relation": relation,
            "object": self.lexicon[obj],
            "varied": spec.varied,
            "choice_terms": "|".join(self.lexicon[t] for t in terms),
            "steps": len(spec.premises) - 1,
            "template": template_index,
            "subject_real": subject,
            "object_real": obj,
            "choice_terms_real": "|".join(terms),
        },
    )


def _sample(pool: list, count: int, rng: np.random.Generator) -> list:
  """Up to `count` items of `pool`, kept in pool order."""
  if count >= len(pool):
    return list(pool)
  return [pool[i] for i in sorted(rng.choice(len(pool), size=count, replace=False))]


def trained_fact_specs(
    trained: tuple[Triple, ...], held_out: tuple[str, ...], split: str, varied: str, count: int,
    rng: np.random.Generator,
) -> list[QuestionSpec]:
  """Rephrasings (object varied) or reversals (subject varied) of trained facts."""
  pool = [t for t in trained if t[0] not in held_out]
  return [
      QuestionSpec(split=split, triple=t, varied=varied, premises=(t,), inference=f"{split}/{t[1]}")
      for t in _sample(pool, count, rng)
  ]


def depth_shares(count: int, pool_sizes: Mapping[int, int]) -> dict[int, int]:
  """How many questions of each depth: equal shares (earlier depths take the remainder), and a depth
  whose pool is too small gives what it cannot fill to the others."""
  shares = dict.fromkeys(pool_sizes, 0)
  open_depths = sorted(pool_sizes)
  left = count
  while left and open_depths:
    each, extra = divmod(left, len(open_depths))
    short = [d for i, d in enumerate(open_depths) if pool_sizes[d] - shares[d] < each + (i < extra)]
    if not short:
      for i, depth in enumerate(open_depths):
        shares[depth] += each + (i < extra)
      return shares
    for depth in short:  # Fill these completely, then share out the rest again.
      left -= pool_sizes[depth] - shares[depth]
      shares[depth] = pool_sizes[depth]
      open_depths.remove(depth)
  return shares


def syllogism_specs(
    entailed: Mapping[Triple, semantic_logic.Entailment], held_out: tuple[str, ...], count: int, max_steps: int,
    rng: np.random.Generator,
) -> list[QuestionSpec]:
  """Deductions of 1..max_steps steps, the same number of each where the pools allow (`depth_shares`)."""
  derived = [e for e in semantic_logic.derived(entailed).values() if e.triple[0] not in held_out]
  pools = {steps: [e for e in derived if e.steps == steps] for steps in range(1, max_steps + 1)}
  shares = depth_shares(count, {steps: len(pool) for steps, pool in pools.items()})
  specs = []
  for steps, pool in pools.items():
    for e in _sample(pool, shares[steps], rng):
      specs.append(QuestionSpec(split="syllogism", triple=e.triple, varied="object", premises=e.premises,
                                inference=f"syllogism/{steps}-step/{e.triple[1]}"))
  return specs


def holdout_specs(entailed: Mapping[Triple, semantic_logic.Entailment],
                  held_out: tuple[str, ...]) -> list[QuestionSpec]:
  """Every deduction about each held-out category (all follow from its one trained fact)."""
  derived = semantic_logic.derived(entailed).values()
  return [
      QuestionSpec(split="category_holdout", triple=e.triple, varied="object", premises=e.premises,
                   inference=f"category_holdout/{e.steps}-step/{e.triple[1]}")
      for name in held_out for e in derived if e.triple[0] == name
  ]
