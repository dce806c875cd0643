"""Next-token cross-entropy without materialising `[B, L, vocab]` float32 logits.

With Gemma's 262k vocabulary the logits of one training batch dwarf everything
else (8 x 512 tokens are 4 GiB in float32, and the backward pass keeps them).
The blocks run once to final hidden states (stopping before the unembedding,
as `model/forward.py` does); the unembedding, softcap and logsumexp then run
over chunks of the sequence with `jax.lax.map`, each chunk under
`jax.checkpoint`, so only one chunk's logits exist at a time, forward or
backward.

Chunking costs time (each chunk's logits are recomputed in the backward pass,
and many small matmuls run slower than one large one), so the loss chunks only
when the full logits would exceed a memory budget (`chunk_length_for`,
`train.loss_logits_budget_mib`).

Either way the unembedding and its loss have a hand-written VJP
(`_unembedding_losses`): the logits' gradient is written into the logits' own
buffer, so the loss costs one `[N, vocab]` float32 buffer at the step's peak
where autodiff's kept two, and under mixed precision it goes back through the
table in the compute dtype.
"""

from __future__ import annotations

import dataclasses
import functools
import math

import jax
import jax.numpy as jnp
import numpy as np

from icl_ft_jax.model import forward


@dataclasses.dataclass(frozen=True, kw_only=True)
class LossSums:
  """Summed loss and the number of tokens it covers; the batch loss is their ratio."""

  loss_sum: jax.Array
  weight_sum: jax.Array

  @property
  def mean(self) -> jax.Array:
    return self.loss_sum / jnp.maximum(self.weight_sum, 1.0)


@functools.partial(jax.custom_vjp, nondiff_argnums=(3,))
def _unembedding_losses(hidden, table, targets, softcap):
  """Cross-entropy of each of `[N, D]` hidden states against the `[V, D]` table: logsumexp minus the target's logit.

  The logits are float32 whatever the compute dtype. The hand-written VJP:
  - is one elementwise pass over the saved logits (softmax minus the target's
    one-hot, times the softcap's derivative), so XLA writes the logits'
    gradient into their own buffer; autodiff kept a second logits-sized buffer
    alive at the step's peak;
  - casts that gradient to the compute dtype before the two matmuls back to
    `hidden` and `table`, as autodiff of a matmul in that dtype would; left to
    autodiff, a float32 gradient against a bfloat16 table made a float32 copy
    of the whole table (0.6 GiB at Gemma's vocabulary) for the matmul;
  - reads the target's logit from its own small dot product, so nothing
    gathers from the logits or scatters into a second table-sized gradient.
  """
  return _unembedding_losses_forward(hidden, table, targets, softcap)[0]


def _unembedding_losses_forward(hidden, table, targets, softcap):
  raw_logits = jnp.einsum("nd,vd->nv", hidden, table, preferred_element_type=jnp.float32)
  raw_target_logits = jnp.einsum("nd,nd->n", hidden, table[targets], preferred_element_type=jnp.float32)
  log_normalizer = jax.nn.logsumexp(forward.softcap_logits(raw_logits, softcap), axis=-1)
  losses = log_normalizer - forward.softcap_logits(raw_target_logits, softcap)
  return losses, (hidden, table, targets, raw_logits, log_normalizer)


def _unembedding_losses_backward(softcap, residuals, cotangent):
  hidden, table, targets, raw_logits, log_normalizer = residuals
  logits = forward.softcap_logits(raw_logits, softcap)
  is_target = jax.lax.broadcasted_iota(targets.dtype, logits.shape, 1) == targets[:, None]
  grad = cotangent[:, None] * (jnp.exp(logits - log_normalizer[:, None]) - is_target.astype(logits.dtype))
  if softcap is not None:  # d/dx [c tanh(x / c)] = 1 - tanh(x / c)^2.
    grad = grad * (1.0 - jnp.square(logits / softcap))
  grad = grad.astype(hidden.dtype)
  hidden_grad = jnp.einsum("nv,vd->nd", grad, table, preferred_element_type=jnp.float32).astype(hidden.dtype)
  table_grad = jnp.einsum("nv,nd->vd", grad, hidden, preferred_element_type=jnp.float32).astype(table.dtype)
  return hidden_grad, table_grad, np.zeros(targets.shape, jax.dtypes.float0)


_unembedding_losses.defvjp(_unembedding_losses_forward, _unembedding_losses_backward)


def _chunk_loss(hidden, table, targets, weights, softcap):
  """Summed weighted cross-entropy of one chunk: hidden `[B, C, D]`."""
  hidden = hidden.reshape(-1, hidden.shape[-1])
  targets, weights = targets.reshape(-1), weights.reshape(-1)
  return jnp.sum(_unembedding_losses(hidden, table, targets, softcap) * weights)


