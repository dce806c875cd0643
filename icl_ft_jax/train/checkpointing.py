"""Orbax checkpoints of the train state, and the guard that a workdir belongs to this run.

Saves are asynchronous (training continues while a checkpoint is written) every
`every_steps`, keeping the last `keep`; restoring reads straight into arrays with
their target sharding, so no host ever holds a full unsharded copy. A step's
directory appears only once its save has committed, so a run killed mid-save
resumes from the previous one. The directory may be a folder or a `gs://` path
(Orbax writes either through `etils.epath`).
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from collections.abc import Mapping
from typing import Any

import jax
from etils import epath

from icl_ft_jax import distributed, storage
from icl_ft_jax.errors import ConfigError, UserError

IDENTITY_FILE = "run_identity.json"


@dataclasses.dataclass(frozen=True, kw_only=True)
class CheckpointConfig:
  every_steps: int = 100
  keep: int = 2
  async_save: bool = True

  def __post_init__(self):
    if self.every_steps < 1 or self.keep < 1:
      raise ConfigError("checkpoint.every_steps and checkpoint.keep must be >= 1.")


class Checkpointer:
  """A `CheckpointManager` over `directory` holding `TrainState` pytrees."""

  def __init__(self, directory: str | os.PathLike, config: CheckpointConfig):
    import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top

    self._ocp = ocp
    if distributed.is_primary():
      remove_cut_short_saves(storage.path(directory))
    options = ocp.CheckpointManagerOptions(
        save_interval_steps=config.every_steps, max_to_keep=config.keep,
        enable_async_checkpointing=config.async_save, create=True)
    self.manager = ocp.CheckpointManager(storage.absolute(directory), options=options)

  def latest_step(self) -> int | None:
    return self.manager.latest_step()

  def save(self, step: int, state, *, force: bool = False) -> bool:
    """Saves when `step` is on the interval (or `force`); returns whether it did."""
    return self.manager.save(step, args=self._ocp.args.StandardSave(state), force=force)

  def restore(self, step: int, abstract_state):
    """Restores into `abstract_state`'s shapes, dtypes and shardings (ShapeDtypeStructs)."""
    return self.manager.restore(step, args=self._ocp.args.StandardRestore(abstract_state))

  def wait(self) -> None:
    self.manager.wait_until_finished()

  def close(self) -> None:
    self.manager.close()


def restore_read_only(directory: str | os.PathLike, abstract_state, step: int | None = None):
  """`(step, state)` of `step` (default the latest) without writing to `directory`: a run still training
  there keeps its saves (opening a `Checkpointer` would remove its save in progress)."""
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top

  directory = storage.absolute(directory)
  if not directory.is_dir():
    raise UserError(f"{directory} does not exist: the fine-tuning run has saved no checkpoint.")
  manager = ocp.CheckpointManager(directory, options=ocp.CheckpointManagerOptions(read_only=True, create=False))
  try:
    steps = manager.all_steps()
    if not steps:
      raise UserError(f"{directory} holds no finished checkpoint yet; wait for the run's first save.")
    step = max(steps) if step is None else step
    if step not in steps:
      raise UserError(f"{directory} has no checkpoint of step {step}; it has steps {sorted(steps)}.")
    return step, manager.restore(step, args=ocp.args.StandardRestore(abstract_state))
  finally:
    manager.close()


def remove_cut_short_saves(directory: epath.Path) -> None:
  """Drops the tmp folders of saves that never committed (a full disk, a kill): they are never
  restored, only take space."""
  for partial in directory.glob("*.orbax-checkpoint-tmp*"):
    logging.info("Removing %s, a checkpoint save that did not finish.", partial)
    partial.rmtree(missing_ok=True)


def abstract_with_shardings(abstract, shardings):
  return jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, a.dtype, sharding=s), abstract, shardings)


def _normalise(identity: Mapping[str, Any]) -> dict[str, Any]:
  return json.loads(json.dumps(identity, sort_keys=True, default=str))


def check_run_identity(workdir: str | os.PathLike, identity: Mapping[str, Any]) -> None:
  """Records what this workdir trains; refuses a workdir that trained something else.

  `identity` holds every config section that changes the params a run produces
  (model, dataset, data, tuning, optimizer, steps, seed). Resuming into a
  workdir recorded with a different one would silently mix two runs.
  """
  path = storage.path(workdir) / IDENTITY_FILE
  identity = _normalise(identity)
  if path.is_file():
    recorded = json.loads(path.read_text())
    differing = sorted(k for k in set(recorded) | set(identity) if recorded.get(k) != identity.get(k))
    if differing:
      details = "; ".join(f"{k}: workdir has {recorded.get(k)!r}, config has {identity.get(k)!r}"
                          for k in differing)
      raise UserError(
          f"Workdir {storage.path(workdir)} holds a fine-tuning run with a different config ({details})."
          " Use a new --workdir, or rerun with the config it was started with to resume it.")
    return
  if not distributed.is_primary():
    return
  path.parent.mkdir(parents=True, exist_ok=True)
  storage.write_text(path, json.dumps(identity, indent=2, sort_keys=True) + "\n")  # Whole: another host may read it.
