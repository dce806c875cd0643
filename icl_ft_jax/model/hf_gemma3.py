"""Hugging Face Gemma 3 folders (`Gemma3ForCausalLM`, model_type `gemma3_text`): write and read.

A folder holds `config.json`, `model.safetensors` (or shards named by
`model.safetensors.index.json`) and the tokenizer (`tokenizer.model` plus its
config). Weights go through `weight_names`' table, the one the GGUF conversion
uses: transposes and reshapes only, so export -> import is bit-identical.
Conventions this relies on (checked against transformers by tests/test_hf_export.py):
- HF stores RMSNorm scales as `w` (it computes `x * (1 + w)`), as gemma does;
- the output projection is tied to the embedding (`tie_word_embeddings`), so no `lm_head`;
- gemma's query scale `s` is HF's `query_pre_attn_scalar ** -0.5`;
- gemma's sliding mask (`k > q - window`) is HF's with `sliding_window = window`;
- RoPE: global layers use `rope_theta` (and `rope_scaling` linear when gemma's scale
  factor is not 1), local ones `rope_local_base_freq`: the keys of the Hub's Gemma 3
  configs, which transformers 4.5x and 5.x both read.
Needs no torch: safetensors' numpy API reads and writes bfloat16 through ml_dtypes.
"""

from __future__ import annotations

import json
import pathlib
from collections.abc import Mapping

import numpy as np

from icl_ft_jax.errors import ModelLoadError
from icl_ft_jax.model import weight_names

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"
TOKENIZER = "tokenizer.model"
MODEL_TYPES = ("gemma3_text", "gemma3")  # gemma3: a multimodal folder, read text-only.
# Where the text model's tensors live in each kind of folder (transformers 5 and 4.5x multimodal names).
_PREFIXES = ("model.", "model.language_model.", "language_model.model.")


def is_hf_folder(path: str | pathlib.Path) -> bool:
  path = pathlib.Path(path)
  return (path / CONFIG).is_file() and ((path / WEIGHTS).is_file() or (path / WEIGHTS_INDEX).is_file())


def _attention_kinds():
  from gemma import gm  # pylint: disable=g-import-not-at-top

  kinds = gm.nn.config.AttentionType
  return {kinds.LOCAL_SLIDING: "sliding_attention", kinds.GLOBAL: "full_attention"}


def config_json(config, *, dtype: str, max_position_embeddings: int, special_ids: Mapping[str, int]) -> dict:
  """config.json for gemma's `TransformerConfig` (a text-only Gemma 3)."""
  if config.final_logit_softcap is not None or config.attn_logits_soft_cap is not None:
    raise ModelLoadError("Soft-capped logits are Gemma 2's; only Gemma 3 models can be exported.")
  if not (config.use_qk_norm and config.use_post_attn_norm and config.use_post_ffw_norm
          and config.transpose_gating_einsum):
    raise ModelLoadError("Only Gemma 3 models (QK norm, post norms) can be exported to the HF Gemma 3 layout.")
  kinds = _attention_kinds()
  scale = config.query_pre_attn_scalar()
  query_pre_attn_scalar = scale ** -2.0
  if abs(query_pre_attn_scalar - round(query_pre_attn_scalar)) < 1e-6:
    query_pre_attn_scalar = round(query_pre_attn_scalar)
  rope_scaling = None
  if config.global_scale_factor != 1.0:
    rope_scaling = {"rope_type": "linear", "factor": float(config.global_scale_factor)}
  if config.local_scale_factor != 1.0:
    raise ModelLoadError("A scaled local RoPE has no Hugging Face Gemma 3 setting.")
  return {
      "architectures": ["Gemma3ForCausalLM"],
      "model_type": "gemma3_text",
      "vocab_size": config.num_embed,
      "hidden_size": config.embed_dim,
      "intermediate_size": config.hidden_dim,
      "num_hidden_layers": config.num_layers,
      "num_attention_heads": config.num_heads,
      "num_key_value_heads": config.num_kv_heads,
      "head_dim": config.head_dim,
      "hidden_activation": "gelu_pytorch_tanh",
      "max_position_embeddings": max_position_embeddings,
      "rms_norm_eps": 1e-6,
      "query_pre_attn_scalar": query_pre_attn_scalar,
      "sliding_window": config.sliding_window_size,
      "layer_types": [kinds[kind] for kind in config.attention_types],
      "rope_theta": float(config.global_base_frequency),
      "rope_local_base_freq": float(config.local_base_frequency),
      "rope_scaling": rope_scaling,
      "final_logit_softcapping": None,
      "attn_logit_softcapping": None,
      "attention_bias": False,
      "attention_dropout": 0.0,
      "tie_word_embeddings": True,
      "use_cache": True,
      "torch_dtype": dtype,
      **special_ids,
  }


