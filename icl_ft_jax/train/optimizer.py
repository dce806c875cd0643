"""An optax optimizer from the config: warmup + decay schedule, clipping, AdamW by default.

    tx, schedule = make_optimizer(OptimizerConfig(learning_rate=3e-4), total_steps=200)
"""

from __future__ import annotations

import dataclasses

import optax

from icl_ft_jax.errors import ConfigError

OPTIMIZERS = ("adamw", "adafactor", "sgd")
DECAYS = ("cosine", "linear", "constant")


@dataclasses.dataclass(frozen=True, kw_only=True)
class OptimizerConfig:
  name: str = "adamw"
  learning_rate: float = 3e-4  # The study's.
  warmup_steps: int = 10
  decay: str = "cosine"  # After warmup, down to `end_learning_rate_fraction` at the last step.
  end_learning_rate_fraction: float = 0.0
  weight_decay: float = 0.0
  b1: float = 0.9
  b2: float = 0.999
  eps: float = 1e-8
  grad_clip_norm: float = 1.0  # 0 disables clipping.

  def __post_init__(self):
    if self.name not in OPTIMIZERS:
      raise ConfigError(f"optimizer.name {self.name!r} is not one of {OPTIMIZERS}.")
    if self.decay not in DECAYS:
      raise ConfigError(f"optimizer.decay {self.decay!r} is not one of {DECAYS}.")


def make_schedule(config: OptimizerConfig, total_steps: int) -> optax.Schedule:
  """Linear warmup from 0, then the configured decay until `total_steps`."""
  peak = config.learning_rate
  end = peak * config.end_learning_rate_fraction
  warmup = min(config.warmup_steps, max(total_steps - 1, 0))
  decay_steps = max(total_steps - warmup, 1)
  if config.decay == "cosine":
    after = optax.cosine_decay_schedule(peak, decay_steps, alpha=config.end_learning_rate_fraction)
  elif config.decay == "linear":
    after = optax.linear_schedule(peak, end, decay_steps)
  else:
    after = optax.constant_schedule(peak)
  if not warmup:
    return after
  return optax.join_schedules([optax.linear_schedule(0.0, peak, warmup), after], [warmup])


def make_optimizer(config: OptimizerConfig, total_steps: int) -> tuple[optax.GradientTransformation, optax.Schedule]:
  schedule = make_schedule(config, total_steps)
  if config.name == "adamw":
    base = optax.adamw(schedule, b1=config.b1, b2=config.b2, eps=config.eps, weight_decay=config.weight_decay)
  elif config.name == "adafactor":
    base = optax.adafactor(schedule, weight_decay_rate=config.weight_decay or None)
  else:
    base = optax.sgd(schedule, momentum=config.b1 or None)
  parts = [optax.clip_by_global_norm(config.grad_clip_norm)] if config.grad_clip_norm else []
  return optax.chain(*parts, base), schedule
