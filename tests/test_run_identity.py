"""A rerun skips only the conditions done by the same run, and refuses another run's results."""

import pytest

from icl_ft_jax.errors import UserError
from icl_ft_jax.jobs import common, experiment, run_identity
from icl_ft_jax.report import records

from tests import config_files


def experiment_config(model: str = "tiny", **overrides):
  config = config_files.load("experiment.py", "simple_reversals,seeds=2")
  config.model.name = model
  for key, value in overrides.items():
    section, field = key.split(".")
    config[section][field] = value
  return config


def _save(workdir, config, condition, seed=0):
  seeded = experiment.seeded(config, seed)
  record = records.ResultRecord(dataset="simple_reversals", split="reversal", condition=condition,
                                normalization="sum", accuracy=0.5, n=4, chance=0.25, seed=seed)
  common.save_condition(workdir, [record], "simple_reversals", experiment.condition_identity(seeded, condition))


def test_the_same_run_is_done(tmp_path):
  config = experiment_config()
  _save(tmp_path, config, "pretrained")
  _save(tmp_path, config, "ft", seed=1)
  done = run_identity.done_conditions(tmp_path, experiment.expected_identities(config))
  assert done == {("pretrained", 0), ("ft", 1)}
  (saved,) = [r for r in records.read_results(tmp_path / "results.json") if r.condition == "pretrained"]
  assert saved.metadata["model"]["name"] == "tiny" and saved.metadata["run_identity"]


@pytest.mark.parametrize("changed, message", [
    ({"model": "gemma3-270m"}, "model.name: 'tiny' -> 'gemma3-270m'"),
    ({"dataset.num_facts": 7}, "dataset.num_facts: 40 -> 7"),
    ({"scoring.max_questions": 3}, "scoring.max_questions: 0 -> 3"),
])
def test_another_run_is_refused(tmp_path, changed, message):
  _save(tmp_path, experiment_config(), "pretrained")
  with pytest.raises(UserError, match="results of another run") as error:
    run_identity.done_conditions(tmp_path, experiment.expected_identities(experiment_config(**changed)))
  assert message in str(error.value) and "\n" not in str(error.value)


def test_a_condition_setting_changes_only_that_condition(tmp_path):
  _save(tmp_path, experiment_config(), "pretrained")
  _save(tmp_path, experiment_config(), "icl")
  changed = experiment_config(**{"icl.subsample": 0.5})
  with pytest.raises(UserError, match="icl, seed 0.*settings.icl.subsample: 1.0 -> 0.5"):
    run_identity.done_conditions(tmp_path, experiment.expected_identities(changed))
  changed.conditions = ("pretrained", "ft")  # Without icl: the pretrained results are this run's.
  assert run_identity.done_conditions(tmp_path, experiment.expected_identities(changed)) == {("pretrained", 0)}


def test_fine_tuning_settings_are_part_of_ft_identity(tmp_path):
  _save(tmp_path, experiment_config(), "ft+oracle")
  with pytest.raises(UserError, match="settings.steps: 60 -> 5"):
    run_identity.done_conditions(tmp_path, experiment.expected_identities(experiment_config(**{"train.steps": 5})))
  changed = experiment_config(**{"augment.temperature": 0.1})
  with pytest.raises(UserError, match="settings.augment.temperature"):
    run_identity.done_conditions(tmp_path, experiment.expected_identities(changed))


def test_another_model_on_another_condition_is_refused(tmp_path):
  _save(tmp_path, experiment_config(), "icl")
  other = experiment_config(model="gemma3-270m")
  other.conditions = ("pretrained",)
  with pytest.raises(UserError, match="model.name"):
    run_identity.done_conditions(tmp_path, experiment.expected_identities(other))


def test_results_without_identity_are_refused(tmp_path):
  records.write_results(tmp_path / "results.json", [records.ResultRecord(
      dataset="simple_reversals", split="reversal", condition="pretrained", normalization="sum", accuracy=0.5,
      n=4, chance=0.25, seed=0)])
  with pytest.raises(UserError, match="no recorded run identity"):
    run_identity.done_conditions(tmp_path, experiment.expected_identities(experiment_config()))
