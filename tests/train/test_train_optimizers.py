"""Each `optimizer.name` builds the optimizer it names: all three train the tiny model, each with its
own moments; SGD's first step is exactly -learning rate x gradient."""

import dataclasses

import jax
import numpy as np
import pytest

from icl_ft_jax.errors import ConfigError
from icl_ft_jax.train import loss as loss_lib, optimizer as optimizer_lib, trainer, tuning as tuning_lib

from tests.train import helpers


def _config(name: str, learning_rate: float, **optimizer) -> trainer.FinetuneConfig:
  cfg = helpers.config(steps=3, learning_rate=learning_rate)
  return dataclasses.replace(cfg, optimizer=dataclasses.replace(cfg.optimizer, name=name, **optimizer))


def _train(model, mesh, cfg, steps):
  run = trainer.prepare(model, cfg, mesh=mesh)
  state = run.initial_state(model.params)
  moments = tuning_lib.count_params(state.opt_state)
  batches, losses = helpers.batches(model, cfg), []
  for step in range(steps):
    state, metrics = run.train_step(state, run.frozen, jax.device_put(batches(step), run.shardings.batch))
    losses.append(float(metrics["loss"]))
  return state, losses, moments


# Moments per trainable parameter: AdamW two full copies, SGD one (momentum), Adafactor one (no first
# moment; the tiny model's matrices are 32 wide, under optax's 128 for factoring the second).
@pytest.mark.parametrize("name, learning_rate, moments_per_param", [
    ("adamw", 1e-2, (2.0, 2.01)), ("adafactor", 1e-2, (1.0, 1.01)), ("sgd", 1.0, (1.0, 1.01))])
def test_each_optimizer_trains_the_tiny_model(tiny_model, one_device_mesh, name, learning_rate, moments_per_param):
  state, losses, moments = _train(tiny_model, one_device_mesh, _config(name, learning_rate), steps=3)
  low, high = moments_per_param
  assert low <= moments / tuning_lib.count_params(state.params) < high
  assert np.isfinite(losses).all() and losses[-1] < losses[0], losses  # The same 8 documents every step.


def test_sgd_first_step_is_minus_learning_rate_times_the_gradient(tiny_model, one_device_mesh):
  cfg = _config("sgd", 0.5, grad_clip_norm=0.0)
  batch = helpers.batches(tiny_model, cfg)(0)
  grads = jax.grad(lambda p: loss_lib.document_loss(tiny_model.model, p, batch,
                                                    chunk_length=cfg.loop.loss_chunk_length).mean)(tiny_model.params)
  state, _, _ = _train(tiny_model, one_device_mesh, cfg, steps=1)
  want = jax.tree.map(lambda p, g: p - 0.5 * g, tiny_model.params, grads)
  jax.tree.map(lambda got, w: np.testing.assert_allclose(got, w, atol=1e-6, rtol=0), state.params, want)


def test_unknown_optimizer_is_refused():
  with pytest.raises(ConfigError, match=r"optimizer.name 'lion' is not one of \('adamw', 'adafactor', 'sgd'\)"):
    optimizer_lib.OptimizerConfig(name="lion")
