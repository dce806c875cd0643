"""Batched, bucketed, sharded multiple-choice log-likelihood scoring.

Every (prompt, choice) pair becomes one row. Rows are sorted by length, padded to
a few fixed length buckets and a fixed batch size (so jit compiles a handful of
shapes), split over the mesh's batch axes (`sharding.batch_sharding`: every device
takes a share of the rows), and scored with float32 log-softmax
at continuation positions only. Right padding is masked by the model (pad id 0),
so a row's score does not depend on its batch mates or its padding.

With a shared `context` (in-context learning), the context is run through the
model once into a KV cache, and every row is scored as a suffix against that
cache: the cost grows with the number of choices times their length, not times
the context length.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from icl_ft_jax import sharding as sharding_lib
from icl_ft_jax.errors import UserError
from icl_ft_jax.scoring import forward
from icl_ft_jax.scoring.records import ChoiceScore, MCItem, QuestionScore
from icl_ft_jax.scoring.tokenize import BOS_ID, encode_pair

DEFAULT_LENGTH_BUCKETS = (8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)
DEFAULT_CONTINUATION_BUCKETS = (4, 8, 16, 32, 64, 128)


@dataclasses.dataclass(frozen=True)
class _Row:
  item: int
  choice: int
  prompt_ids: tuple[int, ...]
  continuation_ids: tuple[int, ...]
  num_chars: int

  @property
  def length(self) -> int:
    return len(self.prompt_ids) + len(self.continuation_ids)


def _bucket(n: int, buckets: Sequence[int], what: str) -> int:
  for b in buckets:
    if n <= b:
      return b
  raise UserError(f"A {what} of {n} tokens is longer than the largest bucket ({buckets[-1]}).")


@dataclasses.dataclass(frozen=True)
class ContextCache:
  """A context run through the model once: its KV cache and true length."""

  cache: dict
  length: int  # Tokens of the context, BOS included.
  cache_size: int


class Scorer:
  """Scores multiple-choice items with a loaded gemma model.

      scorer = Scorer(loaded.model, loaded.params, loaded.tokenizer, mesh)
      scores = scorer.score([MCItem(prompt="The capital of France is",
                                    choices=(" Paris", " Rome"))])
      scores[0].prediction("sum")  # -> 0
  """

  def __init__(self, model, params, tokenizer, mesh: jax.sharding.Mesh, *, batch_size: int = 16,
               length_buckets: Sequence[int] = DEFAULT_LENGTH_BUCKETS,
               continuation_buckets: Sequence[int] = DEFAULT_CONTINUATION_BUCKETS,
               max_sequence_length: int = 32768, prefill_chunk: int = 1024, progress: bool = True):
    sharding_lib.check_batch_size(batch_size, mesh, "The scoring batch size (scoring.batch_size or .context_batch_size)")
    self.model, self.params, self.tokenizer, self.mesh = model, params, tokenizer, mesh
    self.batch_size = batch_size
    self.length_buckets = tuple(sorted(length_buckets))
    self.continuation_buckets = tuple(sorted(continuation_buckets))
    self.max_sequence_length = max_sequence_length
    self.prefill_chunk = prefill_chunk
    self.progress = progress
    self.batch_sharding = sharding_lib.batch_sharding(mesh)  # Rows are split over every batch device.
    self._replicated = NamedSharding(mesh, P())
    # Per-row outputs are tiny: replicate them so every host can read them (multi-host).
    self._score_rows = jax.jit(self._score_rows_impl, out_shardings=self._replicated)
    self._init_cache = jax.jit(
        lambda cache_size: model.config.init_cache(batch_size=1, dtype=_dtype_of(params), cache_length=cache_size),
        static_argnames=("cache_size",), out_shardings=self._replicated)
    self._prefill = jax.jit(self._prefill_impl, donate_argnums=1)
    self._score_suffix = jax.jit(self._score_suffix_impl, out_shardings=self._replicated)

  # ------------------------------------------------------------------ public API

  def score(self, items: Sequence[MCItem], *, context: str | None = None,
            use_cache: bool = True, description: str = "scoring") -> list[QuestionScore]:
    """Scores every choice of every item, after an optional shared `context`.

    Args:
      items: Prompts with their choices.
      context: Text that precedes every prompt (e.g. the training documents). It
        is tokenized on its own, so callers should end it with a separator.
      use_cache: With a context, run it once into a KV cache (default) instead of
        re-running it for every row; both give the same numbers.
      description: Label of the progress bar.
    """
    context_ids = self.encode_context(context) if context is not None else None
    rows = self._rows(items, with_bos=context_ids is None)
    if context_ids is not None and use_cache:
      results = self._run_with_cache(rows, context_ids, description)
    else:
      if context_ids is not None:
        rows = [dataclasses.replace(r, prompt_ids=context_ids + r.prompt_ids) for r in rows]
      results = self._run_rows(rows, description)
    return self._assemble(items, rows, results)

  def encode_context(self, context: str) -> tuple[int, ...]:
    return (BOS_ID, *self.tokenizer.encode(context))

  def prefill(self, context_ids: Sequence[int], suffix_capacity: int) -> ContextCache:
    """Runs the context once; the cache leaves room for `suffix_capacity` more tokens."""
    length = len(context_ids)
    total = length + suffix_capacity
    if total > self.max_sequence_length:
      raise UserError(
          f"The context has {length} tokens; with the questions that is {total}, over the model's"
          f" window of {self.max_sequence_length}. Subsample the documents (icl.subsample) to about"
          f" {max(self.max_sequence_length - suffix_capacity, 0) / max(length, 1):.0%} of them."
      )
    # Long contexts are prefilled in chunks so attention memory stays [chunk, cache] instead of
    # [context, context].
    chunk = min(self.prefill_chunk, _bucket(length, self.length_buckets, "context"))
    padded = _round_up(length, chunk)
    tokens = np.zeros((1, padded), np.int32)
    tokens[0, :length] = context_ids
    cache_size = _round_up(padded + suffix_capacity, 128)
    cache = self._init_cache(cache_size=cache_size)
    for start in range(0, padded, chunk):
      cache = self._prefill(self.params, cache, tokens[:, start:start + chunk], np.int32(start), np.int32(length))
    return ContextCache(cache=cache, length=length, cache_size=cache_size)

  # ------------------------------------------------------------------ rows

  def _rows(self, items: Sequence[MCItem], *, with_bos: bool) -> list[_Row]:
    rows = []
    for i, item in enumerate(items):
      for j, choice in enumerate(item.choices):
        pair = encode_pair(self.tokenizer, item.prompt, choice, add_bos=with_bos)
        if not pair.prompt_ids:
          raise UserError(f"Item {i} has an empty prompt; with a shared context every item needs a prompt.")
        rows.append(_Row(i, j, pair.prompt_ids, pair.continuation_ids, len(choice)))
    return rows

  def _batches(self, rows: list[_Row], length_of, description: str):
    """Yields (bucket_length, cont_bucket, row indices) groups of at most batch_size, with progress."""
    order = sorted(range(len(rows)), key=lambda k: (length_of(rows[k]), k))
    groups = []
    for start in range(0, len(order), self.batch_size):
      chunk = order[start:start + self.batch_size]
      length = _bucket(max(length_of(rows[k]) for k in chunk), self.length_buckets, "sequence")
      cont = _bucket(max(len(rows[k].continuation_ids) for k in chunk), self.continuation_buckets, "choice")
      groups.append((length, cont, chunk))
    return _progress(groups, description, enabled=self.progress and jax.process_index() == 0,
                     total_rows=len(rows))

  def _pack(self, rows: list[_Row], chunk: list[int], length: int, cont: int, prompt_offset: int):
    """Token, gather-index, target and mask arrays for one batch (padded rows are empty)."""
    tokens = np.zeros((self.batch_size, length), np.int32)
    gather = np.zeros((self.batch_size, cont), np.int32)
    targets = np.zeros((self.batch_size, cont), np.int32)
    mask = np.zeros((self.batch_size, cont), bool)
    for b, k in enumerate(chunk):
      row = rows[k]
      ids = row.prompt_ids + row.continuation_ids
      tokens[b, :len(ids)] = ids
      n = len(row.continuation_ids)
      # Token t of the continuation is predicted by the hidden state just before it.
      gather[b, :n] = np.arange(n) + len(row.prompt_ids) - 1 + prompt_offset
      targets[b, :n] = row.continuation_ids
      mask[b, :n] = True
    return tuple(sharding_lib.global_batch(x, self.batch_sharding) for x in (tokens, gather, targets, mask))

  def _run_rows(self, rows: list[_Row], description: str) -> dict[int, tuple[float, bool]]:
    results = {}
    for length, cont, chunk in self._batches(rows, lambda r: r.length, description):
      lp, greedy = self._score_rows(self.params, *self._pack(rows, chunk, length, cont, 0))
      results.update(_collect(chunk, lp, greedy))
    return results

  def _run_with_cache(self, rows: list[_Row], context_ids, description) -> dict[int, tuple[float, bool]]:
    longest = max(r.length for r in rows)
    capacity = _bucket(longest, self.length_buckets, "question")
    context = self.prefill(context_ids, capacity)
    results = {}
    for length, cont, chunk in self._batches(rows, lambda r: r.length, description):
      tokens, gather, targets, mask = self._pack(rows, chunk, length, cont, 0)
      lp, greedy = self._score_suffix(self.params, context.cache, np.int32(context.length),
                                      tokens, gather, targets, mask)
      results.update(_collect(chunk, lp, greedy))
    return results

  def _assemble(self, items, rows, results) -> list[QuestionScore]:
    per_item: list[list[ChoiceScore | None]] = [[None] * len(item.choices) for item in items]
    for k, row in enumerate(rows):
      logprob, greedy = results[k]
      per_item[row.item][row.choice] = ChoiceScore(
          logprob=logprob, num_tokens=len(row.continuation_ids), num_chars=row.num_chars, is_greedy=greedy)
    return [QuestionScore(choices=tuple(choices)) for choices in per_item]

  # ------------------------------------------------------------------ jitted kernels

  def _score_rows_impl(self, params, tokens, gather, targets, mask):
    hidden, _ = forward.hidden_states(self.model, params, tokens)
    lp, greedy = forward.target_logprobs(self.model, params, hidden, gather, targets, mask)
    return lp.sum(-1), greedy.all(-1)

  def _prefill_impl(self, params, cache, tokens, start, length):
    """Appends one chunk of the context (tokens at positions start...) to the cache."""
    chunk = tokens.shape[1]
    cache_size = cache["layer_0"]["k"].shape[1]
    query = start + jnp.arange(chunk)[:, None]
    key = jnp.arange(cache_size)[None, :]
    mask = ((key <= query) & (key < length))[None]
    positions = (start + jnp.arange(chunk))[None]
    _, cache = forward.hidden_states(self.model, params, tokens, positions=positions,
                                     attention_mask=mask, cache=cache)
    return cache

  def _score_suffix_impl(self, params, cache, context_length, tokens, gather, targets, mask):
    cache = expand_context_cache(cache, context_length, tokens.shape[0], self.batch_sharding)
    positions, attention = suffix_positions_and_mask(tokens, context_length, cache["layer_0"]["k"].shape[1])
    hidden, _ = forward.hidden_states(self.model, params, tokens, positions=positions,
                                      attention_mask=attention, cache=cache)
    lp, greedy = forward.target_logprobs(self.model, params, hidden, gather, targets, mask)
    return lp.sum(-1), greedy.all(-1)


def expand_context_cache(cache: dict, context_length, batch: int, sharding) -> dict:
  """A batch-1 context cache copied to `batch` rows, each ready to append after the context.

  Shared with the augmentation sampler, which decodes many suffixes after one context.
  """

  def expand(x):
    x = jnp.broadcast_to(x, (batch,) + x.shape[1:])
    return jax.lax.with_sharding_constraint(x, sharding)

  cache = jax.tree.map(expand, cache)
  return {name: {**layer, "end_index": jnp.full((batch,), context_length, jnp.int32)}
          for name, layer in cache.items()}


def suffix_positions_and_mask(tokens, context_length, cache_size: int):
  """Positions and attention mask for right-padded suffix rows `tokens` [B, L] after the context.

  A suffix token sees the whole context and the real suffix tokens before it; pad id 0 is never
  attended. Returns `(positions [B, L], attention [B, L, cache_size])`.
  """
  batch, length = tokens.shape
  query = jnp.arange(length)[:, None]
  key = jnp.arange(cache_size)[None, :]
  suffix_key = key - context_length
  real = tokens != 0  # [B, L]
  key_real = jnp.take_along_axis(real, jnp.clip(suffix_key, 0, length - 1).repeat(batch, 0), axis=1)
  in_suffix = (suffix_key >= 0) & (suffix_key <= query)  # [L, cache]
  attention = (key < context_length)[None] | (in_suffix[None] & key_real[:, None, :])
  positions = context_length + jnp.arange(length)[None].repeat(batch, 0)
  return positions, attention


def _dtype_of(params):
  return params["embedder"]["input_embedding"].dtype


def _round_up(n: int, multiple: int) -> int:
  return int(math.ceil(n / multiple) * multiple)


def _collect(chunk, logprobs, greedy) -> dict[int, tuple[float, bool]]:
  logprobs, greedy = np.asarray(jax.device_get(logprobs)), np.asarray(jax.device_get(greedy))
  return {k: (float(logprobs[b]), bool(greedy[b])) for b, k in enumerate(chunk)}


def _progress(groups, description: str, *, enabled: bool, total_rows: int):
  """Iterates batches with a progress bar (rows/s and ETA)."""
  if not enabled:
    yield from groups
    return
  from tqdm.auto import tqdm  # pylint: disable=g-import-not-at-top

  with tqdm(total=total_rows, desc=description, unit="row", mininterval=2.0) as bar:
    for group in groups:
      yield group
      bar.update(len(group[2]))
