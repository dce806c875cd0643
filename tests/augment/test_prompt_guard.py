"""The guard: no augmentation prompt shows the wording of any dataset's test questions.

For every family we take the test question templates (the whole template pools where
the seed picks which templates are tested, and the generated questions of each
dataset, prompt plus correct answer), remove the entity slots, and check every
prompt text (instructions, headers, generic, ablation and global examples, rendered
prompts): no run of 3 consecutive fixed words may appear anywhere, and no sentence
may have a template's whole skeleton (its fixed words in order, slots of 1-8 words).
"""

import functools
import re

import pytest

from icl_ft_jax import chat, config_defaults, families
from icl_ft_jax.augment import prompts
from icl_ft_jax.data import reversal_curse, schema, semantic_text, splitting

DATASETS = families.names(with_presets=True)  # Every family with presets, new ones included.
SLOT = "\x00"
RUN = 3
MAX_SLOT_WORDS = 8


def words(text: str) -> list[str]:
  return re.findall(r"[a-z0-9]+|" + SLOT, text.casefold())


def template_skeleton(template: str) -> tuple[str, ...]:
  """A `{slot}` template as fixed words and slots."""
  return tuple(words(re.sub(r"\{[^}]*\}", f" {SLOT} ", template)))


def question_skeleton(question: schema.Question, entities: list[str]) -> tuple[str, ...]:
  """A generated question (prompt + correct answer) with every entity (and its plural) made a slot."""
  text = question.prompt + question.correct_choice
  for entity in entities:
    text = re.sub(r"(?<![A-Za-z])" + re.escape(entity) + r"(?:s|es)?(?![A-Za-z])", f" {SLOT} ", text,
                  flags=re.IGNORECASE)
  return tuple(words(text))


def dataset_entities(dataset: schema.Dataset) -> list[str]:
  """Fact subjects and objects, and the terms and expressions questions record: longest first."""
  found = {t for f in dataset.facts for t in (f.subject, f.object)}
  for q in dataset.questions:
    for key in ("subject", "object", "choice_terms", "expression"):
      value = q.metadata.get(key)
      if isinstance(value, str):
        found |= set(value.split("|"))
  return sorted((e for e in found if e.strip()), key=len, reverse=True)


@functools.cache
def skeletons() -> frozenset[tuple[str, ...]]:
  pools = [*reversal_curse.P2D_TEMPLATES, *reversal_curse.D2P_TEMPLATES]
  for table in (semantic_text.FORWARD_QUESTIONS, semantic_text.REVERSE_QUESTIONS):
    pools += [prompt + choice for pairs in table.values() for prompt, choice in pairs]
  found = {template_skeleton(t) for t in pools}
  for name in DATASETS:
    dataset = families.build_dataset(config_defaults.dataset(name, "cpu").to_dict())
    entities = dataset_entities(dataset)
    found |= {question_skeleton(q, entities) for q in dataset.questions}
  return frozenset(s for s in found if any(w != SLOT for w in s))


def fixed_runs(skeleton: tuple[str, ...]) -> set[tuple[str, ...]]:
  """Every `RUN` consecutive fixed words (no slot between them)."""
  runs, current = set(), []
  for word in (*skeleton, SLOT):
    if word == SLOT:
      runs |= {tuple(current[i:i + RUN]) for i in range(len(current) - RUN + 1)}
      current = []
    else:
      current.append(word)
  return runs


def sentences(text: str) -> list[str]:
  """Each sentence of each line, also without a block prefix ("Statement: ...")."""
  out = []
  for line in text.split("\n"):
    for prefix in prompts.BLOCK_PREFIXES:
      line = line.removeprefix(prefix)
    out += [line[a:b] for a, b in splitting.sentence_spans(line)]
  return out


def violations(texts, all_skeletons) -> list[str]:
  runs = {r for s in all_skeletons for r in fixed_runs(s)}
  patterns = [(s, re.compile("^" + " ".join(
      rf"\S+(?: \S+){{0,{MAX_SLOT_WORDS - 1}}}" if w == SLOT else re.escape(w) for w in s) + "$"))
      for s in all_skeletons]
  found = []
  for text in texts:
    tokens = words(text)
    for i in range(len(tokens) - RUN + 1):
      if tuple(tokens[i:i + RUN]) in runs:
        found.append(f"run {' '.join(tokens[i:i + RUN])!r} in {text[:80]!r}")
    for sentence in sentences(text):
      joined = " ".join(words(sentence))
      for skeleton, pattern in patterns:
        if pattern.match(joined):
          found.append(f"skeleton {skeleton} in {sentence!r}")
  return found


def every_prompt_text() -> list[str]:
  target = schema.Document(id="t", text="Glorp is a thing.", provenance="")
  rendered = [prompts.local_prompt(target.text, prompts.examples_for(name, 99, family))
              for name in DATASETS for family in (False, True)]
  turn = chat.gemma_user_turn()
  rendered += [prompts.local_prompt(target.text, prompts.GENERIC_EXAMPLES, turn),
               prompts.global_context_config(0, 1, turn).instruction + prompts.global_suffix(target, turn)]
  return [*prompts.all_prompt_texts(), *rendered, prompts.global_preamble() + prompts.global_suffix(target),
          config_defaults.ICL_CHAT_INSTRUCTION]


def test_skeletons_cover_every_family():
  found = skeletons()
  assert template_skeleton("{O} include") + (SLOT,) in found  # Semantic structure, reversed is_a.
  assert template_skeleton(reversal_curse.P2D_TEMPLATES[4]) in found  # Every template, whatever the seed picks.
  assert any(s[:3] == ("the", "relationships", "between") for s in found)  # Syllogisms.
  assert any(s[1:4] == ("are", "dimmer", "than") for s in found)  # Simple reversals, prompt + answer.


def test_no_prompt_shows_test_wording():
  assert violations(every_prompt_text(), skeletons()) == []


@pytest.mark.parametrize("text", [
    "Yobes include hovvits.",  # The old semantic examples: the reversal test templates word for word.
    "The hask is home to jemmets.",
    "Wolts are eaten by jemmets.",
    "The relationships between wix and jorm are: No wix are jorm.",  # The syllogism test's format.
    "Hoxels are lighter than wugs.",  # A simple-reversals dimension in the test's form.
    "Tobias Quennell is best known as the conductor of the opera.",  # A reversal-curse template run.
])
def test_guard_catches_test_wording(text):
  assert violations([text], skeletons())
