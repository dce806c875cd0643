"""Exact expressions for the process-knowledge dataset: build, tidy, print, parse, compare.

Expressions are trees over one variable `x`, non-negative integer constants,
applications of named unary functions, and n-ary sums and products; there is no
subtraction, division or floating point, so every value is exact. Printing is
plain ASCII that Python would also read ("3*glon(femp(x)) + troff(x)"), and
`parse(render(e)) == e` for every tidy expression (tests check it), so a printed
answer can be read back and checked.

Two expressions are the same function of uninterpreted primitives exactly when
their `normal_form`s are equal: the expanded polynomial over atoms (`x` and each
`name(normal form of its argument)`), with integer coefficients. Distractors are
checked wrong with it.
"""

from __future__ import annotations

import collections
import dataclasses
import re


@dataclasses.dataclass(frozen=True)
class X:
  pass


@dataclasses.dataclass(frozen=True)
class Const:
  value: int


@dataclasses.dataclass(frozen=True)
class Apply:
  name: str
  arg: "Expr"


@dataclasses.dataclass(frozen=True)
class Add:
  terms: tuple["Expr", ...]


@dataclasses.dataclass(frozen=True)
class Mul:
  factors: tuple["Expr", ...]


@dataclasses.dataclass(frozen=True)
class Pending:
  """The transform of `arg`, not yet worked out: "op[arg]" in worked derivations."""

  arg: "Expr"


@dataclasses.dataclass(frozen=True)
class PendingAt:
  """The transform of primitive `name`, evaluated at `arg`: "op[name](arg)"."""

  name: str
  arg: "Expr"


Expr = X | Const | Apply | Add | Mul | Pending | PendingAt


# ----------------------------------------------------------------------------- tidying


def tidy(e: Expr) -> Expr:
  """Flattens sums and products, folds integer constants (a product's coefficient goes first).

  No expansion and no reordering of non-constant parts, so that a rule's output keeps
  its shape; every answer and distractor is tidied the same way.
  """
  if isinstance(e, Apply):
    return Apply(e.name, tidy(e.arg))
  if isinstance(e, (Pending, PendingAt)):
    return e
  if isinstance(e, Add):
    return _tidy_add(e)
  if isinstance(e, Mul):
    return _tidy_mul(e)
  return e


def _tidy_add(e: Add) -> Expr:
  terms, constant = [], 0
  for term in (tidy(t) for t in e.terms):
    for part in (term.terms if isinstance(term, Add) else (term,)):
      if isinstance(part, Const):
        constant += part.value
      else:
        terms.append(part)
  if constant or not terms:
    terms.append(Const(constant))
  return terms[0] if len(terms) == 1 else Add(tuple(terms))


def _tidy_mul(e: Mul) -> Expr:
  factors, coefficient = [], 1
  for factor in (tidy(f) for f in e.factors):
    for part in (factor.factors if isinstance(factor, Mul) else (factor,)):
      if isinstance(part, Const):
        coefficient *= part.value
      else:
        factors.append(part)
  if coefficient == 0 or not factors:
    return Const(coefficient)
  if coefficient != 1:
    factors.insert(0, Const(coefficient))
  return factors[0] if len(factors) == 1 else Mul(tuple(factors))


# ----------------------------------------------------------------------------- printing


def render(e: Expr, op: str = "T") -> str:
  """ASCII text; `op` names the transform in pending parts ("op[glon(x)]")."""
  if isinstance(e, X):
    return "x"
  if isinstance(e, Const):
    return str(e.value)
  if isinstance(e, Apply):
    return f"{e.name}({render(e.arg, op)})"
  if isinstance(e, Pending):
    return f"{op}[{render(e.arg, op)}]"
  if isinstance(e, PendingAt):
    return f"{op}[{e.name}]({render(e.arg, op)})"
  if isinstance(e, Add):
    return " + ".join(f"({render(t, op)})" if isinstance(t, Add) else render(t, op) for t in e.terms)
  if len(e.factors) == 2 and isinstance(e.factors[0], Const) and isinstance(e.factors[1], Mul):
    return f"{e.factors[0].value}*{render(e.factors[1], op)}"  # A coefficient times a product: "3*a*b".
  return "*".join(_factor_text(f, i, op) for i, f in enumerate(e.factors))


