"""Job `experiment`: every condition of the study on one dataset, over several seeds.

Conditions: `pretrained` (no context), `icl` (training documents in context),
`ft` (fine-tuned, no context), and FT on the training documents plus augmented
documents: `ft+local`, `ft+global`, `ft+both` (local and global), `ft+oracle`
(templated ground-truth rephrasings and reversals, the control).

Each FT condition trains with the `data` section, except where
`data_by_condition.<condition>` ("+" written "_") sets a field: as in the study,
semantic structure's augmented conditions split every document (original and
augmented) into sentences while its FT baseline trains on whole articles. Results
record each condition's `sentence_split`.

Writes under the workdir: `results.json` (every record), `results.csv` (mean and
standard error over seeds), `plots/<dataset>.png`, `augmented/seed<k>/<strategy>.jsonl`
with `augmentation_quality.json`, and one fine-tuning folder per condition and
seed under `ft/`. It is resumable: conditions whose records in `results.json`
carry this run's identity (model, dataset, settings, seed) are not redone,
results of another run are refused, augmentations already written are reused, and an
interrupted fine-tuning run resumes from its last checkpoint.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time

import jax
from etils import epath

from icl_ft_jax import augment, distributed, evaluation, heldout_nll, sharding, storage
from icl_ft_jax.augment import documents as augmented_documents
from icl_ft_jax.data import schema, splitting
from icl_ft_jax.errors import ConfigError
from icl_ft_jax.jobs import common
from icl_ft_jax.jobs import finetune as finetune_job
from icl_ft_jax.jobs import icl as icl_job
from icl_ft_jax.jobs import run_identity
from icl_ft_jax.jobs import workdir as workdir_lib
from icl_ft_jax.model import loading
from icl_ft_jax.report import aggregate, plots, records
from icl_ft_jax.scoring import Scorer
from icl_ft_jax.train import data as train_data
from icl_ft_jax.train import trainer

# FT condition -> augmentation strategies whose documents join the training documents.
FT_CONDITIONS = {
    "ft": (),
    "ft+local": ("local",),
    "ft+global": ("global",),
    "ft+both": ("local", "global"),
    "ft+oracle": ("oracle",),
}
CONDITIONS = (*icl_job.CONDITIONS, *FT_CONDITIONS)


def conditions_of(config) -> tuple[str, ...]:
  """`config.conditions`, also when given on the command line as "ft,ft+oracle"."""
  return tuple(c.strip() for item in config.conditions for c in item.split(",") if c.strip())


def condition_key(condition: str) -> str:
  """The condition's name in `data_by_condition` ("ft+local" -> "ft_local")."""
  return condition.replace("+", "_")


def condition_config(config, condition: str):
  """The config `condition` trains with: each field `data_by_condition.<condition>` sets ("" or 0 keep the
  data section's) replaces the data section's."""
  overrides = config.get("data_by_condition", {}).get(condition_key(condition), {})
  resolved = config.copy_and_resolve_references()
  with resolved.unlocked():
    for field, value in overrides.items():
      if value not in ("", 0, None):
        resolved.data[field] = value
  return resolved


def check_data_by_condition(config) -> None:
  section = config.get("data_by_condition", {})
  known = {condition_key(c) for c in FT_CONDITIONS}
  unknown = sorted(set(section) - known)
  if unknown:
    raise ConfigError(f"data_by_condition: {unknown} name no FT condition; use {', '.join(sorted(known))}.")
  for condition, overrides in section.items():
    fields = sorted(set(overrides) - set(config.data))
    if fields:
      raise ConfigError(f"data_by_condition.{condition}: {fields} are not fields of the data section.")


def check(config) -> None:
  unknown = [c for c in conditions_of(config) if c not in CONDITIONS]
  if unknown:
    raise ConfigError(f"conditions {unknown} are unknown; choose from {', '.join(CONDITIONS)}.")
  if not config.seeds:
    raise ConfigError("seeds is empty: give at least one seed.")
  # Every section the chosen conditions use, before the model loads.
  icl_job.context_config(config)
  common.check_scoring(config, common.build_dataset(seeded(config, config.seeds[0]).dataset))
  check_data_by_condition(config)
  if config.get("augmented_steps", "same_epochs") not in AUGMENTED_STEPS:
    raise ConfigError(f"augmented_steps must be one of {AUGMENTED_STEPS}, got {config.augmented_steps!r}.")
  for condition in (c for c in conditions_of(config) if c in FT_CONDITIONS):
    finetune_job.check_training(condition_config(config, condition))
  if any(FT_CONDITIONS.get(c) for c in conditions_of(config)):
    augment.AugmentConfig.from_config(config.augment.to_dict())


