"""The semantic structure benchmark (Lampinen et al. 2025, dataset 4).

A real-world hierarchy of about 110 categories (`semantic_hierarchy.json`), every
content word replaced by a nonsense word, written up as about 2200 wiki-like
articles. Test splits, easiest first:
  * `rephrasing`: trained facts in a wording no article uses;
  * `reversal`: trained facts asked object first ("Fempz include" -> " glons.");
  * `syllogism`: deductions through the tree, never written down, of 1 to
    `max_syllogism_steps` steps (default 4, the deepest the packaged tree allows: "robins
    are a kind of living thing" needs 3, "robins are living" 4), equally many of each depth
    where the tree has enough; the question's `inference` is "syllogism/<k>-step/<relation>";
  * `category_holdout`: categories whose only trained fact is their parent, asked
    everything that follows from it.

Ground truth: `Dataset.facts` holds every base fact (nonsense words in subject and
object, the real words in metadata, `trained` false for the held-out categories'
own facts); `semantic_logic.entailments` derives the rest. `info["lexicon"]` maps
real words to nonsense words (a JSON string).

Example:

  dataset = generate(Config(seed=1, document_fraction=0.125))  # The study's 8x ICL subsample.
"""

from __future__ import annotations

import dataclasses
import json

import numpy as np

from icl_ft_jax.data import generation
from icl_ft_jax.data import schema
from icl_ft_jax.data import semantic_documents
from icl_ft_jax.data import semantic_knowledge
from icl_ft_jax.data import semantic_logic
from icl_ft_jax.data import semantic_questions
from icl_ft_jax.data import semantic_text

NAME = "semantic_structure"
SPLITS = ("rephrasing", "reversal", "syllogism", "category_holdout")

# Independent random streams, so that e.g. changing the number of documents leaves
# the lexicon and the questions as they were.
_LEXICON_STREAM, _HOLDOUT_STREAM, _DOCUMENT_STREAM, _QUESTION_STREAM, _SUBSAMPLE_STREAM = range(5)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
  """Generation parameters; defaults are the study's sizes."""

  seed: int = 0
  num_documents: int = 2200
  num_holdout_categories: int = 10
  num_rephrasing_questions: int = 300
  num_reversal_questions: int = 300
  num_syllogism_questions: int = 400
  # Longest deduction asked (the study's "longer chains"); a step is one is_a link climbed.
  max_syllogism_steps: int = 4
  num_distractors: int = 3
  # Keep this fraction of the documents, drawn at random (the study uses 1/8 for ICL).
  document_fraction: float = 1.0
  # Empty: the packaged semantic_hierarchy.json.
  hierarchy_path: str = ""

  def __post_init__(self):
    for field in ("num_documents", "num_rephrasing_questions", "num_reversal_questions",
                  "num_syllogism_questions", "num_holdout_categories"):
      if getattr(self, field) < 0:
        raise ValueError(f"semantic_structure Config.{field} must be >= 0, got {getattr(self, field)}.")
    if self.num_distractors < 1:
      raise ValueError(f"semantic_structure Config.num_distractors must be >= 1, got {self.num_distractors}.")
    if self.max_syllogism_steps < 1:
      raise ValueError(f"semantic_structure Config.max_syllogism_steps must be >= 1, got {self.max_syllogism_steps}.")
    if not 0.0 < self.document_fraction <= 1.0:
      raise ValueError(f"semantic_structure Config.document_fraction must be in (0, 1], got {self.document_fraction}.")


def choose_held_out(hierarchy: semantic_knowledge.Hierarchy, count: int, rng: np.random.Generator) -> tuple[str, ...]:
  """Leaves that no relation points at, so that their parent can be their only trained fact."""
  eligible = [n for n in hierarchy.names
              if hierarchy.is_leaf(n) and hierarchy.ancestors(n) and n not in hierarchy.relation_objects()]
  if count > len(eligible):
    raise ValueError(
        f"semantic_structure Config.num_holdout_categories={count} is more than the {len(eligible)}"
        " leaf categories that can be held out."
    )
  picked = set(rng.choice(len(eligible), size=count, replace=False).tolist())
  return tuple(n for i, n in enumerate(eligible) if i in picked)


def trained_triples(hierarchy: semantic_knowledge.Hierarchy,
                    held_out: tuple[str, ...]) -> tuple[semantic_knowledge.Triple, ...]:
  """Base facts the articles state: all but the held-out categories' own properties."""
  return tuple(t for t in hierarchy.base_triples() if t[0] not in held_out or t[1] == semantic_knowledge.IS_A)


