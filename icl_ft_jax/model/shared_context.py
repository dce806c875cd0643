"""Rows after one shared context, attending to its keys and values without copying them per row.

gemma's attention with a KV cache writes each row's keys into that row's own cache, so scoring B rows
after a context would first copy the context's cache B times, and then score every cache slot in
every layer: local layers too, though their window sees only the last `sliding_window_size` of them.
Here each attention layer splits its keys in two: the context's (one copy, `[S, K, H]`, shared by
every row through the einsum) and the row's own. A local layer keeps only the context's last
`sliding_window_size` slots, the only ones a row after the context can see. One softmax spans both
parts, so the result is gemma's attention over the concatenated keys (`tests/scoring/test_scorer.py`
compares against the context run in full); only the cost changes.

The same attention prefills a long context chunk by chunk (`row_keys_values`, used by
`kv_cache.Prefiller`): each chunk is a row after the chunks before it, so its local layers read the
last window of them rather than the whole cache. And it decodes after a shared context (`decode`, for
global augmentation): each row keeps a cache of its own tokens only (`RowCache`), and every row reads
the one copy of the context's.

It runs gemma's own embedding, blocks, norms and MLPs; the one replaced method is
`Attention.__call__`, and only for layers handed a `ContextLayer` or `DecodingLayer` (flax's
`intercept_methods`).
"""

from __future__ import annotations

import dataclasses

import flax.struct
import jax
import jax.numpy as jnp
from flax import linen as nn

from icl_ft_jax import shapes
from icl_ft_jax.model import gemma_internals

CONTEXT_SLOTS_MULTIPLE = 128  # Context slots kept: its length rounded up to this (a few compiled shapes).


@flax.struct.dataclass
class ContextLayer:
  """One layer's keys and values of the context (no batch axis): what every row attends to first."""

  k: jax.Array  # [S, K, H]
  v: jax.Array  # [S, K, H]
  positions: jax.Array  # [S]
  real: jax.Array  # [S] bool: the slot holds a context token (not padding).
  length: jax.Array  # Scalar: the context's tokens.


@flax.struct.dataclass
class RowKeysValues:
  """One layer's keys and values of the rows (after RoPE and norms): what a prefill writes to its cache."""

  k: jax.Array  # [B, L, K, H]
  v: jax.Array  # [B, L, K, H]


@flax.struct.dataclass
class RowCache:
  """One layer's keys and values of each row's own tokens after the context (decoding)."""

  k: jax.Array  # [B, R, K, H]
  v: jax.Array  # [B, R, K, H]
  positions: jax.Array  # [B, R]


@flax.struct.dataclass
class DecodingLayer:
  """What a layer attends to when decoding: the shared context, then the row's own cache, into which
  the current tokens' keys are written at slot `write` first."""

  context: ContextLayer
  rows: RowCache
  write: jax.Array  # Scalar slot of `rows` (the same for every row).


def row_cache(keys_values: RowKeysValues, positions, slots: int) -> RowCache:
  """A row cache of `slots` slots holding a suffix pass's keys and values (`[B, L, ...]`) first."""
  pad = lambda x: jnp.pad(x, [(0, 0), (0, slots - x.shape[1])] + [(0, 0)] * (x.ndim - 2))
  return RowCache(k=pad(keys_values.k), v=pad(keys_values.v), positions=pad(positions))


def context_layers(cache: dict, length, slots: int | None = None) -> dict[str, ContextLayer]:
  """Per layer, the first `slots` slots of a batch-1 gemma cache whose first `length` hold the context.

  `slots` defaults to `length` rounded up to `CONTEXT_SLOTS_MULTIPLE` (then `length` must be a
  Python int); given, `length` may be traced (a prefill's chunk start).
  """
  if slots is None:
    slots = min(shapes.round_up(length, CONTEXT_SLOTS_MULTIPLE), cache["layer_0"]["k"].shape[1])
  real = jnp.arange(slots) < length
  return {name: ContextLayer(k=layer["k"][0, :slots], v=layer["v"][0, :slots], positions=layer["positions"][0, :slots],
                             real=real, length=jnp.asarray(length, jnp.int32))
          for name, layer in cache.items()}


