"""One shared context run through the model once into a KV cache, and batches of rows after it.

In-context scoring asks many questions after one long context (the training documents), and
global augmentation samples many targets after one. Both prefill the context once (`Prefiller`,
in chunks) and run only each row's own tokens against it, through `shared_context`: one copy of
the context for all rows. The cache the prefill writes is gemma's own (`config.init_cache`);
`expand` copies it to every row, as gemma's cache path needs (the benchmarks' baselines: ICL
scoring and sampling before `shared_context`, `tests/model/test_kv_cache.py`).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from icl_ft_jax import shapes
from icl_ft_jax.errors import UserError
from icl_ft_jax.model import shared_context


@dataclasses.dataclass(frozen=True)
class ContextCache:
  """A context run through the model once: its KV cache and true length."""

  cache: dict
  length: int  # Tokens of the context, BOS included.
  cache_size: int


class Prefiller:
  """Runs a context into a batch-1 KV cache, replicated over the mesh.

      prefiller = Prefiller(loaded.model, mesh, max_sequence_length=loaded.spec.max_sequence_length)
      context = prefiller(loaded.params, context_ids, suffix_capacity=256)

  Long contexts are prefilled `chunk` tokens at a time, so attention memory stays
  `[chunk, cache]` instead of `[context, context]`; a shorter context is padded to the
  smallest of `length_buckets` (a handful of compiled shapes). Each chunk attends to the
  chunks before it as rows after a shared context do (`shared_context`): local layers read
  only the last `sliding_window_size` slots before the chunk, so only the global layers'
  cost grows with the context (gemma's cache path scores every slot in every layer).
  """

  def __init__(self, model, mesh: jax.sharding.Mesh, *, max_sequence_length: int = 32768, chunk: int = 1024,
               length_buckets: Sequence[int] = shapes.POWERS_OF_TWO,
               too_long_fix: str = "Subsample the documents (icl.subsample)"):
    self.model = model
    self.too_long_fix = too_long_fix  # What the user sets when a context is over the window.
    self.max_sequence_length = max_sequence_length
    self.chunk = chunk
    self.length_buckets = tuple(sorted(length_buckets))
    self._init_cache = jax.jit(
        lambda cache_size, dtype: model.config.init_cache(batch_size=1, dtype=dtype, cache_length=cache_size),
        static_argnames=("cache_size", "dtype"), out_shardings=NamedSharding(mesh, P()))
    self._prefill = jax.jit(self._prefill_impl, donate_argnums=1, static_argnames="first")

  def __call__(self, params, context_ids: Sequence[int], suffix_capacity: int) -> ContextCache:
    """Runs the context once; the cache leaves room for `suffix_capacity` more tokens."""
    length = len(context_ids)
    total = length + suffix_capacity
    if total > self.max_sequence_length:
      raise UserError(
          f"The context has {length} tokens; with the questions that is {total}, over the model's"
          f" window of {self.max_sequence_length}. {self.too_long_fix} to about"
          f" {max(self.max_sequence_length - suffix_capacity, 0) / max(length, 1):.0%} of its length."
      )
    chunk = min(self.chunk, shapes.bucket(length, self.length_buckets, what="context"))
    padded = shapes.round_up(length, chunk)
    tokens = np.zeros((1, padded), np.int32)  # Padding is masked (key < length), never attended.
    tokens[0, :length] = context_ids
    cache_size = shapes.round_up(padded + suffix_capacity, 128)
    cache = self._init_cache(cache_size=cache_size, dtype=params["embedder"]["input_embedding"].dtype)
    for start in range(0, padded, chunk):
      cache = self._prefill(params, cache, tokens[:, start:start + chunk], np.int32(start), np.int32(length),
                            first=start == 0)
    return ContextCache(cache=cache, length=length, cache_size=cache_size)

  def _prefill_impl(self, params, cache, tokens, start, length, first: bool):
    """Appends one chunk of the context (tokens at positions start...) to the cache.

    The cache's slots before `start` are the chunk's context (none for the `first` chunk);
    the chunk's own tokens see each other causally, and its padding (slots from `length` on)
    is never attended.
    """
    chunk = tokens.shape[1]
    before = shared_context.context_layers(cache, start, slots=0 if first else cache_length(cache))
    query, key = jnp.arange(chunk)[:, None], jnp.arange(chunk)[None, :]
    row_mask = ((key <= query) & (start + key < length))[None]
    positions = (start + jnp.arange(chunk))[None]
    rows = shared_context.row_keys_values(self.model, params, tokens, positions=positions, row_mask=row_mask,
                                          context=before)
    write = lambda old, new: jax.lax.dynamic_update_slice_in_dim(old, new.astype(old.dtype), start, axis=1)
    return {name: {**layer, "k": write(layer["k"], rows[name].k), "v": write(layer["v"], rows[name].v),
                   "positions": write(layer["positions"], positions),
                   "end_index": layer["end_index"] + chunk}  # As gemma's cache path leaves it.
            for name, layer in cache.items()}


def cache_length(cache: dict) -> int:
  """Slots of a gemma KV cache (static)."""
  return cache["layer_0"]["k"].shape[1]


def with_end_index(cache: dict, end_index: jax.Array) -> dict:
  """The cache with every layer's next write slot set to `end_index` (`[B]`)."""
  return {name: {**layer, "end_index": end_index} for name, layer in cache.items()}


def expand(cache: dict, context_length, batch: int, sharding) -> dict:
  """A batch-1 context cache copied to `batch` rows (split by `sharding`), each ready to append after the context."""

  def copy(x):
    x = jnp.broadcast_to(x, (batch,) + x.shape[1:])
    return jax.lax.with_sharding_constraint(x, sharding)

  return with_end_index(jax.tree.map(copy, cache), jnp.full((batch,), context_length, jnp.int32))


def suffix_positions_and_mask(tokens, lengths, context_length, cache_size: int):
  """Positions and attention mask for right-padded suffix rows after the context.

  Args:
    tokens: `[B, L]` suffix rows, row b real for its first `lengths[b]` tokens.
    lengths: `[B]` real tokens per row.
    context_length: Tokens of the cached context (the suffix starts at this slot).
    cache_size: Slots of the cache.

  Returns:
    `(positions [B, L], attention [B, L, cache_size])`: a suffix token sees the whole
    context and the real suffix tokens up to itself; padding is never attended.
  """
  batch, length = tokens.shape
  query = jnp.arange(length)[:, None]
  key = jnp.arange(cache_size)[None, :]
  suffix_key = key - context_length
  key_real = suffix_key < lengths[:, None]  # [B, cache]
  in_suffix = (suffix_key >= 0) & (suffix_key <= query)  # [L, cache]
  attention = (key < context_length)[None] | (in_suffix[None] & key_real[:, None, :])
  positions = context_length + jnp.arange(length)[None].repeat(batch, 0)
  return positions, attention
