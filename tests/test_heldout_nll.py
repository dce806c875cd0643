"""The held-out prose check: ordinary text to the real model, noise to a random one."""

import math

import pytest

from icl_ft_jax import heldout_nll
from icl_ft_jax.scoring import Scorer


def _nll(loaded, mesh):
  return heldout_nll.heldout_nll(Scorer(loaded.model, loaded.params, loaded.tokenizer, mesh, progress=False))


def test_paragraphs_are_split_into_prompt_and_continuation():
  items = heldout_nll.items()
  assert len(items) == len(heldout_nll.paragraphs()) >= 8
  for item, paragraph in zip(items, heldout_nll.paragraphs()):
    assert item.prompt.endswith(".") and len(item.choices) == 1
    assert item.prompt + item.choices[0] == paragraph


def test_random_model_is_near_uniform(tiny_model, one_device_mesh):
  nll = _nll(tiny_model, one_device_mesh)
  assert abs(nll - math.log(tiny_model.model.config.num_embed)) < 1.0


@pytest.mark.real_model
def test_real_model_finds_the_prose_ordinary(real_model, one_device_mesh):
  assert 1.0 < _nll(real_model, one_device_mesh) < 3.5
