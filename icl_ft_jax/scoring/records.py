"""What the scorer takes and returns. Knows nothing about datasets."""

from __future__ import annotations

import dataclasses

# How a question's choices are compared: summed log-probability (the headline),
# per token, or per character of the choice.
NORMALIZATIONS = ("sum", "per_token", "per_char")


@dataclasses.dataclass(frozen=True, kw_only=True)
class MCItem:
  """A multiple-choice item: each choice is scored as a continuation of `prompt`."""

  prompt: str
  choices: tuple[str, ...]


@dataclasses.dataclass(frozen=True, kw_only=True)
class ChoiceScore:
  logprob: float  # Summed log-probability of the choice's tokens given everything before.
  num_tokens: int
  num_chars: int
  is_greedy: bool  # Every choice token is the argmax continuation.


@dataclasses.dataclass(frozen=True, kw_only=True)
class QuestionScore:
  choices: tuple[ChoiceScore, ...]

  def normalized(self, normalization: str) -> tuple[float, ...]:
    if normalization == "sum":
      return tuple(c.logprob for c in self.choices)
    if normalization == "per_token":
      return tuple(c.logprob / c.num_tokens for c in self.choices)
    if normalization == "per_char":
      return tuple(c.logprob / max(c.num_chars, 1) for c in self.choices)
    raise ValueError(f"Unknown normalization {normalization!r}; use one of {NORMALIZATIONS}.")

  def prediction(self, normalization: str = "sum") -> int:
    """Index of the best choice (the first one on ties, so results are deterministic)."""
    scores = self.normalized(normalization)
    return max(range(len(scores)), key=lambda i: (scores[i], -i))
