"""train.epochs sets the steps from the training set's size, so larger mixes train longer."""

import dataclasses

import pytest

from icl_ft_jax.errors import ConfigError
from icl_ft_jax.train import loop, trainer

from tests.train import helpers


def test_epochs_set_steps_from_the_number_of_documents():
  config = helpers.config(steps=7, batch_size=8)
  assert trainer.with_epochs(config, 100) is config  # epochs = 0: the steps stay.
  by_epochs = dataclasses.replace(config, loop=dataclasses.replace(config.loop, epochs=2.0))
  assert trainer.with_epochs(by_epochs, 100).loop.steps == 25  # 2 x 100 / 8, rounded up.
  assert trainer.with_epochs(by_epochs, 150).loop.steps == 38
  assert trainer.with_epochs(by_epochs, 1).loop.steps == 1


def test_negative_epochs_are_refused():
  with pytest.raises(ConfigError, match="train.epochs"):
    loop.LoopConfig(epochs=-1)


def test_finetune_trains_for_the_epochs(tiny_model, one_device_mesh, tmp_path):
  config = helpers.config(steps=50, batch_size=4)
  config = dataclasses.replace(config, loop=dataclasses.replace(config.loop, epochs=1.0))
  result = trainer.finetune(tiny_model, helpers.documents(), config, mesh=one_device_mesh, workdir=tmp_path,
                            identity={"test": "epochs"}, progress=False)
  assert int(result.state.step) == 2  # 8 documents, 4 per step, one epoch.
