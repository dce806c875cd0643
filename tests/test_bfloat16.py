"""bfloat16 weights (the default on TPU): scoring, the cached context and a training step give finite
numbers close to float32's on the tiny model, and the run really computes in bfloat16."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from icl_ft_jax.model import loading
from icl_ft_jax.scoring import MCItem, Scorer
from icl_ft_jax.train import trainer

from tests.train import helpers

ITEMS = [MCItem(prompt=f"Fact {i}: the zorp is", choices=(" blue", " large and round", " Klemp")) for i in range(4)]
CONTEXT = "Glons are brighter than femps. Zorps are large and round.\n\n"


@pytest.fixture(scope="module")
def bf16_model(tiny_model):
  """The tiny model in bfloat16 with the float32 model's weights rounded (its own init draws others)."""
  loaded = loading.load_model({"name": "tiny", "dtype": "bfloat16"}, seed=0)
  assert {x.dtype for x in jax.tree.leaves(loaded.params)} == {jnp.dtype(jnp.bfloat16)}
  return dataclasses.replace(loaded, params=jax.tree.map(lambda x: x.astype(jnp.bfloat16), tiny_model.params))


def _logprobs(model, mesh, **kwargs) -> np.ndarray:
  scorer = Scorer(model.model, model.params, model.tokenizer, mesh, batch_size=4, progress=False)
  return np.array([[c.logprob for c in q.choices] for q in scorer.score(ITEMS, **kwargs)])


@pytest.mark.parametrize("context", [None, CONTEXT])
def test_scores_are_close_to_float32(bf16_model, tiny_model, one_device_mesh, context):
  low = _logprobs(bf16_model, one_device_mesh, context=context)
  full = _logprobs(tiny_model, one_device_mesh, context=context)
  assert np.isfinite(low).all()
  assert not np.array_equal(low, full)  # Computed in bfloat16, not silently upcast.
  np.testing.assert_allclose(low, full, rtol=0.02)  # ~12 nats per token; bfloat16 keeps ~3 digits.


def test_training_steps_are_close_to_float32(bf16_model, tiny_model, one_device_mesh):
  cfg = helpers.config(steps=3)

  def losses(model):
    run = trainer.prepare(model, cfg, mesh=one_device_mesh)
    state, out = run.initial_state(model.params), []
    batches = helpers.batches(model, cfg)
    for step in range(3):
      state, metrics = run.train_step(state, run.frozen, jax.device_put(batches(step), run.shardings.batch))
      out.append(float(metrics["loss"]))
    return np.array(out), state

  low, state = losses(bf16_model)
  full, _ = losses(tiny_model)
  assert np.isfinite(low).all() and low[-1] < low[0]
  assert {x.dtype for x in jax.tree.leaves(state.params)} == {jnp.dtype(jnp.bfloat16)}
  np.testing.assert_allclose(low, full, rtol=0.02)
