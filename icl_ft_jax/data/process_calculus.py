"""The made-up calculus of the process-knowledge dataset: its rules, applied exactly.

A transform T (named by a nonsense word in the data) maps an expression in x to
another, like a derivative, by rules on the expression's top node:

  * sum:      T[f + g]  = T[f] + T[g]
  * scale:    T[c*f]    = c*T[f]                   (c a whole number)
  * product:  T[f*g]    = T[f]*g + f*T[g] + T[f]*T[g]
  * compose:  T[p(g)]   = T[p](g) + T[g]           (p a primitive; T[p](g): p's rule at g)
  * primitive p: T[p(x)] = its own made-up rule, e.g. T[glon(x)] = 3*femp(x).

Sum, scale and product are the algebra of the forward difference f(x+1) - f(x),
so T of a sum or product does not depend on operand order or bracketing (tests
check it); the product and composition rules differ from the textbook ones, and
the primitives' rules are invented, so no answer follows from pretraining.

A "wrong rule at one step" replaces the rule at one node by another rule that
could be read there: at a sum, the product rule; at a product, the sum rule or
the textbook product rule T[f]*g + f*T[g]; at a scale, dropping the coefficient;
at a composition, the textbook chain rule T[p](g)*T[g] or the primitive rule
alone T[p](g); at a primitive, another primitive's rule. Distractors are made so.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Sequence

import numpy as np

from icl_ft_jax.data import process_algebra as alg

COMBINATORS = ("sum", "product", "scale", "compose")
# Nestings that would only restate another (sum in sum, product in product, scale in scale), or
# that equal a listed one ((c*f)*g is written c*(f*g), the pair scale > product).
EXCLUDED_PAIRS = frozenset({("sum", "sum"), ("product", "product"), ("scale", "scale"), ("product", "scale")})
PAIRS = tuple((p, c) for p in COMBINATORS for c in COMBINATORS if (p, c) not in EXCLUDED_PAIRS)

# Wrong rules that can be read at a node of each kind (primitives: any other primitive's rule).
ALTERNATIVES = {
    "sum": ("product",),
    "product": ("sum", "textbook_product"),
    "scale": ("drop_coefficient",),
    "compose": ("textbook_chain", "primitive"),
}

# Shapes of the primitives' own rules; `q` is another primitive, `c` a coefficient.
PRIMITIVE_SHAPES = ("other", "scaled_other", "self_scaled", "times_other", "constant", "sum_of_others")

OUTER = -1  # Path index of a composition's outer primitive.


@dataclasses.dataclass(frozen=True)
class Calculus:
  """The rules: the transform's name and each primitive's rule (an expression in x) and its shape."""

  op: str
  primitive_rules: tuple[tuple[str, alg.Expr], ...]
  shapes: tuple[str, ...] = ()  # PRIMITIVE_SHAPES entry of each primitive, in order (for the record).

  @property
  def primitives(self) -> tuple[str, ...]:
    return tuple(name for name, _ in self.primitive_rules)

  def rule_of(self, name: str) -> alg.Expr:
    return dict(self.primitive_rules)[name]


@dataclasses.dataclass(frozen=True)
class WrongStep:
  """Apply `rule` instead of the right one at the node `path` (child indices; OUTER for p in p(g))."""

  path: tuple[int, ...]
  rule: str


@dataclasses.dataclass(frozen=True)
class Step:
  """One rule application of a derivation: at `expr`, `rule` gives `general` (with pending parts)."""

  expr: alg.Expr
  rule: str  # A combinator, or "primitive:<name>".
  general: alg.Expr
  result: alg.Expr  # Tidy, fully worked out.


# ----------------------------------------------------------------------------- building rules


def make_calculus(op: str, names: Sequence[str], rng: np.random.Generator) -> Calculus:
  """Gives each primitive a rule shape (all shapes used before any repeats) and partners.

  Redrawn until no two primitives share a rule, so that every primitive swap is a real error.
  """
  if len(names) < 3:
    raise ValueError(f"num_primitives must be >= 3 (rules refer to two others), got {len(names)}.")
  while True:
    order = [names[i] for i in rng.permutation(len(names))]  # A cycle: each rule refers to the next ones.
    shapes = [PRIMITIVE_SHAPES[i] for i in rng.permutation(len(PRIMITIVE_SHAPES))]
    rules, shape_of = {}, {}
    for i, name in enumerate(order):
      q, r = order[(i + 1) % len(order)], order[(i + 2) % len(order)]
      shape_of[name] = shapes[i % len(shapes)]
      rules[name] = _primitive_rule(shape_of[name], name, q, r, int(rng.integers(2, 4)))
    if len({alg.normal_form(r) for r in rules.values()}) == len(names):
      return Calculus(op=op, primitive_rules=tuple((n, rules[n]) for n in names),
                      shapes=tuple(shape_of[n] for n in names))


def _primitive_rule(shape: str, name: str, q: str, r: str, c: int) -> alg.Expr:
  at_x = lambda n: alg.Apply(n, alg.X())
  return {
      "other": at_x(q),
      "scaled_other": alg.Mul((alg.Const(c), at_x(q))),
      "self_scaled": alg.Mul((alg.Const(c), at_x(name))),
      "times_other": alg.Mul((at_x(name), at_x(q))),
      "constant": alg.Const(c + 2),
      "sum_of_others": alg.Add((at_x(q), at_x(r))),
  }[shape]


# ----------------------------------------------------------------------------- structure


def kind(e: alg.Expr) -> str:
  """Which rule applies at the top of `e`: a combinator or "primitive" (p(x))."""
  if isinstance(e, alg.Apply):
    return "primitive" if isinstance(e.arg, alg.X) else "compose"
  if isinstance(e, alg.Add):
    return "sum"
  if isinstance(e, alg.Mul):
    return "scale" if isinstance(e.factors[0], alg.Const) else "product"
  raise ValueError(f"{alg.render(e)} is not a transformable expression (a bare x or constant).")


def children(e: alg.Expr) -> tuple[alg.Expr, ...]:
  """Operands the rule at the top of `e` recurses into (n-ary sums and products: first, rest)."""
  k = kind(e)
  if k == "primitive":
    return ()
  if k == "compose":
    return (e.arg,)
  parts = e.terms if isinstance(e, alg.Add) else e.factors
  rest = parts[1] if len(parts) == 2 else type(e)(tuple(parts[1:]))
  return (rest,) if k == "scale" else (parts[0], rest)


def nodes(e: alg.Expr, path: tuple[int, ...] = ()) -> Iterator[tuple[tuple[int, ...], alg.Expr]]:
  """(path, subexpression) of every node a rule is applied at, top first."""
  yield path, e
  for i, child in enumerate(children(e)):
    yield from nodes(child, path + (i,))


def pairs(e: alg.Expr) -> tuple[tuple[str, str], ...]:
  """(parent, child) combinator nestings in `e`, in pre-order: the rule combinations it needs."""
  found = []
  for _, node in nodes(e):
    for child in children(node):
      if kind(child) != "primitive":
        found.append((kind(node), kind(child)))
  return tuple(dict.fromkeys(found))


def rules_used(e: alg.Expr) -> tuple[str, ...]:
  """Every rule the transform of `e` applies: combinators and "primitive:<name>"."""
  used = []
  for _, node in nodes(e):
    k = kind(node)
    used.append(k if k != "primitive" else f"primitive:{node.name}")
    if k == "compose":
      used.append(f"primitive:{node.name}")
  return tuple(dict.fromkeys(used))


def substitute(e: alg.Expr, value: alg.Expr) -> alg.Expr:
  """`e` with x replaced by `value`."""
  if isinstance(e, alg.X):
    return value
  if isinstance(e, alg.Apply):
    return alg.Apply(e.name, substitute(e.arg, value))
  if isinstance(e, alg.Add):
    return alg.Add(tuple(substitute(t, value) for t in e.terms))
  if isinstance(e, alg.Mul):
    return alg.Mul(tuple(substitute(f, value) for f in e.factors))
  return e


# ----------------------------------------------------------------------------- the transform


def _combine(rule: str, kids: Sequence[alg.Expr], transformed: Sequence[alg.Expr], outer: alg.Expr | None,
             coefficient: alg.Expr | None) -> alg.Expr:
  """A combinator rule's output from the operands, their transforms and T[p](g) (compositions)."""
  if rule == "compose":
    return alg.Add((outer, transformed[0]))
  if rule == "textbook_chain":
    return alg.Mul((outer, transformed[0]))
  if rule == "primitive":
    return outer
  if rule == "scale":
    return alg.Mul((coefficient, transformed[0]))
  if rule == "drop_coefficient":
    return transformed[0]
  (f, g), (tf, tg) = kids, transformed
  if rule == "sum":
    return alg.Add((tf, tg))
  if rule == "textbook_product":
    return alg.Add((alg.Mul((tf, g)), alg.Mul((f, tg))))
  if rule == "product":
    return alg.Add((alg.Mul((tf, g)), alg.Mul((f, tg)), alg.Mul((tf, tg))))
  raise ValueError(f"Unknown rule {rule!r}.")


