"""Shared fixtures. Eight fake CPU devices so sharded code runs as on a pod slice."""

import os

# Must be set before JAX initialises its backends.
os.environ.setdefault("XLA_FLAGS", "--xla_force_host_platform_device_count=8")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import jax  # pylint: disable=g-import-not-at-top,wrong-import-position
import pytest  # pylint: disable=g-import-not-at-top,wrong-import-position

from icl_ft_jax import sharding  # pylint: disable=g-import-not-at-top,wrong-import-position


@pytest.fixture(scope="session")
def one_device_mesh():
  return sharding.make_mesh({"data": 1}, devices=jax.devices()[:1])


@pytest.fixture(scope="session")
def real_model():
  """The embedded Gemma 3 270M, float32 on one device (converted once, then cached)."""
  from icl_ft_jax.model import loading  # pylint: disable=g-import-not-at-top

  return loading.load_model({"name": "gemma3-270m", "dtype": "float32"})


@pytest.fixture(scope="session")
def tiny_model():
  from icl_ft_jax.model import loading  # pylint: disable=g-import-not-at-top

  return loading.load_model({"name": "tiny", "dtype": "float32"}, seed=0)
