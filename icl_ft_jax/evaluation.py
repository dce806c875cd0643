"""Scores a dataset's test splits under one condition and returns result records.

The bridge between datasets (questions) and the scorer (prompt + choices): the
scorer never sees a dataset, and datasets never see the model.
"""

from __future__ import annotations

import json
import time
from collections.abc import Sequence

import numpy as np

from icl_ft_jax import storage
from icl_ft_jax.data import schema
from icl_ft_jax.errors import ConfigError
from icl_ft_jax.report import intervals, subtypes
from icl_ft_jax.report.records import ResultRecord
from icl_ft_jax.scoring import NORMALIZATIONS, MCItem, QuestionScore, Scorer


def to_items(questions: Sequence[schema.Question]) -> list[MCItem]:
  return [MCItem(prompt=q.prompt, choices=tuple(q.choices)) for q in questions]


def accuracy(questions: Sequence[schema.Question], scores: Sequence[QuestionScore], normalization: str) -> float:
  correct = sum(q.is_correct(score.prediction(normalization)) for q, score in zip(questions, scores, strict=True))
  return correct / len(questions)


def inference_label(question: schema.Question) -> str:
  return question.inference or question.split


def chance_by_inference(questions: Sequence[schema.Question]) -> dict[str, float]:
  chances: dict[str, list[float]] = {}
  for q in questions:
    chances.setdefault(inference_label(q), []).append(q.chance)
  return {label: round(sum(c) / len(c), 6) for label, c in chances.items()}


def subsample_questions(questions: Sequence[schema.Question], max_questions: int | None,
                        seed: int) -> tuple[schema.Question, ...]:
  """At most `max_questions`, drawn at random with the seed and kept in dataset order.

  Not the first N: generators list a fact's questions together, so a prefix would
  test only a few facts.
  """
  if not max_questions or max_questions >= len(questions):
    return tuple(questions)
  keep = np.sort(np.random.default_rng(seed).choice(len(questions), size=max_questions, replace=False))
  return tuple(questions[i] for i in keep)


def evaluate(scorer: Scorer, dataset: schema.Dataset, *, condition: str, splits: Sequence[str] | None = None,
             context: str | None = None, seed: int = 0, metadata: dict | None = None,
             max_questions: int | None = None, predictions_path=None) -> list[ResultRecord]:
  """Scores every question of the chosen splits (all by default), one record per normalisation.

  Each record also holds accuracy by inference type (`by_inference`) and the
  standard error over those subtypes. With `predictions_path`, also writes one JSONL
  line per question (inference type, choice log-probs, predictions and whether each
  is correct) for analysis beyond accuracy.
  """
  available = dataset.splits
  splits = list(available) if not splits else list(splits)
  unknown = [s for s in splits if s not in available]
  if unknown:
    raise ConfigError(f"scoring.splits: dataset {dataset.name!r} has no split(s) {unknown};"
                      f" it has {sorted(available)}.")
  chosen = {split: subsample_questions(available[split], max_questions, seed) for split in splits}
  questions = [q for split in splits for q in chosen[split]]
  start = time.time()
  # One call for all splits: a shared context is prefilled once.
  scores = scorer.score(to_items(questions), context=context, description=f"{condition} {dataset.name}")
  seconds_per_question = (time.time() - start) / len(questions)
  if predictions_path is not None:
    write_predictions(predictions_path, questions, scores)
  records, offset = [], 0
  for split in splits:
    split_questions = chosen[split]
    split_scores = scores[offset:offset + len(split_questions)]
    offset += len(split_questions)
    chance = sum(q.chance for q in split_questions) / len(split_questions)
    keys = [intervals.fact_key(q.fact_ids, q.id) for q in split_questions]
    labels = [inference_label(q) for q in split_questions]
    for normalization in NORMALIZATIONS:
      correct = [q.is_correct(score.prediction(normalization)) for q, score in zip(split_questions, split_scores)]
      counts = intervals.count_by_fact(keys, correct)
      interval = intervals.accuracy_interval(counts, seed=seed)
      by_inference = subtypes.count_by_inference(labels, keys, correct)
      spread = subtypes.spread(by_inference)
      records.append(ResultRecord(
          dataset=dataset.name, split=split, condition=condition, normalization=normalization,
          accuracy=accuracy(split_questions, split_scores, normalization), n=len(split_questions),
          chance=chance, seed=seed, ci_low=round(interval.low, 4), ci_high=round(interval.high, 4),
          fact_counts=counts, prorated_scoring_s=round(seconds_per_question * len(split_questions), 3),
          metadata=dict(metadata or {}), by_inference=by_inference,
          inference_chance=chance_by_inference(split_questions),
          subtype_mean=round(spread.mean, 6) if spread else None,
          subtype_stderr=round(spread.stderr, 6) if spread else None))
  return records


def write_predictions(path, questions: Sequence[schema.Question], scores: Sequence[QuestionScore]) -> None:
  path = storage.path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  with path.open("w") as f:
    for question, score in zip(questions, scores, strict=True):
      f.write(json.dumps({
          "id": question.id, "split": question.split, "inference": inference_label(question),
          "answer": question.answer, "also_correct": list(question.also_correct),
          "logprobs": [c.logprob for c in score.choices], "num_tokens": [c.num_tokens for c in score.choices],
          "greedy": [c.is_greedy for c in score.choices],
          "prediction": {n: score.prediction(n) for n in NORMALIZATIONS},
          "correct": {n: question.is_correct(score.prediction(n)) for n in NORMALIZATIONS}}) + "\n")
