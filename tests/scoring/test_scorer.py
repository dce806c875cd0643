"""The scorer must give the model's true log-likelihoods, whatever the batching, sharding or cache."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from icl_ft_jax import sharding
from icl_ft_jax.errors import UserError
from icl_ft_jax.scoring import MCItem, Scorer
from icl_ft_jax.scoring.tokenize import encode_pair

ITEMS = [
    MCItem(prompt="The capital of France is", choices=(" Paris", " Rome", " a large city in Europe")),
    MCItem(prompt="The opposite of hot is ", choices=("cold", "warm")),
    MCItem(prompt="Daphne Barrington, known far and wide for being the director of", choices=(" 'A Journey'", " nothing")),
]
CONTEXT = " ".join(
    f"Fact {i}: the {w} of zorp number {i} is {c}." for i, (w, c) in enumerate(
        [("colour", "blue"), ("size", "large"), ("home", "Klemp"), ("owner", "Daphne Barrington")] * 8)
) + "\n\n"


def _reference_logprob(loaded, prompt_ids, continuation_ids):
  ids = list(prompt_ids) + list(continuation_ids)
  logits = loaded.model.apply({"params": loaded.params}, jnp.asarray([ids])).logits[0]
  logprobs = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
  return sum(float(logprobs[len(prompt_ids) - 1 + k, t]) for k, t in enumerate(continuation_ids))


def _logprobs(scores):
  return np.array([c.logprob for s in scores for c in s.choices])


def test_trailing_space_moves_into_continuation(real_model):
  pair = encode_pair(real_model.tokenizer, "The opposite of hot is ", "cold")
  assert pair.prompt_ids[0] == real_model.tokenizer.special_tokens.BOS
  assert real_model.tokenizer.decode(list(pair.prompt_ids[1:])) == "The opposite of hot is"
  assert real_model.tokenizer.decode(list(pair.continuation_ids)) == " cold"


def test_empty_continuation_is_an_error(real_model):
  with pytest.raises(UserError, match="Empty continuation"):
    encode_pair(real_model.tokenizer, "Hello", "")


@pytest.mark.real_model
def test_matches_full_forward_of_real_model(real_model, one_device_mesh):
  scorer = Scorer(real_model.model, real_model.params, real_model.tokenizer, one_device_mesh, batch_size=4,
                  progress=False)
  scores = scorer.score(ITEMS)
  for item, score in zip(ITEMS, scores):
    for choice, choice_score in zip(item.choices, score.choices):
      pair = encode_pair(real_model.tokenizer, item.prompt, choice)
      want = _reference_logprob(real_model, pair.prompt_ids, pair.continuation_ids)
      assert choice_score.logprob == pytest.approx(want, abs=1e-4)
      assert choice_score.num_tokens == len(pair.continuation_ids)
      assert choice_score.num_chars == len(choice)
  assert scores[0].prediction("sum") == 0  # Paris.
  assert scores[1].prediction("sum") == 0 and scores[1].choices[0].is_greedy  # " cold" is the argmax.


def test_score_does_not_depend_on_batch_or_padding(tiny_model, one_device_mesh):
  scorer = Scorer(tiny_model.model, tiny_model.params, tiny_model.tokenizer, one_device_mesh, batch_size=8,
                  progress=False)
  together = _logprobs(scorer.score(ITEMS))
  alone = np.concatenate([_logprobs(scorer.score([item])) for item in ITEMS])
  long_item = MCItem(prompt="word " * 150, choices=(" x", " y"))  # Forces a longer bucket on its batch.
  padded = _logprobs(scorer.score([long_item, *ITEMS]))[2:]
  small_batches = Scorer(tiny_model.model, tiny_model.params, tiny_model.tokenizer, one_device_mesh,
                         batch_size=1, progress=False)
  np.testing.assert_allclose(alone, together, atol=1e-5, rtol=0)
  np.testing.assert_allclose(padded, together, atol=1e-5, rtol=0)
  np.testing.assert_allclose(_logprobs(small_batches.score(ITEMS)), together, atol=1e-5, rtol=0)


def test_last_step_takes_only_the_rows_it_needs(tiny_model, one_device_mesh):
  scorer = Scorer(tiny_model.model, tiny_model.params, tiny_model.tokenizer, one_device_mesh, batch_size=4,
                  pack_length=8, progress=False)  # Every item's tree is a pack of its own: 6 packs.
  rows = []
  put = scorer._device_arrays  # pylint: disable=protected-access
  scorer._device_arrays = lambda layout: (rows.append(layout.tokens.shape[0]), put(layout))[1]  # pylint: disable=protected-access
  items = ITEMS * 2
  got = _logprobs(scorer.score(items)), _logprobs(scorer.score(items, context=CONTEXT))
  assert rows == [4, 2, 4, 2]
  one_row = Scorer(tiny_model.model, tiny_model.params, tiny_model.tokenizer, one_device_mesh, batch_size=1,
                   pack_length=8, progress=False)
  np.testing.assert_allclose(got[0], _logprobs(one_row.score(items)), atol=1e-5, rtol=0)
  np.testing.assert_allclose(got[1], _logprobs(one_row.score(items, context=CONTEXT)), atol=1e-5, rtol=0)
  # On a mesh the last step's rows stay a multiple of the batch split.
  eight = Scorer(tiny_model.model, tiny_model.params, tiny_model.tokenizer,
                 sharding.make_mesh({"data": 2, "fsdp": 4}), batch_size=24, progress=False)
  assert [eight.rows_for(n) for n in (1, 8, 9, 16, 17, 24)] == [8, 8, 16, 16, 24, 24]


def test_sharded_over_eight_devices_matches_one(tiny_model, one_device_mesh):
  mesh = sharding.make_mesh({"data": 8})
  params = jax.device_put(tiny_model.params, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()))
  one = Scorer(tiny_model.model, tiny_model.params, tiny_model.tokenizer, one_device_mesh, batch_size=8,
               progress=False)
  eight = Scorer(tiny_model.model, params, tiny_model.tokenizer, mesh, batch_size=8, progress=False)
  np.testing.assert_allclose(_logprobs(eight.score(ITEMS)), _logprobs(one.score(ITEMS)), atol=1e-5, rtol=0)
  np.testing.assert_allclose(_logprobs(eight.score(ITEMS, context=CONTEXT)),
                             _logprobs(one.score(ITEMS, context=CONTEXT)), atol=1e-5, rtol=0)


def test_batch_size_must_divide_over_the_batch_axes(tiny_model):
  mesh = sharding.make_mesh({"data": 2, "fsdp": 4})
  with pytest.raises(UserError, match=r"scoring.batch_size .* data=2 x fsdp=4 \(8 parts\); .* multiple of 8, e.g. 8"):
    Scorer(tiny_model.model, tiny_model.params, tiny_model.tokenizer, mesh, batch_size=4)


@pytest.mark.parametrize("prefill_chunk", [1024, 32])
def test_context_cache_matches_full_sequence_tiny(tiny_model, one_device_mesh, prefill_chunk):
  # The tiny model's sliding window (8) is far shorter than the context: this checks the
  # cache's positions and local-attention masks too; chunk 32 prefills in many pieces.
  scorer = Scorer(tiny_model.model, tiny_model.params, tiny_model.tokenizer, one_device_mesh, batch_size=4,
                  prefill_chunk=prefill_chunk, progress=False)
  cached = _logprobs(scorer.score(ITEMS, context=CONTEXT))
  full = _logprobs(scorer.score(ITEMS, context=CONTEXT, use_cache=False))
  np.testing.assert_allclose(cached, full, atol=1e-4, rtol=0)


@pytest.mark.real_model
def test_context_cache_matches_full_sequence_real(real_model, one_device_mesh):
  scorer = Scorer(real_model.model, real_model.params, real_model.tokenizer, one_device_mesh, batch_size=4,
                  progress=False)
  cached = scorer.score(ITEMS, context=CONTEXT)
  full = scorer.score(ITEMS, context=CONTEXT, use_cache=False)
  np.testing.assert_allclose(_logprobs(cached), _logprobs(full), atol=1e-3, rtol=0)
  # And the context matters: it changes the scores.
  assert np.max(np.abs(_logprobs(cached) - _logprobs(scorer.score(ITEMS)))) > 0.1


def test_context_longer_than_window_is_a_clear_error(tiny_model, one_device_mesh):
  scorer = Scorer(tiny_model.model, tiny_model.params, tiny_model.tokenizer, one_device_mesh, batch_size=4,
                  max_sequence_length=256, progress=False)
  with pytest.raises(UserError, match="over the model's window of 256. Subsample"):
    scorer.score(ITEMS, context=CONTEXT * 4)


def test_predictions_under_each_normalization():
  from icl_ft_jax.scoring import ChoiceScore, QuestionScore
  score = QuestionScore(choices=(
      ChoiceScore(logprob=-4.0, num_tokens=4, num_chars=20, is_greedy=False),
      ChoiceScore(logprob=-3.0, num_tokens=1, num_chars=5, is_greedy=False)))
  assert score.prediction("sum") == 1
  assert score.prediction("per_token") == 0
  assert score.prediction("per_char") == 0