def condition_identity(config, condition: str) -> dict:
  fine_tuned = condition in FT_CONDITIONS
  return run_identity.condition_identity(condition_config(config, condition) if fine_tuned else config, condition,
                                         fine_tuned=fine_tuned, augmented=bool(FT_CONDITIONS.get(condition)))


def expected_identities(config) -> dict[tuple[str, int], dict]:
  return {(c, seed): condition_identity(seeded(config, seed), c) for seed in config.seeds for c in conditions_of(config)}


def seeded(config, seed: int):
  """The config with `seed` everywhere a seed matters (data, ICL order, FT order, sampling)."""
  config = config.copy_and_resolve_references()
  with config.unlocked():
    config.seed = seed
    config.dataset.seed = seed
    config.icl.seed = seed
    config.augment.seed = seed
  return config


def augmentations(loaded, mesh, dataset: schema.Dataset, config, strategies: tuple[str, ...],
                  folder: epath.Path) -> dict[str, tuple[schema.Document, ...]]:
  """Each strategy's documents: read back if this run wrote them with the same key, else generated now.

  The key (`<strategy>.key`, beside the documents) hashes the augmentation config, model, dataset
  and prompts, so a changed config regenerates instead of reusing stale documents.
  """
  found, missing = {}, []
  augment_config = augment.AugmentConfig.from_config(config.augment.to_dict())
  keys = {s: augment.cache_key(augment_config, s, model=config.model.to_dict(), dataset=config.dataset.to_dict())
          for s in strategies}
  written = distributed.primary_flags([(folder / f"{s}.jsonl").is_file() and (folder / f"{s}.key").is_file()
                                       and (folder / f"{s}.key").read_text().strip() == keys[s] for s in strategies])
  for strategy, is_written in zip(strategies, written):
    if is_written:
      found[strategy] = tuple(schema.read_jsonl(folder / f"{strategy}.jsonl", schema.Document))
    else:
      missing.append(strategy)
  if missing:
    augment_config = augment.AugmentConfig.from_config({**config.augment.to_dict(), "strategies": tuple(missing)})
    results = augment.run_strategies(loaded, mesh, dataset, augment_config)
    for strategy, result in results.items():
      # Every host writes its own copy (the same documents): a resumed run on hosts without a
      # shared disk then finds them everywhere. Written atomically, so a shared disk is fine too.
      tmp = folder / f"{strategy}.jsonl.{jax.process_index()}.tmp"
      schema.write_jsonl(tmp, result.documents)
      tmp.replace(folder / f"{strategy}.jsonl")
      storage.write_text(folder / f"{strategy}.key", keys[strategy] + "\n")
    if distributed.is_primary():
      quality_path = folder / "augmentation_quality.json"
      quality = json.loads(quality_path.read_text()) if quality_path.is_file() else {}
      quality.update({strategy: result.summary() for strategy, result in results.items()})
      storage.write_text(quality_path, json.dumps(quality, indent=2, default=list) + "\n")
    found.update({strategy: result.documents for strategy, result in results.items()})
  return found


AUGMENTED_STEPS = ("same_epochs", "same_steps")


def baseline_epochs(config, dataset: schema.Dataset, condition: str) -> float:
  """With fixed steps and `augmented_steps="same_epochs"`, the epochs the FT baseline's train.steps make
  over its own documents (which `condition` then trains over its mix); 0 when steps stay as given."""
  if condition == "ft" or config.train.get("epochs") or config.get("augmented_steps", "same_epochs") != "same_epochs":
    return 0.0
  baseline = condition_config(config, "ft")
  data = trainer.FinetuneConfig.from_config(baseline).data
  documents = training_mix(dataset, data, "ft", {}).documents
  return baseline.train.steps * baseline.data.batch_size / len(documents)


def condition_finetune_config(config, dataset: schema.Dataset, condition: str) -> trainer.FinetuneConfig:
  """What `condition` trains with: its data fields, and the baseline's epochs where `augmented_steps` asks."""
  finetune_config = trainer.FinetuneConfig.from_config(condition_config(config, condition))
  epochs = baseline_epochs(config, dataset, condition)
  if not epochs:
    return finetune_config
  return dataclasses.replace(finetune_config, loop=dataclasses.replace(finetune_config.loop, epochs=epochs))


