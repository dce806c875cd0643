"""One step on 8 fake devices (data x fsdp mesh) equals one step on 1 device; params sharded as asked."""

import dataclasses

import jax
import numpy as np
from jax.sharding import PartitionSpec as P

from icl_ft_jax import sharding
from icl_ft_jax.model import loading
from icl_ft_jax.train import trainer

from tests.train import helpers

# Small enough that the tiny model's block weights are sharded too, not only its embedding.
RULES = sharding.ShardingRules(fsdp_min_size=256)


def _one_step(mesh, cfg):
  loaded = loading.load_model({"name": "tiny", "dtype": "float32"}, mesh=mesh, rules=RULES, seed=0)
  run = trainer.prepare(loaded, cfg, mesh=mesh, rules=RULES)
  state = run.initial_state(loaded.params)
  batch = jax.device_put(helpers.batches(loaded, cfg)(0), run.shardings.batch)
  state, metrics = run.train_step(state, run.frozen, batch)
  return run, state, metrics


def _on_one_and_eight_devices(cfg, eight_axes):
  """One step on 1 device and on 8 (`eight_axes`), the 8-device state checked to be sharded as asked."""
  _, state1, metrics1 = _one_step(sharding.make_mesh({"data": 1}, devices=jax.devices()[:1]), cfg)
  run8, state8, metrics8 = _one_step(sharding.make_mesh(eight_axes), cfg)
  sharding.check_sharded_as(state8.params, run8.shardings.state.params)
  sharding.check_sharded_as(state8.opt_state, run8.shardings.state.opt_state)
  return (state1, metrics1), (state8, metrics8)


def test_eight_devices_equal_one():
  cfg = helpers.config(learning_rate=1e-3)
  (state1, metrics1), (state8, metrics8) = _on_one_and_eight_devices(cfg, {"data": 4, "fsdp": 2})

  embedding = state8.params["embedder"]["input_embedding"]
  assert embedding.sharding.spec == P("fsdp", None)
  assert len(embedding.addressable_shards) == 8 and embedding.addressable_shards[0].data.shape[0] == 262144 // 2
  gating = state8.params["layer_0"]["mlp"]["gating_einsum"]
  assert "fsdp" in gating.sharding.spec

  np.testing.assert_allclose(metrics1["loss"], metrics8["loss"], rtol=1e-6)
  np.testing.assert_allclose(metrics1["grad_norm"], metrics8["grad_norm"], rtol=1e-5)
  # Adam's first step divides each gradient element by its own magnitude (plus eps = 1e-8), so an
  # element whose gradient is near eps turns float reduction-order noise into ~1e-6 of the update.
  for a, b in zip(jax.tree.leaves(state1.params), jax.tree.leaves(state8.params)):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-5)
  assert int(state8.step) == 1


def test_mixed_precision_keeps_the_state_sharded_and_float32_on_eight_devices():
  """The bfloat16 copy is made inside the step, shard by shard: the state keeps its float32 shards."""
  cfg = helpers.config(learning_rate=1e-3)
  cfg = dataclasses.replace(cfg, loop=dataclasses.replace(cfg.loop, compute_dtype="bfloat16"))
  (_, metrics1), (state8, metrics8) = _on_one_and_eight_devices(cfg, {"data": 2, "fsdp": 4})
  assert {x.dtype for x in jax.tree.leaves(state8.params)} == {np.dtype("float32")}
  # bfloat16 sums in another order on 8 devices: equal to bfloat16's precision, not float32's.
  np.testing.assert_allclose(metrics1["loss"], metrics8["loss"], rtol=1e-2)
