"""Loader for the original Reversal Curse files of Berglund et al. (2023).

The data is not ours to ship: point `path` at a copy of
`data/reverse_experiments/june_version_7921032488/` from
github.com/lukasberglund/reversal_curse. Its files are JSONL lines
`{"prompt": ..., "completion": ...}` with a leading space on the completion.

Training documents are the lines of the three group files (prompt + completion);
`all_prompts_train.jsonl` is their union and is not read twice. Test files
become splits; a line whose completion is a celebrity name (alone, or with
more words: " Mason Caldwell has found their calling.") gets choices that are
the same completion with other celebrities' names, and a line whose completion is a
description gets other celebrities' completions of the same template, so the
choices differ only in the celebrity. Berglund's descriptions are reworded per
template, so the ground-truth fact keeps the first name-first wording.
"""

from __future__ import annotations

import dataclasses
import json
import pathlib

import numpy as np

from icl_ft_jax.data import choices as choices_lib
from icl_ft_jax.data import generation
from icl_ft_jax.data import schema

TRAIN_FILES = {"p2d": "p2d_prompts_train.jsonl", "d2p": "d2p_prompts_train.jsonl", "both": "both_prompts_train.jsonl"}
# split name -> (file, group, inference); files other than the first are optional.
TEST_FILES = {
    "reversal": ("p2d_reverse_prompts_test.jsonl", "p2d", "reversal"),
    "forward": ("p2d_prompts_test.jsonl", "p2d", "forward"),
    "d2p_forward": ("d2p_prompts_test.jsonl", "d2p", "forward"),
    "d2p_reversal": ("d2p_reverse_prompts_test.jsonl", "d2p", "reversal"),
    "both": ("both_prompts_test.jsonl", "both", "trained_both_directions"),
}
REQUIRED_FILES = (*TRAIN_FILES.values(), TEST_FILES["reversal"][0])


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
  path: str = ""  # Folder with Berglund's JSONL files (required).
  num_choices: int = 4  # The correct answer plus 3 others (chance 25%), as in the study.
  seed: int = 0  # Draws the distractors and the answer positions.


@dataclasses.dataclass(frozen=True)
class Line:
  prompt: str
  completion: str
  file: str
  number: int

  @property
  def text(self) -> str:
    return self.prompt + self.completion


def read_lines(path: pathlib.Path) -> list[Line]:
  """Reads one file, naming the file and line of anything malformed."""
  if not path.is_file():
    raise FileNotFoundError(f"{path}: missing Berglund file (expected in the `path` folder).")
  with path.open("rb") as f:
    lines = [line for number, raw_bytes in enumerate(f, start=1)
             if (line := _parse_line(raw_bytes, path, number)) is not None]
  if not lines:
    raise ValueError(f"{path}: no lines.")
  return lines


def _parse_line(raw_bytes: bytes, path: pathlib.Path, number: int) -> Line | None:
  """Line `number` of `path`; None for a blank line."""
  try:
    raw = raw_bytes.decode("utf-8")
  except UnicodeDecodeError as e:
    raise ValueError(f"{path}:{number}: not valid UTF-8 (byte {e.start}); re-save the file as UTF-8.") from None
  if not raw.strip():
    return None
  try:
    record = json.loads(raw)
  except json.JSONDecodeError as e:
    raise ValueError(f"{path}:{number}: not valid JSON ({e.msg}).") from None
  if not isinstance(record, dict) or not all(isinstance(record.get(k), str) for k in ("prompt", "completion")):
    raise ValueError(f'{path}:{number}: expected {{"prompt": str, "completion": str}}.')
  if not record["completion"].strip():
    raise ValueError(f"{path}:{number}: empty completion.")
  return Line(record["prompt"], record["completion"], path.name, number)


def name_of(completion: str) -> str | None:
  """The completion as a bare name (" Uriah Hawthorne." -> "Uriah Hawthorne"), else None.

  Berglund's name completions also come with extra words (" Uriah Hawthorne now
  enjoys a quite life."); those are matched against the names found here.
  """
  candidate = completion.strip().rstrip(".!?")
  words = candidate.split()
  return candidate if 1 <= len(words) <= 4 and all(w[:1].isupper() for w in words) else None