def training_mix(dataset: schema.Dataset, data: train_data.DataConfig, condition: str,
                 augmented: dict[str, tuple[schema.Document, ...]]) -> augmented_documents.Mix:
  """The condition's training documents and augmentations, every one split as `data.sentence_split` says."""
  split = lambda docs: docs if data.sentence_split == "none" else splitting.split_each(docs, data.sentence_split)
  return augmented_documents.mix_documents(train_data.training_documents(dataset, data),
                                           {s: split(augmented[s]) for s in FT_CONDITIONS[condition]})


def finetune_condition(loaded, mesh, dataset, config, condition: str, augmented, workdir: epath.Path,
                       dataset_name: str, pretrained_nll: float) -> list[records.ResultRecord]:
  finetune_config = condition_finetune_config(config, dataset, condition)
  config = condition_config(config, condition)
  sentence_split = finetune_config.data.sentence_split
  mix = training_mix(dataset, finetune_config.data, condition, augmented)
  finetune_config = trainer.with_epochs(finetune_config, len(mix.documents))
  steps = finetune_config.loop.steps
  epochs = round(steps * finetune_config.data.batch_size / len(mix.documents), 2)
  run_dir = workdir / "ft" / dataset_name / f"seed{config.seed}" / condition.replace("+", "_")
  identity = run_identity.checkpoint_identity(config, steps=steps, condition=condition, mix=dict(mix.counts))
  logging.info("Fine-tuning %s on %s", condition, mix.counts)
  start = time.time()
  # Only the params: the optimizer state (twice the params under Adam) is freed before scoring.
  params = trainer.finetune(loaded, mix.documents, finetune_config, mesh=mesh, workdir=run_dir,
                            identity=identity).params
  seconds = time.time() - start
  scorer = Scorer(loaded.model, params, loaded.tokenizer, mesh, batch_size=config.scoring.batch_size,
                  max_sequence_length=loaded.spec.max_sequence_length)
  nll = {"pretrained": round(pretrained_nll, 4), "finetuned": round(heldout_nll.heldout_nll(scorer), 4)}
  logging.info("Held-out prose NLL (nats/token): %.3f before, %.3f after %s.", nll["pretrained"], nll["finetuned"],
               condition)
  return evaluation.evaluate(
      scorer, dataset, condition=condition, splits=tuple(config.scoring.splits) or None, seed=config.seed,
      max_questions=config.scoring.max_questions or None,
      predictions_path=workdir_lib.predictions_path(workdir, condition, config.seed),
      metadata={"mix": dict(mix.counts), "steps": steps, "epochs": epochs, "sentence_split": sentence_split,
                "train_seconds": round(seconds, 1), "heldout_nll": nll})


def run_seed(loaded, mesh, config, workdir: epath.Path, done: set[tuple[str, int]]) -> None:
  name = config.dataset_name
  conditions = conditions_of(config)
  todo = [c for c, is_done in zip(conditions, distributed.primary_flags([(c, config.seed) in done for c in conditions]))
          if not is_done]
  if not todo:
    logging.info("Seed %d: every condition is done already.", config.seed)
    return
  dataset = common.build_dataset(config.dataset)
  for condition in [c for c in todo if c in icl_job.CONDITIONS]:
    results = icl_job.evaluate_conditions(loaded, mesh, dataset, config, (condition,), workdir)
    common.save_condition(workdir, results, name, condition_identity(config, condition))
  ft_todo = [c for c in todo if c in FT_CONDITIONS]
  strategies = tuple(dict.fromkeys(s for c in ft_todo for s in FT_CONDITIONS[c]))
  augmented = augmentations(loaded, mesh, dataset, config, strategies,
                            workdir / "augmented" / name / f"seed{config.seed}") if strategies else {}
  if ft_todo:  # The base model's loss on held-out prose, which each fine-tuned model's is compared with.
    pretrained_nll = heldout_nll.heldout_nll(Scorer(loaded.model, loaded.params, loaded.tokenizer, mesh,
                                                    batch_size=config.scoring.batch_size,
                                                    max_sequence_length=loaded.spec.max_sequence_length))
  for condition in ft_todo:
    results = finetune_condition(loaded, mesh, dataset, config, condition, augmented, workdir, name, pretrained_nll)
    common.save_condition(workdir, results, name, condition_identity(config, condition))


