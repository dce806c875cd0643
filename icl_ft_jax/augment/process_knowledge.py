"""Oracle statements and the claim checker for the process-knowledge family.

A claim is "the transform of E is R" in any of the dataset's forms ("The zorp of
E is R.", "zorp[E] = ... = R.", "Q: What is the zorp of E? A: R", "Applying the
zorp to E gives R."). It is valid when R equals the engine's transform of E
(exact normal forms); statements whose E or R is not an expression over the
dataset's primitives (rules in general form, prose) make no claim.

The oracle restates every rule and worked example, and (derived) writes the
transform of every test expression, as the other families' oracles write the
reversals and conclusions their tests ask for.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

from icl_ft_jax.augment import claims
from icl_ft_jax.data import process_algebra as alg
from icl_ft_jax.data import process_calculus as calc
from icl_ft_jax.data import process_knowledge as pk
from icl_ft_jax.data import schema, splitting


def _key(expr: alg.Expr) -> tuple[str, ...]:
  return ("transform", alg.normal_form(expr))


def _names(e: alg.Expr) -> set[str]:
  if isinstance(e, alg.Apply):
    return {e.name} | _names(e.arg)
  if isinstance(e, (alg.Add, alg.Mul)):
    return set().union(*(_names(p) for p in (e.terms if isinstance(e, alg.Add) else e.factors)))
  return set()


@dataclasses.dataclass(frozen=True)
class ProcessKnowledgeChecker:
  facts: tuple[schema.Fact, ...]
  info: dict

  def _calculus(self) -> calc.Calculus:
    cached = getattr(self, "_cached", None)
    if cached is None:
      cached = pk.calculus_of(schema.Dataset(name=pk.NAME, documents=(), questions=(), facts=self.facts,
                                             info=self.info))
      object.__setattr__(self, "_cached", cached)
    return cached

  def _pairs(self, sentence: str) -> Iterator[tuple[str, str]]:
    """(E, R) texts a sentence may state; parsing decides which are real."""
    op = re.escape(self._calculus().op)
    sentence = sentence.strip().rstrip(".")
    for pattern in (rf"{op} of (.+?)\? A: (.+)$", rf"{op} of (.+?) (?:is|gives|equals) (.+)$",
                    rf"{op} to (.+?) gives (.+)$"):
      for match in re.finditer(pattern, sentence, re.IGNORECASE):
        yield match.group(1), match.group(2)
    for match in re.finditer(rf"{op}\[([^\[\]]+)\]\s*=", sentence, re.IGNORECASE):
      yield match.group(1), sentence.rsplit("=", 1)[1]

  def _claim(self, e_text: str, r_text: str) -> claims.Claim | None:
    calculus = self._calculus()
    try:
      expr, claimed = alg.parse(e_text), alg.parse(r_text)
      if not (_names(expr) | _names(claimed)) <= set(calculus.primitives):
        return None
      truth = calc.result(expr, calculus)
    except ValueError:
      return None
    return claims.Claim(_key(expr), alg.normal_form(claimed) == alg.normal_form(truth), False)

  def claims(self, statement: str) -> tuple[claims.Claim, ...]:
    found = []
    pieces = [statement] + [statement[a:b] for a, b in splitting.sentence_spans(statement)]  # Q&A spans two.
    for piece in pieces:
      for e_text, r_text in self._pairs(piece):
        claim = self._claim(e_text, r_text)
        if claim is not None and claim not in found:
          found.append(claim)
    return tuple(found)

  def required(self, question: schema.Question) -> claims.Requirement | None:
    if "expression" not in question.metadata:
      return None
    return claims.Requirement(_key(alg.parse(question.metadata["expression"])), None)


def oracle_statements(dataset: schema.Dataset, include_derived: bool) -> Iterator[tuple[str, str]]:
  """(source document id, statement): rules, worked examples, then (derived) every test transform."""
  op = dataset.info["op"]
  sources: dict[str, str] = {}
  for document in dataset.documents:
    for fact_id in document.fact_ids:
      sources.setdefault(fact_id, document.id)
  for fact in dataset.facts:
    if fact.metadata.get("rule"):
      yield sources.get(fact.id, ""), f"Applying the {op} to {fact.subject} gives {fact.object}."
    elif not fact.metadata.get("derived"):
      yield sources.get(fact.id, ""), f"{op}[{fact.subject}] = {fact.object}."
  if not include_derived:
    return
  primitives = pk.calculus_of(dataset).primitives
  for fact in dataset.facts:
    if fact.metadata.get("derived"):
      # Sourced at the rule of a primitive written as p(x) in the expression, which the filters then find.
      leaf = next(p for p in primitives if f"{p}(x)" in fact.subject)
      yield sources.get(pk.rule_fact_id(f"primitive:{leaf}"), ""), f"{op}[{fact.subject}] = {fact.object}."
