"""What fine-tuning costs the model elsewhere: its loss on held-out prose, before and after.

The study fine-tunes hard (several epochs on a few facts, a high learning rate on CPU). A setting
that raises the loss on ordinary text by much has damaged the model, and its test numbers mean
less. `data/heldout_paragraphs.txt` holds short paragraphs of generic prose written for this
check; they share no wording with any dataset's documents, templates or prompts. Each paragraph's
first sentence is the prompt and the rest is scored, so the number is the mean negative
log-likelihood per token (nats) of the continuations.
"""

from __future__ import annotations

import functools
import importlib.resources

from icl_ft_jax.scoring import MCItem


@functools.cache
def paragraphs() -> tuple[str, ...]:
  text = importlib.resources.files("icl_ft_jax.data").joinpath("heldout_paragraphs.txt").read_text()
  return tuple(p.strip() for p in text.split("\n\n") if p.strip())


def items() -> list[MCItem]:
  """Each paragraph as its first sentence (the prompt) and the rest (the one "choice" scored)."""
  split = [p.split(". ", 1) for p in paragraphs()]
  return [MCItem(prompt=first + ".", choices=(" " + rest,)) for first, rest in split]


def heldout_nll(scorer) -> float:
  """Mean negative log-likelihood per token of the paragraphs' continuations under `scorer`'s params."""
  scores = scorer.score(items(), description="held-out NLL")
  logprob = sum(s.choices[0].logprob for s in scores)
  tokens = sum(s.choices[0].num_tokens for s in scores)
  return -logprob / tokens
