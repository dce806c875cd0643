"""Semantic structure benchmark, checked against a closure computed here, apart from the generator.

The checker rebuilds every true statement from `Dataset.facts` alone by applying
three rules until nothing changes (is_a is transitive; properties and relations
pass down is_a; eating Y is eating what Y is a kind of), and reads the training
text back sentence by sentence, so a bookkeeping slip in the generator cannot hide
a statement the text really makes.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import re

import pytest

from icl_ft_jax import families
from icl_ft_jax.data import schema
from icl_ft_jax.data import semantic_knowledge
from icl_ft_jax.data import semantic_structure
from icl_ft_jax.data import semantic_text
from icl_ft_jax.data import splitting
from icl_ft_jax.data import words

import dataset_checks

_SENTENCE_END = re.compile(r"(?<=[.?!])\s+")
_WORD = re.compile(r"[A-Za-z]+")
_INFERRED_SPLITS = ("syllogism", "category_holdout")
# Every English word the generated text may use: function words and the relation words.
_STRUCTURAL_WORDS = frozenset("""
    a ability able about among an and are as at be both by can capable classified closely comparison consists
    contrast counts definition described describes diet do eat eaten eats every examples facts feature
    feed food for found glance hand has have home if in include is kind kinds like live lives living look
    make meanwhile notes of on one other q see something that the their they thing things those to type
    usual what where will word you
