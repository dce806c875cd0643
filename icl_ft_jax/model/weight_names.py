"""The one table of Gemma 3 weights: gemma param path, GGUF tensor name, Hugging Face name, layout.

GGUF (llama.cpp) and Hugging Face store every linear weight as an `[out, in]`
matrix with the same head order (llama.cpp's Gemma converter does not permute
q/k), so one layout per weight serves both: `Layout.to_matrix` turns gemma's
array (e.g. q_einsum `[heads, embed, head_dim]`) into the matrix and
`Layout.from_matrix` back, by transposes and reshapes only (bit-exact).
They differ in RMSNorm scales: gemma and HF store `w` (the model computes
`x * (1 + w)`), GGUF stores `1 + w`; the reader of each format applies its own
convention to the weights marked `norm`.

    for entry in entries(num_layers):  # embedder, final norm, then every block's weights
      matrix = entry.layout.to_matrix(entry.get(params))
      tensors[entry.hf] = matrix
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator, Mapping

import numpy as np

# Axis letters: v vocab, e embed, f MLP hidden, h query heads, k kv heads, d head dim.
HEAD_AXES = ("h", "k", "d")  # The sizes a matrix's shape alone doesn't tell.


@dataclasses.dataclass(frozen=True)
class Layout:
  """gemma's axes (`gemma`) grouped into a matrix's rows (`out`) and columns (`inputs`)."""

  gemma: str
  out: str
  inputs: str = ""  # "" for a vector (an RMSNorm scale).

  def to_matrix(self, array: np.ndarray) -> np.ndarray:
    """gemma's array -> `[out, in]` (a vector stays a vector)."""
    order = [self.gemma.index(axis) for axis in self.out + self.inputs]
    moved = np.transpose(array, order)
    if not self.inputs:
      return moved
    return moved.reshape(math.prod(moved.shape[:len(self.out)]), -1)

  def matrix_shape(self, shape: tuple[int, ...]) -> tuple[int, ...]:
    """The shape `to_matrix` gives an array of `shape`, without touching its data."""
    sizes = dict(zip(self.gemma, shape, strict=True))
    if not self.inputs:
      return tuple(sizes[axis] for axis in self.out)
    return (math.prod(sizes[axis] for axis in self.out), math.prod(sizes[axis] for axis in self.inputs))

  def from_matrix(self, matrix: np.ndarray, heads: Mapping[str, int]) -> np.ndarray:
    """`[out, in]` -> gemma's array; `heads` gives the head sizes (h, k, d) the matrix folds."""
    shape = _unfold(self.out, matrix.shape[0], heads)
    if self.inputs:
      shape += _unfold(self.inputs, matrix.shape[1], heads)
    moved = np.reshape(matrix, shape)
    axes = self.out + self.inputs
    return np.transpose(moved, [axes.index(axis) for axis in self.gemma])


