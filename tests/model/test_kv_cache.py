"""The chunked prefill must leave the cache gemma's own cache path leaves, whatever the chunk."""

import jax.numpy as jnp
import numpy as np
import pytest

from icl_ft_jax.model import forward, kv_cache


def _gemma_cache(loaded, ids, cache_size):
  """The context run in one piece through gemma's own attention with a cache (dense over every slot)."""
  length = len(ids)
  cache = loaded.model.config.init_cache(batch_size=1, dtype=jnp.float32, cache_length=cache_size)
  query, key = jnp.arange(length)[:, None], jnp.arange(cache_size)[None, :]
  _, cache = forward.hidden_states(loaded.model, loaded.params, jnp.asarray([ids]),
                                   positions=jnp.arange(length)[None], attention_mask=(key <= query)[None],
                                   cache=cache)
  return cache


# The tiny model's window is 8 slots: chunks shorter and longer than it, and one chunk for all.
@pytest.mark.parametrize("chunk", [4, 32, 1024])
def test_chunked_prefill_matches_gemma_cache_path(tiny_model, one_device_mesh, chunk):
  ids = [2] + [int(t) for t in np.random.default_rng(0).integers(3, 200, size=86)]
  prefiller = kv_cache.Prefiller(tiny_model.model, one_device_mesh, chunk=chunk)
  prefilled = prefiller(tiny_model.params, ids, suffix_capacity=16)
  reference = _gemma_cache(tiny_model, ids, prefilled.cache_size)
  assert prefilled.length == len(ids)
  for name, layer in prefilled.cache.items():
    for field in ("k", "v"):
      np.testing.assert_allclose(layer[field][0, :len(ids)], reference[name][field][0, :len(ids)], atol=1e-5,
                                 err_msg=f"{name}.{field}")
    np.testing.assert_array_equal(layer["positions"][0, :len(ids)], np.arange(len(ids)))
