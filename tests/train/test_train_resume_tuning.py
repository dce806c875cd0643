"""LoRA and frozen-embedding runs resume exactly, and evaluate every `train.eval_every_steps`.

In process: a fault raised at a fixed step stops the first run; the rerun in the same workdir
resumes from the last checkpoint and must end bitwise equal to an uninterrupted run.
"""

import dataclasses
import json

import jax
import numpy as np
import pytest

from icl_ft_jax.train import checkpointing, data as data_lib, loss as loss_lib, trainer

from tests.train import helpers

STEPS, EVERY, EVAL_EVERY, FAULT_AT = 4, 2, 2, 3


class Fault(Exception):
  pass


def _config(**tuning) -> trainer.FinetuneConfig:
  cfg = helpers.config(steps=STEPS, **tuning)
  return dataclasses.replace(cfg, checkpoint=checkpointing.CheckpointConfig(every_steps=EVERY, keep=5),
                             loop=dataclasses.replace(cfg.loop, eval_every_steps=EVAL_EVERY))


def _finetune(model, mesh, cfg, workdir, evaluations):
  """Fine-tunes; `evaluate` logs the loss of the exported params on a fixed batch (and records it)."""
  batch = helpers.batches(model, cfg)(0)

  def evaluate(params):
    evaluations.append(float(loss_lib.document_loss(model.model, params, batch, chunk_length=None).mean))
    return {"loss": evaluations[-1]}

  return trainer.finetune(model, helpers.documents(), cfg, mesh=mesh, workdir=workdir, identity={"test": 1},
                          evaluate=evaluate, progress=False)


def _eval_rows(workdir) -> dict[int, float]:
  rows = map(json.loads, (workdir / "train_log.jsonl").read_text().splitlines())
  return {row["step"]: row["eval/loss"] for row in rows if "eval/loss" in row}


@pytest.mark.parametrize("tuning", [{"lora_rank": 2}, {"freeze_embedding": True}], ids=["lora", "frozen_embedding"])
def test_stopped_run_resumes_exactly_and_evaluates_on_schedule(tiny_model, one_device_mesh, tmp_path, monkeypatch,
                                                               tuning):
  cfg = _config(**tuning)
  evaluations = []
  whole = _finetune(tiny_model, one_device_mesh, cfg, tmp_path / "whole", evaluations)
  assert whole.resumed_from is None
  # eval_every_steps=2 over 4 steps: after step 2, and at the end (once); each with that step's params.
  assert list(_eval_rows(tmp_path / "whole")) == [2, 4] and len(evaluations) == 2
  final = loss_lib.document_loss(tiny_model.model, whole.params, helpers.batches(tiny_model, cfg)(0),
                                         chunk_length=None).mean
  np.testing.assert_allclose(evaluations[-1], final, rtol=1e-6)
  assert evaluations[1] < evaluations[0]

  batches = data_lib.Batches.__call__

  def fail_at_step(self, step):
    if step == FAULT_AT:
      raise Fault(f"fault before step {FAULT_AT + 1}")
    return batches(self, step)

  with monkeypatch.context() as patch:
    patch.setattr(data_lib.Batches, "__call__", fail_at_step)
    with pytest.raises(Fault):
      _finetune(tiny_model, one_device_mesh, cfg, tmp_path / "stopped", [])
  resumed = _finetune(tiny_model, one_device_mesh, cfg, tmp_path / "stopped", [])
  assert resumed.resumed_from == EVERY

  same = lambda a, b: np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
  jax.tree.map(same, resumed.state.params, whole.state.params)
  jax.tree.map(same, resumed.state.opt_state, whole.state.opt_state)
  jax.tree.map(same, resumed.params, whole.params)
  if tuning.get("freeze_embedding"):
    same(resumed.params["embedder"]["input_embedding"], tiny_model.params["embedder"]["input_embedding"])
  assert _eval_rows(tmp_path / "stopped") == _eval_rows(tmp_path / "whole")
