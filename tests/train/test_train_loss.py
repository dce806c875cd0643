"""The chunked loss equals the naive full-logits loss, in value and gradient."""

import dataclasses
import functools

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from icl_ft_jax.model import forward
from icl_ft_jax.train import data as data_lib, loss as loss_lib

from tests.train import helpers


@pytest.mark.parametrize("softcap,chunk_length", [(None, 4), (30.0, 5), (30.0, 64)])
def test_chunked_equals_full_logits(softcap, chunk_length):
  keys = jax.random.split(jax.random.key(0), 4)
  hidden = jax.random.normal(keys[0], (3, 13, 16))
  table = jax.random.normal(keys[1], (97, 16))
  targets = jax.random.randint(keys[2], (3, 13), 0, 97)
  weights = (jax.random.uniform(keys[3], (3, 13)) > 0.3).astype(jnp.float32)

  def mean_loss(fn, hidden, table):
    return fn(hidden, table, targets, weights, softcap=softcap).mean

  chunked = lambda *a, **k: loss_lib.chunked_cross_entropy(*a, **k, chunk_length=chunk_length)
  value, grads = jax.value_and_grad(lambda h, t: mean_loss(chunked, h, t), argnums=(0, 1))(hidden, table)
  ref_value, ref_grads = jax.value_and_grad(lambda h, t: mean_loss(loss_lib.full_logits_cross_entropy, h, t),
                                            argnums=(0, 1))(hidden, table)
  np.testing.assert_allclose(value, ref_value, rtol=1e-6)
  for g, r in zip(grads, ref_grads):
    np.testing.assert_allclose(g, r, rtol=1e-5, atol=1e-6)


def _naive_loss_sum(hidden, table, targets, weights, softcap):
  """Autodiff's reference: log_softmax of the softcapped logits, the target's entry read out."""
  logits = jnp.einsum("bld,vd->blv", hidden, table)
  if softcap is not None:
    logits = jnp.tanh(logits / softcap) * softcap
  logprobs = jax.nn.log_softmax(logits, axis=-1)
  return -jnp.sum(jnp.take_along_axis(logprobs, targets[..., None], axis=-1)[..., 0] * weights)


def _loss_inputs(batch=3, length=13, vocab=97, dim=16):
  keys = jax.random.split(jax.random.key(1), 4)
  return (jax.random.normal(keys[0], (batch, length, dim)) * 3.0, jax.random.normal(keys[1], (vocab, dim)),
          jax.random.randint(keys[2], (batch, length), 0, vocab),
          jax.random.uniform(keys[3], (batch, length)) * (jax.random.uniform(keys[0], (batch, length)) > 0.3))


@pytest.mark.parametrize("softcap", [None, 30.0])
def test_full_logits_loss_and_gradients_match_naive_autodiff(softcap):
  """The hand-written backward (softmax times the softcap's derivative) is autodiff's, weights included."""
  hidden, table, targets, weights = _loss_inputs()
  ours = lambda h, t, w: loss_lib.full_logits_cross_entropy(h, t, targets, w, softcap=softcap).loss_sum
  naive = lambda h, t, w: _naive_loss_sum(h, t, targets, w, softcap)
  value, grads = jax.value_and_grad(ours, argnums=(0, 1, 2))(hidden, table, weights)
  ref_value, ref_grads = jax.value_and_grad(naive, argnums=(0, 1, 2))(hidden, table, weights)
  np.testing.assert_allclose(value, ref_value, rtol=1e-5)
  for g, r in zip(grads, ref_grads):
    np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-5)


def test_loss_backward_holds_fewer_logits_sized_buffers():
  """The custom VJP's point: at least one `[N, V]` float32 buffer fewer than autodiff's scratch memory."""
  hidden, table, targets, weights = _loss_inputs(batch=4, length=16, vocab=4096, dim=32)
  logits_bytes = 4 * 16 * 4096 * 4
  ours = lambda h: loss_lib.full_logits_cross_entropy(h, table, targets, weights, softcap=30.0).loss_sum
  naive = lambda h: _naive_loss_sum(h, table, targets, weights, 30.0)
  temp = lambda fn: jax.jit(jax.grad(fn)).lower(hidden).compile().memory_analysis().temp_size_in_bytes
  assert temp(ours) <= temp(naive) - 0.9 * logits_bytes  # 0.9: the per-row vectors are not counted.


