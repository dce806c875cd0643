"""Every stage with a batch splits it over every batch device, and gives the 1-device numbers.

Meshes of the 8 fake CPU devices: all FSDP, data x FSDP, and data x FSDP x tensor (params split by
heads and MLP units, each batch shard shared by two tensor devices).
"""

import dataclasses

import jax
import numpy as np
import pytest
from jax.sharding import PartitionSpec as P

from icl_ft_jax import sharding
from icl_ft_jax.augment import sampling
from icl_ft_jax.errors import ConfigError, UserError
from icl_ft_jax.scoring import MCItem, Scorer

from tests import config_files

MESHES = [{"data": 1, "fsdp": 8}, {"data": 2, "fsdp": 4}, {"data": 2, "fsdp": 2, "tensor": 2}]
RULES = sharding.ShardingRules(fsdp_min_size=256)  # Split the tiny model's small matrices too.
ITEMS = [MCItem(prompt=f"The zorp number {i} is", choices=(" blue", " large and round", " Klemp"))
         for i in range(5)]
CONTEXT = "".join(f"Fact {i}: the zorp number {i} is {c}.\n\n" for i, c in enumerate(["blue", "large", "Klemp"] * 4))
SUFFIXES = tuple(f"Statement: the zorp number {i} is blue.\nFollows:\n" for i in range(5))
SAMPLING = dict(max_new_tokens=6, batch_size=8, prompt_buckets=(32, 256))


@pytest.fixture(name="spy")
def _spy(monkeypatch):
  """Records every batch put on the mesh and every sampled batch read back."""
  seen = {"put": [], "read": []}
  put, read = sharding.global_batch, sharding.to_host

  def global_batch(tree, batch_sharding):
    out = put(tree, batch_sharding)
    seen["put"] += jax.tree.leaves(out)
    return out

  def to_host(array):
    seen["read"].append(array)
    return read(array)

  monkeypatch.setattr(sharding, "global_batch", global_batch)
  monkeypatch.setattr(sharding, "to_host", to_host)
  return seen


def _placed(tiny_model, axes):
  mesh = sharding.make_mesh(axes)
  params = jax.device_put(tiny_model.params, sharding.param_shardings(tiny_model.params, mesh, RULES))
  return mesh, dataclasses.replace(tiny_model, params=params)


def _assert_split_over_every_device(arrays, mesh):
  split = sharding.batch_split(mesh)
  assert arrays and split == 8 // mesh.shape.get("tensor", 1)
  for array in arrays:
    assert array.sharding.device_set == set(jax.devices()), array.sharding
    assert array.sharding.shard_shape(array.shape)[0] == array.shape[0] // split, array.sharding


def _logprobs(scores):
  return np.array([c.logprob for q in scores for c in q.choices])


@pytest.mark.parametrize("axes", MESHES, ids=str)
def test_scorer_splits_rows_over_every_device_and_matches_one(tiny_model, one_device_mesh, axes, spy):
  mesh, placed = _placed(tiny_model, axes)
  one = Scorer(tiny_model.model, tiny_model.params, tiny_model.tokenizer, one_device_mesh, batch_size=8,
               progress=False)
  want = _logprobs(one.score(ITEMS)), _logprobs(one.score(ITEMS, context=CONTEXT))
  spy["put"].clear()
  scorer = Scorer(placed.model, placed.params, placed.tokenizer, mesh, batch_size=8, progress=False)
  got = _logprobs(scorer.score(ITEMS)), _logprobs(scorer.score(ITEMS, context=CONTEXT))
  _assert_split_over_every_device(spy["put"], mesh)
  np.testing.assert_allclose(got[0], want[0], atol=1e-5, rtol=0)
  np.testing.assert_allclose(got[1], want[1], atol=1e-5, rtol=0)


@pytest.mark.parametrize("axes", MESHES, ids=str)
def test_samplers_split_rows_over_every_device_and_match_one(tiny_model, one_device_mesh, axes, spy):
  mesh, placed = _placed(tiny_model, axes)
  config = sampling.SamplingConfig(temperature=1.0, samples_per_input=2, seed=5, **SAMPLING)
  want_local = sampling.LocalSampler(tiny_model, one_device_mesh, config, progress=False).sample(SUFFIXES)
  want_shared = sampling.SharedContextSampler(tiny_model, one_device_mesh, config, prefill_chunk=32,
                                              progress=False).sample(CONTEXT, SUFFIXES)
  spy["put"].clear(), spy["read"].clear()
  local = sampling.LocalSampler(placed, mesh, config, progress=False).sample(SUFFIXES)
  _assert_split_over_every_device(spy["read"], mesh)
  spy["read"].clear()
  shared = sampling.SharedContextSampler(placed, mesh, config, prefill_chunk=32, progress=False).sample(
      CONTEXT, SUFFIXES)
  _assert_split_over_every_device(spy["put"] + spy["read"], mesh)
  assert [g.token_ids for g in local] == [g.token_ids for g in want_local]
  assert [g.token_ids for g in shared] == [g.token_ids for g in want_shared]
  assert len({g.token_ids for g in local}) > 1  # Random samples: the rows are not copies of one.


