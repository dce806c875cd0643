"""Job `augment`: local, global and oracle augmentation of one dataset, with quality figures.

Writes `augmented/<strategy>.jsonl` (Documents with provenance),
`augmented/<strategy>_samples.jsonl` (raw generations, for reading),
`augmentation_quality.json`, and prints a table of yield, validity and coverage.
"""

from __future__ import annotations

import json
import logging

from etils import epath

from icl_ft_jax import augment, distributed, sharding, storage
from icl_ft_jax.data import schema
from icl_ft_jax.jobs import common
from icl_ft_jax.model import loading


def format_table(results: dict[str, augment.AugmentationResult]) -> str:
  import tabulate  # pylint: disable=g-import-not-at-top

  rows = [[name, r.num_targets, r.num_generations, len(r.documents), f"{r.statements_per_target:.2f}",
           f"{r.quality.validity:.2f}", r.targets_with_valid, r.targets_with_valid_reversal,
           f"{r.quality.inference_coverage:.2f}", " ".join(f"{s}={c:.2f}" for s, c in r.quality.coverage.items())]
          for name, r in results.items()]
  return tabulate.tabulate(rows, headers=["strategy", "targets", "samples", "kept", "per tgt", "valid", "tgt valid",
                                          "tgt rev", "coverage", "per split"], disable_numparse=True)


def write_results(workdir: epath.Path, dataset_name: str, results: dict[str, augment.AugmentationResult],
                  config) -> epath.Path:
  for name, result in results.items():
    schema.write_jsonl(workdir / "augmented" / f"{name}.jsonl", result.documents)
    if result.generations:
      storage.write_text(workdir / "augmented" / f"{name}_samples.jsonl", "".join(
          json.dumps({"input": g.input_index, "sample": g.sample, "text": g.text}, ensure_ascii=False) + "\n"
          for g in result.generations))
  path = workdir / "augmentation_quality.json"
  payload = {"dataset": dataset_name, "augment": config.augment.to_dict(),
             "strategies": {name: r.summary() for name, r in results.items()}}
  storage.write_text(path, json.dumps(payload, indent=2, default=list) + "\n")
  return path


def check(config) -> augment.AugmentConfig:
  """The dataset and the augment section, before the model loads or anything is written."""
  common.build_dataset(config.dataset)
  return augment.AugmentConfig.from_config(config.augment.to_dict())


def run(config, workdir: epath.Path) -> None:
  augment_config = check(config)
  dataset = common.build_dataset(config.dataset)
  needs_model = any(s != "oracle" for s in augment_config.strategies)
  mesh = sharding.make_mesh(config.mesh.to_dict())
  loaded = loading.load_model(config.model, mesh=mesh) if needs_model else None
  results = augment.run_strategies(loaded, mesh, dataset, augment_config)
  if not distributed.is_primary():  # Every process computes; only process 0 writes (shared workdir).
    return
  path = write_results(workdir, config.dataset_name, results, config)
  logging.info("Wrote %s", path)
  print(format_table(results))
  print(f"\nAugmented documents: {workdir / 'augmented'}\nQuality: {path}")
