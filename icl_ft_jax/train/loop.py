"""The training loop: step, checkpoint, log, evaluate, with a progress bar.

It knows nothing about datasets or evaluation splits: batches come from a
step-addressed `Batches`, and evaluation is a callback returning named scalars.
"""

from __future__ import annotations

import dataclasses
import signal
import threading
import time
from collections.abc import Callable, Mapping

import jax
import numpy as np

from icl_ft_jax import progress as progress_lib, sharding as sharding_lib
from icl_ft_jax.errors import ConfigError, Interrupted
from icl_ft_jax.train.state import TrainState


COMPUTE_DTYPES = ("auto", "float32", "bfloat16")


@dataclasses.dataclass(frozen=True, kw_only=True)
class LoopConfig:
  steps: int = 200  # Ignored when epochs > 0.
  # > 0: steps = ceil(epochs x documents / batch size), so a larger (augmented) training set trains
  # longer, as the study's 200-1000 steps by dataset size did (see `trainer.with_epochs`).
  epochs: float = 0.0
  log_every_steps: int = 10
  eval_every_steps: int = 0  # 0: evaluate only at the end.
  loss_chunk_length: int = 32  # Sequence positions per loss chunk; 0: full logits (more memory).
  # Full logits (faster) while the batch's float32 [B, L, vocab] logits fit in this many MiB; 0: always chunk.
  loss_logits_budget_mib: int = 1024
  # Recompute each block's activations in the backward pass: one block's activations in memory instead of
  # all of them, for about a third more compute per step (long rows: process knowledge, semantic structure).
  remat_blocks: bool = False
  # Mixed precision: the forward and backward passes in this dtype, the params, their gradients and AdamW's
  # moments in the params' own ("auto": compute in the params' dtype). "bfloat16" is the accelerators' fast
  # path; the loss's logits stay float32 (see `step.make_train_step`). On a 2-core AVX512_BF16 CPU the whole
  # step was slower than float32 (benchmarks/README.md).
  compute_dtype: str = "auto"

  def __post_init__(self):
    if self.compute_dtype not in COMPUTE_DTYPES:
      raise ConfigError(f"train.compute_dtype {self.compute_dtype!r} is not one of {', '.join(COMPUTE_DTYPES)}.")
    if self.epochs < 0:
      raise ConfigError(f"train.epochs must be >= 0 (0: train.steps decides), got {self.epochs}.")
    if (self.steps < 1 or self.log_every_steps < 1 or self.eval_every_steps < 0 or self.loss_chunk_length < 0
        or self.loss_logits_budget_mib < 0):
      raise ConfigError("train.steps and train.log_every_steps must be >= 1; eval_every_steps, loss_chunk_length,"
                        " loss_logits_budget_mib >= 0.")


def run(*, train_step, state: TrainState, frozen, batches, batch_sharding, config: LoopConfig,
        checkpointer, writer, evaluate: Callable[[TrainState], Mapping[str, float]] | None = None,
        progress: bool = True) -> TrainState:
  """Trains from `state.step` to `config.steps`; returns the final state.

  Saves a checkpoint every `checkpoint.every_steps` and at the end, logs loss,
  learning rate, gradient norm, step time and tokens/s every `log_every_steps`
  (timings span the steps since the last log, so they include host work and the
  first step's compilation), and evaluates every `eval_every_steps` and at the end.
  A Ctrl-C or SIGTERM stops it between steps, after saving that step's
  checkpoint, with an `Interrupted` error that says how to resume.
  """
  start = int(jax.device_get(state.step))
  with _StopRequest() as stop:
    state = _train(train_step=train_step, state=state, frozen=frozen, batches=batches,
                   batch_sharding=batch_sharding, config=config, checkpointer=checkpointer, writer=writer,
                   evaluate=evaluate, progress=progress, start=start, stop=stop)
  checkpointer.wait()
  if evaluate is not None:
    _log(writer, config.steps, {f"eval/{k}": v for k, v in evaluate(state).items()})
  return state


def _log(writer, step: int, scalars: Mapping[str, float]) -> None:
  """One row of scalars to the `clu.metric_writers` writer, flushed (a killed run keeps it)."""
  writer.write_scalars(step, scalars)
  writer.flush()


class _StopRequest:
  """The first Ctrl-C or SIGTERM becomes a request the loop honours between steps (a second one
  interrupts at once). Single-process runs only: on several hosts a save needs every host."""

  SIGNALS = (signal.SIGINT, signal.SIGTERM)

  def __init__(self):
    self.received: int | None = None
    self._previous = {}

  def __enter__(self):
    if threading.current_thread() is threading.main_thread() and jax.process_count() == 1:
      self._previous = {s: signal.getsignal(s) for s in self.SIGNALS}
      for s in self.SIGNALS:
        signal.signal(s, self._handle)
    return self

  def _handle(self, signum, frame):
    del frame
    self.received = signum
    signal.signal(signum, self._previous[signum])

  def __exit__(self, *exc):
    for s, handler in self._previous.items():
      signal.signal(s, handler)


def _train(*, train_step, state, frozen, batches, batch_sharding, config: LoopConfig, checkpointer, writer,
           evaluate, progress: bool, start: int, stop: _StopRequest) -> TrainState:
  bar = progress_lib.progress_bar(config.steps, description="fine-tuning", unit="step", enabled=progress,
                                 initial=start, smoothing=0.1)
  window_start, window_steps, window_tokens = time.perf_counter(), 0, 0
  for step in range(start, config.steps):
    if stop.received is not None:
      bar.close()
      _save_now(checkpointer, step, state)
      raise Interrupted(f"Fine-tuning stopped at step {step} of {config.steps} ({signal.Signals(stop.received).name})"
                        " with a checkpoint of that step; rerun the same command with the same --workdir to resume.")
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
      _log(writer, done, scalars)
      bar.set_postfix(loss=f"{scalars['loss']:.4f}", lr=f"{scalars['learning_rate']:.2e}", refresh=False)
      window_start, window_steps, window_tokens = time.perf_counter(), 0, 0
    bar.update(1)
    if evaluate is not None and config.eval_every_steps and done % config.eval_every_steps == 0 \
        and done != config.steps:
      _log(writer, done, {f"eval/{k}": v for k, v in evaluate(state).items()})
      window_start = time.perf_counter()  # Step timings exclude evaluation.
  bar.close()
  return state


def _save_now(checkpointer, step: int, state: TrainState) -> None:
  """Saves `state` (at `step`) unless that step is saved already, and waits for it."""
  if checkpointer.latest_step() != step:
    checkpointer.save(step, state, force=True)
  checkpointer.wait()
