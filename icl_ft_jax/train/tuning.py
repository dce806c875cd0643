"""What is trained: all params, all but the embedding, or LoRA adapters.

`Tuning` splits the loaded params into a trainable and a frozen part, rebuilds
the params the forward pass needs from the two, and exports plain-model params
(adapters merged) for the scorer.

    tuning = make_tuning(loaded, TuningConfig(lora_rank=8), seed=0)
    trainable, frozen = tuning.initial_trainable(loaded.params), tuning.frozen(loaded.params)
    loss = loss_lib.document_loss(tuning.module, tuning.combine(trainable, frozen), batch,
                                  hidden_fn=tuning.hidden_fn)
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any

import jax

from icl_ft_jax.errors import ConfigError
from icl_ft_jax.model import forward
from icl_ft_jax.train import lora

EMBEDDING = "embedder"


@dataclasses.dataclass(frozen=True, kw_only=True)
class TuningConfig:
  lora_rank: int = 0  # 0: full fine-tuning; >0: LoRA adapters of this rank on every Einsum.
  freeze_embedding: bool = False  # Full fine-tuning without updating the (tied) embedding.

  def __post_init__(self):
    if self.lora_rank < 0:
      raise ConfigError(f"tuning.lora_rank must be >= 0, got {self.lora_rank}.")

  @property
  def kind(self) -> str:
    if self.lora_rank:
      return f"lora{self.lora_rank}"
    return "full_frozen_embedding" if self.freeze_embedding else "full"


def _without(params: Mapping[str, Any], key: str) -> dict[str, Any]:
  return {k: v for k, v in params.items() if k != key}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Tuning:
  """How trainable and frozen params make up the model being trained."""

  config: TuningConfig
  base_model: Any  # The plain gm.nn.Transformer.
  module: Any  # What the forward applies: the base model or its LoRA wrapper.
  hidden_fn: Callable[..., Any]
  seed: int = 0

  def frozen(self, params):
    """The part of the loaded params that stays fixed."""
    if self.config.lora_rank:
      return params
    if self.config.freeze_embedding:
      return {EMBEDDING: params[EMBEDDING]}
    return {}

  def initial_trainable(self, params):
    """What training starts from: loaded params (or their unfrozen part), or fresh LoRA adapters."""
    if self.config.lora_rank:
      return self.init_trainable()
    if self.config.freeze_embedding:
      return _without(params, EMBEDDING)
    return params

  def abstract_trainable(self, abstract_params):
    if self.config.lora_rank:
      return lora.abstract_adapters(self.module)
    if self.config.freeze_embedding:
      return _without(abstract_params, EMBEDDING)
    return abstract_params

  def init_trainable(self, out_shardings=None):
    return lora.init_adapters(self.module, self.seed, out_shardings=out_shardings)

  def combine(self, trainable, frozen):
    """The params `module` is applied with."""
    if self.config.lora_rank:
      return lora.combine(frozen, trainable)
    return {**frozen, **trainable}

  def export(self, trainable, frozen):
    """Plain-model params for scoring and sampling (adapters merged)."""
    if self.config.lora_rank:
      return lora.merge(self.base_model, frozen, trainable)
    return {**frozen, **trainable}


def make_tuning(model, config: TuningConfig, *, seed: int = 0) -> Tuning:
  if config.lora_rank:
    return Tuning(config=config, base_model=model, module=lora.lora_model(model, config.lora_rank),
                  hidden_fn=lora.hidden_states, seed=seed)
  return Tuning(config=config, base_model=model, module=model, hidden_fn=forward.hidden_states, seed=seed)


def count_params(tree) -> int:
  return sum(x.size for x in jax.tree.leaves(tree))
