"""Process knowledge: answers checked by an independent evaluator, one-wrong-step distractors, the held-out split."""

import ast
import dataclasses
import os
import random
import subprocess
import sys

import numpy as np
import pytest

from icl_ft_jax import families, main
from icl_ft_jax.augment import claims, oracle, quality
from icl_ft_jax.data import process_algebra as alg
from icl_ft_jax.data import process_calculus as calc
from icl_ft_jax.data import process_knowledge as pk
from icl_ft_jax.data import splitting, words

import dataset_checks
from tests import config_files

PRIME = (1 << 61) - 1
SMALL = pk.Config(num_primitives=4, statements_per_rule=2, num_worked_examples=36, num_compositional_questions=40,
                  num_in_distribution_questions=40)


@pytest.fixture(scope="module")
def dataset():
  return pk.generate(pk.Config())


@pytest.fixture(scope="module")
def deep():
  return pk.generate(dataclasses.replace(SMALL, max_nesting=3, seed=3))


# ----------------------------------------------------------------------------- an independent evaluator

class Evaluator:
  """Values of expressions and of their transform, mod a prime, with each primitive a random quadratic.

  Reads expressions with Python's own parser and the primitives' rules from the dataset's facts; the
  combinator rules are written out here as the module docstring states them. Shares no code with the engine.
  """

  def __init__(self, dataset, seed):
    rand = random.Random(seed)
    self.rules = {f.subject.removesuffix("(x)"): f.object
                  for f in dataset.facts if f.metadata.get("rule") == "primitive"}
    coefficients = {name: [rand.randrange(PRIME) for _ in range(3)] for name in self.rules}
    self.functions = {name: (lambda t, c=c: (c[0] * t * t + c[1] * t + c[2]) % PRIME)
                      for name, c in coefficients.items()}
    self.x = rand.randrange(PRIME)

  def value(self, text, x=None):
    names = {**self.functions, "x": self.x if x is None else x}
    return eval(text, {"__builtins__": {}}, names) % PRIME  # pylint: disable=eval-used

  def _value(self, node):
    return self.value(ast.unparse(node))

  def transform(self, node):
    if isinstance(node, ast.Expression):
      node = node.body
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
      return (self.transform(node.left) + self.transform(node.right)) % PRIME
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mult):
      if isinstance(node.left, ast.Constant):
        return node.left.value * self.transform(node.right) % PRIME
      tf, tg = self.transform(node.left), self.transform(node.right)
      f, g = self._value(node.left), self._value(node.right)
      return (tf * g + f * tg + tf * tg) % PRIME
    assert isinstance(node, ast.Call), ast.unparse(node)
    rule = self.rules[node.func.id]
    if isinstance(node.args[0], ast.Name):
      return self.value(rule)
    return (self.value(rule, x=self._value(node.args[0])) + self.transform(node.args[0])) % PRIME


def _answer_text(choice):
  return choice.strip().removesuffix(".")


# ----------------------------------------------------------------------------- sizes, determinism, form

def test_study_sizes(dataset):
  assert {s: len(q) for s, q in dataset.splits.items()} == {"compositional": 150, "in_distribution": 150}
  assert len(dataset.documents) == 1 + (4 + 6) * 3 + 300
  assert dataset.chance("compositional") == 0.25
  assert len(dataset.info["held_out_pairs"].split("|")) == 4


def test_same_seed_same_bytes_other_seed_differs(tmp_path):
  first = dataset_checks.saved_bytes(pk.generate(SMALL), tmp_path / "a")
  again = dataset_checks.saved_bytes(families.build_dataset({"family": "process_knowledge",
                                                               **dataclasses.asdict(SMALL)}), tmp_path / "b")
  other = dataset_checks.saved_bytes(pk.generate(dataclasses.replace(SMALL, seed=1)), tmp_path / "c")
  assert first == again
  for name in ("documents.jsonl", "questions.jsonl", "facts.jsonl"):
    assert first[name] != other[name]


def test_questions_well_formed(dataset, deep):
  dataset_checks.check_questions_are_well_formed(dataset)
  dataset_checks.check_questions_are_well_formed(deep)


