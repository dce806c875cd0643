"""The records every dataset is made of.

A dataset is training documents, test questions grouped in named splits, and the
ground-truth facts it was generated from. Every record is a frozen, keyword-only
dataclass with JSON-native fields so that JSONL files round-trip exactly.
"""

from __future__ import annotations

import collections
import dataclasses
import json
import os
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, TypeVar

from etils import epath

# Metadata values stay JSON-native so that a record read back equals the record written.
MetadataValue = str | int | float | bool | None
Metadata = Mapping[str, MetadataValue]


@dataclasses.dataclass(frozen=True, kw_only=True)
class Document:
  """One training document: what fine-tuning trains on and ICL puts in context."""

  id: str
  text: str
  provenance: str  # How it was made, e.g. "reversal_curse/p2d/train_template_03".
  fact_ids: tuple[str, ...] = ()  # Ground-truth facts the document states.
  metadata: Metadata = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Question:
  """A multiple-choice test question, scored by log-likelihood of each choice.

  `choices` are continuations of `prompt` (with their own leading space where the
  text needs one); they are never shown in the prompt. `also_correct` lists choices
  that count as correct too: a statement equivalent to the answer, as the converse of
  "Some X are Y" in the study's 6-way syllogism test.
  """

  id: str
  split: str
  prompt: str
  choices: tuple[str, ...]
  answer: int  # Index of the correct choice.
  fact_ids: tuple[str, ...] = ()  # Ground-truth facts the question tests.
  inference: str = ""  # Inference type, e.g. "reversal", "syllogism/Darii", "syllogism/3-step/can".
  metadata: Metadata = dataclasses.field(default_factory=dict)
  also_correct: tuple[int, ...] = ()  # Other choices that count as correct (equivalent statements).

  def __post_init__(self):
    if len(self.choices) < 2:
      raise ValueError(f"Question {self.id!r} needs at least 2 choices, got {len(self.choices)}.")
    if len(set(self.choices)) != len(self.choices):
      raise ValueError(f"Question {self.id!r} has repeated choices: {self.choices}.")
    if not 0 <= self.answer < len(self.choices):
      raise ValueError(
          f"Question {self.id!r}: answer index {self.answer} is outside its"
          f" {len(self.choices)} choices."
      )
    extra = set(self.also_correct)
    if len(extra) != len(self.also_correct) or self.answer in extra or not extra <= set(range(len(self.choices))):
      raise ValueError(f"Question {self.id!r}: also_correct {self.also_correct} must be distinct choice indices"
                       f" other than the answer {self.answer}.")

  @property
  def correct_choice(self) -> str:
    return self.choices[self.answer]

  def is_correct(self, choice: int) -> bool:
    return choice == self.answer or choice in self.also_correct

  @property
  def chance(self) -> float:
    """Expected accuracy of a uniform guess."""
    return (1 + len(self.also_correct)) / len(self.choices)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Fact:
  """A ground-truth relation, machine-checkable: (subject, relation, object).

  Examples: ("Daphne Barrington", "is", "the director of ..."),
  ("femp", "more_dangerous_than", "glon"), ("glon", "all_are", "yomp"),
  ("robin", "is_a", "bird"), ("bird", "can", "fly").
  """

  id: str
  subject: str
  relation: str
  object: str
  metadata: Metadata = dataclasses.field(default_factory=dict)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Dataset:
  """A whole dataset. `info` records the generation config (family, seed, sizes)."""

  name: str
  documents: tuple[Document, ...]
  questions: tuple[Question, ...]
  facts: tuple[Fact, ...] = ()
  info: Metadata = dataclasses.field(default_factory=dict)

  @property
  def splits(self) -> dict[str, tuple[Question, ...]]:
    """Questions by split, in first-appearance order (deterministic)."""
    by_split: dict[str, list[Question]] = collections.defaultdict(list)
    for question in self.questions:
      by_split[question.split].append(question)
    return {name: tuple(qs) for name, qs in by_split.items()}

  def chance(self, split: str) -> float:
    """Expected accuracy of uniform guessing on `split`: the mean of each question's chance."""
    questions = self.splits.get(split)
    if not questions:
      raise KeyError(f"Dataset {self.name!r} has no split {split!r}; it has {sorted(self.splits)}.")
    return sum(q.chance for q in questions) / len(questions)

  @property
  def facts_by_id(self) -> dict[str, Fact]:
    return {fact.id: fact for fact in self.facts}


