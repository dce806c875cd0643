"""A short local augmentation on the real 270M: the output parses into statements about the source."""

import pytest

from icl_ft_jax import config_defaults, families
from icl_ft_jax.augment import parsing, pipeline, sampling


@pytest.mark.real_model
def test_real_model_local_augmentation_parses(real_model, one_device_mesh):
  dataset = families.build_dataset(config_defaults.dataset("reversal_curse", "cpu").to_dict())
  config = pipeline.AugmentConfig(
      strategies=("local",), max_targets=4,  # The generic 4-shot prompt, about 320 tokens.
      sampling=sampling.SamplingConfig(temperature=0.0, max_new_tokens=24, batch_size=4, prompt_buckets=(512,)))
  result = pipeline.run_local(real_model, one_device_mesh, dataset, config, progress=False)
  assert result.num_targets == 4 and result.num_generations == 4
  assert all(g.text.strip() for g in result.generations)
  # Every generation yields candidate sentences, and some survive the filters.
  assert all(parsing.candidate_sentences(g.text) for g in result.generations)
  assert result.documents
  for document in result.documents:
    assert document.provenance.startswith("augment/local/")
    assert document.metadata["source_document"] in {d.id for d in dataset.documents}
  assert result.quality.num_statements == len(result.documents)
