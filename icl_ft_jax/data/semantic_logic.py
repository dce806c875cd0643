"""Deductive closure of the semantic hierarchy, with the shortest proof of each statement.

Three rules, applied to the base facts of `semantic_knowledge`:
  * transitivity: X is_a Y, Y is_a Z -> X is_a Z;
  * inheritance: X is_a Y, Y <relation> V -> X <relation> V (is/has/can/eats/lives_in);
  * food generalisation: X eats Y, Y is_a Z -> X eats Z (eating salmon is eating fish).

Syllogism questions are built from the first two; the third only widens the set of
true statements, so that no distractor is a statement that happens to be true.
A proof's `steps` counts deductions: a base fact takes 0, "X is_a Y; Y can fly"
takes 1, a chain through three premises takes 2.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping

from icl_ft_jax.data import semantic_knowledge

Triple = semantic_knowledge.Triple


@dataclasses.dataclass(frozen=True, kw_only=True)
class Entailment:
  """A true statement and the shortest list of base facts it follows from."""

  triple: Triple
  premises: tuple[Triple, ...]
  rule: str  # "base", "transitivity", "inheritance" or "food_generalization".

  @property
  def steps(self) -> int:
    return len(self.premises) - 1


def _is_a_chain(hierarchy: semantic_knowledge.Hierarchy, name: str, depth: int) -> tuple[Triple, ...]:
  """The is_a facts leading from `name` up `depth` levels."""
  chain = (name, *hierarchy.ancestors(name))
  return tuple((chain[i], semantic_knowledge.IS_A, chain[i + 1]) for i in range(depth))


def entailments(hierarchy: semantic_knowledge.Hierarchy) -> dict[Triple, Entailment]:
  """Every true statement about the categories, in a deterministic order."""
  by_name = hierarchy.by_name
  found: dict[Triple, Entailment] = {}

  def add(triple: Triple, premises: tuple[Triple, ...], rule: str) -> None:
    known = found.get(triple)
    if known is None or len(premises) < len(known.premises):
      found[triple] = Entailment(triple=triple, premises=premises, rule=rule)

  for name in hierarchy.names:
    lineage = (name, *hierarchy.ancestors(name))
    for depth in range(1, len(lineage)):
      triple = (name, semantic_knowledge.IS_A, lineage[depth])
      add(triple, _is_a_chain(hierarchy, name, depth), "base" if depth == 1 else "transitivity")
    for depth, owner in enumerate(lineage):
      for relation, value in by_name[owner].properties:
        premises = (*_is_a_chain(hierarchy, name, depth), (owner, relation, value))
        add((name, relation, value), premises, "base" if depth == 0 else "inheritance")
  for triple, entailment in list(found.items()):
    subject, relation, food = triple
    if relation == "eats" and food in by_name:
      for depth in range(1, len(hierarchy.ancestors(food)) + 1):
        wider = (subject, relation, hierarchy.ancestors(food)[depth - 1])
        add(wider, (*entailment.premises, *_is_a_chain(hierarchy, food, depth)), "food_generalization")
  return found


def derived(entailed: Mapping[Triple, Entailment]) -> dict[Triple, Entailment]:
  """Statements true by transitivity or inheritance but made by no base fact."""
  return {t: e for t, e in entailed.items() if e.rule in ("transitivity", "inheritance")}
