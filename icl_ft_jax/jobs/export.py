"""Job `export`: a fine-tuning run -> a Hugging Face Gemma 3 folder (and PEFT LoRA adapters).

Writes `<workdir>/model/` (`Gemma3ForCausalLM`: config.json, model.safetensors or, over
`max_shard_mb`, its shards and index, tokenizer.model and its config) and, for LoRA
runs when asked, `<workdir>/adapters/`.
The weights go through `model.weight_names`' table, as the GGUF conversion and the
import (`--config.model.checkpoint=<workdir>/model`) do.
"""

from __future__ import annotations

import pathlib

import numpy as np

from icl_ft_jax import distributed, storage
from icl_ft_jax.errors import ConfigError
from icl_ft_jax.model import hf_gemma3
from icl_ft_jax.train import finetuned, lora

WHAT = ("model", "adapters", "both")
DTYPES = ("float32", "bfloat16")


def check(config) -> None:
  if config.what not in WHAT:
    raise ConfigError(f"what is {config.what!r}; it must be one of {', '.join(WHAT)}.")
  if config.dtype not in DTYPES:
    raise ConfigError(f"dtype is {config.dtype!r}; it must be one of {', '.join(DTYPES)}.")
  if not config.max_shard_mb > 0:
    raise ConfigError(f"max_shard_mb must be > 0, got {config.max_shard_mb}.")
  if config.step < 0:
    raise ConfigError(f"step must be >= 0 (0: the latest checkpoint), got {config.step}.")
  identity = finetuned.read_identity(config.run)  # A folder or gs://.
  if config.what != "model" and not identity["tuning"].get("lora_rank"):
    raise ConfigError(f"{config.run} is a full fine-tuning run: it has no LoRA adapters to export; use what=model.")


def _numpy_dtype(name: str):
  import ml_dtypes  # pylint: disable=g-import-not-at-top

  return np.dtype(ml_dtypes.bfloat16) if name == "bfloat16" else np.dtype(name)


def write_model(folder: pathlib.Path, params, loaded, dtype: str,
                max_shard_bytes: int = hf_gemma3.DEFAULT_MAX_SHARD_BYTES) -> None:
  """`loaded`'s architecture and tokenizer with `params`, as a Hugging Face Gemma 3 folder (weights in
  shards of at most `max_shard_bytes`, one shard in host memory at a time)."""
  from etils import epath  # pylint: disable=g-import-not-at-top
  import sentencepiece as spm  # pylint: disable=g-import-not-at-top

  folder.mkdir(parents=True, exist_ok=True)
  config = loaded.model.config
  special = loaded.tokenizer.special_tokens
  ids = {"pad_token_id": int(special.PAD), "eos_token_id": int(special.EOS), "bos_token_id": int(special.BOS)}
  hf_gemma3.write_weights(folder, hf_gemma3.lazy_tensors(params, config.num_layers, _numpy_dtype(dtype)),
                          max_shard_bytes)
  hf_gemma3.write_config(folder, hf_gemma3.config_json(
      config, dtype=dtype, max_position_embeddings=loaded.spec.max_sequence_length, special_ids=ids))
  sentencepiece_model = epath.Path(loaded.tokenizer.path).read_bytes()
  pieces = spm.SentencePieceProcessor(model_proto=sentencepiece_model)
  tokens = {name: pieces.IdToPiece(int(getattr(special, key)))
            for name, key in (("pad_token", "PAD"), ("eos_token", "EOS"), ("bos_token", "BOS"), ("unk_token", "UNK"))}
  hf_gemma3.write_tokenizer(folder, sentencepiece_model, special_tokens=tokens,
                            max_length=loaded.spec.max_sequence_length)


def write_adapters(folder: pathlib.Path, run: finetuned.Finetuned, dtype: str) -> None:
  folder.mkdir(parents=True, exist_ok=True)
  adapter_of = lambda path: lora._adapter_for(run.adapters, path)  # pylint: disable=protected-access
  tensors, rank = hf_gemma3.peft_tensors(run.adapters, run.loaded.model.config.num_layers, _numpy_dtype(dtype),
                                         adapter_of)
  hf_gemma3.write_adapters(folder, tensors, rank)


def write(config, workdir: pathlib.Path, fine_tuned: finetuned.Finetuned) -> list[str]:
  """The export's folders under `workdir`; returns a line for each, saying how to load it."""
  written = []
  with storage.staged(workdir) as out:  # safetensors writes local files: a gs:// workdir gets a copy.
    if config.what in ("model", "both"):
      write_model(out / "model", fine_tuned.params, fine_tuned.loaded, config.dtype,
                  max_shard_bytes=int(config.max_shard_mb * 1e6))
      written.append(f"Model (step {fine_tuned.step}): {workdir / 'model'}  ->  "
                     f"transformers.AutoModelForCausalLM.from_pretrained('{workdir / 'model'}'), or"
                     f" --config.model.checkpoint={workdir / 'model'}")
    if config.what in ("adapters", "both"):
      write_adapters(out / "adapters", fine_tuned, config.dtype)
      written.append(f"LoRA adapters (PEFT, step {fine_tuned.step}): {workdir / 'adapters'}")
  return written


def run(config, workdir: pathlib.Path) -> None:
  # Every process restores its part of the checkpoint and takes part in gathering the whole; process 0
  # alone writes the files (the others hold the same params and wait, so none exits mid-write).
  fine_tuned = finetuned.load(config.run, step=config.step or None)
  written = distributed.primary_writes(lambda: write(config, workdir, fine_tuned), f"the export to {workdir}")
  if written:
    print("\n".join(written))
