"""`train.remat_blocks`: the same loss and gradients, with less memory held for the backward pass."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from icl_ft_jax import config_defaults, families
from icl_ft_jax.train import loss as loss_lib, lora, tuning as tuning_lib

from tests.train import helpers

LONG_TEXTS = tuple(" ".join(helpers.FACTS[i:] + helpers.FACTS[:i]) for i in range(4))


def _batch(tiny_model, max_length=24, texts=helpers.FACTS):
  cfg = helpers.config(batch_size=len(texts))
  cfg = dataclasses.replace(cfg, data=dataclasses.replace(cfg.data, max_length=max_length))
  return jax.tree.map(jnp.asarray, helpers.batches(tiny_model, cfg, texts)(0))


def _loss_fn(tuning, frozen, batch, remat, chunk_length=None):
  def loss(trainable):
    return loss_lib.document_loss(tuning.module, tuning.combine(trainable, frozen), batch, hidden_fn=tuning.hidden_fn,
                                  chunk_length=chunk_length, remat=remat).mean
  return loss


@pytest.mark.parametrize("lora_rank", [0, 4])  # Rank 4: the other LoRA tests use 2 on the same shared model.
def test_remat_gives_the_same_loss_and_gradients(tiny_model, lora_rank):
  tuning = tuning_lib.make_tuning(tiny_model.model, tuning_lib.TuningConfig(lora_rank=lora_rank), seed=0)
  trainable, frozen = tuning.initial_trainable(tiny_model.params), tuning.frozen(tiny_model.params)
  if lora_rank:
    trainable = jax.tree.map(lambda a: a + 0.01, trainable)  # Nonzero b: gradients reach a.
  batch = _batch(tiny_model)
  plain = jax.value_and_grad(_loss_fn(tuning, frozen, batch, remat=False))(trainable)
  remat = jax.value_and_grad(_loss_fn(tuning, frozen, batch, remat=True))(trainable)
  np.testing.assert_allclose(remat[0], plain[0], rtol=1e-6)
  leaves = jax.tree.leaves(plain[1])
  assert any(float(jnp.abs(g).max()) > 0 for g in leaves)
  for r, p in zip(jax.tree.leaves(remat[1]), leaves, strict=True):
    np.testing.assert_allclose(r, p, rtol=1e-4, atol=1e-6)


def _temp_bytes(fn, *args) -> int:
  return jax.jit(fn).lower(*args).compile().memory_analysis().temp_size_in_bytes


@pytest.mark.slow
def test_remat_holds_less_memory_for_the_backward_pass(tiny_model):
  """Compiled scratch memory of a gradient on long rows: each block's activations are recomputed, not kept."""
  from gemma import gm  # pylint: disable=g-import-not-at-top

  from icl_ft_jax.model import tiny  # pylint: disable=g-import-not-at-top

  deep = gm.nn.Transformer(config=tiny.tiny_gemma3_config(num_layers=8), dtype=jnp.float32)
  params = deep.init(jax.random.key(0), jnp.zeros((1, 4), jnp.int32))["params"]
  tuning = tuning_lib.make_tuning(deep, tuning_lib.TuningConfig(), seed=0)
  trainable, frozen = tuning.initial_trainable(params), tuning.frozen(params)
  batch = _batch(tiny_model, max_length=256, texts=LONG_TEXTS)
  assert batch["inputs"].shape[1] >= 128  # Long enough for activations to dominate the scratch memory.
  # Small loss chunks, so that the 262k-vocabulary logits do not hide the blocks' activations.
  plain = _temp_bytes(jax.grad(_loss_fn(tuning, frozen, batch, remat=False, chunk_length=8)), trainable)
  remat = _temp_bytes(jax.grad(_loss_fn(tuning, frozen, batch, remat=True, chunk_length=8)), trainable)
  assert remat < 0.8 * plain, (remat, plain)


def test_remat_refuses_a_cache_and_lora_training_takes_none(tiny_model):
  from icl_ft_jax.model import forward  # pylint: disable=g-import-not-at-top

  with pytest.raises(ValueError, match="no KV cache"):
    forward.blocks(tiny_model.model, None, {"layer_0": None}, remat=True)
  wrapped = lora.lora_model(tiny_model.model, 2)
  with pytest.raises(ValueError, match="no KV cache"):
    lora.hidden_states(wrapped, {}, jnp.zeros((1, 4), jnp.int32), cache={}, remat=True)


def test_long_row_families_rematerialise_by_default():
  """The families whose rows run to hundreds of tokens turn it on; short-row families keep the faster step."""
  schedules = {name: families.get(name).schedule for name in families.names()}
  assert {name for name, s in schedules.items() if s is not None and s.remat_blocks} == {
      "process_knowledge", "semantic_structure"}
  for name in families.names():
    schedule = families.get(name).schedule
    if schedule is not None:
      assert config_defaults.finetune(name)["train"].remat_blocks == schedule.remat_blocks
      assert (schedule.max_length >= 512) == schedule.remat_blocks
