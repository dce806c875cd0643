"""Hugging Face Gemma 3 folders (`Gemma3ForCausalLM`, model_type `gemma3_text`): write and read.

A folder holds `config.json`, `model.safetensors` (or, above a size, shards
`model-0000i-of-0000N.safetensors` named by `model.safetensors.index.json`) and
the tokenizer (`tokenizer.model` plus its config). Weights go through
`weight_names`' table, the one the GGUF conversion uses: transposes and reshapes
only, so export -> import is bit-identical.
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

import dataclasses
import json
import math
import pathlib
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from icl_ft_jax.errors import ModelLoadError
from icl_ft_jax.model import weight_names

CONFIG = "config.json"
WEIGHTS = "model.safetensors"
WEIGHTS_INDEX = "model.safetensors.index.json"
TOKENIZER = "tokenizer.model"
DEFAULT_MAX_SHARD_BYTES = 5 * 10**9  # transformers' save_pretrained default ("5GB").
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
      "dtype": dtype,  # transformers 5's key; 4.5x reads torch_dtype.
      "torch_dtype": dtype,
      **special_ids,
  }


@dataclasses.dataclass(frozen=True)
class LazyTensor:
  """A tensor to write, made only when its shard is written: an export holds one shard at a time."""

  name: str
  nbytes: int
  make: Callable[[], np.ndarray]


def lazy_tensors(params, num_layers: int, dtype) -> list[LazyTensor]:
  """Gemma params -> HF tensors (`[out, in]` in `dtype`), in the table's order, each made on demand."""
  dtype = np.dtype(dtype)

  def tensor(entry: weight_names.Entry) -> LazyTensor:
    shape = entry.layout.matrix_shape(entry.shape(params))
    make = lambda: np.ascontiguousarray(entry.layout.to_matrix(entry.get(params)).astype(dtype))
    return LazyTensor(entry.hf, math.prod(shape) * dtype.itemsize, make)

  return [tensor(entry) for entry in weight_names.entries(num_layers)]


def hf_tensors(params, num_layers: int, dtype) -> dict[str, np.ndarray]:
  """Gemma params -> `{HF name: [out, in] array}` in `dtype`, all at once (small models, tests)."""
  return {tensor.name: tensor.make() for tensor in lazy_tensors(params, num_layers, dtype)}


def plan_shards(tensors: Sequence[LazyTensor], max_shard_bytes: int) -> list[list[LazyTensor]]:
  """Consecutive tensors grouped into shards of at most `max_shard_bytes` (a larger tensor alone), as
  transformers' `save_pretrained(max_shard_size=...)` does."""
  shards: list[list[LazyTensor]] = [[]]
  size = 0
  for tensor in tensors:
    if shards[-1] and size + tensor.nbytes > max_shard_bytes:
      shards.append([])
      size = 0
    shards[-1].append(tensor)
    size += tensor.nbytes
  return shards


def shard_name(i: int, count: int) -> str:
  return f"model-{i + 1:05d}-of-{count:05d}.safetensors"


def write_weights(folder: pathlib.Path, tensors: Sequence[LazyTensor],
                  max_shard_bytes: int = DEFAULT_MAX_SHARD_BYTES) -> list[str]:
  """`model.safetensors`, or shards and their index over `max_shard_bytes`; returns the files written.

  Each shard's tensors are made, written and dropped before the next, so host memory holds one
  shard (twice: safetensors serialises it to bytes) on top of the params. A previous export's
  weight files in `folder` are removed first, so a reader never mixes two exports.
  """
  from safetensors.numpy import save_file  # pylint: disable=g-import-not-at-top

  for stale in [folder / WEIGHTS, folder / WEIGHTS_INDEX, *folder.glob("model-*-of-*.safetensors")]:
    stale.unlink(missing_ok=True)
  shards = plan_shards(tensors, max_shard_bytes)
  names = [WEIGHTS] if len(shards) == 1 else [shard_name(i, len(shards)) for i in range(len(shards))]
  for name, shard in zip(names, shards, strict=True):
    # transformers expects the "pt" format tag.
    save_file({tensor.name: tensor.make() for tensor in shard}, str(folder / name), metadata={"format": "pt"})
  if len(shards) > 1:
    index = {"metadata": {"total_size": sum(tensor.nbytes for tensor in tensors)},
             "weight_map": {tensor.name: name for name, shard in zip(names, shards) for tensor in shard}}
    (folder / WEIGHTS_INDEX).write_text(json.dumps(index, indent=2, sort_keys=True) + "\n")
  return names


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
  """The text model's config, with its shapes read from the tensors themselves.

  A multimodal folder (`gemma3`, `Gemma3ForConditionalGeneration`) keeps the text model's
  config under `text_config`, where transformers writes only the keys that differ from
  `Gemma3TextConfig`'s defaults, so sizes equal to a default are missing; the sizes come
  from the weights instead. `multimodal` marks such a folder.
  """
  try:
    found = json.loads((folder / CONFIG).read_text())
  except (OSError, ValueError) as e:
    raise ModelLoadError(f"{folder / CONFIG} is not a readable config ({e}).") from None
  if found.get("model_type") not in MODEL_TYPES:
    raise ModelLoadError(f"{folder} holds a {found.get('model_type')!r} model, not Gemma 3 ({' or '.join(MODEL_TYPES)}).")
  multimodal = found["model_type"] == "gemma3"
  text = dict(found.get("text_config") or {}) if multimodal else found
  shapes = _Tensors(folder).shapes()
  differing = [f"{k} {text[k]} in config.json but {v} in the weights" for k, v in shapes.items()
               if text.get(k) is not None and text[k] != v]
  if differing:
    raise ModelLoadError(f"{folder} is inconsistent: {', '.join(differing)}.")
  return {**text, **shapes, "multimodal": multimodal}