def report(workdir: epath.Path, dataset_name: str) -> None:
  everything = records.read_results(workdir / "results.json")
  summaries = aggregate.summarize(everything)
  by_subtype = aggregate.summarize_subtypes(everything)
  aggregate.write_csv(workdir / "results.csv", summaries + by_subtype)
  plot = plots.plot_dataset(summaries, dataset_name, workdir / "plots" / f"{dataset_name}.png")
  subtype_plot = plots.plot_subtypes(by_subtype, dataset_name, workdir / "plots" / f"{dataset_name}_subtypes.png")
  print(records.format_table(everything))
  subtype_table = aggregate.format_subtypes(summaries, by_subtype)
  if subtype_table:
    print("\n" + subtype_table)
  print("\n" + format_comparisons(everything, dataset_name))
  nll = format_heldout_nll(everything, dataset_name)
  if nll:
    print("\n" + nll)
  for strategy_file in sorted((workdir / "augmented" / dataset_name).glob("seed*/augmentation_quality.json")):
    quality = json.loads(strategy_file.read_text())
    print(f"\naugmentation ({strategy_file.parent.name}): " + "; ".join(
        f"{s}: {q['statements']} statements, validity {q['quality']['validity']:.2f},"
        f" coverage {q['quality']['inference_coverage']:.2f}" for s, q in quality.items()))
  print(f"\nResults: {workdir / 'results.json'}, {workdir / 'results.csv'}\nPlot: {plot}"
        + (f", {subtype_plot}" if subtype_plot else ""))


def format_comparisons(everything: list[records.ResultRecord], dataset_name: str, baseline: str = "ft") -> str:
  """Each augmented FT condition minus plain FT, per split: paired bootstrap over facts, and whether
  the 95% interval excludes zero (the only thing we call an effect)."""
  import tabulate  # pylint: disable=g-import-not-at-top

  splits = list(dict.fromkeys(r.split for r in everything if r.dataset == dataset_name))
  conditions = sorted({r.condition for r in everything if r.condition in FT_CONDITIONS and r.condition != baseline},
                      key=records.condition_rank)
  rows = []
  for condition in conditions:
    for split in splits:
      diff = aggregate.difference(everything, condition, baseline, dataset=dataset_name, split=split)
      if diff is not None:
        verdict = "better" if diff.low > 0 else "worse" if diff.high < 0 else "not significant"
        rows.append([f"{condition} - {baseline}", split, f"{diff.estimate:+.2f}",
                     f"[{diff.low:+.2f}, {diff.high:+.2f}]", diff.units, verdict])
  if not rows:
    return ""
  return "paired differences (sum; 95% bootstrap over facts)\n" + tabulate.tabulate(
      rows, headers=["comparison", "split", "difference", "interval", "facts", "verdict"], disable_numparse=True)


def format_heldout_nll(everything: list[records.ResultRecord], dataset_name: str) -> str:
  """One line per fine-tuned condition and seed: the loss on held-out prose before and after (see heldout_nll)."""
  seen = {}
  for r in everything:
    nll = r.metadata.get("heldout_nll")
    if r.dataset == dataset_name and nll:
      seen[r.condition, r.seed] = nll
  lines = [f"  {condition} (seed {seed}): {nll['pretrained']:.3f} -> {nll['finetuned']:.3f}"
           f" ({nll['finetuned'] - nll['pretrained']:+.3f})"
           for (condition, seed), nll in sorted(seen.items(), key=lambda kv: (records.condition_rank(kv[0][0]), kv[0][1]))]
  return "held-out prose NLL, nats/token (pretrained -> fine-tuned)\n" + "\n".join(lines) if lines else ""


def check_workdir(config, workdir: epath.Path) -> set[tuple[str, int]]:
  """The (condition, seed) pairs done by this run; results of another run are refused."""
  return run_identity.done_conditions(workdir, expected_identities(config))


def run(config, workdir: epath.Path) -> None:
  check(config)
  done = check_workdir(config, workdir)  # Before the model loads.
  mesh = sharding.make_mesh(config.mesh.to_dict())
  loaded = loading.load_model(config.model, mesh=mesh)
  for seed in config.seeds:
    run_seed(loaded, mesh, seeded(config, seed), workdir, done)
  if distributed.is_primary():
    report(workdir, config.dataset_name)
