"""In-context learning: the training documents become the context before each question.

The context is the dataset's documents, shuffled with the seed, optionally
subsampled (the study keeps 1/8 of the largest datasets), joined with a
separator, after optional instruction text and demonstrations. It ends with the
separator, so the question starts a new paragraph. With `prompt_format="chat"` (an
instruction-tuned model, see `icl_ft_jax/chat.py`) the instruction and documents are the
user's turn and the context ends by opening the model's turn: the question's statement is
the start of the model's answer, and each choice is scored as its continuation.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from icl_ft_jax import chat
from icl_ft_jax.data import schema
from icl_ft_jax.errors import ConfigError, UserError

FIT_POLICIES = ("error", "subsample")
CONTEXT_FORMATS = ("plain", "chat")


@dataclasses.dataclass(frozen=True, kw_only=True)
class ContextConfig:
  """How the training documents are laid out in context.

  Attributes:
    separator: Between documents, and after the last one.
    instruction: Text before the documents ("" for none).
    demonstrations: Example texts after the documents (e.g. solved questions).
    subsample: Fraction of documents kept, drawn at random with the seed.
    fit: What to do when the context does not fit `max_context_tokens`: "error"
      says how much subsampling would fit; "subsample" keeps the largest fraction
      that fits and records it.
    max_context_tokens: Context budget (0 = the model's window minus the question).
    seed: Shuffle and subsample seed.
    prompt_format: "plain", or "chat" (the user's turn holds everything, the model's turn is
      opened after it). Jobs resolve the config's "auto" with `chat.resolve`.
  """

  separator: str = "\n\n"
  instruction: str = ""
  demonstrations: tuple[str, ...] = ()
  subsample: float = 1.0
  fit: str = "error"
  max_context_tokens: int = 0
  seed: int = 0
  prompt_format: str = "plain"

  def __post_init__(self):
    if not 0.0 < self.subsample <= 1.0:
      raise ConfigError(f"icl.subsample must be in (0, 1], got {self.subsample}.")
    if self.fit not in FIT_POLICIES:
      raise ConfigError(f"icl.fit must be one of {FIT_POLICIES}, got {self.fit!r}.")
    if self.prompt_format not in CONTEXT_FORMATS:
      raise ConfigError(f"A context's prompt_format must be one of {CONTEXT_FORMATS} (resolve 'auto' with"
                        f" chat.resolve), got {self.prompt_format!r}.")


@dataclasses.dataclass(frozen=True)
class Context:
  text: str
  document_ids: tuple[str, ...]
  fraction: float  # Of the dataset's documents that are in the context.
  num_tokens: int
  prompt_format: str = "plain"  # As laid out ("plain" or "chat"), recorded with the results.


def ordered_documents(documents: Sequence[schema.Document], fraction: float, seed: int) -> list[schema.Document]:
  """A seeded shuffle, then the first `fraction` of it (so smaller fractions nest)."""
  order = np.random.default_rng(seed).permutation(len(documents))
  keep = max(1, math.floor(len(documents) * fraction + 1e-9))
  return [documents[i] for i in order[:keep]]


def render(documents: Sequence[schema.Document], config: ContextConfig) -> str:
  parts = ([config.instruction] if config.instruction else []) + [d.text for d in documents]
  parts += list(config.demonstrations)
  text = "".join(part + config.separator for part in parts)
  if config.prompt_format == "chat":
    return chat.gemma_user_turn().wrap(text.removesuffix(config.separator))
  return text


def build_context(documents: Sequence[schema.Document], config: ContextConfig, count_tokens,
                  budget: int) -> Context:
  """The context for `documents`, fitted into `budget` tokens by `config.fit`.

  Args:
    count_tokens: text -> number of tokens (the model's tokenizer).
    budget: Most tokens the context may have.
  """
  fraction = config.subsample
  chosen = ordered_documents(documents, fraction, config.seed)
  text = render(chosen, config)
  tokens = count_tokens(text)
  if tokens > budget:
    fitting = fraction * budget / tokens
    if config.fit == "error":
      raise UserError(
          f"The in-context documents take {tokens} tokens, over the budget of {budget}. Keep about"
          f" {fitting:.3f} of them (--config.icl.subsample={fitting:.3f}) or set --config.icl.fit=subsample."
      )
    while tokens > budget:  # Token counts are not exactly proportional: shrink until it fits.
      if len(chosen) == 1:  # Nothing left to drop: the loop would never end.
        raise UserError(
            f"Even one in-context document (with the instruction and demonstrations) takes {tokens} tokens,"
            f" over the budget of {budget}; raise icl.max_context_tokens or shorten the framing text.")
      fraction *= 0.97 * budget / tokens
      chosen = ordered_documents(documents, fraction, config.seed)
      text = render(chosen, config)
      tokens = count_tokens(text)
  return Context(text=text, document_ids=tuple(d.id for d in chosen),
                 fraction=len(chosen) / len(documents), num_tokens=tokens, prompt_format=config.prompt_format)