def _primitive_at(calculus: Calculus, name: str, arg: alg.Expr, path: tuple[int, ...],
                  wrong: WrongStep | None) -> alg.Expr:
  if wrong is not None and wrong.path == path:
    name = wrong.rule.removeprefix("primitive:")
  return substitute(calculus.rule_of(name), arg)


def transform(e: alg.Expr, calculus: Calculus, wrong: WrongStep | None = None,
              path: tuple[int, ...] = ()) -> alg.Expr:
  """T[e] by the rules (untidied), or with `wrong`'s rule at its one node."""
  k = kind(e)
  if k == "primitive":
    return _primitive_at(calculus, e.name, e.arg, path, wrong)
  kids = children(e)
  transformed = [transform(c, calculus, wrong, path + (i,)) for i, c in enumerate(kids)]
  outer = _primitive_at(calculus, e.name, e.arg, path + (OUTER,), wrong) if k == "compose" else None
  rule = wrong.rule if wrong is not None and wrong.path == path else k
  coefficient = e.factors[0] if k == "scale" else None
  return _combine(rule, kids, transformed, outer, coefficient)


def result(e: alg.Expr, calculus: Calculus, wrong: WrongStep | None = None) -> alg.Expr:
  """T[e], tidy: the form answers and distractors are printed in."""
  return alg.tidy(transform(e, calculus, wrong))


