"""The FLOP count of a run (`icl_ft_jax.cost`): the training step against XLA's own count, stages from configs."""

import dataclasses
import importlib.util
import pathlib
import sys

import jax
import numpy as np
import pytest

from icl_ft_jax import config_defaults, cost
from icl_ft_jax.train import trainer, tuning as tuning_lib
from tests.train import helpers

ROOT = pathlib.Path(__file__).resolve().parents[1]


def test_the_benchmark_counts_with_the_same_function(monkeypatch):
  spec = importlib.util.spec_from_file_location("train_step_benchmark", ROOT / "benchmarks" / "train_step.py")
  benchmark = importlib.util.module_from_spec(spec)
  monkeypatch.setitem(sys.modules, spec.name, benchmark)  # Its dataclasses look their module up.
  spec.loader.exec_module(benchmark)
  assert benchmark.cost.train_step_flops is cost.train_step_flops
  assert not hasattr(benchmark, "model_flops_per_step")  # No second count to drift from this one.


def _xla_flops(loaded, mesh, tuning, batch: int, length: int) -> float:
  """XLA's FLOP count of the compiled training step (full logits: no rematerialised loss chunks)."""
  config = helpers.config(batch_size=batch, chunk_length=0)
  config = dataclasses.replace(config, tuning=tuning, data=dataclasses.replace(config.data, max_length=length))
  run = trainer.prepare(loaded, config, mesh=mesh)
  state = run.initial_state(loaded.params)
  rows = np.ones((batch, length), np.int32)
  batch_arrays = jax.device_put({"inputs": 3 * rows, "targets": 4 * rows, "weights": rows.astype(np.float32),
                                 "positions": np.cumsum(rows, axis=1) - 1, "segment_ids": rows},
                                run.shardings.batch)
  analysis = run.train_step.lower(state, run.frozen, batch_arrays).compile().cost_analysis()
  return float((analysis[0] if isinstance(analysis, list) else analysis)["flops"])


@pytest.mark.parametrize("tuning", [tuning_lib.TuningConfig(), tuning_lib.TuningConfig(freeze_embedding=True)],
                         ids=["full", "frozen_embedding"])
def test_train_step_flops_match_xlas_count_of_the_compiled_step(tiny_model, one_device_mesh, tuning):
  # The tiny model is mostly its 262k x 32 embedding: a miscount of its backward (6x vs 4x) is 30%.
  # XLA also counts the softmax, the optimizer and unmasked attention: with 32-wide rows the loss's
  # elementwise work per logit (softcap, exp, the one-hot of its hand-written VJP) is 7-9% here
  # (under 1% at the 270M's 640); so 10%.
  analytic = cost.train_step_flops(cost.Shape.of(tiny_model.config), tuning, batch=4, length=16)
  measured = _xla_flops(tiny_model, one_device_mesh, tuning, batch=4, length=16)
  assert measured == pytest.approx(analytic, rel=0.10)


def test_shape_counts_the_models_matmul_weights(tiny_model):
  shape = cost.model_shape("tiny")
  assert shape == cost.Shape.of(tiny_model.config)
  sizes = [np.size(x) for x in jax.tree.leaves(tiny_model.params)]
  vector_sizes = sum(s for s, x in zip(sizes, jax.tree.leaves(tiny_model.params)) if np.ndim(x) <= 1)
  # Every parameter is a matmul weight, the embedding, or a norm scale (vectors).
  assert shape.block_params + shape.embed_params == sum(sizes) - vector_sizes


def _experiment(conditions: str, seeds: int = 1, epochs: float = 0.0):
  config = config_defaults.experiment("simple_reversals", "cpu", seeds=seeds)
  config.model.name = "tiny"
  config.conditions = (conditions,)
  config.train.epochs = epochs
  return config


def _by_stage(config) -> dict[str, float]:
  return {s.name: s.flops for s in cost.estimate(config)}


def test_each_stage_is_counted_when_the_config_runs_it():
  assert set(_by_stage(_experiment("pretrained"))) == {"scoring"}
  assert set(_by_stage(_experiment("pretrained,icl"))) == {"scoring", "ICL prefill"}
  assert set(_by_stage(_experiment("ft,ft+oracle"))) == {"scoring", "fine-tuning"}
  assert set(_by_stage(_experiment("ft+local"))) == {"scoring", "fine-tuning", "augmentation sampling"}
  datasets = config_defaults.base("datasets", "simple_reversals")
  assert cost.estimate(datasets) == []


def test_fine_tuning_is_steps_times_the_step_for_every_condition_and_seed():
  config = _experiment("ft,ft+oracle", seeds=2)
  config.augmented_steps = "same_steps"
  step = cost.train_step_flops(cost.model_shape("tiny"), tuning_lib.TuningConfig(), config.data.batch_size,
                               config.data.max_length)
  assert _by_stage(config)["fine-tuning"] == pytest.approx(2 * 2 * config.train.steps * step)


def test_a_condition_trains_with_its_own_data_fields():
  config = _experiment("ft,ft+oracle")
  config.augmented_steps = "same_steps"
  config.data_by_condition.ft_oracle.max_length = 2 * config.data.max_length
  shape = cost.model_shape("tiny")
  step = lambda length: cost.train_step_flops(shape, tuning_lib.TuningConfig(), config.data.batch_size, length)
  expected = config.train.steps * (step(config.data.max_length) + step(2 * config.data.max_length))
  assert _by_stage(config)["fine-tuning"] == pytest.approx(expected)


def test_epochs_train_an_augmented_mix_longer():
  plain, oracle = _by_stage(_experiment("ft", epochs=2))["fine-tuning"], _by_stage(_experiment("ft+oracle", epochs=2))
  assert oracle["fine-tuning"] > plain


def test_augmented_conditions_train_the_baselines_epochs_by_default():
  plain, oracle = _by_stage(_experiment("ft"))["fine-tuning"], _by_stage(_experiment("ft+oracle"))["fine-tuning"]
  assert oracle > plain  # A larger mix, the same epochs: more steps than train.steps.


def test_icl_scoring_pays_for_attending_to_the_context():
  without = _by_stage(_experiment("pretrained"))["scoring"]
  with_icl = _by_stage(_experiment("pretrained,icl"))
  assert with_icl["scoring"] > 2 * without  # The ICL condition's questions also attend to the context.
  assert with_icl["ICL prefill"] > 0