@pytest.mark.parametrize("loss_fn", [loss_lib.full_logits_cross_entropy,
                                     functools.partial(loss_lib.chunked_cross_entropy, chunk_length=16)],
                         ids=["full_logits", "chunked"])
def test_mixed_precision_gradients_match_float32(loss_fn):
  """bfloat16 hidden states and table (mixed precision): gradients in bfloat16, close to float32's."""
  hidden, table, targets, weights = _loss_inputs(batch=4, length=32, vocab=4096, dim=64)
  hidden = hidden / 3.0
  loss = lambda h, t: loss_fn(h, t, targets, weights, softcap=30.0).loss_sum
  grad = jax.jit(jax.grad(loss, argnums=(0, 1)))
  bf16 = lambda x: x.astype(jnp.bfloat16)
  for ours, reference in zip(grad(bf16(hidden), bf16(table)), grad(hidden, table)):
    assert ours.dtype == jnp.bfloat16
    np.testing.assert_allclose(ours.astype(jnp.float32), reference, atol=0.03 * float(jnp.abs(reference).max()))


@pytest.mark.skipif(jax.default_backend() != "cpu", reason="counts XLA:CPU's buffer assignment")
def test_mixed_precision_backward_copies_no_float32_table():
  """Under bfloat16 compute the logits' gradient goes back through the table in bfloat16. Autodiff's
  matmul of the float32 gradient against the bfloat16 table made a float32 copy of the whole table
  (here 128.4 MiB of scratch memory against 96.4 now)."""
  hidden, table, targets, weights = _loss_inputs(batch=8, length=48, vocab=32768, dim=256)
  hidden, table = hidden.astype(jnp.bfloat16), table.astype(jnp.bfloat16)
  loss = lambda h, t: loss_lib.full_logits_cross_entropy(h, t, targets, weights, softcap=30.0).loss_sum
  compiled = jax.jit(jax.grad(loss, argnums=(0, 1))).lower(hidden, table).compile()
  logits = targets.size * table.shape[0]
  # The float32 logits, their bfloat16 gradient, and one float32 table-sized buffer: the table's
  # gradient before its cast to bfloat16. Autodiff's backward held the table's float32 copy as well.
  assert compiled.memory_analysis().temp_size_in_bytes < logits * (4 + 2) + table.size * 4


def test_document_loss_matches_model_logits(tiny_model):
  """Against gemma's own forward: log_softmax of `Transformer(...).logits`, padding masked."""
  cfg = helpers.config()
  batch = helpers.batches(tiny_model, cfg)(0)
  sums = loss_lib.document_loss(tiny_model.model, tiny_model.params, jax.tree.map(jnp.asarray, batch),
                                chunk_length=8)
  logits = tiny_model.model.apply({"params": tiny_model.params}, jnp.asarray(batch["inputs"])).logits
  logprobs = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
  target_lp = jnp.take_along_axis(logprobs, jnp.asarray(batch["targets"])[..., None], axis=-1)[..., 0]
  expected = -(target_lp * batch["weights"]).sum() / batch["weights"].sum()
  np.testing.assert_allclose(sums.mean, expected, rtol=1e-5)


def test_packed_rows_equal_separate_rows(tiny_model):
  """Packing documents with segment ids changes nothing about each document's loss."""
  cfg = helpers.config(batch_size=4)
  separate = helpers.batches(tiny_model, cfg)(0)
  packed_cfg = helpers.config(batch_size=4)
  packed_cfg = packed_cfg.__class__(**{**packed_cfg.__dict__, "data": packed_cfg.data.__class__(
      batch_size=4, max_length=48, rows_per_batch=2)})
  packed = helpers.batches(tiny_model, packed_cfg)(0)
  assert packed["segment_ids"].max() >= 2  # Rows really hold several documents.
  loss = lambda b: loss_lib.document_loss(tiny_model.model, tiny_model.params, jax.tree.map(jnp.asarray, b),
                                          chunk_length=16)
  a, b = loss(separate), loss(packed)
  np.testing.assert_allclose(a.loss_sum, b.loss_sum, rtol=1e-5)
  assert a.weight_sum == b.weight_sum


