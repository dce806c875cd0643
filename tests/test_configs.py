"""Every config file loads, with its documented args, and passes the entry point's validation."""

import importlib.util
import pathlib

import pytest

from icl_ft_jax import main
from icl_ft_jax import config_defaults

ROOT = pathlib.Path(__file__).resolve().parents[1]
DATASETS = tuple(config_defaults.DATASET_PRESETS)  # Every family with presets, new ones included.
CASES = [("quickstart.py", None), ("datasets.py", None), ("tpu/study.py", "semantic_structure,model=gemma3-12b,devices=32"),
         ("report.py", "runs/a,runs/b")]
CASES += [(f"{name}.py", f"{dataset},size={size}") for name in ("icl", "finetune", "augment", "experiment")
          for dataset in DATASETS for size in ("cpu", "study")]


def _load(relative: str, arg):
  spec = importlib.util.spec_from_file_location("config", ROOT / "configs" / relative)
  module = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(module)
  return module.get_config(arg) if arg is not None else module.get_config()


@pytest.mark.parametrize("relative, arg", CASES)
def test_config_loads_and_validates(relative, arg):
  config = _load(relative, arg)
  main.validate(config)
  if "dataset" in config:
    assert config.dataset.family in DATASETS


def test_quickstart_is_the_reversal_experiment():
  config = _load("quickstart.py", None)
  assert config.job == "experiment" and config.dataset_name == "reversal_curse"
  assert {"ft", "ft+oracle", "icl"} <= set(config.conditions)


def test_study_size_subsamples_the_largest_datasets_in_context():
  assert _load("experiment.py", "reversal_curse,size=study").icl.subsample == 0.125
  assert _load("experiment.py", "reversal_curse,size=cpu").icl.subsample == 1.0
  assert _load("icl.py", "semantic_structure").icl.subsample == 0.125