def hf_tensors(params, num_layers: int, dtype) -> dict[str, np.ndarray]:
  """Gemma params -> `{HF name: [out, in] array}` in `dtype`."""
  return {entry.hf: np.ascontiguousarray(entry.layout.to_matrix(entry.get(params)).astype(dtype))
          for entry in weight_names.entries(num_layers)}


def write_weights(folder: pathlib.Path, tensors: Mapping[str, np.ndarray]) -> None:
  from safetensors.numpy import save_file  # pylint: disable=g-import-not-at-top

  save_file(dict(tensors), str(folder / WEIGHTS), metadata={"format": "pt"})  # transformers expects "pt".


def write_config(folder: pathlib.Path, config: dict) -> None:
  (folder / CONFIG).write_text(json.dumps(config, indent=2) + "\n")


def write_tokenizer(folder: pathlib.Path, sentencepiece_model: bytes, *, special_tokens: Mapping[str, str],
                    max_length: int) -> None:
  """`tokenizer.model` (the SentencePiece file our tokenizer reads) and the config HF builds it from."""
  (folder / TOKENIZER).write_bytes(sentencepiece_model)
  tokenizer_config = {"tokenizer_class": "GemmaTokenizer", "add_bos_token": True, "add_eos_token": False,
                      "model_max_length": max_length, "padding_side": "left", **special_tokens}
  (folder / "tokenizer_config.json").write_text(json.dumps(tokenizer_config, indent=2) + "\n")
  (folder / "special_tokens_map.json").write_text(json.dumps(dict(special_tokens), indent=2) + "\n")


def read_config(folder: pathlib.Path) -> dict:
  try:
    found = json.loads((folder / CONFIG).read_text())
  except (OSError, ValueError) as e:
    raise ModelLoadError(f"{folder / CONFIG} is not a readable config ({e}).") from None
  if found.get("model_type") not in MODEL_TYPES:
    raise ModelLoadError(f"{folder} holds a {found.get('model_type')!r} model, not Gemma 3 ({' or '.join(MODEL_TYPES)}).")
  return found.get("text_config", found) if found.get("model_type") == "gemma3" else found


def check_matches(hf_config: Mapping, config, folder: pathlib.Path, model_name: str) -> None:
  """The folder's Gemma 3 has the shape of the model `model.name` builds."""
  expected = {"num_hidden_layers": config.num_layers, "hidden_size": config.embed_dim,
              "intermediate_size": config.hidden_dim, "num_attention_heads": config.num_heads,
              "num_key_value_heads": config.num_kv_heads, "head_dim": config.head_dim,
              "vocab_size": config.num_embed}
  differing = [f"{k} {hf_config.get(k)} (model.name={model_name} has {v})" for k, v in expected.items()
               if hf_config.get(k) != v]
  if differing:
    raise ModelLoadError(f"The Hugging Face folder {folder} does not hold {model_name}: {', '.join(differing)}."
                         " Set model.name to the size it holds.")