def test_hidden_states_unembed_to_model_logits(tiny_model):
  tokens = jnp.array([[2, 651, 6037, 563, 0]])
  hidden, _ = forward.hidden_states(tiny_model.model, tiny_model.params, tokens)
  logits = tiny_model.model.apply({"params": tiny_model.params}, tokens).logits
  np.testing.assert_allclose(forward.unembed(tiny_model.model, tiny_model.params, hidden), logits, atol=1e-4)


@pytest.mark.parametrize("rows_per_batch", [0, 2])
def test_loss_on_compacted_positions_equals_full_rows(tiny_model, rows_per_batch):
  """Completion-only loss unembeds only the weighted positions: same loss and gradient."""
  from icl_ft_jax.data import schema
  from icl_ft_jax.train import data as data_lib

  texts = [t for t in helpers.FACTS if " than " in t]
  docs = [schema.Document(id=f"d{i}", text=t, provenance="test", metadata={"prompt_chars": t.index(" than ")})
          for i, t in enumerate(texts)]
  cfg = data_lib.DataConfig(batch_size=4, max_length=48, rows_per_batch=rows_per_batch, loss_on="completion")
  batches = data_lib.Batches(data_lib.tokenize(tiny_model.tokenizer, docs, cfg), cfg, seed=0)
  batch = batches(0)
  assert batches.loss_positions is not None and batch["loss_index"].shape[1] < cfg.max_length
  assert batch["loss_weights"].sum() == batch["weights"].sum() > 0
  full = {k: v for k, v in batch.items() if not k.startswith("loss_")}

  def loss(params, b):
    return loss_lib.document_loss(tiny_model.model, params, jax.tree.map(jnp.asarray, b), chunk_length=8).mean

  value, grads = jax.value_and_grad(loss)(tiny_model.params, batch)
  ref_value, ref_grads = jax.value_and_grad(loss)(tiny_model.params, full)
  np.testing.assert_allclose(value, ref_value, rtol=1e-5)
  for g, r in zip(jax.tree.leaves(grads), jax.tree.leaves(ref_grads)):
    np.testing.assert_allclose(g, r, rtol=1e-4, atol=1e-6)


def test_rows_padded_to_the_step_bucket_give_the_same_loss(tiny_model):
  """pad_to="bucket" shortens a step's rows to its longest document's bucket; the loss is unchanged."""
  long_text = "word " * 40  # About 41 tokens: its steps need the 64 bucket.
  texts = (*helpers.FACTS[:3], long_text)
  bucketed_cfg = dataclasses.replace(helpers.config(batch_size=2), data=data_lib.DataConfig(batch_size=2,
                                                                                             max_length=128))
  fixed_cfg = dataclasses.replace(bucketed_cfg, data=dataclasses.replace(bucketed_cfg.data, pad_to="max_length"))
  bucketed, fixed = helpers.batches(tiny_model, bucketed_cfg, texts), helpers.batches(tiny_model, fixed_cfg, texts)
  lengths = set()
  for step in range(4):  # Two epochs of two steps: some steps hold the long document, some do not.
    a, b = bucketed(step), fixed(step)
    lengths.add(a["inputs"].shape[1])
    assert b["inputs"].shape[1] == 128
    loss = lambda batch: loss_lib.document_loss(tiny_model.model, tiny_model.params,
                                                jax.tree.map(jnp.asarray, batch), chunk_length=8)
    np.testing.assert_allclose(loss(a).loss_sum, loss(b).loss_sum, rtol=1e-5)
  assert lengths == {32, 64}
