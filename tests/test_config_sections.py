"""Every config section becomes its dataclass the same way: a misspelt key is one ConfigError naming the section."""

import pytest

from icl_ft_jax import config_defaults, config_sections, families
from icl_ft_jax.augment import pipeline
from icl_ft_jax.errors import ConfigError
from icl_ft_jax.jobs import icl as icl_job
from icl_ft_jax.train import trainer


def _experiment():
  return config_defaults.experiment("simple_reversals")


@pytest.mark.parametrize("section", ["data", "tuning", "optimizer", "checkpoint", "train"])
def test_finetuning_sections(section):
  config = _experiment()
  config[section].lerning_rate = 1e-3
  with pytest.raises(ConfigError, match=rf"^{section} has no field\(s\) \['lerning_rate'\]; its fields: "):
    trainer.FinetuneConfig.from_config(config)


def test_augment_section_knows_its_sampling_and_filter_fields():
  section = _experiment().augment.to_dict()
  assert pipeline.AugmentConfig.from_config(section).sampling.temperature == section["temperature"]
  with pytest.raises(ConfigError, match=r"^augment has no field\(s\) \['temprature'\]; its fields: .*temperature"):
    pipeline.AugmentConfig.from_config({**section, "temprature": 0.5})


def test_icl_section():
  config = _experiment()
  config.icl.subsampel = 0.5
  with pytest.raises(ConfigError, match=r"^icl has no field\(s\) \['subsampel'\]"):
    icl_job.context_config(config)


def test_dataset_family_section():
  with pytest.raises(ConfigError, match=r"^Dataset family 'simple_reversals' has no field\(s\) \['num_fact'\]"):
    families.config("simple_reversals", {"num_fact": 3})


def test_a_missing_required_field_is_named():
  import dataclasses  # pylint: disable=g-import-not-at-top

  @dataclasses.dataclass
  class Needs:
    path: str
    size: int = 1

  with pytest.raises(ConfigError, match=r"^files needs field\(s\) \['path'\]"):
    config_sections.build(Needs, {"size": 2}, "files")
  assert config_sections.build(Needs, {"path": "x"}, "files") == Needs("x", 1)
