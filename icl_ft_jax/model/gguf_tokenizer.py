"""A SentencePiece model rebuilt from a GGUF vocabulary, for `gm.text.Gemma3Tokenizer`.

llama.cpp keeps Gemma's pieces, scores and types but changes three things that we
undo here: `<unk>` is typed CONTROL (SentencePiece needs exactly one UNKNOWN
piece); whitespace-run user pieces had U+2581 replaced by plain spaces; and the
chat/special tokens (`<start_of_turn>`, ...) are CONTROL, which SentencePiece
never matches in text, where Gemma's own model has them USER_DEFINED.
"""

from __future__ import annotations

from icl_ft_jax.errors import ModelLoadError

_SPACE = "\u2581"
# The special tokens' ids, as the GGUF header names them (Gemma: pad 0, eos 1, bos 2, unk 3).
_SPECIAL_ID_FIELDS = {"pad": "tokenizer.ggml.padding_token_id", "eos": "tokenizer.ggml.eos_token_id",
                      "bos": "tokenizer.ggml.bos_token_id", "unk": "tokenizer.ggml.unknown_token_id"}


def special_ids(fields) -> dict[str, int]:
  """`{"pad", "eos", "bos", "unk"}` -> id, read from the GGUF header rather than assumed."""
  missing = [name for name in _SPECIAL_ID_FIELDS.values() if name not in fields]
  if missing:
    raise ModelLoadError(f"The GGUF file names no special token id in {', '.join(missing)}.")
  return {token: int(fields[name].contents()) for token, name in _SPECIAL_ID_FIELDS.items()}


def build_sentencepiece_proto(reader) -> bytes:
  """Returns the serialized `ModelProto` for the vocabulary of a GGUF file (`gguf_weights.open_gguf`)."""
  from sentencepiece import sentencepiece_model_pb2 as sp_pb2  # pylint: disable=g-import-not-at-top

  fields = reader.fields
  try:
    pieces = fields["tokenizer.ggml.tokens"].contents()
    scores = fields["tokenizer.ggml.scores"].contents()
    types = fields["tokenizer.ggml.token_type"].contents()
  except KeyError as e:
    raise ModelLoadError(f"The GGUF file has no tokenizer vocabulary ({e}).") from None
  if fields["tokenizer.ggml.model"].contents() != "llama":
    raise ModelLoadError("The GGUF file: expected a SentencePiece ('llama') vocabulary.")

  ids = special_ids(fields)
  Piece = sp_pb2.ModelProto.SentencePiece  # pylint: disable=invalid-name
  proto = sp_pb2.ModelProto()
  for index, (piece, score, piece_type) in enumerate(zip(pieces, scores, types, strict=True)):
    if index == ids["unk"]:
      piece_type = Piece.UNKNOWN
    elif piece_type == Piece.CONTROL and index not in (ids["pad"], ids["eos"], ids["bos"]):
      piece_type = Piece.USER_DEFINED
    if piece_type == Piece.USER_DEFINED and " " in piece:
      piece = piece.replace(" ", _SPACE)
    proto.pieces.add(piece=piece, score=float(score), type=piece_type)

  trainer = proto.trainer_spec
  trainer.model_type = sp_pb2.TrainerSpec.BPE
  trainer.vocab_size = len(pieces)
  trainer.byte_fallback = True
  trainer.split_digits = True
  trainer.allow_whitespace_only_pieces = True
  trainer.pad_id, trainer.eos_id, trainer.bos_id, trainer.unk_id = ids["pad"], ids["eos"], ids["bos"], ids["unk"]
  trainer.pad_piece, trainer.eos_piece, trainer.bos_piece, trainer.unk_piece = (
      pieces[ids["pad"]], pieces[ids["eos"]], pieces[ids["bos"]], pieces[ids["unk"]])

  normalizer = proto.normalizer_spec
  normalizer.name = "identity"
  normalizer.add_dummy_prefix = False
  normalizer.remove_extra_whitespaces = False
  normalizer.escape_whitespaces = True
  return proto.SerializeToString()
