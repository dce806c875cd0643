"""The samplers: deterministic for a seed, and the shared-context decoder equals plain decoding."""

import numpy as np

from icl_ft_jax.augment import sampling

CONTEXT = "".join(f"Fact {i}: the zorp number {i} is {c}.\n\n" for i, c in enumerate(["blue", "large", "Klemp"] * 6))
SUFFIXES = ("Statement: zorps are blue.\nFollows:\n", "Statement: the zorp number 3 is large and round.\nFollows:\n",
            "Hello")


def _config(**kwargs):
  return sampling.SamplingConfig(**{"max_new_tokens": 12, "batch_size": 4, "prompt_buckets": (16, 32, 512),
                                    **kwargs})


def test_shared_context_greedy_equals_gemma_sampler_on_full_sequence(tiny_model, one_device_mesh):
  tokenizer = tiny_model.tokenizer
  for suffix in SUFFIXES:  # The comparison is only meaningful where tokenization splits at the boundary.
    assert tokenizer.encode(CONTEXT + suffix) == tokenizer.encode(CONTEXT) + tokenizer.encode(suffix)
  shared = sampling.SharedContextSampler(tiny_model, one_device_mesh, _config(), prefill_chunk=32, progress=False)
  local = sampling.LocalSampler(tiny_model, one_device_mesh, _config(), progress=False)
  cached = shared.sample(CONTEXT, SUFFIXES)
  full = local.sample([CONTEXT + s for s in SUFFIXES])
  assert [g.token_ids for g in cached] == [g.token_ids for g in full]
  assert all(len(g.token_ids) > 0 for g in cached)


def test_sampling_is_deterministic_for_a_seed(tiny_model, one_device_mesh):
  config = _config(temperature=1.0, samples_per_input=3, seed=7)
  first = sampling.LocalSampler(tiny_model, one_device_mesh, config, progress=False).sample(SUFFIXES)
  again = sampling.LocalSampler(tiny_model, one_device_mesh, config, progress=False).sample(SUFFIXES)
  assert first == again
  assert len(first) == 3 * len(SUFFIXES)
  # Samples of one input differ (random tiny model, temperature 1): the rows are not copies.
  assert len({g.token_ids for g in first if g.input_index == 0}) > 1
  other = sampling.LocalSampler(tiny_model, one_device_mesh, _config(temperature=1.0, samples_per_input=3, seed=8),
                                progress=False).sample(SUFFIXES)
  assert [g.token_ids for g in other] != [g.token_ids for g in first]


def test_shared_context_sampling_is_deterministic(tiny_model, one_device_mesh):
  config = _config(temperature=1.0, samples_per_input=2, seed=3)
  sampler = sampling.SharedContextSampler(tiny_model, one_device_mesh, config, prefill_chunk=32, progress=False)
  assert sampler.sample(CONTEXT, SUFFIXES) == sampler.sample(CONTEXT, SUFFIXES)


def test_greedy_with_several_samples_is_a_config_error():
  import pytest
  from icl_ft_jax.errors import ConfigError
  with pytest.raises(ConfigError, match="samples_per_input=1"):
    sampling.SamplingConfig(temperature=0.0, samples_per_input=4)
  np.testing.assert_equal(sampling.SamplingConfig().temperature, 0.0)