def test_names_are_nonsense_words(dataset):
  names = [dataset.info["op"], *dataset.info["primitives"].split("|")]
  assert len(set(names)) == 7
  assert not set(names) & words.english_words()


def test_printing_round_trips(dataset):
  for question in dataset.questions:
    expr = alg.parse(question.metadata["expression"])
    assert alg.render(expr) == question.metadata["expression"]
    for choice in question.choices:
      tidy = alg.parse_tidy(_answer_text(choice))
      assert alg.render(tidy) == _answer_text(choice)


# ----------------------------------------------------------------------------- answers and distractors

@pytest.mark.parametrize("fixture", ["dataset", "deep"])
def test_every_answer_agrees_with_an_independent_evaluator(fixture, request):
  data = request.getfixturevalue(fixture)
  evaluators = [Evaluator(data, seed) for seed in range(2)]
  for question in data.questions:
    expression = question.metadata["expression"]
    assert expression in question.prompt
    for evaluator in evaluators:
      expected = evaluator.transform(ast.parse(expression, mode="eval"))
      assert evaluator.value(_answer_text(question.correct_choice)) == expected, question.id
      for i, choice in enumerate(question.choices):
        if i != question.answer:  # A different value: not the same function, whatever the algebra.
          assert evaluator.value(_answer_text(choice)) != expected, (question.id, choice)


def test_distractors_are_distinct_functions(dataset):
  evaluator = Evaluator(dataset, 7)
  for question in dataset.questions:
    values = [evaluator.value(_answer_text(c)) for c in question.choices]
    assert len(set(values)) == len(values), question.id


def test_each_distractor_is_one_named_wrong_step(dataset):
  calculus = pk.calculus_of(dataset)
  for question in dataset.questions:
    expr = alg.parse(question.metadata["expression"])
    errors = question.metadata["errors"].split("|")
    assert len(errors) == len(question.choices) and errors[question.answer] == ""
    for choice, label in zip(question.choices, errors):
      if not label:
        continue
      rule, where = label.split("@")
      path = () if where == "root" else tuple(int(i) for i in where.split("."))
      step = calc.WrongStep(path, rule)
      assert step in calc.wrong_steps(expr, calculus)
      assert alg.render(calc.result(expr, calculus, step)) == _answer_text(choice)


def test_most_questions_have_a_wrong_combinator_rule_among_the_distractors(dataset):
  """The rule combination under test is what most distractors get wrong (the rest swap primitives)."""
  with_one = [q for q in dataset.questions
              if any(e and not e.startswith("primitive:") for e in q.metadata["errors"].split("|"))]
  assert len(with_one) >= 0.85 * len(dataset.questions)


def test_choice_length_is_no_cue(dataset):
  """Scored by summed log-likelihood, a short answer would be favoured; it is shortest or longest by chance."""
  def share(pick):
    return sum(pick([len(c) for c in q.choices], q.answer) for q in dataset.questions) / len(dataset.questions)
  unique = lambda lengths, value: lengths.count(value) == 1
  shortest = share(lambda lengths, a: lengths[a] == min(lengths) and unique(lengths, lengths[a]))
  longest = share(lambda lengths, a: lengths[a] == max(lengths) and unique(lengths, lengths[a]))
  assert 0.05 <= shortest <= 0.4 and 0.1 <= longest <= 0.4, (shortest, longest)


def test_engine_answers_match_facts(dataset):
  calculus = pk.calculus_of(dataset)
  for fact in dataset.facts:
    if fact.metadata.get("rule"):
      continue
    got = calc.result(alg.parse(fact.subject), calculus)
    assert alg.normal_form(got) == alg.normal_form(alg.parse_tidy(fact.object)), fact.id
    assert alg.render(got) == fact.object


def test_sums_and_products_do_not_depend_on_operand_order(dataset):
  calculus = pk.calculus_of(dataset)
  rng = np.random.default_rng(0)
  for _ in range(50):
    f, g, h = (calc.build(c, calculus, rng) for c in rng.permutation(["compose", "scale", "sum", "product"])[:3])
    nf = lambda e: alg.normal_form(calc.result(e, calculus))
    assert nf(alg.Add((f, g))) == nf(alg.Add((g, f)))
    assert nf(alg.Mul((f, g))) == nf(alg.Mul((g, f)))
    assert nf(alg.Mul((alg.Mul((f, g)), h))) == nf(alg.Mul((f, alg.Mul((g, h)))))
    assert nf(alg.Mul((f, alg.Add((g, h))))) == nf(alg.Add((alg.Mul((f, g)), alg.Mul((f, h)))))


