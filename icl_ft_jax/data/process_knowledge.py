"""Process knowledge ("derivatoids", Lampinen et al. 2025, appendix B.5): a made-up calculus.

The study's fifth dataset tests knowledge of a procedure rather than of facts: a
function-to-function transform like a derivative but with uncommon rules, with
some combinations of rules held out of training. The paper gives no more detail;
this is our design.

The calculus (`process_calculus`). A transform, named by a nonsense word (say
"zorp"), maps an expression in x to another. Expressions are built from
primitives (nonsense-named unary functions, "glon(x)") with four combinators:
sum f + g, whole-number scaling c*f, product f*g and composition p(g). Rules:
T[f + g] = T[f] + T[g]; T[c*f] = c*T[f]; T[f*g] = T[f]*g + f*T[g] + T[f]*T[g]
(the forward-difference product rule, not the textbook one); T[p(g)] =
T[p](g) + T[g] (a chain rule that adds); and each primitive has its own invented
rule ("zorp[glon(x)] = 3*femp(x)"), drawn per seed from six shapes. Everything is
exact integer algebra (`process_algebra`): answers are printed tidy (flattened,
constants folded, never expanded) and compared by their expanded normal form.

Rule combinations and the split. A combination is a (parent, child) nesting of
combinators, e.g. product > compose for "glon(femp(x))*troff(x)"; 12 exist.
`num_held_out_pairs` of them (chosen by the seed, so that every combinator still
appears as a parent and as a child in some trained pair) never occur in training.
  * `compositional`: expressions whose nesting includes a held-out pair;
  * `in_distribution`: new expressions whose nestings were all trained.
Every rule alone is trained (rule statements and depth-1 worked examples); no
test expression equals a training one up to algebra (normal form of the input).
A trained answer may contain a held-out nesting as text ("2*(f(x) + g(x))"); the
transform of one is never shown. Held-out pairs change with the seed, so results
over seeds average over which combinations are held out.

Training documents: an introduction, every rule stated in `statements_per_rule`
wordings, and worked examples of trained nestings in five styles (step by step,
one equation, a statement, Q&A, a summary). Questions: "The zorp of E is" or
"Q: What is the zorp of E? A:", multiple choice; the distractors apply a wrong
rule at exactly one step (`process_calculus.wrong_steps`), each checked by
normal form to differ from the answer and from each other. How many are shorter
than the answer is drawn uniformly where the candidates allow (most wrong steps
drop terms: the answer is then the shortest choice in about 7-19% of questions and
the longest in 25-33%, chance 25%; without this it was almost never the shortest,
a handicap under summed log-likelihood). Within that, errors at combinator nodes
(the nesting under test) come before primitive swaps (one primitive's rule for
another's). `metadata["errors"]` names each error.

Sizes (the paper gives none): study, 6 primitives, 3 wordings per rule, 300 worked
examples, 150 questions per split (about 48k Gemma tokens of documents); CPU
(`config_defaults`), 4 primitives, 2 wordings, 36 examples, 40 per split (about 5k).

Facts: each rule (`rule/...`), each worked example's result, and each question's
result (`derived`: true, never stated in training; the oracle augmentation writes
these, as it writes syllogism conclusions).
"""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Sequence

import numpy as np

from icl_ft_jax.data import choices as choices_lib
from icl_ft_jax.data import generation
from icl_ft_jax.data import process_algebra as alg
from icl_ft_jax.data import process_calculus as calc
from icl_ft_jax.data import process_text as text
from icl_ft_jax.data import schema
from icl_ft_jax.data import words

NAME = "process_knowledge"
SPLITS = ("compositional", "in_distribution")
MAX_PRIMITIVES = 12  # Two per rule shape; more could not all have distinct rules.
_MAX_DRAWS = 200  # Attempts at a new expression for one nesting before trying the next.

