"""The benchmarks' random token batch, in numpy alone.

Both sides of `peer_hf.py` train on it, and the Hugging Face side runs in a
process that must not import JAX (torch beside the JAX stack has crashed in
libc on this project's CPU machine; see tests/peer_reference.py).
"""

from __future__ import annotations

import numpy as np


def synthetic_batch(batch: int, length: int) -> dict[str, np.ndarray]:
  """Random tokens (ids 3..200k of Gemma's 262k vocabulary), every position weighted, one document per row."""
  rng = np.random.default_rng(0)
  return {"inputs": rng.integers(3, 200_000, (batch, length), dtype=np.int32),
          "targets": rng.integers(3, 200_000, (batch, length), dtype=np.int32),
          "weights": np.ones((batch, length), np.float32),
          "positions": np.tile(np.arange(length, dtype=np.int32), (batch, 1)),
          "segment_ids": np.ones((batch, length), np.int32)}
