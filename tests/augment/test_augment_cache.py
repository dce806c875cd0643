"""No stale augmentations: the experiment job reuses generated documents only under the same key."""

import dataclasses

from icl_ft_jax import augment, config_defaults, families
from icl_ft_jax.augment import pipeline
from icl_ft_jax.data import schema
from icl_ft_jax.jobs import experiment

MODEL = {"name": "tiny"}
DATASET = {"family": "simple_reversals"}


def test_key_changes_with_config_model_dataset_and_prompts(monkeypatch):
  config = augment.AugmentConfig()
  key = augment.cache_key(config, "local", model=MODEL, dataset=DATASET)
  assert key == augment.cache_key(dataclasses.replace(config, strategies=("local",)), "local", model=MODEL,
                                  dataset=DATASET)  # Which other strategies run does not matter.
  changed = [
      augment.cache_key(dataclasses.replace(config, unit="document"), "local", model=MODEL, dataset=DATASET),
      augment.cache_key(dataclasses.replace(config, family_examples=True), "local", model=MODEL, dataset=DATASET),
      augment.cache_key(config, "global", model=MODEL, dataset=DATASET),
      augment.cache_key(config, "local", model={"name": "gemma3-270m"}, dataset=DATASET),
      augment.cache_key(config, "local", model=MODEL, dataset={**DATASET, "seed": 1}),
  ]
  monkeypatch.setattr(pipeline.prompts, "LOCAL_INSTRUCTION", "Another instruction.")
  changed.append(augment.cache_key(config, "local", model=MODEL, dataset=DATASET))
  assert len({key, *changed}) == len(changed) + 1


def test_experiment_regenerates_when_the_augment_config_changes(tmp_path):
  config = config_defaults.experiment("simple_reversals")
  config.model.name = "tiny"
  dataset = families.build_dataset(config.dataset.to_dict())
  folder = tmp_path / "augmented"
  first = experiment.augmentations(None, None, dataset, config, ("oracle",), folder)["oracle"]
  assert (folder / "oracle.key").is_file()
  # Same config: read back, not regenerated (a marker document written into the file shows it).
  marker = schema.Document(id="marker", text="Marker.", provenance="test")
  schema.write_jsonl(folder / "oracle.jsonl", [marker])
  assert experiment.augmentations(None, None, dataset, config, ("oracle",), folder)["oracle"] == (marker,)
  # A changed config regenerates (the marker is gone) and rewrites the key.
  key = (folder / "oracle.key").read_text()
  config.augment.oracle_derived = not config.augment.oracle_derived
  again = experiment.augmentations(None, None, dataset, config, ("oracle",), folder)["oracle"]
  assert again == first  # Simple reversals have no derived inferences: the same documents, made anew.
  assert tuple(schema.read_jsonl(folder / "oracle.jsonl", schema.Document)) == again
  assert (folder / "oracle.key").read_text() != key
  # A file without a key (written before keys existed) is stale too.
  (folder / "oracle.key").unlink()
  schema.write_jsonl(folder / "oracle.jsonl", [marker])
  assert experiment.augmentations(None, None, dataset, config, ("oracle",), folder)["oracle"] == again
