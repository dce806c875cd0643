"""LoRA through gemma's own wrapper: `gm.nn.LoRA` adapters on every Einsum of the blocks.

Only the adapters (`.../lora/{a,b}`) are trained and saved; the base params stay
as loaded. For evaluation the adapters are merged into the base weights
(`W + a @ b`, per Einsum) so that the scorer runs the plain model at full speed.

The training forward stops before the unembedding (see `model/forward.py`):
it calls the wrapped Transformer's blocks inside the same `peft.ModuleInterceptor`
that `gm.nn.LoRA.__call__` sets up. gemma's private pieces this needs come from
`model/gemma_internals.py`.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
from flax import linen as nn

from icl_ft_jax.model import forward, gemma_internals


def _probe_tokens() -> jax.Array:
  """Tokens to trace `init` with; made on call, since an array at import would start the JAX
  backend before `jax.distributed.initialize` could run."""
  return jnp.zeros((1, 4), jnp.int32)


def lora_model(model, rank: int):
  """`model` wrapped so that its Einsums carry rank-`rank` adapters (in the model's dtype)."""
  from gemma import gm  # pylint: disable=g-import-not-at-top

  return gm.nn.LoRA(rank=rank, model=model, dtype=model.dtype)


def _adapters(wrapped, key):
  """The wrapped model's adapters, initialised by tracing its blocks under the LoRA interceptor.

  Not through `wrapped.init(key, tokens)`: that calls gemma's `Transformer.__call__`, jitted with
  `nn.jit`, whose trace cache is keyed on the base module and the arguments, not on the
  interceptor. A second LoRA of another rank on the same model then reused the first trace and
  got the first rank's adapters (then failed in the forward, which traces the blocks).
  """
  from gemma import peft  # pylint: disable=g-import-not-at-top

  params = wrapped.init(key, _probe_tokens(), None, None, False, method=_hidden_with_adapters)["params"]
  return peft.split_params(params).lora  # Base init is dead code.


def init_adapters(wrapped, seed: int, out_shardings=None):
  """Fresh adapters (a: kaiming-uniform, b: zero, so training starts at the base model)."""
  return jax.jit(lambda key: _adapters(wrapped, key), out_shardings=out_shardings)(jax.random.key(seed))


def abstract_adapters(wrapped):
  return jax.eval_shape(lambda: _adapters(wrapped, jax.random.key(0)))


def combine(base_params, adapters):
  """The wrapped model's params: base params with the adapter branches added."""
  from gemma import peft  # pylint: disable=g-import-not-at-top

  return peft.merge_params(base_params, adapters)


def _hidden_with_adapters(module, tokens, positions, attention_mask, remat):
  from gemma import peft  # pylint: disable=g-import-not-at-top

  with peft.ModuleInterceptor(gemma_internals.lora_replacer(module.rank, module.dtype)):
    inputs = gemma_internals.encode_inputs(module.model, tokens, positions, attention_mask)
    return forward.blocks(module.model, inputs, None, remat)


def hidden_states(wrapped, params, tokens, *, positions=None, attention_mask=None, cache=None, remat=False):
  """Final-norm hidden states of the LoRA model (same contract as `model.forward.hidden_states`)."""
  if cache is not None:
    raise ValueError("The LoRA training forward takes no KV cache; merge the adapters to sample or score.")
  x, _ = wrapped.apply({"params": params}, tokens, positions, attention_mask, remat,
                       method=_hidden_with_adapters)
  return x, None


def _blocks(module, tokens):
  inputs = gemma_internals.encode_inputs(module, tokens, None, None)
  return gemma_internals.apply_blocks(module, inputs, None)


def einsum_equations(model) -> dict[tuple[str, ...], str]:
  """Param path of each Einsum weight -> its einsum equation, found by tracing the blocks once.

  Traces the blocks, not `model.__call__`: gemma jits `__call__` with `nn.jit`, whose trace cache
  is keyed on the module, so once any run of the model was traced with the same shapes, Python
  (and this interceptor) never runs again and nothing would be found -- the merge would then
  silently return the base weights.
  """
  from gemma import gm  # pylint: disable=g-import-not-at-top

  found = {}

  def record(next_fun, args, kwargs, context):
    module = context.module
    if isinstance(module, gm.nn.Einsum) and context.method_name == "__call__":
      eqn = args[0] if args else kwargs["eqn"]
      found[tuple(module.scope.path) + (module.weight_name,)] = eqn
    return next_fun(*args, **kwargs)

  with nn.intercept_methods(record):
    jax.eval_shape(lambda: model.init(jax.random.key(0), _probe_tokens(), method=_blocks))
  if not found:
    raise RuntimeError(f"Found no Einsum in {type(model).__name__}'s blocks: LoRA adapters could not be merged.")
  return found


def _adapter_for(adapters, weight_path: tuple[str, ...]):
  """The `{a, b}` adapter of the Einsum weight at `weight_path`, or None.

  gm.nn.LoRA stores it next to the weight as `_LoRAEinsum_<weight_name>/lora` for
  the MLP's shared-scope Einsums and `_LoRAEinsum_0/lora` for the attention ones
  (`gemma_internals.LORA_SCOPE_PREFIX`).
  """
  node = adapters
  for key in weight_path[:-1]:
    if not isinstance(node, dict) or key not in node:
      return None
    node = node[key]
  weight_name = weight_path[-1]
  prefix = gemma_internals.LORA_SCOPE_PREFIX
  for name, child in node.items():
    suffix = name.removeprefix(prefix)
    if name.startswith(prefix) and (suffix == weight_name or (weight_name == "w" and suffix.isdigit())):
      return child["lora"]
  return None


def merge(model, base_params, adapters, equations: dict[tuple[str, ...], str] | None = None):
  """Base params with every adapted weight replaced by `W + a @ b` (the plain model's tree)."""
  equations = equations if equations is not None else einsum_equations(model)
  merged = jax.tree.map(lambda x: x, base_params)  # A copy of the dict structure; arrays shared.
  for weight_path, eqn in equations.items():
    adapter = _adapter_for(adapters, weight_path)
    if adapter is None:
      continue
    parent = merged
    for key in weight_path[:-1]:
      parent = parent[key]
    weight = parent[weight_path[-1]]
    rank = adapter["b"].shape[0]
    lora_eqn = gemma_internals.lora_einsum_str(eqn, weight.shape, rank)
    weights_str = gemma_internals.einsum_weights_str(eqn)
    a_str, b_str = lora_eqn.split("->")[0].split(",")[1:]
    delta = jnp.einsum(f"{a_str},{b_str}->{weights_str}", adapter["a"], adapter["b"],
                       preferred_element_type=jnp.float32)
    parent[weight_path[-1]] = (weight.astype(jnp.float32) + delta).astype(weight.dtype)
  return merged
