"""The loss chunks only when full logits would exceed `train.loss_logits_budget_mib`, with the same result."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from icl_ft_jax.errors import ConfigError
from icl_ft_jax.train import loop, loss as loss_lib, trainer

from tests.train import helpers

MIB = 2**20


def test_chunk_length_follows_the_budget():
  shape = (2, 8, 1024)  # float32 logits: 2 x 8 x 1024 x 4 bytes = 64 KiB.
  logits_mib = 2 * 8 * 1024 * 4 / MIB
  assert loss_lib.chunk_length_for(shape, chunk_length=4, budget_mib=logits_mib) is None  # Fits: full logits.
  assert loss_lib.chunk_length_for(shape, chunk_length=4, budget_mib=logits_mib * 0.99) == 4
  assert loss_lib.chunk_length_for(shape, chunk_length=4, budget_mib=0) == 4  # 0: always chunk.
  assert loss_lib.chunk_length_for(shape, chunk_length=0, budget_mib=0) is None  # No chunk length: never.
  assert loss_lib.chunk_length_for(shape, chunk_length=None, budget_mib=0) is None
  # The study's shapes on a 262k vocabulary chunk under the default budget.
  default = loop.LoopConfig().loss_logits_budget_mib
  assert loss_lib.chunk_length_for((8, 1024, 262_144), chunk_length=32, budget_mib=default) == 32
  assert loss_lib.chunk_length_for((8, 48, 262_144), chunk_length=32, budget_mib=default) is None


def _map_loops(jaxpr) -> int:
  """`jax.lax.map` (the chunk loop) appears as a scan in the traced program."""
  return str(jaxpr).count("scan[")


def test_document_loss_chunks_only_over_the_budget_and_agrees(tiny_model):
  batch = jax.tree.map(jnp.asarray, helpers.batches(tiny_model, helpers.config())(0))
  vocab = tiny_model.params["embedder"]["input_embedding"].shape[0]
  logits_mib = batch["targets"].size * vocab * 4 / MIB
  assert "loss_index" not in batch  # The logits cover every position, as `logits_mib` assumes.

  def loss(budget):
    return lambda params: loss_lib.document_loss(tiny_model.model, params, batch, chunk_length=8,
                                                 logits_budget_mib=budget).mean

  full, chunked = loss(logits_mib), loss(logits_mib * 0.99)
  loops = _map_loops(jax.make_jaxpr(full)(tiny_model.params))
  assert _map_loops(jax.make_jaxpr(chunked)(tiny_model.params)) > loops
  value, grads = jax.value_and_grad(full)(tiny_model.params)
  chunked_value, chunked_grads = jax.value_and_grad(chunked)(tiny_model.params)
  np.testing.assert_allclose(value, chunked_value, rtol=1e-6)
  for g, c in zip(jax.tree.leaves(grads), jax.tree.leaves(chunked_grads)):
    np.testing.assert_allclose(g, c, rtol=1e-4, atol=1e-6)


def test_train_step_takes_the_budget_from_the_config(tiny_model, one_device_mesh):
  cfg = helpers.config()
  batch = helpers.batches(tiny_model, cfg)(0)

  def step_loops(budget_mib: int) -> int:
    config = dataclasses.replace(cfg, loop=dataclasses.replace(cfg.loop, loss_logits_budget_mib=budget_mib))
    run = trainer.prepare(tiny_model, config, mesh=one_device_mesh)
    return _map_loops(jax.make_jaxpr(run.train_step)(run.initial_state(tiny_model.params), run.frozen, batch))

  assert step_loops(0) > step_loops(1024)


def test_negative_budget_is_a_config_error():
  with pytest.raises(ConfigError, match="loss_logits_budget_mib"):
    loop.LoopConfig(loss_logits_budget_mib=-1)
