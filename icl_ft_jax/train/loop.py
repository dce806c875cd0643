"""The training loop: step, checkpoint, log, evaluate, with a progress bar.

It knows nothing about datasets or evaluation splits: batches come from a
step-addressed `Batches`, and evaluation is a callback returning named scalars.
"""

from __future__ import annotations

import dataclasses
import time
from collections.abc import Callable, Mapping

import jax
import numpy as np

from icl_ft_jax import sharding as sharding_lib
from icl_ft_jax.errors import ConfigError
from icl_ft_jax.train.state import TrainState


@dataclasses.dataclass(frozen=True, kw_only=True)
class LoopConfig:
  steps: int = 200
  log_every_steps: int = 10
  eval_every_steps: int = 0  # 0: evaluate only at the end.
  loss_chunk_length: int = 32  # Sequence positions per loss chunk; 0: full logits (more memory).

  def __post_init__(self):
    if self.steps < 1 or self.log_every_steps < 1 or self.eval_every_steps < 0 or self.loss_chunk_length < 0:
      raise ConfigError("train.steps and train.log_every_steps must be >= 1; eval_every_steps, loss_chunk_length >= 0.")


def _progress(total: int, initial: int, enabled: bool):
  from tqdm.auto import tqdm  # pylint: disable=g-import-not-at-top

  return tqdm(total=total, initial=initial, unit="step", desc="fine-tuning", disable=not enabled,
              mininterval=2.0, smoothing=0.1)


def run(*, train_step, state: TrainState, frozen, batches, batch_sharding, config: LoopConfig,
        checkpointer, writer, evaluate: Callable[[TrainState], Mapping[str, float]] | None = None,
        progress: bool = True) -> TrainState:
  """Trains from `state.step` to `config.steps`; returns the final state.

  Saves a checkpoint every `checkpoint.every_steps` and at the end, logs loss,
  learning rate, gradient norm, step time and tokens/s every `log_every_steps`
  (timings span the steps since the last log, so they include host work and the
  first step's compilation), and evaluates every `eval_every_steps` and at the end.
  """
  start = int(jax.device_get(state.step))
  bar = _progress(config.steps, start, progress and jax.process_index() == 0)
  window_start, window_steps, window_tokens = time.perf_counter(), 0, 0
  for step in range(start, config.steps):
    host_batch = batches(step)
    state, metrics = train_step(state, frozen, sharding_lib.global_batch(host_batch, batch_sharding))
    done = step + 1
    window_steps += 1
    window_tokens += int(np.count_nonzero(host_batch["segment_ids"]))
    checkpointer.save(done, state, force=done == config.steps)
    if done % config.log_every_steps == 0 or done == config.steps:
      scalars = {k: float(v) for k, v in jax.device_get(metrics).items()}  # Waits for the step.
      elapsed = time.perf_counter() - window_start
      scalars.update(step_time_s=elapsed / window_steps, tokens_per_s=window_tokens / elapsed,
                     epoch=batches.epoch_of(done))
      writer.write(done, scalars)
      bar.set_postfix(loss=f"{scalars['loss']:.4f}", lr=f"{scalars['learning_rate']:.2e}", refresh=False)
      window_start, window_steps, window_tokens = time.perf_counter(), 0, 0
    bar.update(1)
    if evaluate is not None and config.eval_every_steps and done % config.eval_every_steps == 0 \
        and done != config.steps:
      writer.write(done, {f"eval/{k}": v for k, v in evaluate(state).items()})
      window_start = time.perf_counter()  # Step timings exclude evaluation.
  bar.close()
  checkpointer.wait()
  if evaluate is not None:
    writer.write(config.steps, {f"eval/{k}": v for k, v in evaluate(state).items()})
  return state
