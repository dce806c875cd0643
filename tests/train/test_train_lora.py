"""LoRA trains only the adapters; merging them gives the LoRA model's outputs."""

import jax
import jax.numpy as jnp
import numpy as np

from icl_ft_jax.model import forward
from icl_ft_jax.train import loss as loss_lib, lora, trainer

from tests.train import helpers


def _leaf_names(tree):
  return ["/".join(str(k.key) for k in path) for path, _ in jax.tree_util.tree_leaves_with_path(tree)]


def test_only_adapters_train_and_merge_matches(tiny_model, one_device_mesh):
  cfg = helpers.config(lora_rank=2, steps=2)
  run = trainer.prepare(tiny_model, cfg, mesh=one_device_mesh)
  state = run.initial_state(tiny_model.params)
  names = _leaf_names(state.params)
  assert names and all("/lora/" in n for n in names)
  assert "embedder" not in state.params

  base_before = jax.tree.map(np.asarray, tiny_model.params)
  batches = helpers.batches(tiny_model, cfg)
  losses = []
  for step in range(2):
    state, metrics = run.train_step(state, run.frozen, jax.device_put(batches(step), run.shardings.batch))
    losses.append(float(metrics["loss"]))
  # b starts at zero, so step 0 is the base model; after it the adapters are non-zero.
  base_loss = loss_lib.document_loss(tiny_model.model, tiny_model.params, batches(0), chunk_length=None).mean
  np.testing.assert_allclose(losses[0], base_loss, rtol=1e-5)
  assert losses[1] < losses[0] - 1e-3, losses  # Step 1 sees the same 8 documents, after one update.
  assert any(np.abs(np.asarray(x)).max() > 0 for x in jax.tree.leaves(state.params))
  jax.tree.map(np.testing.assert_array_equal, base_before, jax.tree.map(np.asarray, run.frozen))

  tokens = jnp.asarray(batches(0)["inputs"])
  wrapped = run.tuning.module
  lora_logits = wrapped.apply({"params": lora.combine(run.frozen, state.params)}, tokens).logits
  merged = run.export(state.params, run.frozen)
  assert jax.tree.structure(merged) == jax.tree.structure(tiny_model.params)
  merged_logits = tiny_model.model.apply({"params": merged}, tokens).logits
  np.testing.assert_allclose(merged_logits, lora_logits, atol=2e-4)
  hidden, _ = lora.hidden_states(wrapped, lora.combine(run.frozen, state.params), tokens)
  np.testing.assert_allclose(forward.unembed(tiny_model.model, merged, hidden), lora_logits, atol=2e-4)
  base_logits = tiny_model.model.apply({"params": tiny_model.params}, tokens).logits
  assert np.abs(np.asarray(merged_logits - base_logits)).max() > 1e-3


def test_two_ranks_on_one_model_each_get_their_own_adapters(tiny_model, one_device_mesh):
  # gemma's nn.jit on Transformer.__call__ caches its trace per module, not per LoRA rank: the
  # adapters of a second rank on the same model used to be the first rank's, and its step failed.
  for rank in (2, 4):
    cfg = helpers.config(lora_rank=rank, steps=1)
    run = trainer.prepare(tiny_model, cfg, mesh=one_device_mesh)
    state = run.initial_state(tiny_model.params)
    adapters = list(_lora_nodes(state.params))
    assert len(adapters) == 5 * tiny_model.model.config.num_layers, rank
    assert {(node["a"].shape[-1], node["b"].shape[0]) for node in adapters} == {(rank, rank)}
    _, metrics = run.train_step(state, run.frozen, jax.device_put(helpers.batches(tiny_model, cfg)(0),
                                                                  run.shardings.batch))
    assert np.isfinite(float(metrics["loss"])), rank


def _lora_nodes(tree):
  """The `{a, b}` of every adapter in a params tree."""
  for key, child in tree.items():
    if key == "lora":
      yield child
    elif isinstance(child, dict):
      yield from _lora_nodes(child)


def test_einsums_are_found_after_the_model_was_traced(tiny_model):
  # gemma's nn.jit on Transformer.__call__ caches its trace per module: an earlier call with the
  # same shapes used to hide every Einsum from the interceptor, and the merge returned the base.
  jax.eval_shape(lambda: tiny_model.model.init(jax.random.key(1), jnp.zeros((1, 4), jnp.int32)))
  equations = lora.einsum_equations(tiny_model.model)
  per_layer = {path[1:-1] if path[-1] == "w" else path[1:] for path in equations}
  assert per_layer == {("attn", "q_einsum"), ("attn", "kv_einsum"), ("attn", "attn_vec_einsum"),
                       ("mlp", "gating_einsum"), ("mlp", "linear")}
  assert len(equations) == 5 * tiny_model.model.config.num_layers


def test_frozen_embedding_is_not_trained(tiny_model, one_device_mesh):
  cfg = helpers.config(freeze_embedding=True, steps=1)
  run = trainer.prepare(tiny_model, cfg, mesh=one_device_mesh)
  state = run.initial_state(tiny_model.params)
  assert "embedder" not in state.params and "embedder" in run.frozen
  state, _ = run.train_step(state, run.frozen, jax.device_put(helpers.batches(tiny_model, cfg)(0),
                                                                run.shardings.batch))
  merged = run.export(state.params, run.frozen)
  np.testing.assert_array_equal(merged["embedder"]["input_embedding"],
                                tiny_model.params["embedder"]["input_embedding"])