def test_tensor_axis_splits_heads_mlp_and_vocabulary(tiny_model):
  mesh = sharding.make_mesh({"data": 1, "fsdp": 2, "tensor": 4})
  specs = sharding.param_partition_specs(tiny_model.params, mesh, RULES)
  attn, mlp = specs["layer_0"]["attn"], specs["layer_0"]["mlp"]
  # Tensor on the named dimension, then FSDP on the largest free one.
  assert attn["q_einsum"]["w"] == P("tensor", "fsdp", None)  # [heads 4, embed 32, head_dim 16]
  assert attn["attn_vec_einsum"]["w"] == P("tensor", None, "fsdp")  # [heads 4, head_dim 16, embed 32]
  assert attn["kv_einsum"]["w"] == P(None, None, "fsdp", None)  # 2 KV heads: not split 4 ways.
  assert mlp["gating_einsum"] == P(None, "tensor", "fsdp") and mlp["linear"] == P("tensor", "fsdp")
  assert specs["embedder"]["input_embedding"] == P("tensor", "fsdp")
  assert specs["final_norm"]["scale"] == P()


def test_one_batch_layout_for_every_stage():
  from icl_ft_jax.train import step  # pylint: disable=g-import-not-at-top

  mesh = sharding.make_mesh({"data": 2, "fsdp": 2, "tensor": 2})
  assert sharding.batch_sharding(mesh).spec == P(("data", "fsdp"))
  assert step.batch_sharding(mesh) == sharding.batch_sharding(mesh)
  with pytest.raises(ConfigError, match=r"augment.batch_size is 6, .* data=2 x fsdp=2 \(4 parts\); .* e.g. 8"):
    sharding.check_batch_size(6, mesh, "augment.batch_size")
  with pytest.raises(ConfigError, match="augment.batch_size is 6"):
    sampling.LocalSampler(None, mesh, sampling.SamplingConfig(batch_size=6))


def test_mesh_follows_jax_make_mesh():
  mesh = sharding.make_mesh({"data": 2, "fsdp": -1})
  want = jax.make_mesh((2, 4), ("data", "fsdp"), axis_types=(jax.sharding.AxisType.Auto,) * 2)
  assert mesh.devices.tolist() == want.devices.tolist() and mesh.axis_types == want.axis_types


@pytest.mark.parametrize("devices, tensor", [(8, 1), (12, 1), (32, 1), (64, 1), (32, 4), (24, 2)])
def test_study_config_batches_split_over_its_slice(devices, tensor):
  study = config_files.module("tpu/study.py")
  config = study.get_config(f"reversal_curse,devices={devices},tensor={tensor}")
  mesh = sharding.abstract_mesh(config.mesh.to_dict(), devices)
  assert sharding.batch_split(mesh) == devices // tensor and mesh.shape["tensor"] == tensor
  sharding.check_batch_settings(config, mesh)
  assert config.data.batch_size >= 16 and config.scoring.batch_size >= 4 * devices // tensor
  with pytest.raises(ConfigError, match=r"scoring.context_batch_size is 12, .* \(8 parts\)"):
    config.scoring.context_batch_size = 12
    sharding.check_batch_settings(config, sharding.abstract_mesh(config.mesh.to_dict(), 8 * tensor))
  with pytest.raises(ValueError, match="tensor=3 must divide devices=8"):
    study.get_config("devices=8,tensor=3")


def test_packed_rows_are_what_the_mesh_splits():
  mesh = sharding.abstract_mesh({"data": 2, "fsdp": -1}, 8)
  sharding.check_batch_settings({"data": {"batch_size": 5, "rows_per_batch": 8}}, mesh)
  with pytest.raises(ConfigError, match="data.rows_per_batch is 4"):
    sharding.check_batch_settings({"data": {"batch_size": 8, "rows_per_batch": 4}}, mesh)
  with pytest.raises(ConfigError, match="data.batch_size is 5"):
    sharding.check_batch_settings({"data": {"batch_size": 5, "rows_per_batch": 0}}, mesh)


class _HostShard:
  """A sharding as one host of a pod sees it: only its own devices' row blocks."""

  def __init__(self, *blocks):
    self.blocks = blocks

  def addressable_devices_indices_map(self, shape):
    return {device: (slice(start, stop),) for device, (start, stop) in enumerate(self.blocks)}


def test_process_rows_are_the_hosts_block():
  assert sharding.process_rows(sharding.batch_sharding(sharding.make_mesh({"data": 2, "fsdp": 4})), 16) == slice(0, 16)
  assert sharding.process_rows(_HostShard((4, 6), (6, 8), (4, 6)), 16) == slice(4, 8)  # Tensor devices repeat rows.
  with pytest.raises(UserError, match=r"batch rows \[\(0, 2\), \(4, 6\)\], not one block"):
    sharding.process_rows(_HostShard((0, 2), (4, 6)), 16)


def test_jobs_check_every_batch_against_the_fsdp_axis_before_loading():
  """An fsdp-only mesh splits scoring batches too: the jobs' early check says so, not a JAX error later."""
  from icl_ft_jax import config_defaults  # pylint: disable=g-import-not-at-top
  from icl_ft_jax.jobs import common  # pylint: disable=g-import-not-at-top

  config = config_defaults.experiment("simple_reversals", "cpu")
  config.mesh = {"data": 1, "fsdp": -1}
  config.scoring.batch_size, config.scoring.context_batch_size, config.augment.batch_size = 8, 8, 8
  config.data.batch_size, config.data.rows_per_batch = 8, 0
  dataset = common.build_dataset(config.dataset)
  common.check_scoring(config, dataset)
  config.scoring.batch_size = 4
  with pytest.raises(ConfigError, match=r"scoring.batch_size is 4, .*fsdp=8 \(8 parts\)"):
    common.check_scoring(config, dataset)
