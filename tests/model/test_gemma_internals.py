"""gemma's private pieces are where `model/gemma_internals.py` reaches for them, with the keywords we pass.

After a gemma upgrade, a failure here names the moved symbol (test id and message); the forward
pass built on them is checked against gemma's own logits in tests/train/test_train_loss.py.
"""

import jax
import jax.numpy as jnp
import pytest

from icl_ft_jax.errors import UserError
from icl_ft_jax.model import gemma_internals, kv_cache
from icl_ft_jax.train import lora


@pytest.mark.parametrize("internal", gemma_internals.INTERNALS, ids=lambda internal: internal.path)
def test_every_internal_is_where_we_reach_for_it(internal):
  gemma_internals.resolve(internal)


@pytest.mark.parametrize("internal, message", [
    (gemma_internals.Internal("gemma.gm.text._sampler_loop", "SamplerLoopMoved"),
     r"has no gemma\.gm\.text\._sampler_loop\.SamplerLoopMoved "),
    (gemma_internals.Internal("gemma.gm.text._gone", "SamplerLoop"),
     r"has no module gemma\.gm\.text\._gone \(for gemma\.gm\.text\._gone\.SamplerLoop\)"),
    (gemma_internals.Internal("gemma.gm.text._sampler_loop", "SamplerLoop", ("model", "renamed_keyword")),
     r"changed gemma\.gm\.text\._sampler_loop\.SamplerLoop: it takes no renamed_keyword "),
])
def test_a_moved_internal_is_named_in_one_line(internal, message):
  with pytest.raises(UserError, match=message + r".*written for gemma 4\.0\.1.*model/gemma_internals\.py") as error:
    gemma_internals.resolve(internal)
  assert "\n" not in str(error.value)


def test_lora_adapters_live_under_the_private_scope_prefix(tiny_model):
  adapters = lora.abstract_adapters(lora.lora_model(tiny_model.model, rank=2))
  parents = [path[-3].key for path, _ in jax.tree_util.tree_leaves_with_path(adapters)]
  assert parents and all(name.startswith(gemma_internals.LORA_SCOPE_PREFIX) for name in parents), parents


def test_kv_cache_reads_gemmas_cache_layout(tiny_model):
  cache = tiny_model.config.init_cache(batch_size=2, dtype=jnp.float32, cache_length=16)
  assert set(cache) == {f"layer_{i}" for i in range(tiny_model.config.num_layers)}
  assert kv_cache.cache_length(cache) == 16
  moved = kv_cache.with_end_index(cache, jnp.array([3, 5], jnp.int32))
  for name, layer in moved.items():
    assert layer["end_index"].tolist() == [3, 5]
    assert set(layer) == set(cache[name]) and layer["k"] is cache[name]["k"]
