"""Gemma's chat template, for prompting the instruction-tuned (`-it`) checkpoints as the study did.

The study evaluated in-context learning with the instruction-tuned model, prompted to answer
from the context, and generated its augmentations with it. `prompt_format` ("auto", "plain" or
"chat", in `config.icl` and `config.augment`) picks how those prompts are written: "auto" uses
the chat template exactly when the model is instruction-tuned (`ModelSpec.instruction_tuned`).
Fine-tuning data and the question being scored stay plain text in every format.

The turn markers come from `dialog`, the library gemma formats its own conversations with,
so they follow gemma's template rather than a copy of it.
"""

from __future__ import annotations

import dataclasses
import functools

from icl_ft_jax.errors import ConfigError

PROMPT_FORMATS = ("auto", "plain", "chat")
_MARK = "\x00"


@dataclasses.dataclass(frozen=True)
class Turn:
  """Text before and after a user's message; the text after opens the model's turn."""

  start: str = ""
  end: str = ""

  def wrap(self, message: str) -> str:
    return self.start + message + self.end


PLAIN = Turn()


@functools.cache
def gemma_user_turn() -> Turn:
  """`<start_of_turn>user\\n` and `<end_of_turn>\\n<start_of_turn>model\\n`, as gemma writes them."""
  import dialog  # pylint: disable=g-import-not-at-top

  text = dialog.Conversation(dialog.User(_MARK)).as_text(format="gemma3")
  start, end = text.split(_MARK)
  return Turn(start=start, end=end)


def resolve(prompt_format: str, spec) -> str:
  """"plain" or "chat" for a model spec (`icl_ft_jax.model.specs.ModelSpec`)."""
  if prompt_format not in PROMPT_FORMATS:
    raise ConfigError(f"prompt_format must be one of {', '.join(PROMPT_FORMATS)}, got {prompt_format!r}.")
  if prompt_format == "auto":
    return "chat" if spec.instruction_tuned else "plain"
  return prompt_format


def turn_for(prompt_format: str, spec) -> Turn:
  """The user turn that wraps a prompt in `prompt_format` for this model (empty for plain text)."""
  return gemma_user_turn() if resolve(prompt_format, spec) == "chat" else PLAIN
