"""Batches are a pure function of (seed, step); each epoch visits every document once."""

import numpy as np
import pytest

from icl_ft_jax.data import schema
from icl_ft_jax.errors import UserError
from icl_ft_jax.train import data as data_lib

from tests.train import helpers


def test_order_is_a_pure_function_of_seed_and_step():
  a = [data_lib.example_indices(10, 4, seed=3, step=s) for s in range(10)]
  b = [data_lib.example_indices(10, 4, seed=3, step=s) for s in reversed(range(10))][::-1]
  np.testing.assert_array_equal(np.stack(a), np.stack(b))
  flat = np.concatenate(a)  # 40 examples = 4 epochs of 10.
  for epoch in range(4):
    assert sorted(flat[epoch * 10:(epoch + 1) * 10]) == list(range(10))
  assert not np.array_equal(flat[:10], flat[10:20])  # Reshuffled each epoch.
  assert not np.array_equal(flat, np.concatenate([data_lib.example_indices(10, 4, seed=4, step=s)
                                                  for s in range(10)]))


def test_rows_shift_inputs_to_targets(tiny_model):
  cfg = helpers.config(batch_size=2)
  batch = helpers.batches(tiny_model, cfg)(0)
  for row in range(2):
    n = int(batch["weights"][row].sum())
    assert batch["inputs"][row, 0] == tiny_model.tokenizer.special_tokens.BOS
    np.testing.assert_array_equal(batch["inputs"][row, 1:n], batch["targets"][row, :n - 1])
    assert (batch["segment_ids"][row, :n] == 1).all() and (batch["segment_ids"][row, n:] == 0).all()


def test_completion_only_weights(tiny_model):
  document = schema.Document(id="d", text="Daphne Barrington is the director of films.", provenance="t",
                             metadata={"prompt_chars": len("Daphne Barrington is")})
  config = data_lib.DataConfig(loss_on="completion")
  example = data_lib.tokenize_document(tiny_model.tokenizer, document, config)
  prompt_tokens = len(tiny_model.tokenizer.encode("Daphne Barrington is"))
  assert example.weights == tuple([0.0] * prompt_tokens + [1.0] * (len(example.ids) - 1 - prompt_tokens))
  whole = data_lib.tokenize_document(tiny_model.tokenizer, document, data_lib.DataConfig())
  assert all(whole.weights)


def test_too_long_is_an_error_not_a_truncation(tiny_model):
  with pytest.raises(UserError, match="max_length"):
    data_lib.tokenize(tiny_model.tokenizer, helpers.documents(["word " * 40]), data_lib.DataConfig(max_length=8))


def test_sentence_split_documents():
  dataset = schema.Dataset(name="d", documents=tuple(helpers.documents(["One fact. Two facts."])), questions=())
  texts = [d.text for d in data_lib.training_documents(dataset, data_lib.DataConfig(sentence_split="independent"))]
  assert texts == ["One fact.", "Two facts."]


@pytest.mark.parametrize("loss_on", ["document", "completion"])
def test_appended_eos_is_a_weighted_last_target(tiny_model, loss_on):
  eos = tiny_model.tokenizer.special_tokens.EOS
  document = schema.Document(id="d", text="Daphne Barrington is the director of films.", provenance="t",
                             metadata={"prompt_chars": len("Daphne Barrington is")})

  def first_row(append_eos):
    config = data_lib.DataConfig(batch_size=1, max_length=24, loss_on=loss_on, append_eos=append_eos)
    batch = data_lib.Batches(data_lib.tokenize(tiny_model.tokenizer, [document], config), config, seed=0)(0)
    n = int((batch["segment_ids"][0] > 0).sum())
    return batch, n

  batch, n = first_row(append_eos=True)
  assert batch["targets"][0, n - 1] == eos and batch["weights"][0, n - 1] == 1.0  # The model learns to stop.
  assert eos not in batch["inputs"][0, :n]
  if "loss_targets" in batch:  # Completion-only loss keeps just the weighted positions: EOS among them.
    assert eos in batch["loss_targets"][0][batch["loss_weights"][0] > 0]
  without, m = first_row(append_eos=False)
  assert m == n - 1 and eos not in without["targets"][0, :m]
