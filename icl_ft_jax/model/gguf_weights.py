"""Gemma 3 weights from a llama.cpp GGUF file, as the gemma library's param tree.

Facts this conversion relies on (checked by the real-model tests):
- dequantized arrays come in [out, in] order;
- llama.cpp stores every Gemma RMSNorm weight as 1 + w (gemma adds the 1 itself);
- q and k need no permutation (the Gemma converter does not permute them);
- the output projection is tied to the token embedding.
The names and layouts are `weight_names`' table, which the Hugging Face export and import share.
"""

from __future__ import annotations

import pathlib
from collections.abc import Callable

import numpy as np

from icl_ft_jax.errors import ModelLoadError
from icl_ft_jax.model import weight_names


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
  heads = {"h": num_heads, "k": num_kv_heads, "d": head_dim}

  def gemma_array(entry: weight_names.Entry) -> np.ndarray:
    matrix = read(entry.gguf)
    if entry.norm:
      matrix = matrix - 1.0  # llama.cpp folded gemma's "1 +" into the weight.
    return entry.layout.from_matrix(matrix, heads)

  return weight_names.gemma_params(num_layers, gemma_array)
