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


# Dataset presets: "study" is the paper's size; "cpu" is sized so that the embedded 270M runs
# each stage on a laptop CPU in minutes (ICL context of a few thousand tokens).
DATASET_PRESETS = {
    "reversal_curse": {
        "study": {"family": "reversal_curse"},
        "cpu": {"family": "reversal_curse", "celebrities_per_group": 10, "train_templates": 3},
    },
    "simple_reversals": {
        "study": {"family": "simple_reversals"},
        "cpu": {"family": "simple_reversals", "num_facts": 40, "articles_per_fact": 3},
    },
    "simple_syllogisms": {
        "study": {"family": "simple_syllogisms"},
        "cpu": {"family": "simple_syllogisms"},
    },
    "semantic_structure": {
        "study": {"family": "semantic_structure"},
        "cpu": {"family": "semantic_structure", "num_documents": 400, "num_rephrasing_questions": 60,
                "num_reversal_questions": 60, "num_syllogism_questions": 80},
    },
}


def dataset(name: str, size: str = "cpu", seed: int = 0) -> config_dict.ConfigDict:
  """The dataset part of a config: `{family, seed, **generation sizes}`."""
  if name not in DATASET_PRESETS:
    raise ValueError(f"Unknown dataset {name!r}; choose one of {', '.join(DATASET_PRESETS)}.")
  if size not in DATASET_PRESETS[name]:
    raise ValueError(f"Unknown size {size!r} for {name}; choose one of {', '.join(DATASET_PRESETS[name])}.")
  return family_fields(DATASET_PRESETS[name][size]["family"], {**DATASET_PRESETS[name][size], "seed": seed})


def family_fields(family: str, overrides: dict | None = None) -> config_dict.ConfigDict:
  """Every generation field of a dataset family, so each is typed and overridable by flag."""
  import dataclasses  # pylint: disable=g-import-not-at-top

  from icl_ft_jax.data import registry  # pylint: disable=g-import-not-at-top

  overrides = {k: v for k, v in (overrides or {}).items() if k != "family"}
  fields = dataclasses.asdict(registry.family_config(family, overrides))
  return config_dict.ConfigDict({"family": family, **fields})


def parse_arg(arg: str | None, **defaults) -> dict:
  """big_vision-style config args: "reversal_curse,size=study" -> {"dataset": ..., "size": ...}.

  A bare first token is the dataset; every `key=value` overrides a default of the
  same type. Unknown keys are an error.
  """
  result = dict(defaults)
  for index, token in enumerate(t for t in (arg or "").split(",") if t):
    if "=" not in token:
      if index:
        raise ValueError(f"Config arg {token!r}: only the first token may omit 'key='.")
      key, value = "dataset", token
    else:
      key, value = token.split("=", 1)
    if key not in result:
      raise ValueError(f"Unknown config arg {key!r}; known: {', '.join(result)}.")
    default = result[key]
    result[key] = type(default)(value) if default is not None and not isinstance(default, bool) else (
        value.lower() in ("1", "true", "yes") if isinstance(default, bool) else value)
  return result


def icl() -> config_dict.ConfigDict:
  """How training documents become the context (see `icl_ft_jax.icl.ContextConfig`)."""
  return config_dict.ConfigDict({
      "separator": "\n\n",
      "instruction": "",
      "demonstrations": (),
      "subsample": 1.0,
      "fit": "error",
      "max_context_tokens": 0,
      "seed": 0,
  })


def scoring() -> config_dict.ConfigDict:
  return config_dict.ConfigDict({
      "batch_size": 16,  # Rows (question x choice) per step; a multiple of the data axis.
      "context_batch_size": 8,  # With a shared context (its KV cache is copied per row).
      "prefill_chunk": 1024,
      "max_questions": 0,  # Per split; 0 = all.
      "splits": (),  # Empty = all of the dataset's splits.
  })
