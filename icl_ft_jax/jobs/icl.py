"""Job `icl`: the pretrained baseline (no context) and in-context learning on a dataset.

Writes `results.json` (one record per split x condition x normalisation, each
condition as it finishes) and prints the comparison table. A rerun in the same
workdir skips the conditions done with the same identity.
"""

from __future__ import annotations

import dataclasses
import logging
import math

import jax
from etils import epath

from icl_ft_jax import chat, config_sections, distributed, evaluation, icl, sharding
from icl_ft_jax.errors import ConfigError, UserError
from icl_ft_jax.jobs import common, run_identity, workdir as workdir_lib
from icl_ft_jax.model import loading, specs
from icl_ft_jax.report import records
from icl_ft_jax.scoring import Scorer

CONDITIONS = ("pretrained", "icl")


def context_config(config, spec: specs.ModelSpec | None = None) -> icl.ContextConfig:
  """`config.icl` as a ContextConfig, its prompt format resolved for the model ("auto": chat for -it).

  `spec`: the loaded model's (default: `config.model.name`'s).
  """
  section = config.icl.to_dict()
  prompt_format = chat.resolve(section.pop("prompt_format", "auto"), spec or specs.lookup(config.model.name))
  return config_sections.build(icl.ContextConfig, {**section, "demonstrations": tuple(section.get("demonstrations", ())),
                                                   "prompt_format": prompt_format}, "icl")


def make_scorer(loaded, mesh, config, *, with_context: bool) -> Scorer:
  batch = config.scoring.context_batch_size if with_context else config.scoring.batch_size
  return Scorer(loaded.model, loaded.params, loaded.tokenizer, mesh, batch_size=batch,
                max_sequence_length=loaded.spec.max_sequence_length,
                prefill_chunk=config.scoring.prefill_chunk)


def fitted_context(loaded, dataset, config) -> icl.Context:
  """The ICL context in the model's window; a too-long one is refused with a subsample that fits."""
  spec = context_config(config, loaded.spec)
  budget = spec.max_context_tokens or loaded.spec.max_sequence_length - 512
  budget -= 1  # The scorer prepends BOS to the context.
  count = lambda t: len(loaded.tokenizer.encode(t))
  try:
    context = icl.build_context(dataset.documents, spec, count, budget)
  except UserError as e:
    if spec.fit != "error" or "budget" not in str(e):
      raise
    fitting = icl.build_context(dataset.documents, dataclasses.replace(spec, fit="subsample"), count, budget)
    fraction = math.floor(fitting.fraction * 1000) / 1000  # Rounded down: smaller fractions nest, so it fits.
    raise UserError(f"The in-context documents are over the budget of {budget} tokens; set"
                    f" --config.icl.subsample={fraction:g} (fits: {len(fitting.document_ids)} of"
                    f" {len(dataset.documents)} documents) or --config.icl.fit=subsample.") from None
  logging.info("ICL context: %d documents (%.3f of them), %d tokens.", len(context.document_ids),
               context.fraction, context.num_tokens)
  return context


def evaluate_conditions(loaded, mesh, dataset, config, conditions, workdir=None,
                        context: icl.Context | None = None) -> list[records.ResultRecord]:
  """Scores `dataset` under each of `conditions` ("pretrained", "icl").

  With a `workdir`, process 0 writes per-question predictions to
  `workdir/predictions/<condition>-seed<seed>.jsonl`. The ICL context is built
  first (before any scoring), unless given.
  """
  unknown = [c for c in conditions if c not in CONDITIONS]
  if unknown:
    raise ConfigError(f"conditions {unknown} are not ICL-stage conditions {CONDITIONS}.")
  if "icl" in conditions and context is None:
    context = fitted_context(loaded, dataset, config)
  scoring_options = dict(splits=tuple(config.scoring.splits) or None, seed=config.seed,
                         max_questions=config.scoring.max_questions or None)
  predictions = lambda condition: workdir_lib.predictions_path(workdir, condition, config.seed)
  results = []
  for condition in conditions:
    if condition == "pretrained":
      scorer = make_scorer(loaded, mesh, config, with_context=False)
      results += evaluation.evaluate(scorer, dataset, condition="pretrained",
                                     predictions_path=predictions("pretrained"), **scoring_options)
      continue
    scorer = make_scorer(loaded, mesh, config, with_context=True)
    results += evaluation.evaluate(
        scorer, dataset, condition="icl", context=context.text,
        metadata={"context_tokens": context.num_tokens, "context_fraction": round(context.fraction, 4),
                  "prompt_format": context.prompt_format},
        predictions_path=predictions("icl"), **scoring_options)
  return results


def check(config) -> None:
  """Everything but the model: conditions, context settings, dataset and scoring."""
  unknown = [c for c in config.conditions if c not in CONDITIONS]
  if unknown:
    raise ConfigError(f"conditions {unknown} are unknown; choose from {', '.join(CONDITIONS)}.")
  context_config(config)
  common.check_scoring(config, common.build_dataset(config.dataset))


def _identities(config) -> dict[str, dict]:
  return {c: run_identity.condition_identity(config, c) for c in config.conditions}


def check_workdir(config, workdir: epath.Path) -> set[tuple[str, int]]:
  """The conditions done by this run; results of another run are refused."""
  return run_identity.done_conditions(workdir, {(c, config.seed): i for c, i in _identities(config).items()})


def run(config, workdir: epath.Path) -> None:
  check(config)
  dataset = common.build_dataset(config.dataset)
  name = config.dataset_name
  idents = _identities(config)
  done = check_workdir(config, workdir)
  todo = [c for c, is_done in zip(config.conditions, distributed.primary_flags(
      [(c, config.seed) in done for c in config.conditions])) if not is_done]
  if todo:
    mesh = sharding.make_mesh(config.mesh.to_dict())
    loaded = loading.load_model(config.model, mesh=mesh)
    logging.info("Devices: %s; mesh %s", jax.devices(), dict(mesh.shape))
    context = fitted_context(loaded, dataset, config) if "icl" in todo else None
    for condition in todo:  # Each saved as it finishes.
      results = evaluate_conditions(loaded, mesh, dataset, config, (condition,), workdir, context)
      common.save_condition(workdir, results, name, idents[condition])
  if distributed.is_primary():
    print(records.format_table(records.read_results(workdir / "results.json")))
    print(f"\nResults: {workdir / 'results.json'}")
