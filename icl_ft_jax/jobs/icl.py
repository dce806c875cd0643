"""Job `icl`: the pretrained baseline (no context) and in-context learning on a dataset.

Writes `results.json` (one record per split x condition x normalisation) and
prints the comparison table.
"""

from __future__ import annotations

import logging
import pathlib

import jax

from icl_ft_jax import distributed, evaluation, icl, sharding
from icl_ft_jax.errors import ConfigError
from icl_ft_jax.jobs import common
from icl_ft_jax.model import loading
from icl_ft_jax.report import records
from icl_ft_jax.scoring import Scorer

CONDITIONS = ("pretrained", "icl")


def context_config(config) -> icl.ContextConfig:
  return icl.ContextConfig(**{**config.icl.to_dict(), "demonstrations": tuple(config.icl.demonstrations)})


def make_scorer(loaded, mesh, config, *, with_context: bool) -> Scorer:
  batch = config.scoring.context_batch_size if with_context else config.scoring.batch_size
  return Scorer(loaded.model, loaded.params, loaded.tokenizer, mesh, batch_size=batch,
                max_sequence_length=loaded.spec.max_sequence_length,
                prefill_chunk=config.scoring.prefill_chunk)


def evaluate_conditions(loaded, mesh, dataset, config, conditions, workdir=None) -> list[records.ResultRecord]:
  """Scores `dataset` under each of `conditions` ("pretrained", "icl").

  With a `workdir`, process 0 writes per-question predictions to
  `workdir/predictions/<condition>-seed<seed>.jsonl`.
  """
  unknown = [c for c in conditions if c not in CONDITIONS]
  if unknown:
    raise ConfigError(f"conditions {unknown} are not ICL-stage conditions {CONDITIONS}.")
  common = dict(splits=tuple(config.scoring.splits) or None, seed=config.seed,
                max_questions=config.scoring.max_questions or None)
  predictions = lambda condition: (workdir / "predictions" / f"{condition}-seed{config.seed}.jsonl"
                                   if workdir is not None and distributed.is_primary() else None)
  results = []
  for condition in conditions:
    if condition == "pretrained":
      scorer = make_scorer(loaded, mesh, config, with_context=False)
      results += evaluation.evaluate(scorer, dataset, condition="pretrained",
                                     predictions_path=predictions("pretrained"), **common)
      continue
    spec = context_config(config)
    budget = spec.max_context_tokens or loaded.spec.max_sequence_length - 512
    budget -= 1  # The scorer prepends BOS to the context.
    context = icl.build_context(dataset.documents, spec, lambda t: len(loaded.tokenizer.encode(t)), budget)
    logging.info("ICL context: %d documents (%.3f of them), %d tokens.", len(context.document_ids),
                 context.fraction, context.num_tokens)
    scorer = make_scorer(loaded, mesh, config, with_context=True)
    results += evaluation.evaluate(
        scorer, dataset, condition="icl", context=context.text,
        metadata={"context_tokens": context.num_tokens, "context_fraction": round(context.fraction, 4)},
        predictions_path=predictions("icl"), **common)
  return results


def run(config, workdir: pathlib.Path) -> None:
  dataset = common.build_dataset(config.dataset)
  mesh = sharding.make_mesh(config.mesh.to_dict())
  loaded = loading.load_model(config.model, mesh=mesh)
  logging.info("Devices: %s; mesh %s", jax.devices(), dict(mesh.shape))
  results = evaluate_conditions(loaded, mesh, dataset, config, tuple(config.conditions), workdir)
  everything = common.save_results(workdir, common.named(results, config.dataset_name))
  if distributed.is_primary():
    print(records.format_table(everything))
    print(f"\nResults: {workdir / 'results.json'}")