def _weight_files(folder: pathlib.Path) -> list[pathlib.Path]:
  if (folder / WEIGHTS_INDEX).is_file():
    index = json.loads((folder / WEIGHTS_INDEX).read_text())
    return [folder / name for name in sorted(set(index["weight_map"].values()))]
  return [folder / WEIGHTS]


def read_params(folder: str | pathlib.Path, hf_config: Mapping) -> dict:
  """The gemma param tree (numpy, in the file's dtype) of a Hugging Face Gemma 3 folder."""
  from safetensors import safe_open  # pylint: disable=g-import-not-at-top

  folder = pathlib.Path(folder)
  handles = {}
  for path in _weight_files(folder):
    handle = safe_open(str(path), framework="numpy")
    handles.update({name: handle for name in handle.keys()})
  prefix = next((p for p in _PREFIXES if p + "embed_tokens.weight" in handles), None)
  if prefix is None:
    raise ModelLoadError(f"{folder} has no Gemma 3 embedding (model.embed_tokens.weight): not a Gemma 3 folder.")
  heads = {"h": hf_config["num_attention_heads"], "k": hf_config["num_key_value_heads"],
           "d": hf_config["head_dim"]}

  def gemma_array(entry: weight_names.Entry) -> np.ndarray:
    name = prefix + entry.hf.removeprefix("model.")
    if name not in handles:
      raise ModelLoadError(f"{folder} has no tensor {name!r}: it is not a complete Gemma 3 folder.")
    return entry.layout.from_matrix(handles[name].get_tensor(name), heads)

  return weight_names.gemma_params(hf_config["num_hidden_layers"], gemma_array)


def peft_tensors(adapters, num_layers: int, dtype, adapter_of) -> tuple[dict[str, np.ndarray], int]:
  """gm.nn.LoRA adapters -> PEFT's `{name: lora_A [r, in] | lora_B [out, r]}` and the rank.

  gemma's adapter of an Einsum weight is `a [in axes..., r]`, `b [r, out axes...]` (the
  stacked index after r for kv and gating) with `W + a @ b`, so `B @ A` is that delta as the
  HF matrix, in the layout's axis order; lora_alpha = r makes PEFT's scale 1.
  `adapter_of(weight_path)` finds `{a, b}` for a gemma weight path (see `train.lora`).
  """
  tensors, rank = {}, 0
  for entry in weight_names.entries(num_layers):
    if not entry.layout.inputs:
      continue
    *path, last = entry.gemma
    index = last if isinstance(last, int) else None
    adapter = adapter_of(tuple(path) if index is not None else entry.gemma)
    if adapter is None:
      continue
    a, b = np.asarray(adapter["a"]), np.asarray(adapter["b"])
    rank = b.shape[0]
    b = b[:, index] if index is not None else b
    name = "base_model.model." + entry.hf.removesuffix(".weight")
    tensors[f"{name}.lora_A.weight"] = np.ascontiguousarray(a.reshape(-1, rank).T.astype(dtype))
    tensors[f"{name}.lora_B.weight"] = np.ascontiguousarray(b.reshape(rank, -1).T.astype(dtype))
  return tensors, rank


def write_adapters(folder: pathlib.Path, tensors: Mapping[str, np.ndarray], rank: int) -> None:
  """PEFT's `adapter_model.safetensors` and `adapter_config.json` (LoRA on the base's linear layers)."""
  from safetensors.numpy import save_file  # pylint: disable=g-import-not-at-top

  modules = sorted({name.split(".")[-3] for name in tensors})
  save_file(dict(tensors), str(folder / "adapter_model.safetensors"), metadata={"format": "pt"})
  config = {"peft_type": "LORA", "task_type": "CAUSAL_LM", "r": rank, "lora_alpha": rank, "lora_dropout": 0.0,
            "bias": "none", "target_modules": modules, "fan_in_fan_out": False, "inference_mode": True,
            "use_rslora": False, "base_model_name_or_path": None}
  (folder / "adapter_config.json").write_text(json.dumps(config, indent=2) + "\n")