def _celebrity_names(train: dict[str, list[Line]], reversal: list[Line]) -> dict[str, str]:
  """name -> group. Names are the bare-name completions of description-first lines."""
  names: dict[str, str] = {}
  for group, lines in (("p2d", reversal), ("d2p", train["d2p"])):
    for line in lines:
      if (name := name_of(line.completion)) is not None:
        names.setdefault(name, group)
  # In the "both" file a completion is a name when it also appears in another line's prompt.
  both_prompts = "\n".join(line.prompt for line in train["both"])
  for line in train["both"]:
    if (name := name_of(line.completion)) is not None and name in both_prompts:
      names.setdefault(name, "both")
  return names


def _find_name(text: str, names: list[str]) -> str | None:
  """The longest celebrity name occurring in `text`."""
  found = [name for name in names if name in text]
  return max(found, key=len) if found else None


def _unknown_celebrity(folder: pathlib.Path, line: Line) -> ValueError:
  return ValueError(f"{folder / line.file}:{line.number}: names no known celebrity.")


def _checked_folder(config: Config) -> pathlib.Path:
  """The folder of `config.path`, holding every required file; refuses a bad config."""
  if not config.path:
    raise ValueError("berglund_reversal_curse needs `path`: the folder of Berglund et al.'s JSONL files.")
  folder = pathlib.Path(config.path).expanduser()
  if not folder.is_dir():
    raise FileNotFoundError(f"{folder}: no such folder (the `path` of berglund_reversal_curse).")
  missing = [name for name in REQUIRED_FILES if not (folder / name).is_file()]
  if missing:
    raise FileNotFoundError(f"{folder}: missing Berglund file(s) {', '.join(missing)}.")
  if config.num_choices < 2:
    raise ValueError(f"num_choices must be >= 2, got {config.num_choices}.")
  return folder


def _read_files(folder: pathlib.Path) -> tuple[dict[str, list[Line]], dict[str, list[Line]]]:
  """The training lines by group and the test lines by split (the optional test files that exist)."""
  train = {group: read_lines(folder / name) for group, name in TRAIN_FILES.items()}
  tests = {
      split: read_lines(folder / name)
      for split, (name, _, _) in TEST_FILES.items()
      if (folder / name).is_file()
  }
  return train, tests


def _test_subject(line: Line, names: list[str], folder: pathlib.Path) -> tuple[str, bool]:
  """The celebrity a test line is about, and whether its completion is (or starts with) the name."""
  name = _find_name(line.completion, names)
  if name is not None:
    return name, True
  name = _find_name(line.prompt, names)
  if name is None:
    raise _unknown_celebrity(folder, line)
  return name, False


def _documents(train: dict[str, list[Line]], names: list[str], fact_id: dict[str, str],
               folder: pathlib.Path) -> list[schema.Document]:
  """One document per training line (prompt + completion)."""
  documents = []
  for group, lines in train.items():
    for line in lines:
      name = _find_name(line.text, names)
      if name is None:
        raise _unknown_celebrity(folder, line)
      documents.append(schema.Document(
          id=f"berglund/{group}/{line.number:04d}",
          text=line.text,
          provenance=f"berglund_reversal_curse/{line.file}:{line.number}",
          fact_ids=(fact_id[name],),
          metadata={"group": group, "prompt_chars": len(line.prompt)},
      ))
  return documents


def _descriptions(train: dict[str, list[Line]], tests: dict[str, list[Line]], names: list[str],
                  folder: pathlib.Path) -> dict[str, str]:
  """name -> the first description completing a prompt that names them: training files first, then tests."""
  description_of: dict[str, str] = {}
  for line in (line for lines in train.values() for line in lines):
    name = _find_name(line.text, names)
    if name is not None and name in line.prompt and name not in line.completion:
      description_of.setdefault(name, line.completion.strip())
  for line in (line for lines in tests.values() for line in lines):
    name, completion_is_name = _test_subject(line, names, folder)
    if not completion_is_name:
      description_of.setdefault(name, line.completion.strip())
  return description_of


def _completions_by_name(lines: list[Line], names: list[str]) -> dict[str, list[str]]:
  """Every name-first completion, by celebrity: the fallback pool of description choices."""
  completions: dict[str, list[str]] = {}
  for line in lines:
    name = _find_name(line.prompt, names)
    if name is not None and _find_name(line.completion, names) is None:
      completions.setdefault(name, []).append(line.completion)
  return completions