""".split())


def closure(facts, generalize_food: bool = True) -> set[tuple[str, str, str]]:
  """Every statement that follows from `facts` (schema.Fact records), by forward chaining.

  `generalize_food` adds "X eats Y, Y is_a Z -> X eats Z": it widens what counts as
  true (no distractor may be such a statement) but no question is built from it.
  """
  true = {(f.subject, f.relation, f.object) for f in facts}
  while True:
    parents = collections.defaultdict(set)
    owned = collections.defaultdict(set)
    for s, r, o in true:
      (parents if r == "is_a" else owned)[s].add((r, o) if r != "is_a" else o)
    new = set()
    for s, r, o in true:
      if r == "is_a":
        new.update((s, "is_a", p) for p in parents[o])
        new.update((s, r2, v) for r2, v in owned[o])
      elif r == "eats" and generalize_food:
        new.update((s, "eats", p) for p in parents[o])
    if new <= true:
      return true
    true |= new


def sentences(dataset):
  return [s for d in dataset.documents for s in _SENTENCE_END.split(d.text) if s.strip()]


def word_forms(term: str) -> set[str]:
  return {term, term + "s"}


def tokens(text: str) -> set[str]:
  return {w.lower() for w in _WORD.findall(text)}


def statement(question) -> tuple[str, str, str]:
  m = question.metadata
  return (m["subject"], m["relation"], m["object"])


def choice_statements(question) -> list[tuple[str, str, str]]:
  s, r, o = statement(question)
  terms = question.metadata["choice_terms"].split("|")
  return [(t, r, o) if question.metadata["varied"] == "subject" else (s, r, t) for t in terms]


# Two seeds: which categories are held out, and so what the checks meet, depends on it.
@pytest.fixture(scope="module", params=[0, 1], ids=["seed0", "seed1"])
def dataset(request):
  return semantic_structure.generate(semantic_structure.Config(seed=request.param))


@pytest.fixture(scope="module")
def full_truth(dataset):
  return closure(dataset.facts)


@pytest.fixture(scope="module")
def trained_truth(dataset):
  return closure([f for f in dataset.facts if f.metadata["trained"]])


@pytest.fixture(scope="module")
def sentence_index(dataset):
  """Lower-case word -> indices of the training sentences that contain it."""
  index = collections.defaultdict(set)
  for i, sentence in enumerate(sentences(dataset)):
    for token in tokens(sentence):
      index[token].add(i)
  return index


def co_occur(index, first: str, second: str) -> bool:
  """Whether some training sentence mentions both terms (in any number)."""
  with_first = set().union(*(index.get(w, set()) for w in word_forms(first)))
  return any(with_first & index.get(w, set()) for w in word_forms(second))


# --------------------------------------------------------------------------------------
# Sizes and shape
# --------------------------------------------------------------------------------------


def test_sizes_match_the_study(dataset):
  assert 100 <= dataset.info["num_categories"] <= 120
  categories = {f.subject for f in dataset.facts if f.relation == "is_a"} | {
      f.object for f in dataset.facts if f.relation == "is_a"}
  assert len(categories) == dataset.info["num_categories"]
  assert len(dataset.documents) == 2200
  counts = [len([s for s in _SENTENCE_END.split(d.text) if s.strip()]) for d in dataset.documents]
  assert min(counts) >= 4 and max(counts) <= 20, (min(counts), max(counts))
  assert counts == [d.metadata["num_sentences"] for d in dataset.documents]
  # The project's splitter (which also cuts bullet-list headers off) agrees on the range.
  split_counts = [len(splitting.sentence_spans(d.text)) for d in dataset.documents]
  assert min(split_counts) >= 4 and max(split_counts) <= 20, (min(split_counts), max(split_counts))
  assert set(dataset.splits) == {"rephrasing", "reversal", "syllogism", "category_holdout"}
  assert all(len(qs) >= 50 for qs in dataset.splits.values()), {k: len(v) for k, v in dataset.splits.items()}
  assert {d.metadata["style"] for d in dataset.documents} == {"encyclopedia", "bullets", "qa", "comparison", "quiz"}
  for split in dataset.splits:
    assert dataset.chance(split) == pytest.approx(0.25)


def test_every_category_owns_one_to_six_properties(dataset):
  own = collections.Counter(f.subject for f in dataset.facts if f.relation in ("is", "has", "can"))
  categories = {f.subject for f in dataset.facts}
  assert all(1 <= own[c] <= 6 for c in categories), {c: own[c] for c in categories if not 1 <= own[c] <= 6}
  assert {f.relation for f in dataset.facts} == {"is_a", "is", "has", "can", "eats", "lives_in"}


def test_questions_are_well_formed(dataset):
  dataset_checks.check_questions_are_well_formed(dataset)
  for question in dataset.questions:
    assert len(question.choices) == 4
    assert all(c.startswith(" ") and c.endswith(".") for c in question.choices), question


def test_num_distractors_is_configurable():
  small = semantic_structure.generate(semantic_structure.Config(num_distractors=5, num_documents=300))
  assert {len(q.choices) for q in small.questions} == {6}


# --------------------------------------------------------------------------------------
# Nonsense words
# --------------------------------------------------------------------------------------


def test_every_content_word_is_nonsense(dataset):
  lexicon = json.loads(dataset.info["lexicon"])
  nonsense = set(lexicon.values())
  assert len(nonsense) == len(lexicon)
  assert all(4 <= len(w) <= 5 and w not in words.english_words() for w in nonsense)
  for fact in dataset.facts:
    assert lexicon[fact.metadata["subject_real"]] == fact.subject
    assert lexicon[fact.metadata["object_real"]] == fact.object
  texts = [d.text for d in dataset.documents] + [q.prompt + "".join(q.choices) for q in dataset.questions]
  english = {w for t in texts for w in tokens(t) if w not in nonsense and w.removesuffix("s") not in nonsense}
  assert english <= _STRUCTURAL_WORDS, sorted(english - _STRUCTURAL_WORDS)


def test_text_translates_back_to_real_words(dataset):
  lexicon = semantic_text.Lexicon(nonsense=json.loads(dataset.info["lexicon"]))
  question = dataset.splits["syllogism"][0]
  real = semantic_text.real_text(question.prompt + question.correct_choice, lexicon).lower()
  assert question.metadata["subject_real"] in real and question.metadata["object_real"] in real
  assert semantic_text.real_text("Glorbs are a kind of thing.", lexicon) == "Glorbs are a kind of thing."


# --------------------------------------------------------------------------------------
# Entailment
# --------------------------------------------------------------------------------------


def test_choices_say_what_the_metadata_says(dataset):
  for question in dataset.questions:
    shown = [c.strip().removesuffix(".") for c in question.choices]
    terms = question.metadata["choice_terms"].split("|")
    assert all(w in word_forms(t) for w, t in zip(shown, terms, strict=True)), question
    s, _, o = statement(question)
    fixed = s if question.metadata["varied"] == "object" else o
    assert word_forms(fixed) & tokens(question.prompt), question
    assert terms[question.answer] == (o if question.metadata["varied"] == "object" else s)


def test_inferred_answers_follow_from_trained_facts_and_distractors_are_false(
    dataset, full_truth, trained_truth):
  for question in dataset.questions:
    candidates = choice_statements(question)
    assert candidates[question.answer] in trained_truth, question
    for i, candidate in enumerate(candidates):
      if i != question.answer:
        assert candidate not in full_truth, (question.id, candidate)


def test_distractors_are_hard(dataset):
  """Each wrong term stands in the asked relation to some other category in training."""
  trained = [f for f in dataset.facts if f.metadata["trained"]]
  for question in dataset.questions:
    s, r, o = statement(question)
    varied_subject = question.metadata["varied"] == "subject"
    fillers = {f.subject if varied_subject else f.object for f in trained if f.relation == r}
    terms = question.metadata["choice_terms"].split("|")
    assert set(terms) <= fillers, question


def proof_steps(facts, triple) -> int | None:
  """The fewest is_a links to climb from the subject to where the statement is a base fact (here, apart
  from the generator's proofs): 0 for a base fact, None when the climb never reaches one."""
  base = {(f.subject, f.relation, f.object) for f in facts}
  parent = {f.subject: f.object for f in facts if f.relation == "is_a"}
  subject, relation, obj = triple
  steps, current = 0, subject
  while current is not None:
    if (current, relation, obj) in base:
      return steps
    current, steps = parent.get(current), steps + 1
  return None


@pytest.mark.parametrize("max_steps", [2, 4])
def test_syllogisms_are_deductions_of_every_depth_up_to_the_configured_one(dataset, max_steps):
  if max_steps != semantic_structure.Config().max_syllogism_steps:
    dataset = semantic_structure.generate(semantic_structure.Config(
        seed=dataset.info["seed"], num_documents=300, max_syllogism_steps=max_steps))
  trained = [f for f in dataset.facts if f.metadata["trained"]]
  base = {(f.subject, f.relation, f.object) for f in dataset.facts}
  facts = dataset.facts_by_id
  steps = collections.Counter()
  for question in dataset.splits["syllogism"]:
    triple = statement(question)
    assert triple not in base
    # The recorded depth is the shortest proof, and the recorded premises alone prove it.
    assert question.metadata["steps"] == proof_steps(trained, triple), question
    assert len(question.fact_ids) == question.metadata["steps"] + 1
    assert triple in closure([facts[i] for i in question.fact_ids], generalize_food=False), question
    assert question.inference == f"syllogism/{question.metadata['steps']}-step/{triple[1]}"
    steps[question.metadata["steps"]] += 1
  assert set(steps) == set(range(1, max_steps + 1)), steps
  # Equal shares where the tree has enough deductions of a depth (4-step ones are fewer).
  assert abs(steps[1] - steps[2]) <= 1 and sum(steps.values()) == dataset.info["num_syllogism_questions"], steps


def test_inferences_are_never_stated_in_training(dataset, sentence_index):
  stated = {fid for d in dataset.documents for fid in d.fact_ids}
  facts = dataset.facts_by_id
  stated_triples = {(facts[i].subject, facts[i].relation, facts[i].object) for i in stated}
  for split in _INFERRED_SPLITS:
    for question in dataset.splits[split]:
      s, r, o = statement(question)
      assert (s, r, o) not in stated_triples, question
      assert not co_occur(sentence_index, s, o), f"{question.id}: a training sentence mentions {s} and {o}"


def test_no_test_sentence_appears_in_training(dataset):
  corpus = "\n\x00\n".join(d.text.lower() for d in dataset.documents)
  for question in dataset.questions:
    assert question.prompt.lower() not in corpus, question.prompt
    for choice in question.choices:
      assert (question.prompt + choice).lower() not in corpus, question.prompt + choice


def test_reversals_turn_trained_facts_around(dataset):
  for question in dataset.splits["reversal"]:
    s, _, o = statement(question)
    assert question.metadata["varied"] == "subject"
    prompt = tokens(question.prompt)
    assert word_forms(o) & prompt and not word_forms(s) & prompt


def test_every_fact_a_question_needs_is_in_a_document(dataset, sentence_index):
  facts = dataset.facts_by_id
  stated = {fid for d in dataset.documents for fid in d.fact_ids}
  for question in dataset.questions:
    assert question.fact_ids, question
    for fid in question.fact_ids:
      assert fid in stated, (question.id, fid)
      assert facts[fid].metadata["trained"], (question.id, fid)
      assert co_occur(sentence_index, facts[fid].subject, facts[fid].object), (question.id, fid)


# --------------------------------------------------------------------------------------
# Category holdouts
# --------------------------------------------------------------------------------------


def test_held_out_categories_are_trained_only_on_their_parent(dataset):
  lexicon = json.loads(dataset.info["lexicon"])
  held_out = [lexicon[n] for n in dataset.info["held_out_categories"].split("|")]
  assert len(held_out) == semantic_structure.Config().num_holdout_categories
  parent = {f.subject: f.object for f in dataset.facts if f.relation == "is_a"}
  facts = dataset.facts_by_id
  for name in held_out:
    mentioned = [s for s in sentences(dataset) if word_forms(name) & tokens(s)]
    assert mentioned, name
    # Every statement about it names its parent; training questions ("Q: What are X?") only ask.
    assert all(word_forms(parent[name]) & tokens(s) or s.endswith("?") for s in mentioned), name
    stated = {fid for d in dataset.documents for fid in d.fact_ids}
    about = {fid for fid in stated if name in (facts[fid].subject, facts[fid].object)}
    assert [(facts[f].relation, facts[f].object) for f in about] == [("is_a", parent[name])]


def test_every_inference_about_a_held_out_category_is_tested(dataset):
  lexicon = json.loads(dataset.info["lexicon"])
  held_out = {lexicon[n] for n in dataset.info["held_out_categories"].split("|")}
  trained = [f for f in dataset.facts if f.metadata["trained"]]
  base = {(f.subject, f.relation, f.object) for f in trained}
  expected = {t for t in closure(trained, generalize_food=False) if t[0] in held_out and t not in base}
  tested = [statement(q) for q in dataset.splits["category_holdout"]]
  assert len(tested) == len(set(tested))
  assert set(tested) == expected
  others = [q for q in dataset.questions if q.split != "category_holdout"]
  assert not any(statement(q)[0] in held_out for q in others)


# --------------------------------------------------------------------------------------
# Determinism, subsampling, config
# --------------------------------------------------------------------------------------


def test_same_seed_same_bytes_other_seed_differs(dataset, tmp_path):
  seed = dataset.info["seed"]
  first = dataset_checks.saved_bytes(dataset, tmp_path / "a")
  again = dataset_checks.saved_bytes(semantic_structure.generate(semantic_structure.Config(seed=seed)), tmp_path / "b")
  assert first == again
  other = semantic_structure.generate(semantic_structure.Config(seed=seed + 1))
  other_bytes = dataset_checks.saved_bytes(other, tmp_path / "c")
  assert all(first[name] != other_bytes[name] for name in ("documents.jsonl", "questions.jsonl", "facts.jsonl"))
  assert schema.load_dataset(tmp_path / "a") == dataset


def test_subsampling_keeps_a_random_subset(dataset):
  sub = semantic_structure.generate(semantic_structure.Config(seed=dataset.info["seed"], document_fraction=0.125))
  assert len(sub.documents) == 275
  full = {d.id: d for d in dataset.documents}
  assert all(full[d.id] == d for d in sub.documents)
  ids = [d.id for d in sub.documents]
  assert ids == sorted(ids) and ids != [d.id for d in dataset.documents[:275]]
  assert sub.questions == dataset.questions and sub.facts == dataset.facts


def test_family_builds_it_and_rejects_bad_configs():
  built = families.build_dataset({"family": "semantic_structure", "num_documents": 200, "seed": 3})
  assert built.name == "semantic_structure" and len(built.documents) == 200
  with pytest.raises(ValueError, match="document_fraction"):
    semantic_structure.Config(document_fraction=0.0)
  with pytest.raises(ValueError, match="num_holdout_categories"):
    semantic_structure.generate(semantic_structure.Config(num_holdout_categories=500))
  with pytest.raises(ValueError, match="num_documents"):
    semantic_structure.generate(semantic_structure.Config(num_documents=5))


@pytest.mark.parametrize("change, message", [
    (lambda cats: cats[1].update(parent="nothing"), "unknown parent 'nothing'"),
    (lambda cats: cats[4].update(can=["fly"]), "restates inherited"),
    (lambda cats: cats[4].update(eats=["pebble"]), "neither a category nor a food"),
    (lambda cats: cats[0].update(**{"is": [], "can": []}), "needs 1-6"),
])
def test_bad_hierarchy_files_are_named(tmp_path, change, message):
  raw = json.loads(semantic_knowledge.DEFAULT_PATH.read_text())
  change(raw["categories"])
  path = tmp_path / "bad.json"
  path.write_text(json.dumps(raw))
  with pytest.raises(ValueError, match=message):
    semantic_knowledge.load_hierarchy(path)


def test_config_is_a_frozen_kw_only_dataclass():
  config = semantic_structure.Config()
  assert (config.seed, config.num_distractors, config.document_fraction) == (0, 3, 1.0)
  with pytest.raises(dataclasses.FrozenInstanceError):
    config.seed = 1  # type: ignore[misc]
