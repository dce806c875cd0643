"""`initial_state(..., donate=True)`: training in the loaded params' own buffers, with the same steps."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from icl_ft_jax.train import trainer

from tests.train import helpers


def _losses(run, state, batches, steps=3):
  losses = []
  for step in range(steps):
    state, metrics = run.train_step(state, run.frozen, jax.device_put(batches(step), run.shardings.batch))
    losses.append(float(metrics["loss"]))
  return losses


@pytest.mark.parametrize("freeze_embedding", [False, True])
def test_donated_params_train_the_same_and_are_spent(tiny_model, one_device_mesh, freeze_embedding):
  cfg = helpers.config(steps=3, freeze_embedding=freeze_embedding)
  run = trainer.prepare(tiny_model, cfg, mesh=one_device_mesh)
  batches = helpers.batches(tiny_model, cfg)
  kept = jax.tree.map(jnp.copy, tiny_model.params)
  given = jax.tree.map(jnp.copy, tiny_model.params)
  copied_state = run.initial_state(kept)
  donated_state = run.initial_state(given, donate=True)
  # The default leaves the caller's params alive; donation spends exactly the trainable ones.
  assert not any(x.is_deleted() for x in jax.tree.leaves(kept))
  trainable = run.tuning.initial_trainable(given)
  assert all(x.is_deleted() for x in jax.tree.leaves(trainable))
  assert not any(x.is_deleted() for x in jax.tree.leaves(run.tuning.frozen(given)))
  np.testing.assert_allclose(_losses(run, donated_state, batches), _losses(run, copied_state, batches), rtol=1e-6)
