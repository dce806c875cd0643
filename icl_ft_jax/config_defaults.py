"""Config sections shared by the files in `configs/`, so each file says only what differs."""

from __future__ import annotations

from ml_collections import config_dict


def model(name: str = "gemma3-270m") -> config_dict.ConfigDict:
  """The model part of a config, read by `icl_ft_jax.model.load_model`."""
  return config_dict.ConfigDict({
      "name": name,  # See icl_ft_jax/model/specs.py for the known names.
      "checkpoint": "",  # Override: an Orbax params folder (local or gs://).
      "tokenizer": "",  # Override: a SentencePiece .model file.
      "dtype": "auto",  # float32 on CPU, bfloat16 on accelerators.
      "cache_dir": "",  # Where the embedded model is converted once ($ICL_FT_JAX_CACHE).
  })


def mesh() -> config_dict.ConfigDict:
  """Mesh axes; -1 means all remaining devices."""
  return config_dict.ConfigDict({"data": -1, "fsdp": 1, "tensor": 1})