# --------------------------------------------------------------------------------------
# JSONL serialisation
# --------------------------------------------------------------------------------------

_Record = TypeVar("_Record", Document, Question, Fact)

_DATASET_FILES = {"documents": Document, "questions": Question, "facts": Fact}


def record_to_json(record: Document | Question | Fact) -> str:
  """One JSONL line; key order is the field order, so files are byte-stable."""
  return json.dumps(dataclasses.asdict(record), ensure_ascii=False, sort_keys=False)


def record_from_json(line: str, record_type: type[_Record]) -> _Record:
  raw = json.loads(line)
  fields = {f.name: f for f in dataclasses.fields(record_type)}
  unknown = set(raw) - set(fields)
  if unknown:
    raise ValueError(f"unknown {record_type.__name__} field(s) {sorted(unknown)}")
  kwargs: dict[str, Any] = {}
  for name, value in raw.items():
    # JSON has no tuples: restore the tuple-typed fields.
    if isinstance(value, list):
      value = tuple(value)
    kwargs[name] = value
  return record_type(**kwargs)


def write_jsonl(path: str | os.PathLike, records: Iterable[Document | Question | Fact]) -> None:
  """Writes one record per line at `path` (a file or gs:// path; etils.epath)."""
  path = epath.Path(path)
  path.parent.mkdir(parents=True, exist_ok=True)
  with path.open("w", encoding="utf-8") as f:
    for record in records:
      f.write(record_to_json(record) + "\n")


def read_jsonl(path: str | os.PathLike, record_type: type[_Record]) -> list[_Record]:
  """Reads records, naming the file and line of any malformed entry."""
  path = epath.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"{path}: no such file. Write the dataset first (configs/datasets.py).")
  records = []
  with path.open(encoding="utf-8") as f:
    for line_number, line in enumerate(f, start=1):
      if not line.strip():
        continue
      try:
        records.append(record_from_json(line, record_type))
      except (ValueError, TypeError) as e:
        raise ValueError(f"{path}:{line_number}: not a valid {record_type.__name__} record: {e}") from None
  return records


def save_dataset(dataset: Dataset, directory: str | os.PathLike) -> epath.Path:
  """Writes `documents.jsonl`, `questions.jsonl`, `facts.jsonl` and `info.json`."""
  directory = epath.Path(directory)
  directory.mkdir(parents=True, exist_ok=True)
  for stem in _DATASET_FILES:
    write_jsonl(directory / f"{stem}.jsonl", getattr(dataset, stem))
  info = {"name": dataset.name, "info": dict(dataset.info)}
  (directory / "info.json").write_text(json.dumps(info, indent=2, sort_keys=True) + "\n", encoding="utf-8")
  return directory


def load_dataset(directory: str | os.PathLike) -> Dataset:
  directory = epath.Path(directory)
  info_path = directory / "info.json"
  if not info_path.is_file():
    raise FileNotFoundError(f"{directory} is not a saved dataset (no info.json).")
  info = json.loads(info_path.read_text(encoding="utf-8"))
  parts = {stem: tuple(read_jsonl(directory / f"{stem}.jsonl", cls)) for stem, cls in _DATASET_FILES.items()}
  return Dataset(name=info["name"], info=info["info"], **parts)


def summary_rows(datasets: Sequence[Dataset]) -> list[dict[str, Any]]:
  """One row per dataset x split: documents, questions, chance. For printed tables."""
  rows = []
  for dataset in datasets:
    for split, questions in dataset.splits.items():
      rows.append({
          "dataset": dataset.name,
          "documents": len(dataset.documents),
          "split": split,
          "questions": len(questions),
          "chance": round(dataset.chance(split), 4),
      })
  return rows
