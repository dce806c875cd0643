"""The train step, and its jit over the mesh with explicit shardings and donation.

    step = jit_train_step(make_train_step(tuning, tx, schedule), mesh, shardings)
    state, metrics = step(state, frozen, batch)
"""

from __future__ import annotations

import dataclasses
from typing import Any

import jax
import jax.numpy as jnp
import optax
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from icl_ft_jax import sharding as sharding_lib
from icl_ft_jax.train import loss as loss_lib
from icl_ft_jax.train.state import TrainState

BATCH_AXES = sharding_lib.BATCH_AXES  # The one batch layout, shared with scoring and sampling.


def make_train_step(tuning, optimizer: optax.GradientTransformation, schedule: optax.Schedule, *,
                    chunk_length: int | None = 128, logits_budget_mib: float = 0, remat: bool = False,
                    compute_dtype: jnp.dtype | None = None):
  """`step(state, frozen, batch) -> (state, metrics)`: one optimizer update on the batch mean loss.

  `compute_dtype` (mixed precision): the model runs on a copy of the params cast to it, so the
  gradients, the update and AdamW's moments stay in the params' dtype; the loss head still produces
  float32 logits (`loss._unembedding_losses`). None: the params' own dtype.
  """

  def train_step(state: TrainState, frozen, batch):
    def loss_fn(trainable):
      params = optax.tree.cast(tuning.combine(trainable, frozen), compute_dtype)  # None: left as it is.
      sums = loss_lib.document_loss(tuning.module, params, batch,
                                    hidden_fn=tuning.hidden_fn, chunk_length=chunk_length,
                                    logits_budget_mib=logits_budget_mib, remat=remat)
      return sums.mean, sums.weight_sum

    (loss, tokens), grads = jax.value_and_grad(loss_fn, has_aux=True)(state.params)
    updates, opt_state = optimizer.update(grads, state.opt_state, state.params)
    params = optax.apply_updates(state.params, updates)
    metrics = {"loss": loss, "loss_tokens": tokens, "grad_norm": optax.tree.norm(grads),
               "learning_rate": schedule(state.step)}
    return TrainState(step=state.step + 1, params=params, opt_state=opt_state), metrics

  return train_step


@dataclasses.dataclass(frozen=True, kw_only=True)
class StepShardings:
  state: Any  # TrainState of NamedShardings.
  frozen: Any
  batch: NamedSharding
  replicated: NamedSharding


def batch_sharding(mesh: Mesh) -> NamedSharding:
  return sharding_lib.batch_sharding(mesh)


def state_shardings(abstract_state: TrainState, mesh: Mesh, rules: sharding_lib.ShardingRules) -> TrainState:
  """Params and optimizer moments by the sharding rules (FSDP for large tensors); step replicated."""
  return TrainState(
      step=NamedSharding(mesh, P()),
      params=sharding_lib.param_shardings(abstract_state.params, mesh, rules),
      opt_state=sharding_lib.param_shardings(abstract_state.opt_state, mesh, rules))


def make_shardings(abstract_state, abstract_frozen, mesh: Mesh,
                   rules: sharding_lib.ShardingRules = sharding_lib.ShardingRules()) -> StepShardings:
  return StepShardings(state=state_shardings(abstract_state, mesh, rules),
                       frozen=sharding_lib.param_shardings(abstract_frozen, mesh, rules),
                       batch=batch_sharding(mesh), replicated=NamedSharding(mesh, P()))


def jit_train_step(train_step, shardings: StepShardings):
  """The step jitted over the mesh; the old state's buffers are donated to the new one."""
  return jax.jit(train_step, in_shardings=(shardings.state, shardings.frozen, shardings.batch),
                 out_shardings=(shardings.state, shardings.replicated), donate_argnums=(0,))


def abstract_state(optimizer: optax.GradientTransformation, abstract_trainable) -> TrainState:
  return TrainState(step=jax.ShapeDtypeStruct((), jnp.int32), params=abstract_trainable,
                    opt_state=jax.eval_shape(optimizer.init, abstract_trainable))
