"""Prompt/continuation tokenization with lm-evaluation-harness semantics.

The pair is encoded jointly and split at the prompt boundary, so a choice's tokens
are the ones the model would see after that prompt; trailing spaces of the prompt
move into the continuation (" Paris" is one token, "Paris" after a space is not);
BOS (the tokenizer's own id) is always prepended for Gemma; an empty continuation is
an error.
"""

from __future__ import annotations

import dataclasses

from icl_ft_jax.errors import UserError


@dataclasses.dataclass(frozen=True)
class EncodedPair:
  prompt_ids: tuple[int, ...]  # Starts with BOS unless it continues a context.
  continuation_ids: tuple[int, ...]


def split_trailing_space(prompt: str, continuation: str) -> tuple[str, str]:
  stripped = prompt.rstrip(" ")
  return stripped, prompt[len(stripped):] + continuation


def encode_pair(tokenizer, prompt: str, continuation: str, *, add_bos: bool = True) -> EncodedPair:
  """Token ids of `prompt` and of `continuation` as it follows the prompt."""
  if not continuation:
    raise UserError(f"Empty continuation for prompt {prompt[-60:]!r}: every choice needs text.")
  prompt, continuation = split_trailing_space(prompt, continuation)
  whole = list(tokenizer.encode(prompt + continuation))
  prompt_ids = list(tokenizer.encode(prompt)) if prompt else []
  continuation_ids = whole[len(prompt_ids):]
  if not continuation_ids:
    raise UserError(f"Continuation {continuation!r} produced no tokens after prompt {prompt[-60:]!r}.")
  prefix = [int(tokenizer.special_tokens.BOS)] if add_bos else []
  return EncodedPair(tuple(prefix + whole[:len(prompt_ids)]), tuple(continuation_ids))
