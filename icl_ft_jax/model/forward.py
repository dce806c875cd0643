"""Forward passes that stop before the unembedding, and log-probs at chosen positions.

The gemma `Transformer.__call__` always unembeds every position into 262k logits,
about two thirds of the 270M model's scoring FLOPs. Scoring only needs logits
where a continuation token is predicted, so these functions run the blocks, gather
those hidden states, and unembed only them. They use the module's own
`_encode_and_get_inputs` and `_apply_attention` through `gemma_internals` (the
tests compare against the full forward).
"""

from __future__ import annotations

import jax
import jax.numpy as jnp

from icl_ft_jax.model import gemma_internals


def blocks(module, inputs, cache, remat: bool = False):
  """`(hidden, cache)` of gemma's blocks; `remat` recomputes each block's activations in the backward
  pass (training with long rows; no cache)."""
  if not remat:
    return gemma_internals.apply_blocks(module, inputs, cache)
  if cache is not None:
    raise ValueError("Rematerialised blocks are for training and take no KV cache.")
  return gemma_internals.apply_blocks_rematerialised(module, inputs), None


def _hidden(module, tokens, positions, attention_mask, cache, remat):
  inputs = gemma_internals.encode_inputs(module, tokens, positions, attention_mask)
  return blocks(module, inputs, cache, remat)


def hidden_states(model, params, tokens, *, positions=None, attention_mask=None, cache=None, remat=False):
  """Final-norm hidden states `[B, L, D]` and the updated cache (None without one).

  `remat=True` keeps one block's activations at a time for the backward pass (see `blocks`).
  """
  x, new_cache = model.apply({"params": params}, tokens, positions, attention_mask, cache, remat, method=_hidden)
  return x, (new_cache if cache is not None else None)


def softcap_logits(logits, softcap: float | None):
  """Gemma's final logit softcap, `softcap * tanh(logits / softcap)` (None: none)."""
  return logits if softcap is None else jnp.tanh(logits / softcap) * softcap


def unembed(model, params, x):
  """Logits in float32 for hidden states `x` (`[..., D]`)."""
  table = params["embedder"]["input_embedding"]
  logits = jnp.einsum("...d,vd->...v", x, table, preferred_element_type=jnp.float32)
  return softcap_logits(logits, model.config.final_logit_softcap)


def target_logprobs(model, params, hidden, gather_index, targets, mask):
  """Log-prob of `targets` predicted from `hidden` at `gather_index`, and greediness.

  Args:
    hidden: `[B, L, D]` hidden states.
    gather_index: `[B, C]` positions whose hidden state predicts each target.
    targets: `[B, C]` target token ids.
    mask: `[B, C]` which entries are real.

  Returns:
    `(logprob [B, C], is_argmax [B, C])`, zero / True where `mask` is False.
  """
  picked = jnp.take_along_axis(hidden, gather_index[..., None], axis=1)  # [B, C, D]
  logits = unembed(model, params, picked)  # [B, C, V] float32: C is the scored positions only.
  # log_softmax at the targets alone: no second [B, C, V] array (a packed row scores ~100+ positions).
  target_logit = jnp.take_along_axis(logits, targets[..., None], axis=-1)[..., 0]
  target_lp = target_logit - jax.nn.logsumexp(logits, axis=-1)
  is_argmax = jnp.argmax(logits, axis=-1) == targets
  return jnp.where(mask, target_lp, 0.0), jnp.where(mask, is_argmax, True)
