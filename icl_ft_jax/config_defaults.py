"""Config sections shared by the files in `configs/`, so each file says only what differs."""

from __future__ import annotations

import dataclasses

from ml_collections import config_dict

from icl_ft_jax import families
from icl_ft_jax.errors import ConfigError
from icl_ft_jax.report import records


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


def dataset(name: str, size: str = "cpu", seed: int = 0) -> config_dict.ConfigDict:
  """The dataset part of a config: `{family, seed, **generation sizes}`.

  Sizes are the family's presets: "study" is the paper's size; "cpu" is sized so that the embedded 270M
  runs each stage on a laptop CPU in minutes (ICL context of a few thousand tokens).
  """
  presets = families.get(name).presets
  if not presets:
    raise ConfigError(f"Dataset {name!r} is loaded from files and has no sizes: see configs/datasets.py.")
  if size not in presets:
    raise ConfigError(f"Dataset {name!r} has no size {size!r}; choose one of {', '.join(presets)}.")
  return family_fields(name, {**presets[size], "seed": seed})


def family_fields(family: str, overrides: dict | None = None) -> config_dict.ConfigDict:
  """Every generation field of a dataset family, so each is typed and overridable by flag."""
  overrides = {k: v for k, v in (overrides or {}).items() if k != "family"}
  fields = dataclasses.asdict(families.config(family, overrides))
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


def base(job: str, dataset_name: str, size: str = "cpu", seed: int = 0) -> config_dict.ConfigDict:
  """What every job's config has: the job, seed, model, mesh and dataset."""
  config = config_dict.ConfigDict()
  config.job = job
  config.seed = seed
  config.model = model()
  config.mesh = mesh()
  config.dataset_name = dataset_name
  config.dataset = dataset(dataset_name, size, seed)
  return config


def icl_for(dataset_name: str, size: str, seed: int = 0) -> config_dict.ConfigDict:
  """The ICL section as the study lays it out.

  The study presents the whole dataset in context, and subsamples only where long contexts
  interfere (the family's `icl_subsample`: semantic structure, 8x). At study size every other
  dataset goes in whole when it fits the model's window (reversal curse: about 88k tokens, whole
  on the 128k-token 4B+ models), else the largest fraction that fits, recorded with the results.
  """
  section = icl()
  section.seed = seed
  section.subsample = families.get(dataset_name).icl_subsample
  if section.subsample < 1.0 or size == "study":
    section.fit = "subsample"
  return section


# What the study's in-context prompt for an instruction-tuned model asks: answer from the context. It is
# the user's turn before the documents (icl.instruction); the statement being scored opens the model's turn.
# Generic: tests/augment/test_prompt_guard.py checks it shows no test wording.
ICL_CHAT_INSTRUCTION = ("Here are some documents. Read them, and then use only what they say to finish the"
                        " sentence I start in your reply.")


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
      "prompt_format": "auto",  # "plain", "chat" (Gemma's chat template), "auto": chat for -it models.
  })


def scoring() -> config_dict.ConfigDict:
  return config_dict.ConfigDict({
      # Packed rows per step (each ~256 tokens: several questions, a question's choices sharing its
      # prompt); a multiple of the mesh's batch split (8 suits a host of 8 devices; see the quickstart
      # for one CPU device).
      "batch_size": 8,
      "context_batch_size": 8,  # Packed rows per step after a shared context (all share one copy of its cache).
      "prefill_chunk": 1024,
      "max_questions": 0,  # Per split; 0 = all.
      "splits": (),  # Empty = all of the dataset's splits.
  })


