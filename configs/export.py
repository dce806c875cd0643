"""Exports a fine-tuned model in the Hugging Face Gemma 3 layout (safetensors), LoRA adapters alone too.

  python -m icl_ft_jax.main --config=configs/export.py:runs/ft --workdir=runs/ft-hf
  python -m icl_ft_jax.main --config=configs/export.py --config.run=runs/exp/ft/reversal_curse/seed0/ft_local \
      --config.what=both --config.dtype=bfloat16 --workdir=runs/ft-local-hf

Arg: the fine-tuning run folder (a finetune job's workdir, or an experiment's
`ft/<dataset>/seed<N>/<condition>/`). Writes `model/` (config.json,
model.safetensors, tokenizer: `transformers.AutoModelForCausalLM.from_pretrained`
loads it, and `--config.model.checkpoint=DIR/model` reads it back) and, for LoRA
runs with `what=adapters|both`, `adapters/` (PEFT's adapter_config.json and
adapter_model.safetensors) under --workdir.
"""

from ml_collections import config_dict


def get_config(arg: str | None = None) -> config_dict.ConfigDict:
  config = config_dict.ConfigDict()
  config.job = "export"
  config.run = arg or config_dict.placeholder(str)  # The fine-tuning run folder (required).
  config.what = "model"  # "model" (adapters merged), "adapters" (LoRA runs: alone) or "both".
  config.dtype = "float32"  # Of the exported tensors: "float32" (exact) or "bfloat16" (half the size).
  config.step = 0  # The checkpoint to export; 0: the latest.
  # Above this many MB (10^6 bytes) the weights go in shards, model-0000i-of-0000N.safetensors plus
  # model.safetensors.index.json, written one at a time (transformers' save_pretrained default, 5 GB).
  config.max_shard_mb = 5000.0
  return config
