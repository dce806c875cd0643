"""Pronounceable nonsense words that are not English words.

The study replaces every content word with a 4-5 letter nonsense word so that no
test answer can come from pretraining. Words are built from syllable patterns
(onset, vowel, coda), checked against large English word lists (the
`english-words` package: web2 + GCIDE, about 264k words), unique within a call,
and reproducible from the random generator passed in.
"""

from __future__ import annotations

import functools

import numpy as np

_ONSETS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "v", "z",
           "bl", "br", "dr", "fl", "fr", "gl", "gr", "kl", "kr", "pl", "pr", "sk",
           "sl", "sn", "sp", "st", "tr", "zw")
_VOWELS = ("a", "e", "i", "o", "u", "a", "e", "o", "ai", "ee", "oo", "ou")
_CODAS = ("b", "d", "f", "g", "k", "l", "m", "n", "p", "r", "s", "t", "x", "z",
          "ft", "lk", "mp", "nd", "nk", "nt", "rb", "rk", "rn", "rp", "sk", "st")
# Syllable shapes; each is a sequence of inventory names.
_SHAPES = (
    ("onset", "vowel", "coda"),                   # glon, femp, troff
    ("onset", "vowel", "onset", "vowel"),         # tipa, zoru
    ("vowel", "onset", "vowel", "coda"),          # abem
    ("onset", "vowel", "onset", "vowel", "coda"),  # fadob (trimmed by length)
)
_INVENTORIES = {"onset": _ONSETS, "vowel": _VOWELS, "coda": _CODAS}


@functools.cache
def english_words() -> frozenset[str]:
  """Lower-case English words (plus simple plurals) that nonsense words must avoid."""
  from english_words import get_english_words_set  # pylint: disable=g-import-not-at-top

  words = get_english_words_set(["web2", "gcide"], lower=True, alpha=True)
  return frozenset(words | {w + "s" for w in words} | {w + "es" for w in words})


def _candidate(rng: np.random.Generator) -> str:
  shape = _SHAPES[rng.integers(len(_SHAPES))]
  return "".join(_INVENTORIES[part][rng.integers(len(_INVENTORIES[part]))] for part in shape)


def nonsense_words(
    count: int,
    rng: np.random.Generator,
    *,
    min_length: int = 4,
    max_length: int = 5,
    exclude: frozenset[str] | set[str] = frozenset(),
    max_attempts_per_word: int = 500,
) -> list[str]:
  """Returns `count` distinct pronounceable non-English words, in generation order.

  Words differ from each other also after adding a plural "s", so that "glon"
  and "glons" never name two different things. `exclude` holds words already used.
  """
  if count < 0:
    raise ValueError(f"count must be >= 0, got {count}.")
  if not 1 <= min_length <= max_length:
    raise ValueError(f"need 1 <= min_length <= max_length, got {min_length}, {max_length}.")
  forbidden = english_words()
  taken = {w for word in exclude for w in (word, word + "s")}
  words: list[str] = []
  attempts = 0
  while len(words) < count:
    attempts += 1
    if attempts > max_attempts_per_word * max(count, 1):
      raise ValueError(
          f"Could only make {len(words)} of {count} distinct nonsense words of length"
          f" {min_length}-{max_length}; ask for fewer words or allow longer ones."
      )
    word = _candidate(rng)
    if not min_length <= len(word) <= max_length:
      continue
    if word in forbidden or word in taken or word + "s" in taken or word.removesuffix("s") in taken:
      continue
    words.append(word)
    taken.update((word, word + "s"))
  return words
