"""Every private piece of the gemma library we rely on, reached only here.

gemma has no public API for what we need in four places: running the blocks without the
262k-way unembedding (`Transformer._encode_and_get_inputs`, `._apply_attention`, and for a
rematerialised copy of its loop `Block.__call__`); attention after a shared context without a
per-row cache, for scoring, prefilling and decoding (`Attention.__call__` replaced, with gemma's
`apply_rope` and `K_MASK`); the same under LoRA (`gm.nn._lora._replace_by_lora`); and merging LoRA
adapters into the weights (`gemma.peft._einsum_utils`). Each is listed in `INTERNALS` with the keyword arguments we
pass, and looked up on first use: a gemma that moved one fails with a `UserError` naming it
(`tests/model/test_gemma_internals.py` checks them all), not with an AttributeError deep in
a jitted function. They were read from gemma `WRITTEN_FOR` (pinned in requirements.lock).

Imports gemma lazily: importing this module starts nothing.
"""

from __future__ import annotations

import dataclasses
import functools
import importlib
import inspect

from icl_ft_jax.errors import UserError

WRITTEN_FOR = "4.0.1"


@dataclasses.dataclass(frozen=True)
class Internal:
  """A private gemma symbol: `module`.`name` (a dotted path inside it), and the keywords we pass."""

  module: str
  name: str
  keywords: tuple[str, ...] = ()

  @property
  def path(self) -> str:
    return f"{self.module}.{self.name}"


ENCODE_INPUTS = Internal("gemma.gm.nn._transformer", "Transformer._encode_and_get_inputs",
                         ("tokens", "positions", "attention_mask"))
APPLY_BLOCKS = Internal("gemma.gm.nn._transformer", "Transformer._apply_attention", ("inputs", "cache"))
# Our rematerialised copy of `_apply_attention`'s loop calls each block itself.
BLOCK_CALL = Internal("gemma.gm.nn._modules", "Block.__call__", ("x", "segment_pos", "cache", "attn_mask"))
# Attention after a shared context without per-row cache copies (`shared_context.py`) replaces this
# method for its layers, with gemma's RoPE and masked-logit value.
ATTENTION_CALL = Internal("gemma.gm.nn._modules", "Attention.__call__", ("x", "segment_pos", "cache", "attn_mask"))
APPLY_ROPE = Internal("gemma.gm.math._positional_embeddings", "apply_rope",
                      ("inputs", "positions", "base_frequency", "scale_factor"))
MASKED_LOGIT = Internal("gemma.gm.nn._modules", "K_MASK")
REPLACE_BY_LORA = Internal("gemma.gm.nn._lora", "_replace_by_lora", ("rank", "dtype", "verbose"))
LORA_EINSUM = Internal("gemma.gm.nn._lora", "_LoRAEinsum")
LORA_EINSUM_STR = Internal("gemma.peft._einsum_utils", "get_lora_einsum_str_and_shapes",
                           ("einsum_str", "weights_shape", "rank"))
SPLIT_EINSUM_STR = Internal("gemma.peft._einsum_utils", "_split_einsum_str", ("einsum_str",))

INTERNALS = (ENCODE_INPUTS, APPLY_BLOCKS, BLOCK_CALL, ATTENTION_CALL, APPLY_ROPE, MASKED_LOGIT, REPLACE_BY_LORA,
             LORA_EINSUM, LORA_EINSUM_STR, SPLIT_EINSUM_STR)

# Flax names each adapter scope after gemma's private `_LoRAEinsum` class: `_LoRAEinsum_<weight>`
# for the MLP's shared-scope Einsums, `_LoRAEinsum_0` for the attention ones.
LORA_SCOPE_PREFIX = "_LoRAEinsum_"


def _moved(what: str) -> UserError:
  import gemma  # pylint: disable=g-import-not-at-top

  version = getattr(gemma, "__version__", "?")
  return UserError(
      f"gemma {version} {what} (icl_ft_jax was written for gemma {WRITTEN_FOR}): install the version in"
      f" requirements.lock, or update icl_ft_jax/model/gemma_internals.py.")


@functools.cache
def resolve(internal: Internal):
  """The symbol, after checking that it exists and takes the keywords we pass."""
  try:
    found = importlib.import_module(internal.module)
  except ImportError:
    raise _moved(f"has no module {internal.module} (for {internal.path})") from None
  for part in internal.name.split("."):
    if not hasattr(found, part):
      raise _moved(f"has no {internal.path}")
    found = getattr(found, part)
  if internal.keywords:
    parameters = inspect.signature(found).parameters
    missing = [k for k in internal.keywords if k not in parameters]
    if missing:
      raise _moved(f"changed {internal.path}: it takes no {', '.join(missing)}")
  return found


def _method(module, internal: Internal):
  resolve(internal)
  return getattr(module, internal.name.rsplit(".", 1)[-1])  # The bound method: subclasses may override it.


def encode_inputs(transformer, tokens, positions, attention_mask):
  """The embedded tokens, positions and attention mask the blocks take (gemma's `_Inputs`)."""
  return _method(transformer, ENCODE_INPUTS)(tokens=tokens, positions=positions, attention_mask=attention_mask)


def apply_blocks(transformer, inputs, cache):
  """`(final-norm hidden states [B, L, D], updated cache)`: every block, no unembedding."""
  return _method(transformer, APPLY_BLOCKS)(inputs, cache)


def _block_output(block, x, positions, attention_mask):
  _, x = block(x, positions, None, attention_mask)
  return x


def apply_blocks_rematerialised(transformer, inputs):
  """Final-norm hidden states like `apply_blocks` (no cache), keeping only each block's input for the
  backward pass and recomputing the rest: activation memory of one block instead of all of them, for
  about a third more compute (the forward runs twice)."""
  from flax import linen as nn  # pylint: disable=g-import-not-at-top

  resolve(BLOCK_CALL)
  run = nn.remat(_block_output)
  x = inputs.embeddings
  for block in transformer.blocks:
    x = run(block, x, inputs.positions, inputs.attention_mask)
  return transformer.final_norm(x)


def attention_class():
  """gemma's attention module, whose `__call__` `shared_context` replaces for rows after a context."""
  resolve(ATTENTION_CALL)
  return importlib.import_module(ATTENTION_CALL.module).Attention


def local_attention_type():
  """gemma's sliding-window attention type (public)."""
  from gemma import gm  # pylint: disable=g-import-not-at-top

  return gm.nn.config.AttentionType.LOCAL_SLIDING


def rope():
  """gemma's `apply_rope(inputs, positions, *, base_frequency, scale_factor)`."""
  return resolve(APPLY_ROPE)


def masked_logit() -> float:
  """The logit gemma gives a masked key (a large negative number, not -inf: a row of padding stays finite)."""
  return float(resolve(MASKED_LOGIT))


def lora_replacer(rank: int, dtype):
  """What `gm.nn.LoRA` intercepts each module with: Einsums become rank-`rank` LoRA Einsums."""
  return functools.partial(resolve(REPLACE_BY_LORA), rank=rank, dtype=dtype, verbose=False)


def lora_einsum_str(eqn: str, weights_shape, rank: int) -> str:
  """`inputs,a,b->outputs` for an Einsum `inputs,weights->outputs` with rank-`rank` adapters."""
  lora_eqn, _, _ = resolve(LORA_EINSUM_STR)(einsum_str=eqn, weights_shape=weights_shape, rank=rank)
  return lora_eqn


def einsum_weights_str(eqn: str) -> str:
  """The weights operand of `inputs,weights->outputs`."""
  _, weights, _ = resolve(SPLIT_EINSUM_STR)(eqn)
  return weights
