"""Wording of the process-knowledge dataset: rule statements, worked examples, questions.

Every rule is stated in several wordings (formula and prose); worked examples
come in five styles (step-by-step, one equation, a plain statement, Q&A, a
teacher's summary). Each ends in, or is, "The <op> of <expression> is <result>."
or "<op>[<expression>] = ...", the forms the questions use. No randomness here:
the generator picks wordings with its own seeded draws.
"""

from __future__ import annotations

from collections.abc import Sequence

from icl_ft_jax.data import process_algebra as alg
from icl_ft_jax.data import process_calculus as calc

RULE_NAMES = {"sum": "sum", "product": "product", "scale": "scaling", "compose": "composition"}

# General forms of the combinator rules, with `{op}`; the facts record the first wording's formula.
RULE_FORMULAS = {
    "sum": ("f(x) + g(x)", "{op}[f(x)] + {op}[g(x)]"),
    "product": ("f(x)*g(x)", "{op}[f(x)]*g(x) + f(x)*{op}[g(x)] + {op}[f(x)]*{op}[g(x)]"),
    "scale": ("c*f(x)", "c*{op}[f(x)]"),
    "compose": ("p(g(x))", "{op}[p](g(x)) + {op}[g(x)]"),
}

COMBINATOR_STATEMENTS = {
    "sum": (
        "Sum rule: the {op} of f(x) + g(x) is {op}[f(x)] + {op}[g(x)].",
        "For any two functions f and g, {op}[f(x) + g(x)] = {op}[f(x)] + {op}[g(x)].",
        "To take the {op} of a sum, take the {op} of each term and add the results.",
        "The {op} of a sum of two functions is the sum of their two {op}s.",
    ),
    "product": (
        "Product rule: the {op} of f(x)*g(x) is {op}[f(x)]*g(x) + f(x)*{op}[g(x)] + {op}[f(x)]*{op}[g(x)].",
        "For any two functions f and g, {op}[f(x)*g(x)] = {op}[f(x)]*g(x) + f(x)*{op}[g(x)] +"
        " {op}[f(x)]*{op}[g(x)].",
        "To take the {op} of a product of two functions, add three terms: the {op} of the first times the"
        " second, the first times the {op} of the second, and the {op} of the first times the {op} of the second.",
        "The {op} of a product f(x)*g(x) is not just {op}[f(x)]*g(x) + f(x)*{op}[g(x)]; it also has the third"
        " term {op}[f(x)]*{op}[g(x)].",
    ),
    "scale": (
        "Scaling rule: for a whole number c, the {op} of c*f(x) is c*{op}[f(x)].",
        "For every whole number c and every function f, {op}[c*f(x)] = c*{op}[f(x)].",
        "Multiplying a function by a number multiplies its {op} by the same number.",
        "A whole-number factor stays in front when you take the {op}: the {op} of c*f(x) is c times the {op}"
        " of f(x).",
    ),
    "compose": (
        "Composition rule: for a basic function p, the {op} of p(g(x)) is {op}[p](g(x)) + {op}[g(x)], where"
        " {op}[p](g(x)) means the {op} of p(x) with g(x) put in place of x.",
        "For a basic function p and any function g, {op}[p(g(x))] = {op}[p](g(x)) + {op}[g(x)]: use the rule"
        " for p with g(x) in place of x, then add the {op} of g(x).",
        "To take the {op} of a basic function applied to an inner function, apply the basic function's rule"
        " with the inner function in place of x, and add the {op} of the inner function; the two parts are"
        " added, not multiplied.",
        "The {op} of p(g(x)) is the sum of two parts: {op}[p] evaluated at g(x), and {op}[g(x)].",
    ),
}

PRIMITIVE_STATEMENTS = (
    "The {op} of {p}(x) is {rhs}.",
    "Rule for {p}: {op}[{p}(x)] = {rhs}.",
    "{p} is a basic function, and its {op} is {rhs}.",
    "Taking the {op} of {p}(x) gives {rhs}.",
)

INTRODUCTION = (
    "The {op} turns a function of x into another function of x, a little like a derivative but with rules of"
    " its own. The basic functions are {names}. Each basic function has its own {op} rule, and sums, whole-number"
    " multiples, products and compositions are handled by the sum, scaling, product and composition rules."
)

EXAMPLE_STYLES = ("steps", "equation", "statement", "qa", "summary")
EXAMPLE_STYLE_WEIGHTS = (0.4, 0.2, 0.15, 0.15, 0.1)

# (prompt, completion) of a question; the completion is " <result>" plus the ending.
QUESTION_TEMPLATES = (
    ("The {op} of {e} is", " {r}."),
    ("Q: What is the {op} of {e}? A:", " {r}"),
)


def statement(template: str, op: str, **fields: str) -> str:
  return template.format(op=op, **fields)


def introduction(op: str, names: Sequence[str]) -> str:
  return INTRODUCTION.format(op=op, names=_and(names))


def rule_formula(kind: str, op: str) -> tuple[str, str]:
  lhs, rhs = RULE_FORMULAS[kind]
  return lhs, rhs.format(op=op)


def _step_sentence(step: calc.Step, calculus: calc.Calculus) -> str:
  op = calculus.op
  r = lambda e: alg.render(e, op)
  if step.rule.startswith("primitive:"):
    return f"By the rule for {step.expr.name}, {op}[{r(step.expr)}] = {r(step.result)}."
  text = f"By the {RULE_NAMES[step.rule]} rule, {op}[{r(step.expr)}] = {r(step.general)}"
  if step.rule == "compose":
    outer = alg.tidy(calc.substitute(calculus.rule_of(step.expr.name), step.expr.arg))
    text += f", where {op}[{step.expr.name}]({r(step.expr.arg)}) = {r(outer)}"
  return text + f"; so {op}[{r(step.expr)}] = {r(step.result)}."


def worked_example(style: str, expr: alg.Expr, calculus: calc.Calculus) -> str:
  """One worked example of T[expr] in `style`."""
  op = calculus.op
  e, answer = alg.render(expr), alg.render(calc.result(expr, calculus))
  steps = calc.derivation(expr, calculus)
  if style == "steps":
    body = " ".join(_step_sentence(s, calculus) for s in reversed(steps))  # Innermost first.
    return f"Worked example: the {op} of {e}. {body} So the {op} of {e} is {answer}."
  if style == "equation":
    return f"{op}[{e}] = {alg.render(steps[0].general, op)} = {answer}."
  if style == "statement":
    return f"The {op} of {e} is {answer}."
  if style == "qa":
    return f"Q: What is the {op} of {e}? A: {answer}"
  used = calc.rules_used(expr)
  rules = [f"the {RULE_NAMES[u]} rule" for u in used if not u.startswith("primitive:")] or ["no combination rule"]
  primitives = [u.removeprefix("primitive:") for u in used if u.startswith("primitive:")]
  return (f"To find the {op} of {e}, apply {_and(rules)}, together with the rules for"
          f" {_and(primitives)}. The result is {answer}.")


def _and(items: Sequence[str]) -> str:
  """"a", "a and b", "a, b and c"."""
  return items[0] if len(items) == 1 else ", ".join(items[:-1]) + f" and {items[-1]}"


def question(template: int, op: str, expr: str, result: str) -> tuple[str, str]:
  prompt, completion = QUESTION_TEMPLATES[template]
  return prompt.format(op=op, e=expr), completion.format(r=result)
