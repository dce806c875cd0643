"""`train.compute_dtype`: mixed precision, the model run in bfloat16 on float32 params and optimizer state."""

import dataclasses

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from icl_ft_jax import config_defaults
from icl_ft_jax.errors import ConfigError
from icl_ft_jax.jobs import run_identity
from icl_ft_jax.train import loop, trainer

from tests.train import helpers


def _train(tiny_model, mesh, compute_dtype, freeze_embedding):
  cfg = helpers.config(steps=3, freeze_embedding=freeze_embedding)
  cfg = dataclasses.replace(cfg, loop=dataclasses.replace(cfg.loop, compute_dtype=compute_dtype))
  run = trainer.prepare(tiny_model, cfg, mesh=mesh)
  batches = helpers.batches(tiny_model, cfg)
  state = run.initial_state(tiny_model.params)
  losses = []
  for step in range(cfg.loop.steps):
    state, metrics = run.train_step(state, run.frozen, jax.device_put(batches(step), run.shardings.batch))
    losses.append(float(metrics["loss"]))
  return state, np.array(losses), run


@pytest.mark.parametrize("freeze_embedding", [False, True])
def test_bfloat16_compute_trains_float32_params_to_nearly_the_same_losses(tiny_model, one_device_mesh,
                                                                           freeze_embedding):
  reference, reference_losses, _ = _train(tiny_model, one_device_mesh, "auto", freeze_embedding)
  mixed, mixed_losses, run = _train(tiny_model, one_device_mesh, "bfloat16", freeze_embedding)
  # The params, AdamW's moments and the frozen part keep the model's float32; only the passes are bfloat16.
  for tree in (mixed.params, mixed.opt_state, run.frozen):
    assert {x.dtype for x in jax.tree.leaves(tree) if jnp.issubdtype(x.dtype, jnp.floating)} <= {jnp.dtype("float32")}
  # Close to float32 (a bfloat16 mantissa has 8 bits), but not float32 itself: the cast did happen.
  np.testing.assert_allclose(mixed_losses, reference_losses, rtol=5e-2)
  assert not np.array_equal(mixed_losses, reference_losses)
  assert mixed_losses[-1] < mixed_losses[0]  # It trains.
  # An explicit "float32" is "auto" on float32 params: the same numbers.
  _, float32_losses, _ = _train(tiny_model, one_device_mesh, "float32", freeze_embedding)
  np.testing.assert_array_equal(float32_losses, reference_losses)


def _bfloat16_matmuls(tiny_model, mesh, compute_dtype) -> int:
  cfg = helpers.config(steps=1)
  cfg = dataclasses.replace(cfg, loop=dataclasses.replace(cfg.loop, compute_dtype=compute_dtype))
  run = trainer.prepare(tiny_model, cfg, mesh=mesh)
  batch = jax.device_put(helpers.batches(tiny_model, cfg)(0), run.shardings.batch)
  hlo = run.train_step.lower(run.initial_state(tiny_model.params), run.frozen, batch).as_text()
  return sum(1 for line in hlo.splitlines() if "dot_general" in line and "xbf16>" in line)


def test_bfloat16_compute_runs_the_matmuls_in_bfloat16(tiny_model, one_device_mesh):
  assert _bfloat16_matmuls(tiny_model, one_device_mesh, "auto") == 0
  assert _bfloat16_matmuls(tiny_model, one_device_mesh, "bfloat16") > 10  # Every block's, both passes.


def test_an_unknown_compute_dtype_is_refused_in_one_line():
  with pytest.raises(ConfigError, match="train.compute_dtype 'float16' is not one of auto, float32, bfloat16"):
    loop.LoopConfig(compute_dtype="float16")


def test_mixed_precision_is_part_of_what_a_run_and_its_results_are():
  config = config_defaults.experiment("simple_reversals", "cpu")
  auto_checkpoint = run_identity.checkpoint_identity(config, steps=10)
  auto_result = run_identity.condition_identity(config, "ft", fine_tuned=True)
  assert "compute_dtype" not in auto_checkpoint  # Runs recorded before the setting existed still match.
  config.train.compute_dtype = "bfloat16"
  assert run_identity.checkpoint_identity(config, steps=10) == {**auto_checkpoint, "compute_dtype": "bfloat16"}
  mixed_result = run_identity.condition_identity(config, "ft", fine_tuned=True)
  assert mixed_result["settings"] == {**auto_result["settings"], "compute_dtype": "bfloat16"}
  assert run_identity.digest(mixed_result) != run_identity.digest(auto_result)
