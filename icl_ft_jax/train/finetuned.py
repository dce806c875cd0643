"""A fine-tuning run read back from its folder: the trained params, with LoRA adapters merged or alone.

A run folder is what `trainer.finetune` writes: `run_identity.json` (what was
trained: model, tuning, optimizer, ...) and `checkpoints/<step>/`. The finetune
job's workdir is one; an experiment keeps one per FT condition under
`ft/<dataset>/seed<N>/<condition>/`. The base model is loaded as the run loaded
it, and the checkpoint is opened read-only, so a run still training is left alone.

    run = finetuned.load("runs/ft")  # or "gs://bucket/runs/ft"
    logits = run.loaded.model.apply({"params": run.params}, tokens).logits
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
from typing import Any

import jax
from etils import epath

from icl_ft_jax import sharding, storage
from icl_ft_jax.errors import UserError
from icl_ft_jax.model import loading
from icl_ft_jax.train import checkpointing, trainer


@dataclasses.dataclass(frozen=True, kw_only=True)
class Finetuned:
  """A run's checkpoint as plain-model params (host numpy), plus its adapters for LoRA runs."""

  loaded: loading.LoadedModel  # The base model as the run loaded it (params, tokenizer).
  step: int  # The checkpoint's step.
  params: Any  # Plain-model params, LoRA adapters merged.
  adapters: Any | None  # gm.nn.LoRA adapters (`.../_LoRAEinsum_*/lora/{a,b}`); None for full fine-tuning.


def run_folders(folder: str | os.PathLike) -> list[epath.Path]:
  """Every fine-tuning run folder at or under `folder`."""
  return sorted(where for where, _, files in storage.path(folder).walk() if checkpointing.IDENTITY_FILE in files)


def read_identity(folder: str | os.PathLike) -> dict:
  """The run's recorded identity; a folder that is not a run names the runs found under it."""
  folder = storage.path(folder)
  path = folder / checkpointing.IDENTITY_FILE
  if not path.is_file():
    found = run_folders(folder) if folder.is_dir() else []
    hint = (f" Runs found under it: {', '.join(str(p) for p in found[:5])}." if found
            else " Point export.run at a finetune job's workdir or an experiment's ft/<dataset>/seed<N>/<condition>.")
    raise UserError(f"{folder} is not a fine-tuning run folder (no {checkpointing.IDENTITY_FILE}).{hint}")
  return json.loads(path.read_text())


def finetune_config(identity: dict) -> trainer.FinetuneConfig:
  """The sections that shape the train state (trainable tree, optimizer moments)."""
  return trainer.FinetuneConfig.from_config({
      "seed": identity.get("seed", 0), "data": identity["data"], "tuning": identity["tuning"],
      "optimizer": identity["optimizer"], "train": {"steps": max(1, int(identity.get("steps") or 1))}})


def load(folder: str | os.PathLike, *, step: int | None = None) -> Finetuned:
  """The run's checkpoint of `step` (default the latest), on the host of every process (a folder or gs://).

  Every process must call it (the restore and the gather are collectives). The checkpoint is
  restored sharded over every device (FSDP), so a model larger than one chip exports, and on
  several hosts each holds only its part until the params are gathered, one tensor at a time.
  """
  folder = storage.path(folder)
  identity = read_identity(folder)
  config = finetune_config(identity)
  mesh = sharding.make_mesh({"fsdp": -1})
  loaded = loading.load_model(identity["model"], mesh=mesh, seed=config.seed)
  run = trainer.prepare(loaded, config, mesh=mesh)
  step, state = checkpointing.restore_read_only(
      folder / "checkpoints", checkpointing.abstract_with_shardings(run.abstract_state, run.shardings.state), step)
  sharded = run.export(state.params, run.frozen)
  held, total = sharding.process_share(sharded)
  logging.info("Restored step %d of %s over %d devices: this process holds %.1f of %.1f MB of its params.", step,
               folder, mesh.size, held / 1e6, total / 1e6)
  params = jax.tree.map(sharding.to_host, sharded)
  adapters = jax.tree.map(sharding.to_host, state.params) if config.tuning.lora_rank else None
  return Finetuned(loaded=loaded, step=step, params=params, adapters=adapters)