def finetune(dataset_name: str, size: str = "cpu") -> dict[str, config_dict.ConfigDict]:
  """The fine-tuning sections of a config: data, tuning, optimizer, train, checkpoint.

  The family's schedule sets the steps, row length and sentence split. The study: batch 8 or 16, learning
  rate 3e-4, 200-1000 steps by dataset size, sentence-split documents except the semantic-structure
  baseline (reversal-curse and simple-reversal documents are one sentence each: splitting changes nothing).
  """
  schedule = families.get(dataset_name).schedule
  if schedule is None:
    raise ConfigError(f"Dataset family {dataset_name!r} has no fine-tuning schedule; fine-tune one of: "
                      f"{', '.join(n for n in families.names() if families.get(n).schedule)}.")
  sections = config_dict.ConfigDict()
  sections.data = config_dict.ConfigDict({
      "batch_size": 8,  # Documents per step (a multiple of the mesh's data x fsdp size).
      "max_length": schedule.max_length,  # Tokens per row; longer documents are an error, never truncated.
      "rows_per_batch": 0,  # 0: one document per row; >0: pack the step's documents into this many rows.
      "sentence_split": schedule.sentence_split,  # "none", "independent" or "cumulative".
      "loss_on": "document",  # Or "completion" (after metadata prompt_chars / target_start).
      "append_eos": False,
      # One document per row: "bucket" pads a step to its longest document (a power of two, at most
      # max_length); "max_length" pads every step to max_length (one compiled shape).
      "pad_to": "bucket",
  })
  sections.tuning = config_dict.ConfigDict({
      "lora_rank": 0,  # 0: full fine-tuning; >0: gm.nn.LoRA adapters of this rank.
      "freeze_embedding": False,
  })
  sections.optimizer = config_dict.ConfigDict({
      "name": "adamw", "learning_rate": 3e-4, "warmup_steps": 10, "decay": "cosine",
      "end_learning_rate_fraction": 0.0, "weight_decay": 0.0, "b1": 0.9, "b2": 0.999, "eps": 1e-8,
      "grad_clip_norm": 1.0,
  })
  sections.train = config_dict.ConfigDict({
      "steps": schedule.cpu_steps if size == "cpu" else schedule.study_steps,
      "epochs": 0.0,  # > 0: steps = epochs x training documents / batch_size (augmented mixes train longer).
      "log_every_steps": 10,
      "eval_every_steps": 0,  # 0: evaluate only at the end.
      "loss_chunk_length": 32,  # Sequence positions per loss chunk; 0: full [B, L, vocab] logits.
      # Chunk only when the batch's float32 logits (at the positions that carry loss) would exceed this
      # many MiB (1 GiB = 8 x 128 positions of the 262k vocabulary); below it full logits are faster. 0: always chunk.
      "loss_logits_budget_mib": 1024,
      # Recompute each block's activations in the backward pass (less memory, about 1/3 more compute).
      "remat_blocks": schedule.remat_blocks,
      # Mixed precision: "bfloat16" runs the model's forward and backward passes in bfloat16 while the params,
      # gradients and AdamW's moments keep model.dtype ("auto": compute in model.dtype; float32 is the reference).
      "compute_dtype": "auto",
  })
  sections.checkpoint = config_dict.ConfigDict({"every_steps": 50, "keep": 2, "async_save": True})
  return dict(sections.items())


def data_by_condition(dataset_name: str) -> config_dict.ConfigDict:
  """Per FT condition ("+" written "_"), data settings that replace the data section's ("" or 0: keep it).

  `--config.data_by_condition.ft_local.sentence_split=none` trains `ft+local` on whole documents.
  """
  augmented = families.get(dataset_name).augmented_data
  return config_dict.ConfigDict({
      condition: {"sentence_split": "", "max_length": 0} if condition == "ft" else
                 {"sentence_split": augmented.get("sentence_split", ""), "max_length": augmented.get("max_length", 0)}
      for condition in ("ft", "ft_local", "ft_global", "ft_both", "ft_oracle")})


def augment(size: str = "cpu") -> config_dict.ConfigDict:
  """Fields of `icl_ft_jax.augment.AugmentConfig` (sampling and filter fields flattened).

  `size="study"` gives global reasoning traces of the study's length (about 1k tokens).
  """
  return config_dict.ConfigDict({
      "strategies": ("local", "global", "oracle"),
      "temperature": 0.8,  # 0 = greedy (one sample per input).
      "samples_per_input": 4,
      "max_new_tokens": 64,  # Per sentence of the local unit (3-4 statements; a document gets n times this).
      "batch_size": 8,  # A multiple of the mesh's data axis.
      "prompt_buckets": (64, 128, 256, 512),  # Target blocks (after the shared cached prompt) are padded to these.
      "num_shots": 4,  # Generic worked examples in the local prompt (all four).
      "family_examples": False,  # Ablation: the family's own worked examples first (recorded).
      "unit": "sentence",  # Local targets: "sentence" (the study's) or "document".
      "global_max_new_tokens": 1024 if size == "study" else 128,  # One global reasoning trace.
      "max_targets": 0,  # Per strategy; 0 = every target.
      "global_context_tokens": 0,  # 0 = the model's window minus room for the generation.
      "global_batch_size": 0,  # Rows per global step, each copying the context's KV cache (0 = batch_size).
      "prefill_chunk": 1024,
      "max_chars": 200,  # Longer statements are dropped.
      "min_words": 3,
      "oracle_derived": True,
      "seed": 0,
      "prompt_format": "auto",  # "plain", "chat" (Gemma's chat template), "auto": chat for -it models.
  })


def experiment(dataset_name: str, size: str = "cpu", *, seeds: int = 1) -> config_dict.ConfigDict:
  """A config for job `experiment`: every condition on one dataset over `seeds` seeds."""
  config = base("experiment", dataset_name, size)
  config.seeds = tuple(range(seeds))  # `seed` is set from these, one run each.
  config.conditions = records.CONDITION_ORDER
  config.icl = icl_for(dataset_name, size)
  config.scoring = scoring()
  for section, value in finetune(dataset_name, size).items():
    config[section] = value
  config.data_by_condition = data_by_condition(dataset_name)
  # "same_epochs": with train.steps fixed (epochs 0), the FT baseline trains train.steps (the study's
  # 200-1000 steps) and each augmented condition as many epochs over its larger mix as the baseline
  # got; "same_steps": every condition trains train.steps.
  config.augmented_steps = "same_epochs"
  config.augment = augment(size)
  return config
