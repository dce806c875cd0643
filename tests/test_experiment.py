"""The experiment job runs every stage end to end (tiny model) and resumes without redoing work."""

import csv
import json
import math

import pytest

from icl_ft_jax import config_defaults, main
from icl_ft_jax.errors import ConfigError
from icl_ft_jax.jobs import common, experiment
from icl_ft_jax.report import records

from tests import config_files


def tiny_experiment_config():
  config = config_files.load("experiment.py", "simple_reversals,seeds=2")
  config.model.name = "tiny"
  config.conditions = ("pretrained", "icl", "ft", "ft+oracle")
  config.dataset.num_facts = 4
  config.dataset.articles_per_fact = 2
  config.train.steps = 2
  config.data.batch_size = 8
  config.checkpoint.every_steps = 1
  config.scoring.batch_size = 8
  config.scoring.context_batch_size = 8
  return config


@pytest.mark.slow
def test_experiment_end_to_end_and_resume(tmp_path):
  config = tiny_experiment_config()
  main.run(config, str(tmp_path))
  results = records.read_results(tmp_path / "results.json")
  assert {(r.condition, r.seed) for r in results} == {(c, s) for c in config.conditions for s in (0, 1)}
  assert {r.split for r in results} == {"forward", "reversal"}
  oracle = next(r for r in results if r.condition == "ft+oracle")
  assert oracle.metadata["mix"]["oracle"] > 0 and oracle.metadata["mix"]["original"] == 8
  nll = oracle.metadata["heldout_nll"]  # The random model's loss on prose: near log(vocab), moved by training.
  assert abs(nll["pretrained"] - math.log(262144)) < 1.0 and nll["finetuned"] != nll["pretrained"]
  assert {r.metadata["sentence_split"] for r in results if r.condition.startswith("ft")} == {"none"}
  assert {r.metadata["prompt_format"] for r in results if r.condition == "icl"} == {"plain"}  # "auto", not -it.
  rows = list(csv.DictReader((tmp_path / "results.csv").open()))
  assert {r["num_seeds"] for r in rows} == {"2"}
  assert {r["sentence_split"] for r in rows if r["condition"] == "ft+oracle"} == {"none"}
  assert {r["subtype"] for r in rows} == {""}  # Forward and reversal questions have one inference type each.
  assert (tmp_path / "plots" / "simple_reversals.png").stat().st_size > 5000
  quality = json.loads((tmp_path / "augmented" / "simple_reversals" / "seed0" / "augmentation_quality.json").read_text())
  assert quality["oracle"]["quality"]["validity"] == 1.0

  # Run again: nothing is redone (same results, augmentations and checkpoints untouched).
  watched = [tmp_path / "augmented" / "simple_reversals" / "seed1" / "oracle.jsonl",
             *sorted((tmp_path / "ft").rglob("*"))]
  before = {p: p.stat().st_mtime_ns for p in watched}
  main.run(config, str(tmp_path))
  assert records.read_results(tmp_path / "results.json") == results
  assert {p: p.stat().st_mtime_ns for p in watched} == before


def test_unknown_condition_is_refused(tmp_path):
  config = tiny_experiment_config()
  config.conditions = ("ft", "ft+magic")
  with pytest.raises(ConfigError, match=r"conditions \['ft\+magic'\] are unknown; choose from pretrained, icl, ft,"):
    main.run(config, str(tmp_path))
  assert list(tmp_path.iterdir()) == []  # Refused before anything is written.


def _semantic_experiment():
  config = config_files.load("experiment.py", "semantic_structure")
  config.dataset.num_documents = 120  # One article per category (110), the fewest allowed.
  return config


def test_semantic_structure_splits_augmented_conditions_and_not_the_baseline():
  from icl_ft_jax import families  # pylint: disable=g-import-not-at-top
  from icl_ft_jax.data import schema, splitting  # pylint: disable=g-import-not-at-top
  from icl_ft_jax.jobs import experiment  # pylint: disable=g-import-not-at-top
  from icl_ft_jax.train import trainer  # pylint: disable=g-import-not-at-top

  config = _semantic_experiment()
  dataset = families.build_dataset(config.dataset.to_dict())
  statement = schema.Document(id="aug/0", text="Zoumps are a kind of safro. Safros can glide.", provenance="augment")
  mixes = {}
  for condition in ("ft", "ft+local", "ft+oracle"):
    data = trainer.FinetuneConfig.from_config(experiment.condition_config(config, condition)).data
    mixes[condition] = (data, experiment.training_mix(dataset, data, condition,
                                                      {"local": (statement,), "oracle": (statement,)}))
  sentences = sum(len(splitting.split_sentences(d.text)) for d in dataset.documents)
  ft_data, ft_mix = mixes["ft"]
  assert (ft_data.sentence_split, ft_data.max_length) == ("none", 512)
  assert ft_mix.documents == dataset.documents  # Whole articles, as the study's baseline.
  for condition in ("ft+local", "ft+oracle"):
    data, mix = mixes[condition]
    assert (data.sentence_split, data.max_length) == ("independent", 128)
    assert mix.counts["original"] == sentences > len(dataset.documents)
    assert [d.text for d in mix.documents[-2:]] == ["Zoumps are a kind of safro.", "Safros can glide."]


def test_split_choices_are_per_condition_in_the_identity_and_checked():
  from icl_ft_jax.errors import ConfigError  # pylint: disable=g-import-not-at-top
  from icl_ft_jax.jobs import experiment  # pylint: disable=g-import-not-at-top

  config = _semantic_experiment()
  before = {c: experiment.condition_identity(config, c) for c in ("ft", "ft+local", "ft+global")}
  assert before["ft"]["settings"]["data"]["sentence_split"] == "none"
  assert before["ft+local"]["settings"]["data"]["sentence_split"] == "independent"
  config.data_by_condition.ft_local.sentence_split = "cumulative"
  after = {c: experiment.condition_identity(config, c) for c in before}
  assert after["ft+local"] != before["ft+local"]
  assert after["ft"] == before["ft"] and after["ft+global"] == before["ft+global"]
  config.data_by_condition.ft_local.sentence_split = "sentences"
  with pytest.raises(ConfigError, match="sentence_split 'sentences'"):
    experiment.check(config)
  with config.unlocked():
    config.data_by_condition.ft_magic = {"sentence_split": "none"}
  with pytest.raises(ConfigError, match=r"data_by_condition: \['ft_magic'\]"):
    experiment.check_data_by_condition(config)


def test_augmented_conditions_train_the_baselines_epochs_unless_asked_for_the_same_steps():
  config = config_defaults.experiment("simple_reversals", "cpu")
  dataset = common.build_dataset(config.dataset)
  baseline = len(dataset.documents)
  assert experiment.baseline_epochs(config, dataset, "ft") == 0.0  # The baseline keeps train.steps.
  assert experiment.baseline_epochs(config, dataset, "ft+local") == pytest.approx(
      config.train.steps * config.data.batch_size / baseline)
  config.augmented_steps = "same_steps"
  assert experiment.baseline_epochs(config, dataset, "ft+local") == 0.0
  config.augmented_steps = "same_epochs"
  config.train.epochs = 2.0  # Epochs given: every condition trains them over its own mix already.
  assert experiment.baseline_epochs(config, dataset, "ft+local") == 0.0
  config.train.epochs, config.augmented_steps = 0.0, "more"
  with pytest.raises(ConfigError, match="augmented_steps must be one of"):
    experiment.check(config)