def test_normal_form_tells_apart_what_differs():
  a, b = alg.parse("glon(x)*femp(x)"), alg.parse("femp(x)*glon(x)")
  assert alg.normal_form(a) == alg.normal_form(b)
  assert alg.normal_form(alg.parse("glon(x + femp(x))")) == alg.normal_form(alg.parse("glon(femp(x) + x)"))
  assert alg.normal_form(alg.parse("glon(2*x)")) != alg.normal_form(alg.parse("2*glon(x)"))
  assert alg.normal_form(alg.parse("(glon(x) + 1)*(glon(x) + 1)")) == alg.normal_form(
      alg.parse("glon(x)*glon(x) + 2*glon(x) + 1"))


# ----------------------------------------------------------------------------- the split

def _training_expressions(data):
  return [alg.parse(d.metadata["expression"]) for d in data.documents if "expression" in d.metadata]


@pytest.mark.parametrize("fixture", ["dataset", "deep"])
def test_held_out_combinations_never_occur_in_training(fixture, request):
  data = request.getfixturevalue(fixture)
  held_out = {tuple(p.split(">")) for p in data.info["held_out_pairs"].split("|")}
  trained = {pair for e in _training_expressions(data) for pair in calc.pairs(e)}
  assert not trained & held_out
  assert trained == set(calc.PAIRS) - held_out  # Every other combination is trained.
  assert {calc.kind(e) for e in _training_expressions(data) if not calc.pairs(e)} == set(calc.COMBINATORS)
  tested = {pair for q in data.splits["compositional"] for pair in calc.pairs(alg.parse(q.metadata["expression"]))}
  assert held_out <= tested
  for question in data.splits["compositional"]:
    assert set(calc.pairs(alg.parse(question.metadata["expression"]))) & held_out, question.id
  for question in data.splits["in_distribution"]:
    assert set(calc.pairs(alg.parse(question.metadata["expression"]))) <= trained, question.id


def test_no_test_expression_is_trained(dataset):
  trained = {alg.normal_form(e) for e in _training_expressions(dataset)}
  corpus = "\n".join(d.text for d in dataset.documents)
  op = dataset.info["op"]
  tested = [q.metadata["expression"] for q in dataset.questions]
  assert len({alg.normal_form(alg.parse(e)) for e in tested}) == len(tested)
  for expression in tested:
    assert alg.normal_form(alg.parse(expression)) not in trained
    assert f"of {expression} is" not in corpus and f"{op}[{expression}]" not in corpus


def test_every_rule_is_stated(dataset):
  op = dataset.info["op"]
  for fact in dataset.facts:
    if fact.metadata.get("rule"):
      statements = [d for d in dataset.documents if d.fact_ids == (fact.id,)]
      assert len(statements) == 3 and len({d.text for d in statements}) == 3
  product = next(f for f in dataset.facts if f.metadata.get("rule") == "product")
  assert product.object == f"{op}[f(x)]*g(x) + f(x)*{op}[g(x)] + {op}[f(x)]*{op}[g(x)]"


def test_held_out_pairs_keep_every_combinator_trained():
  for seed in range(30):
    held_out = pk.choose_held_out(4, np.random.default_rng(seed))
    trained = set(calc.PAIRS) - set(held_out)
    for k in calc.COMBINATORS:
      assert any(p == k for p, _ in trained) and any(c == k for _, c in trained)


@pytest.mark.parametrize("field, value", [("num_primitives", 2), ("num_primitives", 13), ("max_nesting", 1),
                                          ("num_choices", 1), ("num_held_out_pairs", 0)])
def test_bad_config_names_the_field(field, value):
  with pytest.raises(ValueError, match=field):
    pk.Config(**{field: value})


def test_too_many_examples_names_the_field():
  with pytest.raises(ValueError, match="num_worked_examples"):
    pk.generate(dataclasses.replace(SMALL, num_primitives=3, num_worked_examples=5000))


# ----------------------------------------------------------------------------- augmentation ground truth

