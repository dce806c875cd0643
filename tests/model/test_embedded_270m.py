"""The embedded Gemma 3 270M must behave like the real model: these fail on a bad conversion."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

pytestmark = pytest.mark.real_model

# Our own plain-English paragraph (about 200 words).
PARAGRAPH = (
    "The village sits at the bottom of a narrow valley, where two small rivers meet before they run"
    " together toward the sea. For most of the year the weather is mild, and the fields around the"
    " houses are planted with wheat, potatoes and apple trees. In the spring the farmers repair their"
    " fences, clean the ditches and prepare the soil, while their children walk to the school on the"
    " hill. The school has only three classrooms, but it also has a small library that is open to"
    " everyone on Saturday mornings. During the summer many visitors come to walk in the mountains,"
    " swim in the cold water of the lake, and eat in the two restaurants near the old stone bridge."
    " In the autumn the apples are picked and pressed into juice, and the whole village gathers for a"
    " market in the main square. Winter is quiet. Snow often closes the road for several days, so"
    " families keep wood for the fire and food in the cellar. People say that life here is slow, but"
    " most of them would not want to live anywhere else, because they know their neighbours and trust"
    " them."
)


def _next_token(real_model, prompt):
  ids = [2] + real_model.tokenizer.encode(prompt)
  logits = real_model.model.apply({"params": real_model.params}, jnp.asarray([ids])).logits[0, -1]
  probs = jax.nn.softmax(logits.astype(jnp.float32))
  top = int(jnp.argmax(probs))
  return real_model.tokenizer.decode([top]), float(probs[top])


@pytest.mark.parametrize("prompt, token, low, high", [
    ("The opposite of hot is", " cold", 0.45, 0.75),
    ("import numpy as", " np", 0.95, 1.0),
    ("Water is made of hydrogen and", " oxygen", 0.7, 0.95),
])
def test_next_token(real_model, prompt, token, low, high):
  predicted, probability = _next_token(real_model, prompt)
  assert predicted == token
  assert low <= probability <= high


def test_paragraph_nll_in_range(real_model):
  ids = [2] + real_model.tokenizer.encode(PARAGRAPH)
  logits = real_model.model.apply({"params": real_model.params}, jnp.asarray([ids])).logits[0]
  logprobs = jax.nn.log_softmax(logits.astype(jnp.float32), axis=-1)
  nll = -np.mean([float(logprobs[i, ids[i + 1]]) for i in range(len(ids) - 1)])
  assert 2.0 <= nll <= 3.5, nll


def test_params_are_float32_and_complete(real_model):
  leaves = jax.tree.leaves(real_model.params)
  assert all(x.dtype == jnp.float32 for x in leaves)
  assert sum(x.size for x in leaves) == pytest.approx(268e6, rel=0.01)


@pytest.mark.parametrize("text, ids", [(" Paris", [9079]), ("The", [818]), ("<start_of_turn>", [105])])
def test_tokenizer_ids(real_model, text, ids):
  assert real_model.tokenizer.encode(text) == ids


@pytest.mark.parametrize("text", [
    "Hello  world\t\ttabs\n\n\nnewlines   and    spaces ",
    "Numbers 1234567890 and 3.14159, dates 2026-11-26.",
    "def f(x):\n    return {'a': x ** 2}  # code\n",
    "Привет мир. 你好，世界。こんにちは。مرحبا بالعالم",
    "   leading and trailing   ",
    "<start_of_turn>user\nHi<end_of_turn>\n",
])
def test_tokenizer_round_trip(real_model, text):
  ids = real_model.tokenizer.encode(text)
  assert 3 not in ids  # Never <unk>: byte fallback covers everything.
  assert real_model.tokenizer.decode(ids) == text


def test_special_pieces(real_model):
  tok = real_model.tokenizer
  assert tok.encode("  ") == [138]  # Whitespace runs are single user pieces.
  assert tok.encode("<end_of_turn>") == [106]
  assert len(tok.encode("<bos>")) > 1  # bos/eos/pad stay control: never matched in text.