def wrong_steps(e: alg.Expr, calculus: Calculus) -> list[WrongStep]:
  """Every single-step rule error: each node's alternatives, and each primitive swapped for another."""
  steps = []
  for path, node in nodes(e):
    k = kind(node)
    swaps = lambda name, at: [WrongStep(at, f"primitive:{q}") for q in calculus.primitives if q != name]
    if k == "primitive":
      steps += swaps(node.name, path)
      continue
    steps += [WrongStep(path, alt) for alt in ALTERNATIVES[k]]
    if k == "compose":
      steps += swaps(node.name, path + (OUTER,))
  return steps


def derivation(e: alg.Expr, calculus: Calculus) -> list[Step]:
  """The rule applications of T[e], top first, each with its general form and worked-out result."""
  steps = []
  for _, node in nodes(e):
    k = kind(node)
    if k == "primitive":
      steps.append(Step(node, f"primitive:{node.name}", alg.Pending(node), result(node, calculus)))
      continue
    kids = children(node)
    outer = alg.PendingAt(node.name, node.arg) if k == "compose" else None
    coefficient = node.factors[0] if k == "scale" else None
    general = alg.tidy(_combine(k, kids, [alg.Pending(c) for c in kids], outer, coefficient))
    steps.append(Step(node, k, general, result(node, calculus)))
  return steps


def build(chain: Sequence[str], calculus: Calculus, rng: np.random.Generator) -> alg.Expr:
  """A random expression whose combinators nest as `chain` (outermost first); other operands are p(x)."""
  names = calculus.primitives
  leaf = lambda avoid=None: alg.Apply(str(rng.choice([n for n in names if n != avoid])), alg.X())
  expr = None
  for k in reversed(chain):
    child = expr if expr is not None else leaf()
    if k == "compose":
      expr = alg.Apply(str(rng.choice(names)), child)
    elif k == "scale":
      expr = alg.Mul((alg.Const(int(rng.integers(2, 6))), child))
    else:
      other = leaf(child.name if isinstance(child, alg.Apply) and isinstance(child.arg, alg.X) else None)
      operands = (child, other) if rng.integers(2) else (other, child)
      expr = alg.Add(operands) if k == "sum" else alg.Mul(operands)
  return expr
