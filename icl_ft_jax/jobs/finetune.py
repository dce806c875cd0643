"""Job `finetune`: fine-tunes the model on a dataset's training documents, then tests with no context.

Writes checkpoints, `train_log.jsonl` and TensorBoard logs under the workdir,
merges the "ft" condition's records into `results.json`, and prints the table.
Rerunning the same command resumes from the last checkpoint.
"""

from __future__ import annotations

import logging

import jax
from etils import epath

from icl_ft_jax import distributed, evaluation, sharding
from icl_ft_jax.jobs import common, run_identity, workdir as workdir_lib
from icl_ft_jax.model import loading
from icl_ft_jax.report import records
from icl_ft_jax.scoring import Scorer
from icl_ft_jax.train import checkpointing
from icl_ft_jax.train import data as data_lib
from icl_ft_jax.train import trainer

CONDITION = "ft"


def make_evaluator(loaded, mesh, dataset, config, dataset_name: str, workdir: epath.Path):
  """`evaluate(params) -> {split: accuracy}`; keeps the last call's records for results.json.

  Each call also writes per-question predictions (the last call's, the final model's, remain).
  """
  latest: dict[str, list[records.ResultRecord]] = {}
  predictions_path = workdir_lib.predictions_path(workdir, CONDITION, config.seed)

  def evaluate(params) -> dict[str, float]:
    scorer = Scorer(loaded.model, params, loaded.tokenizer, mesh, batch_size=config.scoring.batch_size,
                    max_sequence_length=loaded.spec.max_sequence_length, progress=False)
    results = evaluation.evaluate(
        scorer, dataset, condition=CONDITION, splits=tuple(config.scoring.splits) or None, seed=config.seed,
        max_questions=config.scoring.max_questions or None, predictions_path=predictions_path,
        metadata={"steps": config.train.steps, "tuning": dict(config.tuning),
                  "sentence_split": config.data.sentence_split})
    latest["records"] = results
    return {f"{r.split}/{r.normalization}": r.accuracy for r in results}

  return evaluate, latest


def check_training(config) -> trainer.FinetuneConfig:
  """The fine-tuning sections as typed configs, and the batch against the mesh, before any work."""
  finetune_config = trainer.FinetuneConfig.from_config(config)
  trainer.check_batch_fits_mesh(finetune_config.data, sharding.make_mesh(config.mesh.to_dict()))
  return finetune_config


def check(config) -> None:
  check_training(config)
  common.check_scoring(config, common.build_dataset(config.dataset))


def check_workdir(config, workdir: epath.Path) -> dict:
  """Refuses a workdir that trained or evaluated another run; returns this run's results identity."""
  checkpointing.check_run_identity(workdir, run_identity.checkpoint_identity(config, steps=config.train.steps))
  ident = run_identity.condition_identity(config, CONDITION, fine_tuned=True)
  run_identity.done_conditions(workdir, {(CONDITION, config.seed): ident})
  return ident


def run(config, workdir: epath.Path) -> None:
  finetune_config = check_training(config)  # Before anything is written to the workdir.
  dataset = common.build_dataset(config.dataset)
  common.check_scoring(config, dataset)
  dataset_name = config.get("dataset_name", dataset.name)
  ident = check_workdir(config, workdir)  # Before any slow work.
  mesh = sharding.make_mesh(config.mesh.to_dict())
  loaded = loading.load_model(config.model, mesh=mesh, seed=config.seed)
  logging.info("Devices: %s; mesh %s", jax.devices(), dict(mesh.shape))
  documents = data_lib.training_documents(dataset, finetune_config.data)
  evaluate, latest = make_evaluator(loaded, mesh, dataset, config, dataset_name, workdir)
  trainer.finetune(loaded, documents, finetune_config, mesh=mesh, workdir=workdir,
                   identity=run_identity.checkpoint_identity(config, steps=config.train.steps), evaluate=evaluate,
                   donate_params=True)  # The base model is not used again: train in its buffers.
  everything = common.save_condition(workdir, latest["records"], dataset_name, ident)
  if distributed.is_primary():
    print(records.format_table(everything))
    print(f"\nResults: {workdir / 'results.json'}")
