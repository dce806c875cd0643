"""Fine-tunes a loaded model on training documents: the config sections assembled into a run.

    result = finetune(loaded, dataset.documents, FinetuneConfig.from_config(config), mesh=mesh,
                      workdir=workdir, identity={...})
    scorer = Scorer(loaded.model, result.params, loaded.tokenizer, mesh)

Resumes from the workdir's latest checkpoint when there is one (after checking
that the workdir was started with the same config); otherwise starts fresh.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import pathlib
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import jax
import jax.numpy as jnp
import optax

from icl_ft_jax import config_sections, sharding as sharding_lib, storage
from icl_ft_jax.data import schema
from icl_ft_jax.errors import ConfigError
from icl_ft_jax.train import checkpointing, data as data_lib, loop, metrics as metrics_lib, optimizer as optimizer_lib
from icl_ft_jax.train import step as step_lib, tuning as tuning_lib
from icl_ft_jax.train.state import TrainState


@dataclasses.dataclass(frozen=True, kw_only=True)
class FinetuneConfig:
  seed: int = 0
  data: data_lib.DataConfig = data_lib.DataConfig()
  tuning: tuning_lib.TuningConfig = tuning_lib.TuningConfig()
  optimizer: optimizer_lib.OptimizerConfig = optimizer_lib.OptimizerConfig()
  checkpoint: checkpointing.CheckpointConfig = checkpointing.CheckpointConfig()
  loop: loop.LoopConfig = loop.LoopConfig()

  @classmethod
  def from_config(cls, config: Mapping[str, Any]) -> FinetuneConfig:
    """From an experiment config with sections data, tuning, optimizer, checkpoint, train."""
    section = lambda name: dict(config[name]) if name in config else {}
    return cls(seed=int(config.get("seed", 0)),
               data=config_sections.build(data_lib.DataConfig, section("data"), "data"),
               tuning=config_sections.build(tuning_lib.TuningConfig, section("tuning"), "tuning"),
               optimizer=config_sections.build(optimizer_lib.OptimizerConfig, section("optimizer"), "optimizer"),
               checkpoint=config_sections.build(checkpointing.CheckpointConfig, section("checkpoint"), "checkpoint"),
               loop=config_sections.build(loop.LoopConfig, section("train"), "train"))


@dataclasses.dataclass(frozen=True, kw_only=True)
class FinetuneResult:
  params: Any  # Plain-model params for scoring (LoRA adapters merged).
  state: TrainState
  resumed_from: int | None  # The checkpoint step training resumed from.


def check_batch_fits_mesh(config: data_lib.DataConfig, mesh) -> None:
  split = 1
  for axis in step_lib.BATCH_AXES:
    split *= mesh.shape.get(axis, 1)
  if config.rows % split:
    raise ConfigError(f"The batch has {config.rows} rows, not a multiple of the mesh's data x fsdp size"
                      f" ({split}); set data.batch_size (or data.rows_per_batch) to a multiple of it.")


def with_epochs(config: FinetuneConfig, num_documents: int) -> FinetuneConfig:
  """The config with `loop.steps` set from `loop.epochs` over `num_documents` (unchanged if epochs is 0)."""
  if not config.loop.epochs:
    return config
  steps = max(1, math.ceil(config.loop.epochs * num_documents / config.data.batch_size))
  return dataclasses.replace(config, loop=dataclasses.replace(config.loop, steps=steps))


def finetune(loaded, documents: Sequence[schema.Document], config: FinetuneConfig, *, mesh,
             workdir: str | pathlib.Path, identity: Mapping[str, Any],
             rules: sharding_lib.ShardingRules = sharding_lib.ShardingRules(),
             evaluate: Callable[[Any], Mapping[str, float]] | None = None,
             progress: bool = True, donate_params: bool = False) -> FinetuneResult:
  """Trains `loaded` on `documents` for `config.loop.steps` steps under `workdir`.

  Args:
    loaded: A `LoadedModel` whose params are placed on `mesh` with `rules`.
    identity: What this run trains (model, dataset, ...); a workdir started with
      another identity is refused.
    evaluate: Called with plain-model params every `eval_every_steps` and at the
      end; returns named scalars to log.
    donate_params: Train in `loaded.params`' own buffers (see `PreparedRun.initial_state`): for a
      caller that never uses the base model again.
  """
  workdir = storage.path(workdir)  # A folder or gs://: checkpoints and logs go through epath.
  config = with_epochs(config, len(documents))
  check_batch_fits_mesh(config.data, mesh)
  checkpointing.check_run_identity(workdir, identity)
  examples = data_lib.tokenize(loaded.tokenizer, documents, config.data)
  batches = data_lib.Batches(examples, config.data, config.seed)

  run = prepare(loaded, config, mesh=mesh, rules=rules)
  checkpointer = checkpointing.Checkpointer(workdir / "checkpoints", config.checkpoint)
  latest = checkpointer.latest_step()
  if latest is not None:
    logging.info("Resuming from the checkpoint of step %d in %s.", latest, workdir / "checkpoints")
    state = checkpointer.restore(latest, checkpointing.abstract_with_shardings(run.abstract_state,
                                                                               run.shardings.state))
  else:
    state = run.initial_state(loaded.params, donate=donate_params)
  logging.info("Fine-tuning %s: %d trainable params (%s), %d training examples, %d steps of %d documents.",
               loaded.spec.name, tuning_lib.count_params(state.params), config.tuning.kind, len(examples),
               config.loop.steps, config.data.batch_size)
  frozen = run.frozen
  writer = metrics_lib.create_writer(workdir, resume_step=latest or 0)
  try:
    state = loop.run(
        train_step=run.train_step, state=state, frozen=frozen, batches=batches, batch_sharding=run.shardings.batch,
        config=config.loop, checkpointer=checkpointer, writer=writer, progress=progress,
        evaluate=None if evaluate is None else (lambda s: evaluate(run.export(s.params, frozen))))
  finally:
    writer.close()
    checkpointer.close()
  return FinetuneResult(params=run.export(state.params, frozen), state=state, resumed_from=latest)


@dataclasses.dataclass(frozen=True, kw_only=True)
class PreparedRun:
  """Everything a training step needs, placed on the mesh; no workdir involved."""

  tuning: tuning_lib.Tuning
  optimizer: optax.GradientTransformation
  abstract_state: TrainState
  shardings: step_lib.StepShardings
  frozen: Any  # Frozen params on the mesh ({} for full fine-tuning).
  train_step: Callable  # Jitted `(state, frozen, batch) -> (state, metrics)`; donates `state`.
  export: Callable  # Jitted `(trainable, frozen) -> plain-model params`.

  def initial_state(self, params, *, donate: bool = False) -> TrainState:
    """Step 0: the trainable params and fresh moments.

    The step donates its state, so by default the state holds a copy of the trainable params and
    `params` stay usable. `donate=True` hands their buffers to the state instead: one copy of the
    model fewer in memory (1.1 GB for the 270M in float32), and `params`' trainable arrays are deleted.
    """
    trainable = self.tuning.initial_trainable(params)

    def init(trainable):
      if not donate:
        trainable = jax.tree.map(jnp.copy, trainable)
      return TrainState(step=jnp.zeros((), jnp.int32), params=trainable, opt_state=self.optimizer.init(trainable))

    return jax.jit(init, out_shardings=self.shardings.state, donate_argnums=(0,) if donate else ())(trainable)


def compute_dtype(config: loop.LoopConfig) -> jnp.dtype | None:
  """`train.compute_dtype` as a dtype; None for "auto" (the params' own)."""
  return None if config.compute_dtype == "auto" else jnp.dtype(config.compute_dtype)


def prepare(loaded, config: FinetuneConfig, *, mesh,
            rules: sharding_lib.ShardingRules = sharding_lib.ShardingRules()) -> PreparedRun:
  """Builds the tuning, optimizer, shardings and the jitted step for `loaded` on `mesh`."""
  tuning = tuning_lib.make_tuning(loaded.model, config.tuning, seed=config.seed)
  optimizer, schedule = optimizer_lib.make_optimizer(config.optimizer, config.loop.steps)
  abstract = lambda tree: jax.tree.map(lambda x: jax.ShapeDtypeStruct(x.shape, x.dtype), tree)
  abstract_params = abstract(loaded.params)
  abstract_state = step_lib.abstract_state(optimizer, tuning.abstract_trainable(abstract_params))
  frozen = tuning.frozen(loaded.params)
  shardings = step_lib.make_shardings(abstract_state, abstract(frozen), mesh, rules)
  train_step = step_lib.jit_train_step(
      step_lib.make_train_step(tuning, optimizer, schedule, chunk_length=config.loop.loss_chunk_length or None,
                               logits_budget_mib=config.loop.loss_logits_budget_mib,
                               remat=config.loop.remat_blocks,
                               compute_dtype=compute_dtype(config.loop)),
      shardings)
  export = jax.jit(tuning.export, out_shardings=sharding_lib.param_shardings(abstract_params, mesh, rules))
  return PreparedRun(tuning=tuning, optimizer=optimizer, abstract_state=abstract_state, shardings=shardings,
                     frozen=jax.device_put(frozen, shardings.frozen), train_step=train_step, export=export)
