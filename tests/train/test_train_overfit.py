"""The tiny model overfits a handful of documents: the loss falls steadily."""

import jax

from icl_ft_jax.train import trainer

from tests.train import helpers


def test_loss_decreases(tiny_model, one_device_mesh):
  cfg = helpers.config(steps=30, learning_rate=1e-2)
  run = trainer.prepare(tiny_model, cfg, mesh=one_device_mesh)
  state = run.initial_state(tiny_model.params)
  batches = helpers.batches(tiny_model, cfg)
  losses = []
  for step in range(cfg.loop.steps):
    state, metrics = run.train_step(state, run.frozen, jax.device_put(batches(step), run.shardings.batch))
    losses.append(float(metrics["loss"]))
  assert losses[-1] < 0.5 * losses[0], losses
  assert min(losses[-5:]) < min(losses[:5])