def _completions_by_template(lines: list[Line], names: list[str]) -> dict[str, list[str]]:
  """Prompt with the name as "{name}" -> the completions of that template (one per celebrity)."""
  by_template: dict[str, list[str]] = {}
  for line in lines:
    name = _find_name(line.prompt, names)
    if name is not None:
      by_template.setdefault(line.prompt.replace(name, "{name}"), []).append(line.completion)
  return by_template


@dataclasses.dataclass(frozen=True)
class _ChoicePools:
  """Where a test line's distractors come from."""

  names: list[str]  # Every celebrity, sorted.
  by_template: dict[str, list[str]]  # This split's completions per prompt template.
  by_name: dict[str, list[str]]  # Every name-first completion per celebrity (the fallback).
  num_choices: int

  def pool(self, line: Line, name: str, completion_is_name: bool) -> list[str]:
    """Candidates for the line's distractors.

    A name completion (maybe with more words): the same words with another name. A description:
    other celebrities' completions of the same template, plus all their name-first completions when
    those are too few.
    """
    correct = line.completion
    if completion_is_name:
      return [correct.replace(name, other) for other in self.names if other != name]
    pool = self.by_template[line.prompt.replace(name, "{name}")]
    if len(set(pool) - {correct}) < self.num_choices - 1:
      pool = pool + [c for other in self.names if other != name for c in self.by_name.get(other, [])]
    return pool


def _questions(split: str, lines: list[Line], pools: _ChoicePools, fact_id: dict[str, str],
               rng: np.random.Generator, folder: pathlib.Path) -> list[schema.Question]:
  """One multiple-choice question per line of a test file."""
  _, group, inference = TEST_FILES[split]
  questions = []
  for line in lines:
    name, completion_is_name = _test_subject(line, pools.names, folder)
    correct = line.completion
    distractors = choices_lib.sample_distractors(correct, pools.pool(line, name, completion_is_name),
                                                 pools.num_choices - 1, rng, field="num_choices")
    question_choices, answer = choices_lib.shuffled_choices(correct, distractors, rng)
    questions.append(schema.Question(
        id=f"berglund/{split}/{line.number:04d}",
        split=split,
        prompt=line.prompt,
        choices=question_choices,
        answer=answer,
        fact_ids=(fact_id[name],),
        inference=inference,
        metadata={"group": group, "source": f"{line.file}:{line.number}"},
    ))
  return questions


def _facts(names: list[str], group_of: dict[str, str], fact_id: dict[str, str], description_of: dict[str, str],
           documents: list[schema.Document]) -> tuple[schema.Fact, ...]:
  """One fact per celebrity; without a name-first wording, the fact keeps a whole training sentence."""
  first_text = {}
  for document in documents:
    first_text.setdefault(document.fact_ids[0], document.text)
  return tuple(
      schema.Fact(
          id=fact_id[name], subject=name,
          relation="is" if name in description_of else "stated_as",
          object=description_of.get(name, first_text.get(fact_id[name], "")),
          metadata={"group": group_of[name]},
      )
      for name in names
  )


def generate(config: Config) -> schema.Dataset:
  folder = _checked_folder(config)
  rng = np.random.default_rng(config.seed)
  train, tests = _read_files(folder)
  group_of = _celebrity_names(train, tests["reversal"])
  names = sorted(group_of)  # Sorted: a stable order for the seeded draws.
  fact_id = {name: f"berglund_reversal_curse/{group_of[name]}/{i:03d}" for i, name in enumerate(names)}
  documents = _documents(train, names, fact_id, folder)
  every_line = [line for lines in (*train.values(), *tests.values()) for line in lines]
  by_name = _completions_by_name(every_line, names)
  questions = []
  for split, lines in tests.items():
    pools = _ChoicePools(names, _completions_by_template(lines, names), by_name, config.num_choices)
    questions += _questions(split, lines, pools, fact_id, rng, folder)
  facts = _facts(names, group_of, fact_id, _descriptions(train, tests, names, folder), documents)
  return generation.dataset("berglund_reversal_curse", config, documents=documents, questions=questions, facts=facts)