def _factor_text(f: Expr, index: int, op: str) -> str:
  """Sums, nested products and constants after the first factor are bracketed inside a product."""
  if isinstance(f, (Add, Mul)) or (isinstance(f, Const) and index > 0):
    return f"({render(f, op)})"
  return render(f, op)


# ----------------------------------------------------------------------------- parsing

_TOKEN = re.compile(r"\s*(?:(\d+)|([A-Za-z_][A-Za-z_]*)|(.))")


def _tokens(text: str) -> list[str]:
  out = []
  for number, name, symbol in _TOKEN.findall(text.strip()):
    out.append(number or name or symbol)
  return [t for t in out if t.strip()]


class _Parser:
  """sum := product ('+' product)*; product := atom ('*' atom)*; atom := INT | x | NAME '(' sum ')' | '(' sum ')'."""

  def __init__(self, text: str):
    self.tokens = _tokens(text)
    self.text = text
    self.i = 0

  def fail(self, what: str):
    raise ValueError(f"Cannot parse {self.text!r}: {what} at token {self.i}.")

  def peek(self) -> str | None:
    return self.tokens[self.i] if self.i < len(self.tokens) else None

  def take(self, expected: str | None = None) -> str:
    token = self.peek()
    if token is None or (expected is not None and token != expected):
      self.fail(f"expected {expected or 'more'}")
    self.i += 1
    return token

  def sum(self) -> Expr:
    terms = [self.product()]
    while self.peek() == "+":
      self.take()
      terms.append(self.product())
    return terms[0] if len(terms) == 1 else Add(tuple(terms))

  def product(self) -> Expr:
    factors = [self.atom()]
    while self.peek() == "*":
      self.take()
      factors.append(self.atom())
    if len(factors) == 1:
      return factors[0]
    if isinstance(factors[0], Const) and len(factors) > 2:  # "3*a*b" is 3 times the product a*b.
      return Mul((factors[0], Mul(tuple(factors[1:]))))
    return Mul(tuple(factors))

  def atom(self) -> Expr:
    token = self.take()
    if token.isdigit():
      return Const(int(token))
    if token == "(":
      inner = self.sum()
      self.take(")")
      return inner
    if token == "x":
      return X()
    if token[0].isalpha() and self.peek() == "(":
      self.take("(")
      arg = self.sum()
      self.take(")")
      return Apply(token, arg)
    return self.fail(f"unexpected {token!r}")


def parse(text: str) -> Expr:
  """The expression `render` printed; ValueError for anything else."""
  parser = _Parser(text)
  expr = parser.sum()
  if parser.peek() is not None:
    parser.fail("trailing text")
  return expr


def parse_tidy(text: str) -> Expr:
  """`parse` for tidy (flat) expressions: a coefficient stays in its flat product."""
  return tidy(parse(text))


# ----------------------------------------------------------------------------- normal form

# A monomial is a sorted tuple of atom strings (repeated for powers); a polynomial maps monomials to coefficients.
Poly = dict[tuple[str, ...], int]


def _poly_add(a: Poly, b: Poly) -> Poly:
  out = collections.Counter(a)
  for monomial, coefficient in b.items():
    out[monomial] += coefficient
  return {m: c for m, c in out.items() if c}


def _poly_mul(a: Poly, b: Poly) -> Poly:
  out: collections.Counter = collections.Counter()
  for ma, ca in a.items():
    for mb, cb in b.items():
      out[tuple(sorted(ma + mb))] += ca * cb
  return {m: c for m, c in out.items() if c}


def _poly(e: Expr) -> Poly:
  if isinstance(e, X):
    return {("x",): 1}
  if isinstance(e, Const):
    return {(): e.value} if e.value else {}
  if isinstance(e, Apply):
    return {(f"{e.name}({normal_form(e.arg)})",): 1}
  if isinstance(e, Add):
    out: Poly = {}
    for term in e.terms:
      out = _poly_add(out, _poly(term))
    return out
  if isinstance(e, Mul):
    out = {(): 1}
    for factor in e.factors:
      out = _poly_mul(out, _poly(factor))
    return out
  raise ValueError(f"{e} is not worked out: it has no normal form.")


def normal_form(e: Expr) -> str:
  """Canonical text of the expanded polynomial: equal exactly for equal functions of free primitives."""
  poly = _poly(e)
  if not poly:
    return "0"
  return " + ".join(f"{c}*{'*'.join(m) or '1'}" for m, c in sorted(poly.items()))