_NAMES_STREAM, _CALCULUS_STREAM, _SPLIT_STREAM, _EXAMPLE_STREAM, _QUESTION_STREAM, _DOCUMENT_STREAM = range(6)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
  """Generation parameters; the defaults are our study size (the paper gives none)."""

  seed: int = 0
  num_primitives: int = 6
  statements_per_rule: int = 3
  num_worked_examples: int = 300
  num_held_out_pairs: int = 4
  max_nesting: int = 2  # Combinators on the longest path of an expression.
  num_compositional_questions: int = 150
  num_in_distribution_questions: int = 150
  num_choices: int = 4

  def __post_init__(self):
    checks = {
        "num_primitives": 3 <= self.num_primitives <= MAX_PRIMITIVES,
        "statements_per_rule": 1 <= self.statements_per_rule <= len(text.PRIMITIVE_STATEMENTS),
        "num_worked_examples": self.num_worked_examples >= 0,
        "num_held_out_pairs": 1 <= self.num_held_out_pairs <= 4,
        "max_nesting": 2 <= self.max_nesting <= 3,
        "num_compositional_questions": self.num_compositional_questions >= 0,
        "num_in_distribution_questions": self.num_in_distribution_questions >= 0,
        "num_choices": 2 <= self.num_choices <= 6,
    }
    bad = [field for field, ok in checks.items() if not ok]
    if bad:
      raise ValueError(
          f"process_knowledge Config.{bad[0]}={getattr(self, bad[0])} is out of range (num_primitives 3-"
          f"{MAX_PRIMITIVES}, statements_per_rule 1-{len(text.PRIMITIVE_STATEMENTS)}, num_held_out_pairs 1-4,"
          " max_nesting 2-3, num_choices 2-6, counts >= 0).")


# ----------------------------------------------------------------------------- the split


def choose_held_out(count: int, rng: np.random.Generator) -> tuple[tuple[str, str], ...]:
  """`count` pairs such that every combinator keeps a trained pair as parent and as child."""
  while True:
    picked = sorted(rng.choice(len(calc.PAIRS), size=count, replace=False).tolist())
    held_out = tuple(calc.PAIRS[i] for i in picked)
    trained = [p for p in calc.PAIRS if p not in held_out]
    if all(any(p[side] == k for p in trained) for k in calc.COMBINATORS for side in (0, 1)):
      return held_out


def chains(max_nesting: int, min_length: int = 1) -> list[tuple[str, ...]]:
  """Every nesting path of combinators (outermost first) whose consecutive pairs are allowed."""
  out = []
  for length in range(min_length, max_nesting + 1):
    for chain in itertools.product(calc.COMBINATORS, repeat=length):
      if all(pair in calc.PAIRS for pair in zip(chain, chain[1:])):
        out.append(chain)
  return out


def is_held_out(chain: Sequence[str], held_out: Sequence[tuple[str, str]]) -> bool:
  return any(pair in held_out for pair in zip(chain, chain[1:]))


# ----------------------------------------------------------------------------- expressions


@dataclasses.dataclass(frozen=True)
class Item:
  """A drawn expression with its nesting."""

  expr: alg.Expr
  chain: tuple[str, ...]


def draw_items(count: int, options: Sequence[tuple[str, ...]], calculus: calc.Calculus, used: set[str],
               rng: np.random.Generator, *, field: str, accept=lambda item: True) -> list[Item]:
  """`count` new expressions, the nestings taken in rotation; `used` (normal forms) grows."""
  items: list[Item] = []
  exhausted: set[tuple[str, ...]] = set()
  slot = 0
  while len(items) < count:
    if len(exhausted) == len(options):
      raise ValueError(f"process_knowledge Config.{field}={count}: only {len(items)} distinct expressions could"
                       " be drawn; ask for fewer, or more primitives.")
    chain = options[slot % len(options)]
    slot += 1
    if chain in exhausted:
      continue
    for _ in range(_MAX_DRAWS):
      item = Item(calc.build(chain, calculus, rng), tuple(chain))
      key = alg.normal_form(item.expr)
      if key not in used and accept(item):
        used.add(key)
        items.append(item)
        break
    else:
      exhausted.add(chain)
  return items


def distractors(expr: alg.Expr, calculus: calc.Calculus, count: int,
                rng: np.random.Generator) -> list[tuple[calc.WrongStep, alg.Expr]] | None:
  """`count` one-wrong-step results, distinct from the answer and each other; None if too few exist.

  Length-balanced: how many are shorter than the answer is drawn uniformly (where the
  candidates allow), so that neither the shortest nor the longest choice is a cue. Within
  that, errors at combinator nodes (one per node) come before primitive swaps.
  """
  answer_length = len(alg.render(calc.result(expr, calculus)))
  seen = {alg.normal_form(calc.result(expr, calculus))}
  options = []
  for step in calc.wrong_steps(expr, calculus):
    out = calc.result(expr, calculus, step)
    key = alg.normal_form(out)
    if key not in seen:
      seen.add(key)
      options.append((step, out))
  if len(options) < count:
    return None
  order = [options[i] for i in rng.permutation(len(options))]
  shorter = [o for o in order if len(alg.render(o[1])) < answer_length]
  longer = [o for o in order if len(alg.render(o[1])) >= answer_length]
  num_shorter = int(rng.integers(max(0, count - len(longer)), min(count, len(shorter)) + 1))
  return _combinators_first(shorter, num_shorter) + _combinators_first(longer, count - num_shorter)


