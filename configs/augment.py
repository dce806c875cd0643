"""Augmentation of one dataset: local and global model inferences, and the oracle control.

  python -m icl_ft_jax.main --config=configs/augment.py:reversal_curse --workdir=/tmp/augment
  python -m icl_ft_jax.main --config=configs/augment.py:simple_reversals \
      --config.augment.temperature=0.8 --config.augment.samples_per_input=8

Args: dataset (reversal_curse, simple_reversals, simple_syllogisms,
semantic_structure), size ("cpu" default, or "study"), seed.
"""

from ml_collections import config_dict

from icl_ft_jax import config_defaults as defaults


def augment() -> config_dict.ConfigDict:
  """Fields of `icl_ft_jax.augment.AugmentConfig` (sampling and filter fields flattened)."""
  return config_dict.ConfigDict({
      "strategies": ("local", "global", "oracle"),
      "temperature": 0.8,  # 0 = greedy (one sample per input).
      "samples_per_input": 4,
      "max_new_tokens": 48,
      "batch_size": 8,  # A multiple of the mesh's data axis.
      "prompt_buckets": (128, 256, 512),  # Local prompts and global suffixes are padded to these.
      "num_shots": 2,
      "unit": "document",  # Local targets: "document" or "sentence".
      "max_targets": 0,  # Per strategy; 0 = every target.
      "global_context_tokens": 0,  # 0 = the model's window minus room for the generation.
      "prefill_chunk": 1024,
      "max_chars": 200,  # Longer statements are dropped.
      "min_words": 3,
      "oracle_derived": True,
      "seed": 0,
  })


def get_config(arg: str | None = None) -> config_dict.ConfigDict:
  args = defaults.parse_arg(arg, dataset="reversal_curse", size="cpu", seed=0)
  config = config_dict.ConfigDict()
  config.job = "augment"
  config.seed = args["seed"]
  config.model = defaults.model()
  config.mesh = defaults.mesh()
  config.dataset_name = args["dataset"]
  config.dataset = defaults.dataset(args["dataset"], args["size"], args["seed"])
  config.augment = augment()
  config.augment.seed = args["seed"]
  return config
