"""The local unit and its token budget, the recorded prompt setup, and the global trace's stopping."""

import functools

from icl_ft_jax import config_defaults, families
from icl_ft_jax.augment import pipeline, sampling
from icl_ft_jax.data import schema


@functools.cache
def dataset(name):
  return families.build_dataset(config_defaults.dataset(name, "cpu").to_dict())


def test_local_targets_are_sentences_by_default():
  syllogisms = dataset("simple_syllogisms")  # Two premises, one sentence each, per document.
  sentences = pipeline.local_targets(syllogisms, pipeline.AugmentConfig())
  documents = pipeline.local_targets(syllogisms, pipeline.AugmentConfig(unit="document"))
  assert len(documents) == len(syllogisms.documents) and len(sentences) == 2 * len(documents)
  assert all(s.metadata["source_document"] in {d.id for d in documents} for s in sentences)


def test_new_tokens_are_sized_to_the_unit():
  config = pipeline.AugmentConfig(sampling=sampling.SamplingConfig(max_new_tokens=40))
  one = schema.Document(id="a", text="Glons are big.", provenance="")
  three = schema.Document(id="b", text="Glons are big. Femps are small. Glons eat femps.", provenance="")
  assert pipeline.local_max_new_tokens([one], config) == 40
  assert pipeline.local_max_new_tokens([one, three], config) == 120


def test_local_run_records_its_prompt_setup(tiny_model, one_device_mesh):
  config = pipeline.AugmentConfig(
      strategies=("local",), max_targets=2, family_examples=True, num_shots=2,
      sampling=sampling.SamplingConfig(max_new_tokens=4, batch_size=2, prompt_buckets=(256,)))
  result = pipeline.run_local(tiny_model, one_device_mesh, dataset("simple_reversals"), config, progress=False)
  setup = result.summary()["setup"]
  assert setup["examples"] == "family" and setup["unit"] == "sentence" and setup["max_new_tokens"] == 4
  assert len(setup["worked_examples"]) == 2
  assert setup["prompt_format"] == "plain"  # "auto" on a pretrained model.


def test_local_run_in_chat_format_answers_in_the_models_turn(tiny_model, one_device_mesh):
  config = pipeline.AugmentConfig(
      strategies=("local",), max_targets=2, num_shots=1, prompt_format="chat",
      sampling=sampling.SamplingConfig(max_new_tokens=4, batch_size=2, prompt_buckets=(256,)))
  result = pipeline.run_local(tiny_model, one_device_mesh, dataset("simple_reversals"), config, progress=False)
  assert result.summary()["setup"]["prompt_format"] == "chat"
  assert result.num_generations == 2 * config.sampling.samples_per_input


def test_global_sampler_can_run_past_blank_lines(tiny_model, one_device_mesh):
  config = sampling.SamplingConfig(max_new_tokens=4, batch_size=2)
  (blank_line,) = tiny_model.tokenizer.encode("\n\n")
  local = sampling.SharedContextSampler(tiny_model, one_device_mesh, config, progress=False)
  trace = sampling.SharedContextSampler(tiny_model, one_device_mesh, config, progress=False, stop_at_blank_line=False)
  assert blank_line in local._end_tokens and blank_line not in trace._end_tokens  # pylint: disable=protected-access


def test_global_records_how_much_of_the_training_set_fits(tiny_model, one_device_mesh):
  config = pipeline.AugmentConfig(
      strategies=("global",), max_targets=2, global_max_new_tokens=4, global_context_tokens=900,
      global_batch_size=1, sampling=sampling.SamplingConfig(batch_size=2, prompt_buckets=(128,)))
  result = pipeline.run_global(tiny_model, one_device_mesh, dataset("simple_reversals"), config, progress=False)
  setup = result.summary()["setup"]
  assert 0 < setup["context_fraction"] < 1 and setup["context_tokens"] <= 900
  assert setup["batch_size"] == 1  # Its own rows per step (each copies the context's KV cache), not local's 2.
  assert setup["max_new_tokens"] == 4 and all(len(g.token_ids) <= 4 for g in result.generations)


def test_a_target_subsample_covers_every_fact_before_repeating_one():
  curse = dataset("reversal_curse")  # 30 celebrities, 3 documents each (two orders for "both").
  facts = {d.fact_ids[0] for d in curse.documents}
  config = pipeline.AugmentConfig(max_targets=len(facts))
  targets = pipeline.local_targets(curse, config)
  assert {t.fact_ids[0] for t in targets} == facts and len(targets) == len(facts)
  assert targets == pipeline.local_targets(curse, config)  # Seeded.
  other = pipeline.local_targets(curse, pipeline.AugmentConfig(
      max_targets=len(facts), sampling=sampling.SamplingConfig(seed=1)))
  assert [t.id for t in other] != [t.id for t in targets]


def test_a_context_over_the_window_names_the_augment_setting(tiny_model, one_device_mesh):
  import pytest  # pylint: disable=g-import-not-at-top

  from icl_ft_jax.errors import UserError  # pylint: disable=g-import-not-at-top

  sampler = sampling.SharedContextSampler(tiny_model, one_device_mesh, sampling.SamplingConfig(batch_size=2),
                                          progress=False)
  too_long = "Glons are big. " * tiny_model.spec.max_sequence_length
  with pytest.raises(UserError, match=r"window of 4096\. Lower augment\.global_context_tokens"):
    sampler.sample(too_long, ["Document: Glons are big."])