def hidden_states(model, params, tokens, *, positions, row_mask, context: dict[str, ContextLayer]):
  """Final-norm hidden states `[B, L, D]` of rows that follow the context.

  Args:
    tokens: `[B, L]` row tokens.
    positions: `[B, L]` their absolute positions (the context's length onwards).
    row_mask: `[B, L, L]` which row tokens each row token sees (the context is always seen).
    context: `context_layers(...)` of the context's cache.
  """
  return model.apply({"params": params}, tokens, positions, row_mask, context, method=_hidden)


def row_keys_values(model, params, tokens, *, positions, row_mask,
                    context: dict[str, ContextLayer]) -> dict[str, RowKeysValues]:
  """Per layer, the keys and values of rows that follow the context (arguments as `hidden_states`).

  A prefill chunk is such a row: the chunks before it are its context.
  """
  return hidden_and_row_keys_values(model, params, tokens, positions=positions, row_mask=row_mask,
                                    context=context)[1]


def hidden_and_row_keys_values(model, params, tokens, *, positions, row_mask, context: dict[str, ContextLayer]
                               ) -> tuple[jax.Array, dict[str, RowKeysValues]]:
  """`hidden_states` and `row_keys_values` of one pass (a decoder's prompt: its last token's logits
  give the first sampled token, its keys and values start the row cache)."""
  return model.apply({"params": params}, tokens, positions, row_mask, context, True, method=_run_blocks)


def decode(model, params, tokens, *, positions, row_mask, layers: dict[str, DecodingLayer]
           ) -> tuple[jax.Array, dict[str, RowCache]]:
  """One decoding step: `(hidden [B, T, D], per-layer row caches with the tokens' keys written)`.

  Args:
    tokens: `[B, T]` the rows' next tokens (T = 1 when sampling).
    positions: `[B, T]` their absolute positions.
    row_mask: `[B, T, R]` which slots of the row cache each token sees (its own slot included).
    layers: per layer, the context and the row cache (`DecodingLayer`).
  """
  hidden, out = model.apply({"params": params}, tokens, positions, row_mask, layers, False, method=_run_blocks)
  return hidden, {name: layer.rows for name, layer in out.items()}


def _hidden(module, tokens, positions, row_mask, context):
  return _run_blocks(module, tokens, positions, row_mask, context, keep_row_kv=False)[0]


def _run_blocks(module, tokens, positions, row_mask, context, keep_row_kv: bool):
  """`(hidden, per-layer outputs)`: a layer handed a `DecodingLayer` outputs it with the tokens' keys written
  into its row cache; one handed a `ContextLayer`, its `RowKeysValues` if `keep_row_kv`, else that context."""

  def attend_after_context(next_fun, args, kwargs, interception):
    if (interception.method_name == "__call__"
        and isinstance(interception.module, gemma_internals.attention_class())
        and len(args) == 4 and isinstance(args[2], (ContextLayer, DecodingLayer))):
      output, own = _attention(interception.module, *args)
      if isinstance(args[2], DecodingLayer):
        return dataclasses.replace(args[2], rows=own), output
      return (own if keep_row_kv else args[2]), output
    return next_fun(*args, **kwargs)

  inputs = gemma_internals.encode_inputs(module, tokens, positions, row_mask)
  with nn.intercept_methods(attend_after_context):
    return gemma_internals.apply_blocks(module, inputs, context)


def _sliding(query_positions, key_positions, window: int):
  """gemma's `create_sliding_mask`: `[B, T, S]` for query `[B, T]` and key `[B or 1, S]` positions."""
  query, key = query_positions[..., :, None], key_positions[..., None, :]
  return (key > query - window) & (key < query + window)