def _unfold(axes: str, size: int, heads: Mapping[str, int]) -> list[int]:
  """Sizes of `axes` whose product is `size`; at most one of them is not a head size."""
  known = {axis: heads[axis] for axis in axes if axis in heads}
  rest = math.prod(known.values())
  if size % rest:
    raise ValueError(f"a dimension of {size} does not split into {axes!r} with {known}")
  return [known.get(axis, size // rest) for axis in axes]


@dataclasses.dataclass(frozen=True)
class Weight:
  """One weight in the three namings. `gemma` ends with an int where gemma stacks two weights
  in one array (k and v in kv_einsum, gate and up in gating_einsum)."""

  gemma: tuple[str | int, ...]
  gguf: str
  hf: str
  layout: Layout
  norm: bool = False  # An RMSNorm scale: GGUF stores 1 + w.


_VECTOR_E = Layout("e", "e")
_VECTOR_D = Layout("d", "d")

EMBEDDING = Weight(("embedder", "input_embedding"), "token_embd", "embed_tokens", Layout("ve", "v", "e"))
TOP = (
    EMBEDDING,
    Weight(("final_norm", "scale"), "output_norm", "norm", _VECTOR_E, norm=True),
)
BLOCK = (
    Weight(("attn", "q_einsum", "w"), "attn_q", "self_attn.q_proj", Layout("hed", "hd", "e")),
    Weight(("attn", "kv_einsum", "w", 0), "attn_k", "self_attn.k_proj", Layout("ked", "kd", "e")),
    Weight(("attn", "kv_einsum", "w", 1), "attn_v", "self_attn.v_proj", Layout("ked", "kd", "e")),
    Weight(("attn", "attn_vec_einsum", "w"), "attn_output", "self_attn.o_proj", Layout("hde", "e", "hd")),
    Weight(("attn", "_query_norm", "scale"), "attn_q_norm", "self_attn.q_norm", _VECTOR_D, norm=True),
    Weight(("attn", "_key_norm", "scale"), "attn_k_norm", "self_attn.k_norm", _VECTOR_D, norm=True),
    # gating_einsum is [2, hidden, embed] (transpose_gating_einsum=True): gate first, then up.
    Weight(("mlp", "gating_einsum", 0), "ffn_gate", "mlp.gate_proj", Layout("fe", "f", "e")),
    Weight(("mlp", "gating_einsum", 1), "ffn_up", "mlp.up_proj", Layout("fe", "f", "e")),
    Weight(("mlp", "linear"), "ffn_down", "mlp.down_proj", Layout("fe", "e", "f")),
    Weight(("pre_attention_norm", "scale"), "attn_norm", "input_layernorm", _VECTOR_E, norm=True),
    Weight(("post_attention_norm", "scale"), "post_attention_norm", "post_attention_layernorm", _VECTOR_E,
           norm=True),
    Weight(("pre_ffw_norm", "scale"), "ffn_norm", "pre_feedforward_layernorm", _VECTOR_E, norm=True),
    Weight(("post_ffw_norm", "scale"), "post_ffw_norm", "post_feedforward_layernorm", _VECTOR_E, norm=True),
)


@dataclasses.dataclass(frozen=True)
class Entry:
  """A weight of one model: its full gemma path and its full GGUF and HF tensor names."""

  weight: Weight
  gemma: tuple[str | int, ...]
  gguf: str
  hf: str

  @property
  def layout(self) -> Layout:
    return self.weight.layout

  @property
  def norm(self) -> bool:
    return self.weight.norm

  def get(self, params: Mapping) -> np.ndarray:
    """This weight's array in a gemma param tree (one slice of a stacked array)."""
    node = params
    for key in self.gemma:
      node = node[key]
    return np.asarray(node)

  def shape(self, params: Mapping) -> tuple[int, ...]:
    """The shape of `get(params)`, read from the tree without copying the array."""
    node = params
    for key in self.gemma:
      if isinstance(key, int):  # A slice of a stacked array: its leading axis goes.
        return tuple(np.shape(node)[1:])
      node = node[key]
    return tuple(np.shape(node))


def entries(num_layers: int) -> Iterator[Entry]:
  for weight in TOP:
    yield Entry(weight, weight.gemma, f"{weight.gguf}.weight", f"model.{weight.hf}.weight")
  for i in range(num_layers):
    for weight in BLOCK:
      yield Entry(weight, (f"layer_{i}", *weight.gemma), f"blk.{i}.{weight.gguf}.weight",
                  f"model.layers.{i}.{weight.hf}.weight")


def gemma_params(num_layers: int, read: Callable[[Entry], np.ndarray]) -> dict[str, dict]:
  """The gemma param tree from `read(entry)` (gemma's array of each entry); stacked pairs stacked."""
  params: dict = {}
  for entry in entries(num_layers):
    *parents, last = entry.gemma
    node = params
    for key in parents:
      node = node.setdefault(key, {})
    if isinstance(last, int):  # A slice of a stacked array: collect, stack below.
      node.setdefault(_STACK, {})[last] = read(entry)
    else:
      node[last] = read(entry)
  return _stack(params)


_STACK = object()  # Marks a node whose int-keyed slices are stacked into one array.


def _stack(node):
  if not isinstance(node, dict):
    return node
  if _STACK in node:
    slices = node[_STACK]
    return np.stack([slices[i] for i in range(len(slices))])
  return {key: _stack(child) for key, child in node.items()}