def test_oracle_statements_are_valid_and_cover_every_question():
  data = pk.generate(SMALL)
  statements = [s for _, s in oracle.oracle_statements(data)]
  result = quality.assess(data, statements)
  assert result.num_false == 0 and result.num_valid > 0
  assert result.num_unverifiable == len(calc.COMBINATORS)  # Rules in general form ("f(x)*g(x)") claim nothing.
  assert result.coverage == {"compositional": 1.0, "in_distribution": 1.0}
  without = quality.assess(data, [s for _, s in oracle.oracle_statements(data, include_derived=False)])
  assert without.inference_coverage == 0.0


def test_checker_reads_transform_statements():
  data = pk.generate(SMALL)
  checker = claims.checker_for(data)
  question = data.splits["compositional"][0]
  expression, op = question.metadata["expression"], data.info["op"]
  right = _answer_text(question.correct_choice)
  wrong = _answer_text(question.choices[(question.answer + 1) % len(question.choices)])
  for text, valid in ((f"The {op} of {expression} is {right}.", True), (f"{op}[{expression}] = {wrong}.", False),
                      (f"So the {op} of {expression} is {wrong}.", False),
                      (f"Q: What is the {op} of {expression}? A: {right}", True)):
    found = checker.claims(text)
    assert [c.valid for c in found] == [valid], text
    assert found[0].key == checker.required(question).key
  assert checker.claims(f"The {op} of f(x)*g(x) is {op}[f(x)]*g(x).") == ()  # A rule in general form: no claim.
  assert checker.claims("Glon is a kind of fish.") == ()


def test_six_primitives_use_every_rule_shape():
  data = pk.generate(dataclasses.replace(SMALL, num_primitives=6, num_worked_examples=10,
                                         num_compositional_questions=5, num_in_distribution_questions=5))
  assert sorted(pk.calculus_of(data).shapes) == sorted(calc.PRIMITIVE_SHAPES)


@pytest.mark.parametrize("size", ["cpu", "study"])
def test_experiment_config_runs_every_condition_on_it(size):
  config = config_files.load("experiment.py", f"process_knowledge,size={size}")
  main.validate(config)
  assert config.dataset.family == "process_knowledge" and {"icl", "ft", "ft+local", "ft+oracle"} <= set(
      config.conditions)
  assert config.data.sentence_split == "none"  # A derivation split into sentences would lose its steps.
  data = families.build_dataset(config.dataset.to_dict())
  assert data.info["num_worked_examples"] == (36 if size == "cpu" else 300)
  # Gemma tokens here are 2 characters or more (longest study documents, seeds 0-4: 1016 characters, 558 tokens).
  assert max(len(d.text) for d in data.documents) < 2 * config.data.max_length


def test_worked_examples_split_into_sentences_cleanly():
  data = pk.generate(SMALL)
  for document in data.documents:
    if document.metadata.get("style") == "steps":
      sentences = [document.text[a:b] for a, b in splitting.sentence_spans(document.text)]
      assert sentences[0].startswith("Worked example:") and sentences[-1].startswith("So the ")
      assert all(s.endswith(".") for s in sentences)


@pytest.mark.parametrize("spec", [
    {"family": "process_knowledge", "num_primitives": 4, "num_worked_examples": 20,
     "num_compositional_questions": 10, "num_in_distribution_questions": 10},
    {"family": "reversal_curse", "celebrities_per_group": 5, "names": "nonsense"},
])
def test_same_bytes_in_fresh_processes_with_other_hash_seeds(tmp_path, spec):
  """No set or dict order leaks into the files: interpreters with other hash seeds write the same bytes."""
  script = ("import sys; from icl_ft_jax import families; from icl_ft_jax.data import schema;"
            f" schema.save_dataset(families.build_dataset({spec!r}), sys.argv[1])")
  written = []
  for hash_seed in ("1", "2"):
    out = tmp_path / hash_seed
    env = {**os.environ, "PYTHONHASHSEED": hash_seed}
    subprocess.run([sys.executable, "-c", script, str(out)], check=True, env=env)
    written.append({p.name: p.read_bytes() for p in sorted(out.iterdir())})
  assert written[0] == written[1] and len(written[0]) == 4
