"""Every config file loads, with its documented args, and passes the entry point's validation."""

import pytest

from icl_ft_jax import config_defaults, families, main

from tests import config_files

DATASETS = families.names(with_presets=True)  # Every family with presets, new ones included.
CASES = [("quickstart.py", None), ("datasets.py", None), ("tpu/study.py", "semantic_structure,model=gemma3-12b,devices=32"),
         ("report.py", "runs/a,runs/b")]
CASES += [(f"{name}.py", f"{dataset},size={size}") for name in ("icl", "finetune", "augment", "experiment")
          for dataset in DATASETS for size in ("cpu", "study")]


@pytest.mark.parametrize("relative, arg", CASES)
def test_config_loads_and_validates(relative, arg):
  config = config_files.load(relative, arg)
  main.validate(config)
  if "dataset" in config:
    assert config.dataset.family in DATASETS


def test_quickstart_is_the_reversal_experiment():
  config = config_files.load("quickstart.py", None)
  assert config.job == "experiment" and config.dataset_name == "reversal_curse"
  assert {"ft", "ft+oracle", "icl"} <= set(config.conditions)


def test_study_size_puts_the_whole_dataset_in_context_where_it_fits():
  for name in ("reversal_curse", "simple_reversals", "simple_syllogisms", "process_knowledge"):
    section = config_files.load("experiment.py", f"{name},size=study").icl
    assert (section.subsample, section.fit) == (1.0, "subsample"), name  # Whole, else the most that fits.
  assert config_files.load("experiment.py", "reversal_curse,size=cpu").icl.subsample == 1.0
  assert config_files.load("icl.py", "semantic_structure").icl.subsample == 0.125  # Where the study subsampled 8x.
  assert config_files.load("tpu/study.py", "semantic_structure").icl.subsample == 0.125


def test_study_config_prompts_the_instruction_tuned_model_in_chat():
  from icl_ft_jax.jobs import icl as icl_job  # pylint: disable=g-import-not-at-top
  from icl_ft_jax.augment import pipeline  # pylint: disable=g-import-not-at-top

  study = config_files.load("tpu/study.py", "reversal_curse")
  assert study.model.name == "gemma3-4b-it" and study.icl.instruction == config_defaults.ICL_CHAT_INSTRUCTION
  assert icl_job.context_config(study).prompt_format == "chat"
  assert pipeline.AugmentConfig.from_config(study.augment.to_dict()).prompt_format == "auto"
  assert (study.tuning.lora_rank, study.optimizer.learning_rate) == (0, 3e-5)
  augment = pipeline.AugmentConfig.from_config(study.augment.to_dict())
  assert (augment.global_batch_size, augment.sampling.batch_size) == (8, 16)  # One global row per chip of 8.
  base = config_files.load("tpu/study.py", "reversal_curse,model=gemma3-4b")
  assert base.icl.instruction == "" and icl_job.context_config(base).prompt_format == "plain"
  base.icl.prompt_format = "chat"
  assert icl_job.context_config(base).prompt_format == "chat"


@pytest.mark.parametrize("model, whole", [("gemma3-4b-it", True), ("gemma3-1b-it", False)])
def test_study_reversal_curse_goes_in_context_whole_where_the_window_holds_it(tiny_model, model, whole):
  import types  # pylint: disable=g-import-not-at-top

  from icl_ft_jax.jobs import common, icl as icl_job  # pylint: disable=g-import-not-at-top
  from icl_ft_jax.model import specs  # pylint: disable=g-import-not-at-top

  config = config_files.load("tpu/study.py", f"reversal_curse,model={model}")
  dataset = common.build_dataset(config.dataset)
  loaded = types.SimpleNamespace(tokenizer=tiny_model.tokenizer, spec=specs.lookup(model))  # The real tokenizer.
  context = icl_job.fitted_context(loaded, dataset, config)
  window = specs.lookup(model).max_sequence_length
  assert context.num_tokens < window and (context.fraction == 1.0) == whole
  if not whole:  # The 1B's 32k window holds about a third of the ~88k tokens: the most that fits, recorded.
    assert 0.2 < context.fraction < 0.4 and context.num_tokens > 0.9 * (window - 512)


def test_one_list_of_conditions():
  from icl_ft_jax.jobs import experiment  # pylint: disable=g-import-not-at-top
  from icl_ft_jax.report import records  # pylint: disable=g-import-not-at-top

  assert experiment.CONDITIONS == records.CONDITION_ORDER  # What runs is what tables and plots order.
  assert config_defaults.experiment("simple_reversals").conditions == records.CONDITION_ORDER