def _combinators_first(options: list, count: int) -> list:
  """`count` of `options`: a wrong combinator rule per node first, then the rest, in the given order."""
  picked, paths = [], set()
  for step, out in options:
    if not step.rule.startswith("primitive:") and step.path not in paths and len(picked) < count:
      picked.append((step, out))
      paths.add(step.path)
  return picked + [o for o in options if o not in picked][: count - len(picked)]


def error_label(step: calc.WrongStep) -> str:
  """"textbook_chain@0.1": the rule used and the node's path ("root" at the top)."""
  return f"{step.rule}@{'.'.join(str(i) for i in step.path) or 'root'}"


# ----------------------------------------------------------------------------- facts


def rule_fact_id(rule: str) -> str:
  """Fact id of a rule: a combinator, or "primitive:<name>"."""
  return f"{NAME}/rule/" + rule.replace(":", "/")


def _rule_facts(calculus: calc.Calculus) -> list[schema.Fact]:
  facts = []
  for kind in calc.COMBINATORS:
    lhs, rhs = text.rule_formula(kind, calculus.op)
    facts.append(schema.Fact(id=rule_fact_id(kind), subject=lhs, relation="transforms_to", object=rhs,
                             metadata={"rule": kind}))
  for (name, rule), shape in zip(calculus.primitive_rules, calculus.shapes):
    facts.append(schema.Fact(id=rule_fact_id(f"primitive:{name}"), subject=f"{name}(x)", relation="transforms_to",
                             object=alg.render(rule), metadata={"rule": "primitive", "shape": shape}))
  return facts


def _result_fact(fact_id: str, item: Item, calculus: calc.Calculus, held_out, *, derived: bool) -> schema.Fact:
  metadata = {"chain": ">".join(item.chain), "held_out": is_held_out(item.chain, held_out)}
  if derived:
    metadata["derived"] = True
  return schema.Fact(id=fact_id, subject=alg.render(item.expr), relation="transforms_to",
                     object=alg.render(calc.result(item.expr, calculus)), metadata=metadata)


def _rule_ids(expr: alg.Expr) -> tuple[str, ...]:
  return tuple(rule_fact_id(r) for r in calc.rules_used(expr))


# ----------------------------------------------------------------------------- documents


def _rule_documents(calculus: calc.Calculus, config: Config, rng: np.random.Generator) -> list[schema.Document]:
  docs = [schema.Document(id=f"{NAME}/introduction", text=text.introduction(calculus.op, calculus.primitives),
                          provenance=f"{NAME}/introduction")]
  rules = [(kind, text.COMBINATOR_STATEMENTS[kind], {}) for kind in calc.COMBINATORS]
  rules += [(f"primitive:{name}", text.PRIMITIVE_STATEMENTS, {"p": name, "rhs": alg.render(rule)})
            for name, rule in calculus.primitive_rules]
  for rule, templates, fields in rules:
    for j, index in enumerate(sorted(rng.choice(len(templates), config.statements_per_rule, replace=False))):
      docs.append(schema.Document(
          id=f"{rule_fact_id(rule)}/statement_{j}", text=text.statement(templates[index], calculus.op, **fields),
          provenance=f"{NAME}/rule_statement/{int(index)}", fact_ids=(rule_fact_id(rule),),
          metadata={"rule": rule, "wording": int(index)}))
  return docs


def _example_documents(items: Sequence[Item], calculus: calc.Calculus,
                       rng: np.random.Generator) -> tuple[list[schema.Document], list[schema.Fact]]:
  docs, facts = [], []
  for i, item in enumerate(items):
    fact = _result_fact(f"{NAME}/example/{i:04d}", item, calculus, (), derived=False)
    style = text.EXAMPLE_STYLES[rng.choice(len(text.EXAMPLE_STYLES), p=text.EXAMPLE_STYLE_WEIGHTS)]
    docs.append(schema.Document(
        id=f"{fact.id}/{style}", text=text.worked_example(style, item.expr, calculus),
        provenance=f"{NAME}/worked_example/{style}", fact_ids=(fact.id, *_rule_ids(item.expr)),
        metadata={"style": style, "chain": ">".join(item.chain), "expression": fact.subject}))
    facts.append(fact)
  return docs, facts


