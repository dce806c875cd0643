"""The train state: what a checkpoint holds and what the jitted step carries and donates."""

from __future__ import annotations

from typing import Any

import flax.struct
import jax


@flax.struct.dataclass
class TrainState:
  """Step counter, trainable params and optimizer state, as one pytree.

  Frozen params (the base model under LoRA, or a frozen embedding) are not here:
  they come from the model checkpoint, so they are never saved twice.
  """

  step: jax.Array  # int32 scalar: optimizer updates applied so far.
  params: Any  # The trainable params (full params, their unfrozen part, or LoRA adapters).
  opt_state: Any