def _object_type(hierarchy: semantic_knowledge.Hierarchy, relation: str, obj: str) -> str:
  if obj in hierarchy.by_name:
    return "category"
  return {"is": "adjective", "has": "noun", "can": "verb", "eats": "food", "lives_in": "habitat"}[relation]


def _facts(hierarchy, lexicon, trained) -> tuple[schema.Fact, ...]:
  trained = set(trained)
  return tuple(
      schema.Fact(
          id=semantic_questions.fact_id(t), subject=lexicon[t[0]], relation=t[1], object=lexicon[t[2]],
          metadata={"subject_real": t[0], "object_real": t[2], "object_type": _object_type(hierarchy, t[1], t[2]),
                    "trained": t in trained},
      )
      for t in hierarchy.base_triples()
  )


def _documents(articles: list[semantic_documents.Article]) -> list[schema.Document]:
  return [
      schema.Document(
          id=f"{NAME}/doc_{i:04d}", text=a.text, provenance=f"{NAME}/{a.style}",
          fact_ids=tuple(dict.fromkeys(semantic_questions.fact_id(t) for t in a.triples)),
          metadata={"style": a.style, "focus_real": a.focus, "num_sentences": a.num_sentences},
      )
      for i, a in enumerate(articles)
  ]


def _subsample(docs: list[schema.Document], config: Config) -> list[schema.Document]:
  if config.document_fraction >= 1.0:
    return docs
  keep = max(1, round(len(docs) * config.document_fraction))
  rng = generation.stream(config.seed, _SUBSAMPLE_STREAM)
  picked = sorted(rng.choice(len(docs), size=keep, replace=False).tolist())
  return [docs[i] for i in picked]


def _questions(config, hierarchy, lexicon, entailed, trained, held_out) -> tuple[tuple[schema.Question, ...], int]:
  rng = generation.stream(config.seed, _QUESTION_STREAM)
  writer = semantic_questions.QuestionWriter(hierarchy=hierarchy, lexicon=lexicon, entailed=entailed,
                                             trained=trained, num_distractors=config.num_distractors)
  specs = [
      *semantic_questions.trained_fact_specs(trained, held_out, "rephrasing", "object",
                                             config.num_rephrasing_questions, rng),
      *semantic_questions.trained_fact_specs(trained, held_out, "reversal", "subject",
                                             config.num_reversal_questions, rng),
      *semantic_questions.syllogism_specs(entailed, held_out, config.num_syllogism_questions,
                                          config.max_syllogism_steps, rng),
      *semantic_questions.holdout_specs(entailed, held_out),
  ]
  made, skipped = [], 0
  counts = dict.fromkeys(SPLITS, 0)
  for spec in specs:
    question = writer.make(spec, f"{NAME}/{spec.split}/{counts[spec.split]:04d}", rng)
    if question is None:
      skipped += 1
      continue
    counts[spec.split] += 1
    made.append(question)
  return tuple(made), skipped


def generate(config: Config) -> schema.Dataset:
  """The dataset for `config`; the same config always gives the same bytes."""
  hierarchy = semantic_knowledge.load_hierarchy(config.hierarchy_path or semantic_knowledge.DEFAULT_PATH)
  lexicon = semantic_text.build_lexicon(hierarchy, generation.stream(config.seed, _LEXICON_STREAM))
  held_out = choose_held_out(hierarchy, config.num_holdout_categories, generation.stream(config.seed, _HOLDOUT_STREAM))
  trained = trained_triples(hierarchy, held_out)
  entailed = semantic_logic.entailments(hierarchy)
  writer = semantic_documents.ArticleWriter(hierarchy=hierarchy, lexicon=lexicon, trained=trained)
  document_rng = generation.stream(config.seed, _DOCUMENT_STREAM)
  articles = semantic_documents.write_articles(writer, config.num_documents, document_rng)
  docs = _subsample(_documents(articles), config)
  made, skipped = _questions(config, hierarchy, lexicon, entailed, trained, held_out)
  info = {
      "num_categories": len(hierarchy.categories),
      "held_out_categories": "|".join(held_out),
      "num_skipped_questions": skipped,
      "lexicon": json.dumps(dict(lexicon.nonsense), ensure_ascii=False),
  }
  return generation.dataset(NAME, config, documents=docs, questions=made, facts=_facts(hierarchy, lexicon, trained),
                            extra_info=info)