def chunked_cross_entropy(hidden, table, targets, weights, *, softcap: float | None,
                          chunk_length: int) -> LossSums:
  """Cross-entropy of `targets` given final hidden states, one sequence chunk at a time.

  Args:
    hidden: `[B, L, D]` final-norm hidden states (position t predicts targets[:, t]).
    table: `[V, D]` embedding table (Gemma ties input and output embeddings).
    targets: `[B, L]` target token ids.
    weights: `[B, L]` float loss weights (0 on padding and prompt tokens).
    softcap: Gemma's final logit softcap (None for none).
    chunk_length: Sequence positions per chunk; L is padded up to a multiple.
  """
  batch, length, dim = hidden.shape
  chunk_length = min(chunk_length, length)
  pad = -length % chunk_length
  if pad:
    hidden = jnp.pad(hidden, ((0, 0), (0, pad), (0, 0)))
    targets = jnp.pad(targets, ((0, 0), (0, pad)))
    weights = jnp.pad(weights, ((0, 0), (0, pad)))
  num_chunks = (length + pad) // chunk_length
  # [B, N*C, ...] -> [N, B, C, ...]: chunks over the sequence, batch (and its sharding) kept.
  split = lambda x: jnp.moveaxis(x.reshape(batch, num_chunks, chunk_length, *x.shape[2:]), 1, 0)
  chunk_fn = jax.checkpoint(lambda chunk: _chunk_loss(chunk[0], table, chunk[1], chunk[2], softcap))
  # `table` is closed over, so each chunk's backward adds into one table gradient.
  per_chunk = jax.lax.map(chunk_fn, (split(hidden), split(targets), split(weights.astype(jnp.float32))))
  return LossSums(loss_sum=jnp.sum(per_chunk), weight_sum=jnp.sum(weights.astype(jnp.float32)))


def full_logits_cross_entropy(hidden, table, targets, weights, *, softcap: float | None) -> LossSums:
  """The naive loss: all logits at once. For tests and the memory benchmark."""
  loss_sum = _chunk_loss(hidden, table, targets, weights.astype(jnp.float32), softcap)
  return LossSums(loss_sum=loss_sum, weight_sum=jnp.sum(weights.astype(jnp.float32)))


def chunk_length_for(logits_shape: tuple[int, ...], *, chunk_length: int | None, budget_mib: float) -> int | None:
  """Positions per loss chunk for `[B, L, vocab]` logits, or None for full logits.

  Full logits are faster but their float32 array (and its gradient) grows with
  B x L x vocab: 1 GiB per 1024 positions of Gemma's 262k vocabulary. So chunk
  only when one float32 copy of the whole batch's logits (all devices together)
  would exceed `budget_mib`; `chunk_length` None or 0 never chunks, `budget_mib`
  0 always does.
  """
  if not chunk_length or math.prod(logits_shape) * 4 <= budget_mib * 2**20:
    return None
  return chunk_length


def packed_attention_mask(segment_ids: jax.Array) -> jax.Array:
  """`[B, L, L]` causal mask that keeps packed documents (segment ids > 0) apart."""
  same = segment_ids[:, :, None] == segment_ids[:, None, :]
  causal = jnp.tril(jnp.ones((segment_ids.shape[1],) * 2, bool))
  return same & causal[None] & (segment_ids[:, None, :] > 0)


def document_loss(model, params, batch, *, hidden_fn=forward.hidden_states, chunk_length: int | None = 128,
                  logits_budget_mib: float = 0, remat: bool = False):
  """Loss sums of a batch (`inputs`, `targets`, `weights`, `positions`, `segment_ids`).

  `hidden_fn(model, params, tokens, positions=, attention_mask=)` returns
  `(hidden, cache)`; the LoRA model passes its own. `chunk_length=None` uses
  full logits, and so do logits (of the positions that carry loss) within
  `logits_budget_mib` (see `chunk_length_for`; 0: chunk whatever the size).
  `remat` recomputes each block's activations in the backward pass (`forward.blocks`).
  """
  mask = packed_attention_mask(batch["segment_ids"])
  hidden, _ = hidden_fn(model, params, batch["inputs"], positions=batch["positions"], attention_mask=mask,
                        remat=remat)
  table = params["embedder"]["input_embedding"]
  softcap = model.config.final_logit_softcap
  targets, weights = batch["targets"], batch["weights"]
  if "loss_index" in batch:
    # Only the positions that carry loss are unembedded (see train/data.py `_compact_loss`).
    hidden = jnp.take_along_axis(hidden, batch["loss_index"][..., None], axis=1)
    targets, weights = batch["loss_targets"], batch["loss_weights"]
  chunk_length = chunk_length_for((*targets.shape, table.shape[0]), chunk_length=chunk_length,
                                  budget_mib=logits_budget_mib)
  if chunk_length is None:
    return full_logits_cross_entropy(hidden, table, targets, weights, softcap=softcap)
  return chunked_cross_entropy(hidden, table, targets, weights, softcap=softcap, chunk_length=chunk_length)