def check_matches(hf_config: Mapping, config, folder: pathlib.Path, model_name: str) -> None:
  """The folder's Gemma 3 has the shape of the model `model.name` builds.

  A multimodal folder's embedding has rows past the text vocabulary (262,208 against
  262,144: the image token and padding); `read_params` drops them.
  """
  expected = {"num_hidden_layers": config.num_layers, "hidden_size": config.embed_dim,
              "intermediate_size": config.hidden_dim, "num_attention_heads": config.num_heads,
              "num_key_value_heads": config.num_kv_heads, "head_dim": config.head_dim,
              "vocab_size": config.num_embed}
  extra_rows_allowed = lambda k, v: k == "vocab_size" and hf_config.get("multimodal") and hf_config[k] > v
  differing = [f"{k} {hf_config.get(k)} (model.name={model_name} has {v})" for k, v in expected.items()
               if hf_config.get(k) != v and not extra_rows_allowed(k, v)]
  if differing:
    raise ModelLoadError(f"The Hugging Face folder {folder} does not hold {model_name}: {', '.join(differing)}."
                         " Set model.name to the size it holds.")


class _Tensors:
  """A folder's tensors by name (over its shards), under the text model's prefix, read lazily."""

  def __init__(self, folder: pathlib.Path):
    from safetensors import safe_open  # pylint: disable=g-import-not-at-top

    self.folder = folder
    self._handles = {}
    for path in _weight_files(folder):
      handle = safe_open(str(path), framework="numpy")
      self._handles.update({name: handle for name in handle.keys()})
    self.prefix = next((p for p in _PREFIXES if p + "embed_tokens.weight" in self._handles), None)
    if self.prefix is None:
      raise ModelLoadError(f"{folder} has no Gemma 3 embedding (model.embed_tokens.weight): not a Gemma 3 folder.")

  def _name(self, hf_name: str) -> str:
    name = self.prefix + hf_name.removeprefix("model.")
    if name not in self._handles:
      raise ModelLoadError(f"{self.folder} has no tensor {name!r}: it is not a complete Gemma 3 folder.")
    return name

  def shape(self, hf_name: str) -> tuple[int, ...]:
    name = self._name(hf_name)
    return tuple(self._handles[name].get_slice(name).get_shape())

  def get(self, hf_name: str) -> np.ndarray:
    name = self._name(hf_name)
    return self._handles[name].get_tensor(name)

  def shapes(self) -> dict[str, int]:
    """The architecture's sizes, as config.json names them, from the tensors' shapes."""
    layers = 0
    while self.prefix + f"layers.{layers}.input_layernorm.weight" in self._handles:
      layers += 1
    vocab, hidden = self.shape("model.embed_tokens.weight")
    head_dim, = self.shape("model.layers.0.self_attn.q_norm.weight")
    return {"num_hidden_layers": layers, "hidden_size": hidden, "vocab_size": vocab, "head_dim": head_dim,
            "intermediate_size": self.shape("model.layers.0.mlp.gate_proj.weight")[0],
            "num_attention_heads": self.shape("model.layers.0.self_attn.q_proj.weight")[0] // head_dim,
            "num_key_value_heads": self.shape("model.layers.0.self_attn.k_proj.weight")[0] // head_dim}


def _weight_files(folder: pathlib.Path) -> list[pathlib.Path]:
  if (folder / WEIGHTS_INDEX).is_file():
    index = json.loads((folder / WEIGHTS_INDEX).read_text())
    return [folder / name for name in sorted(set(index["weight_map"].values()))]
  return [folder / WEIGHTS]


def read_params(folder: str | pathlib.Path, hf_config: Mapping, vocab_size: int | None = None) -> dict:
  """The gemma param tree (numpy, in the file's dtype) of a Hugging Face Gemma 3 folder.

  `vocab_size` keeps the embedding's first rows (a multimodal folder's text vocabulary).
  """
  tensors = _Tensors(pathlib.Path(folder))
  heads = {"h": hf_config["num_attention_heads"], "k": hf_config["num_key_value_heads"],
           "d": hf_config["head_dim"]}

  def gemma_array(entry: weight_names.Entry) -> np.ndarray:
    matrix = tensors.get(entry.hf)
    if entry.weight is weight_names.EMBEDDING and vocab_size is not None:
      matrix = matrix[:vocab_size]
    return entry.layout.from_matrix(matrix, heads)

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