def _window(layer: ContextLayer, window: int) -> ContextLayer:
  """The context's last `window` slots: a row after the context sees no earlier one in a local layer."""
  if layer.k.shape[0] <= window:
    return layer
  start = jnp.clip(layer.length - window, 0, layer.k.shape[0] - window)
  take = lambda x: jax.lax.dynamic_slice_in_dim(x, start, window, axis=0)
  return dataclasses.replace(layer, k=take(layer.k), v=take(layer.v), positions=take(layer.positions),
                             real=take(layer.real))


def _attention(attn, x, segment_pos, layer: ContextLayer | DecodingLayer, row_mask):
  """gemma's `Attention.__call__` (same projections, norms, RoPE, soft-cap, masks and softmax) over the
  context's keys followed by the row's own: `(output, RowKeysValues of the tokens)`, or when decoding
  over the row cache with the tokens' keys written in, `(output, that RowCache)`."""
  rows = None
  if isinstance(layer, DecodingLayer):
    layer, rows, write = layer.context, layer.rows, layer.write
  rope = gemma_internals.rope()
  if attn.use_qkv_einsum:
    query, key, value = attn.qkv_einsum("BTD,SNDH->SBTNH", x)
  else:
    query = attn.q_einsum("BTD,NDH->BTNH", x)
    key, value = attn.kv_einsum("BSD,CKDH->CBSKH", x)
  if attn.use_qk_norm:
    query, key = attn._query_norm(query), attn._key_norm(key)  # pylint: disable=protected-access
  rope_args = dict(base_frequency=attn.rope_base_frequency, scale_factor=attn.rope_scale_factor)
  query = rope(query, segment_pos, **rope_args) * attn.query_pre_attn_scalar
  key = rope(key, segment_pos, **rope_args)
  own = RowKeysValues(k=key, v=value)
  own_positions = segment_pos
  if rows is not None:
    put = lambda old, new: jax.lax.dynamic_update_slice_in_dim(old, new.astype(old.dtype), write, axis=1)
    own = rows = RowCache(k=put(rows.k, key), v=put(rows.v, value), positions=put(rows.positions, segment_pos))
    own_positions = rows.positions

  local = attn.attn_type == gemma_internals.local_attention_type()
  if local:
    layer = _window(layer, attn.sliding_window_size)
  batch, length, num_heads, head_dim = query.shape
  kv_heads = own.k.shape[2]
  query = query.reshape(batch, length, kv_heads, num_heads // kv_heads, head_dim)
  logits = jnp.concatenate([jnp.einsum("BTKGH,SKH->BTKGS", query, layer.k),
                            jnp.einsum("BTKGH,BSKH->BTKGS", query, own.k)], axis=-1)
  if attn.attn_logits_soft_cap is not None:
    logits = jnp.tanh(logits / attn.attn_logits_soft_cap) * attn.attn_logits_soft_cap

  context_mask = jnp.broadcast_to(layer.real, (batch, length, layer.k.shape[0]))
  row_mask = row_mask.astype(bool)
  if local:
    context_mask &= _sliding(segment_pos, layer.positions[None], attn.sliding_window_size)
    row_mask &= _sliding(segment_pos, own_positions, attn.sliding_window_size)
  mask = jnp.concatenate([context_mask, row_mask], axis=-1)
  logits = jnp.where(mask[:, :, None, None, :], logits, gemma_internals.masked_logit())
  probs = jax.nn.softmax(logits, axis=-1).astype(own.v.dtype)

  slots = layer.k.shape[0]
  encoded = (jnp.einsum("BTKGS,SKH->BTKGH", probs[..., :slots], layer.v)
             + jnp.einsum("BTKGS,BSKH->BTKGH", probs[..., slots:], own.v))
  return attn.attn_vec_einsum("BTNH,NHD->BTD", encoded.reshape(batch, length, num_heads, head_dim)), own