# ----------------------------------------------------------------------------- questions


def _question(split: str, index: int, item: Item, picked, calculus: calc.Calculus, held_out,
              rng: np.random.Generator) -> tuple[schema.Question, schema.Fact]:
  fact = _result_fact(f"{NAME}/{split}/{index:04d}", item, calculus, held_out, derived=True)
  template = int(rng.integers(len(text.QUESTION_TEMPLATES)))
  prompt, correct = text.question(template, calculus.op, fact.subject, fact.object)
  wrong = [text.question(template, calculus.op, fact.subject, alg.render(out))[1] for _, out in picked]
  choices, answer = choices_lib.shuffled_choices(correct, wrong, rng)
  labels = {c: error_label(step) for c, (step, _) in zip(wrong, picked)}
  question = schema.Question(
      id=fact.id, split=split, prompt=prompt, choices=choices, answer=answer,
      fact_ids=(*_rule_ids(item.expr), fact.id), inference=f"{NAME}/{'>'.join(item.chain)}",
      metadata={"expression": fact.subject, "chain": ">".join(item.chain),
                "pairs": "|".join(f"{p}>{c}" for p, c in calc.pairs(item.expr)),
                "held_out": is_held_out(item.chain, held_out), "template": template,
                "errors": "|".join(labels.get(c, "") for c in choices)})
  return question, fact


def _questions(config: Config, calculus: calc.Calculus, held_out, used: set[str]):
  rng = generation.stream(config.seed, _QUESTION_STREAM)
  wanted = {"compositional": config.num_compositional_questions,
            "in_distribution": config.num_in_distribution_questions}
  options = {"compositional": [c for c in chains(config.max_nesting, 2) if is_held_out(c, held_out)],
             "in_distribution": [c for c in chains(config.max_nesting, 2) if not is_held_out(c, held_out)]}
  questions, facts = [], []
  for split in SPLITS:
    found = {}
    accept = lambda item: found.setdefault(item, distractors(item.expr, calculus, config.num_choices - 1, rng))
    items = draw_items(wanted[split], options[split], calculus, used, rng, field=f"num_{split}_questions",
                       accept=lambda item: accept(item) is not None)
    for index, item in enumerate(items):
      question, fact = _question(split, index, item, found[item], calculus, held_out, rng)
      questions.append(question)
      facts.append(fact)
  return questions, facts


def generate(config: Config) -> schema.Dataset:
  """The dataset for `config`; the same config always gives the same bytes."""
  names = words.nonsense_words(config.num_primitives + 1, generation.stream(config.seed, _NAMES_STREAM))
  calculus = calc.make_calculus(names[0], names[1:], generation.stream(config.seed, _CALCULUS_STREAM))
  held_out = choose_held_out(config.num_held_out_pairs, generation.stream(config.seed, _SPLIT_STREAM))
  trained_chains = [c for c in chains(config.max_nesting) if not is_held_out(c, held_out)]
  used: set[str] = set()
  example_rng = generation.stream(config.seed, _EXAMPLE_STREAM)
  examples = draw_items(config.num_worked_examples, trained_chains, calculus, used, example_rng,
                        field="num_worked_examples")
  document_rng = generation.stream(config.seed, _DOCUMENT_STREAM)
  example_docs, example_facts = _example_documents(examples, calculus, document_rng)
  docs = _rule_documents(calculus, config, document_rng) + example_docs
  docs = [docs[i] for i in document_rng.permutation(len(docs))]
  questions, question_facts = _questions(config, calculus, held_out, used)
  info = {
      "op": calculus.op,
      "primitives": "|".join(calculus.primitives),
      "held_out_pairs": "|".join(f"{p}>{c}" for p, c in held_out),
  }
  return generation.dataset(NAME, config, documents=docs, questions=questions,
                            facts=(*_rule_facts(calculus), *example_facts, *question_facts), extra_info=info)


def calculus_of(dataset: schema.Dataset) -> calc.Calculus:
  """The rules a saved dataset was made with, read back from its info and rule facts."""
  rules = tuple((f.subject.removesuffix("(x)"), alg.parse_tidy(f.object))
                for f in dataset.facts if f.metadata.get("rule") == "primitive")
  return calc.Calculus(op=str(dataset.info["op"]), primitive_rules=rules,
                       shapes=tuple(str(f.metadata["shape"]) for f in dataset.facts
                                    if f.metadata.get("rule") == "primitive"))
