"""BOS, EOS and pad ids come from the tokenizer, never from numbers written in our code.

A real tokenizer (the embedded one) whose special-token table is shifted: every stage that adds
or reads a special token must follow the table, so a hard-coded 2, 1 or 0 shows up here.
"""

import dataclasses

import numpy as np
import pytest
from gemma import gm

from icl_ft_jax.augment import sampling
from icl_ft_jax.data import schema
from icl_ft_jax.scoring import Scorer
from icl_ft_jax.scoring.tokenize import encode_pair
from icl_ft_jax.train import data as data_lib


class _ShiftedSpecialTokens(gm.text.SpecialTokens):
  PAD = 5
  EOS = 6
  BOS = 7
  UNK = 3


@dataclasses.dataclass(frozen=True)
class _ShiftedTokenizer(gm.text.Gemma3Tokenizer):
  special_tokens = _ShiftedSpecialTokens


def _shifted(tokenizer):
  return _ShiftedTokenizer(path=tokenizer.path)


def test_scoring_prepends_the_tokenizers_bos(tiny_model, one_device_mesh):
  tokenizer = _shifted(tiny_model.tokenizer)
  pair = encode_pair(tokenizer, "The capital of France is", " Paris")
  assert pair.prompt_ids[0] == 7 and 7 not in pair.prompt_ids[1:]
  assert encode_pair(tokenizer, "The capital of France is", " Paris", add_bos=False).prompt_ids == pair.prompt_ids[1:]
  scorer = Scorer(tiny_model.model, tiny_model.params, tokenizer, one_device_mesh, batch_size=1, progress=False)
  assert scorer.encode_context("Facts.\n\n") == (7, *tokenizer.encode("Facts.\n\n"))


def test_training_documents_take_the_tokenizers_bos_and_eos(tiny_model):
  tokenizer = _shifted(tiny_model.tokenizer)
  document = schema.Document(id="d", text="Alaric Ashgrove wrote the opera.", provenance="test")
  example = data_lib.tokenize_document(tokenizer, document, data_lib.DataConfig(append_eos=True))
  assert example.ids == (7, *tokenizer.encode(document.text), 6)
  without = data_lib.tokenize_document(tokenizer, document, data_lib.DataConfig())
  assert without.ids == example.ids[:-1]


def test_decoding_stops_at_the_tokenizers_pad(tiny_model):
  tokenizer = _shifted(tiny_model.tokenizer)
  words = tokenizer.encode(" blue sky")
  text, ids = sampling._decode(tokenizer, np.array([*words, 5, *words]), end_tokens=())  # pylint: disable=protected-access
  assert ids == tuple(words) and text == " blue sky"
  _, unshifted = sampling._decode(tokenizer, np.array([*words, 0, *words]), end_tokens=())  # pylint: disable=protected-access
  assert unshifted == (*words, 0, *words)  # 0 is an ordinary token under this table.


class _Field:
  def __init__(self, value):
    self.value = value

  def contents(self):
    return self.value


def test_gguf_special_ids_come_from_the_header():
  from icl_ft_jax.errors import ModelLoadError  # pylint: disable=g-import-not-at-top
  from icl_ft_jax.model import gguf_tokenizer  # pylint: disable=g-import-not-at-top

  fields = {f"tokenizer.ggml.{name}_token_id": _Field(value)
            for name, value in (("padding", 5), ("eos", 6), ("bos", 7), ("unknown", 8))}
  assert gguf_tokenizer.special_ids(fields) == {"pad": 5, "eos": 6, "bos": 7, "unk": 8}
  del fields["tokenizer.ggml.bos_token_id"]
  with pytest.raises(ModelLoadError, match="names no special token id in tokenizer.ggml.bos_token_id"):
    gguf_tokenizer.special_ids(fields)
