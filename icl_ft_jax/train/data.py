"""Training documents -> fixed-shape token batches, in an order fixed by (seed, step).

Each document becomes BOS + its tokens (+ EOS optionally), with a loss weight per
predicted token: every token (`loss_on="document"`, as the study trains on
documents) or only the completion (`"completion"`: tokens after the character
offset a document records in `metadata["prompt_chars"]` or, for cumulative
sentence splits, `metadata["target_start"]`).

The batch of step `s` is a pure function of (seed, s): example `i = s * B + j`
comes from epoch `i // N` at slot `i % N` of that epoch's permutation, drawn
from `seed` and the epoch. A resumed run therefore sees exactly the batches an
uninterrupted one would. With one document per row, a step's rows are padded
to its longest document rounded up to a power of two (at most `max_length`;
`pad_to="max_length"` keeps one shape), so short documents do not pay for the
longest one in the dataset and jit compiles a handful of lengths. With
`rows_per_batch`, the step's documents are packed into that many rows of
`max_length` with segment ids (the attention mask keeps them apart; positions
restart per document). Nothing is truncated silently: a document that does not
fit is an error that says which length to set.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from icl_ft_jax import shapes
from icl_ft_jax.data import schema, splitting
from icl_ft_jax.errors import ConfigError, UserError

LOSS_ON = ("document", "completion")
SENTENCE_SPLIT = ("none", "independent", "cumulative")
PAD_TO = ("bucket", "max_length")
MIN_BUCKET = 32  # The shortest padded length: fewer shapes for jit to compile.
COMPLETION_START_KEYS = ("prompt_chars", "target_start")


@dataclasses.dataclass(frozen=True, kw_only=True)
class DataConfig:
  batch_size: int = 8  # Documents per step.
  max_length: int = 64  # Tokens per row (inputs; BOS included).
  rows_per_batch: int = 0  # 0: one document per row, padded. >0: pack the step's documents into this many rows.
  sentence_split: str = "none"  # "none", "independent" or "cumulative" (see data/splitting.py).
  loss_on: str = "document"  # "document" or "completion".
  append_eos: bool = False
  # Unpacked rows: "bucket" pads each step to its longest document, rounded up to a power of two (at most
  # max_length); "max_length" pads every step to max_length (one compiled shape).
  pad_to: str = "bucket"

  def __post_init__(self):
    if self.sentence_split not in SENTENCE_SPLIT:
      raise ConfigError(f"data.sentence_split {self.sentence_split!r} is not one of {SENTENCE_SPLIT}.")
    if self.loss_on not in LOSS_ON:
      raise ConfigError(f"data.loss_on {self.loss_on!r} is not one of {LOSS_ON}.")
    if self.pad_to not in PAD_TO:
      raise ConfigError(f"data.pad_to {self.pad_to!r} is not one of {PAD_TO}.")
    if self.batch_size < 1 or self.max_length < 2 or self.rows_per_batch < 0:
      raise ConfigError("data.batch_size >= 1, data.max_length >= 2 and data.rows_per_batch >= 0 are required.")

  @property
  def rows(self) -> int:
    return self.rows_per_batch or self.batch_size


@dataclasses.dataclass(frozen=True)
class Example:
  """One tokenized document: ids (BOS first) and which next-token predictions count."""

  ids: tuple[int, ...]
  weights: tuple[float, ...]  # weights[t] weighs predicting ids[t + 1]; len(ids) - 1 entries.


def _completion_start(document: schema.Document) -> int | None:
  for key in COMPLETION_START_KEYS:
    if key in document.metadata:
      return int(document.metadata[key])
  return None


def tokenize_document(tokenizer, document: schema.Document, config: DataConfig) -> Example:
  ids = tokenizer.encode(document.text, add_bos=True, add_eos=config.append_eos)  # The tokenizer's BOS and EOS.
  weights = [1.0] * (len(ids) - 1)
  start = _completion_start(document) if config.loss_on == "completion" else None
  if start is not None:
    # As the scorer does: a prompt's trailing space belongs to the completion.
    prompt_tokens = len(tokenizer.encode(document.text[:start].rstrip(" "))) if start else 0
    # Prediction t (of ids[t + 1]) is a completion token when t + 1 > prompt_tokens (BOS at 0).
    weights = [1.0 if t + 1 > prompt_tokens else 0.0 for t in range(len(ids) - 1)]
  return Example(ids=tuple(ids), weights=tuple(weights))


def training_documents(dataset: schema.Dataset, config: DataConfig) -> tuple[schema.Document, ...]:
  if config.sentence_split != "none":
    dataset = splitting.split_documents(dataset, config.sentence_split)
  return dataset.documents


def tokenize(tokenizer, documents: Sequence[schema.Document], config: DataConfig) -> list[Example]:
  examples = [tokenize_document(tokenizer, d, config) for d in documents]
  if not examples:
    raise UserError("The dataset has no training documents to fine-tune on.")
  longest = max(len(e.ids) - 1 for e in examples)
  if longest > config.max_length:
    raise UserError(f"A training document has {longest} tokens, more than data.max_length={config.max_length};"
                    f" set --config.data.max_length={shapes.round_up(longest, 16)} (or split sentences).")
  return examples


def _compact_loss(batch: dict[str, np.ndarray], size: int) -> dict[str, np.ndarray]:
  """The positions that carry loss, per row, padded to `size`: `loss_index`, `loss_targets`, `loss_weights`."""
  rows = batch["weights"].shape[0]
  index, targets, weights = (np.zeros((rows, size), dtype) for dtype in (np.int32, np.int32, np.float32))
  for row in range(rows):
    (where,) = np.nonzero(batch["weights"][row])
    index[row, :len(where)] = where
    targets[row, :len(where)] = batch["targets"][row, where]
    weights[row, :len(where)] = batch["weights"][row, where]
  return {"loss_index": index, "loss_targets": targets, "loss_weights": weights}


def example_indices(num_examples: int, batch_size: int, seed: int, step: int) -> np.ndarray:
  """Which examples form the batch of `step`: a pure function of its arguments."""
  indices = np.empty(batch_size, np.int64)
  permutations: dict[int, np.ndarray] = {}
  for j in range(batch_size):
    i = step * batch_size + j
    epoch, slot = divmod(i, num_examples)
    if epoch not in permutations:
      permutations[epoch] = np.random.default_rng([seed, epoch]).permutation(num_examples)
    indices[j] = permutations[epoch][slot]
  return indices


def loss_positions_per_row(examples: Sequence[Example], config: DataConfig) -> int | None:
  """How many positions of a row can carry loss, or None when (nearly) all of them can.

  A bound that holds for every batch without enumerating them: a row holds one example,
  or packed examples whose tokens sum to at most `max_length`, so its weighted
  positions are at most `max_length` times the largest weighted fraction of any example.
  With completion-only loss the unembedding then runs on those positions alone.
  """
  weighted = [sum(w > 0 for w in e.weights) for e in examples]
  if config.rows_per_batch:
    fraction = max(k / len(e.weights) for k, e in zip(weighted, examples))
    bound = math.ceil(config.max_length * fraction) + 1
  else:
    bound = max(weighted)
  bound = shapes.round_up(bound, 8)
  return bound if bound <= config.max_length * 3 // 4 else None


class Batches:
  """Fixed-shape numpy batches of tokenized examples, addressed by step."""

  def __init__(self, examples: Sequence[Example], config: DataConfig, seed: int):
    self.examples = list(examples)
    self.config = config
    self.seed = seed
    self.loss_positions = loss_positions_per_row(self.examples, config)

  def epoch_of(self, step: int) -> float:
    return step * self.config.batch_size / len(self.examples)

  def __call__(self, step: int) -> dict[str, np.ndarray]:
    chosen = [self.examples[i] for i in example_indices(len(self.examples), self.config.batch_size, self.seed, step)]
    rows, length = self.config.rows, self.row_length(chosen)
    # Padding is zeros: segment id 0 and weight 0 mask it, so its token id is never read.
    batch = {
        "inputs": np.zeros((rows, length), np.int32),
        "targets": np.zeros((rows, length), np.int32),
        "weights": np.zeros((rows, length), np.float32),
        "positions": np.zeros((rows, length), np.int32),
        "segment_ids": np.zeros((rows, length), np.int32),
    }
    for row, offset, segment, example in self._layout(chosen, step):
      n = len(example.ids) - 1
      span = slice(offset, offset + n)
      batch["inputs"][row, span] = example.ids[:-1]
      batch["targets"][row, span] = example.ids[1:]
      batch["weights"][row, span] = example.weights
      batch["positions"][row, span] = np.arange(n)
      batch["segment_ids"][row, span] = segment
    if self.loss_positions:
      batch.update(_compact_loss(batch, self.loss_positions))
    return batch

  def row_length(self, chosen: Sequence[Example]) -> int:
    """The step's row length: max_length, or (one document per row, `pad_to="bucket"`) its bucket."""
    config = self.config
    if config.rows_per_batch or config.pad_to == "max_length":
      return config.max_length  # Packing fills rows of max_length.
    longest = max(len(e.ids) - 1 for e in chosen)
    return min(config.max_length, max(MIN_BUCKET, shapes.bucket(longest, shapes.POWERS_OF_TWO, what="document")))

  def _layout(self, chosen: list[Example], step: int):
    """(row, offset, segment id, example): one per row, or packed first-fit."""
    if not self.config.rows_per_batch:
      return [(row, 0, 1, example) for row, example in enumerate(chosen)]
    used = [0] * self.config.rows
    segments = [0] * self.config.rows
    placed = []
    for example in chosen:
      n = len(example.ids) - 1
      row = next((r for r in range(self.config.rows) if used[r] + n <= self.config.max_length), None)
      if row is None:
        raise UserError(
            f"Step {step}: {len(chosen)} documents do not fit in data.rows_per_batch={self.config.rows_per_batch}"
            f" rows of {self.config.max_length} tokens; raise data.rows_per_batch or data.max_length.")
      segments[row] += 1
      placed.append((row, used[row], segments[row], example))
      used[row] += n
    return placed
