"""Static shapes: lengths padded up to a few buckets, so jit compiles a handful of shapes.

Scoring, the KV cache, sampling and training batches all pad a length to a bucket or a
multiple; the rules live here once.
"""

from __future__ import annotations

from collections.abc import Sequence

from icl_ft_jax.errors import UserError

POWERS_OF_TWO = (8, 16, 32, 64, 128, 256, 512, 1024, 2048, 4096, 8192, 16384, 32768)


def round_up(n: int, multiple: int) -> int:
  return -(-n // multiple) * multiple


def bucket(n: int, buckets: Sequence[int], *, what: str, largest: str = "bucket", advice: str = "") -> int:
  """The smallest of `buckets` that holds `n` tokens.

  A `UserError` when none does: "A {what} of {n} tokens is longer than the largest
  {largest} ({max}){advice}." (`largest` names the setting, `advice` says what to change).
  """
  for size in sorted(buckets):
    if n <= size:
      return size
  raise UserError(f"A {what} of {n} tokens is longer than the largest {largest} ({max(buckets)}){advice}.")
