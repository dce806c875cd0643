"""Device meshes, the one batch sharding, and parameter sharding rules, as data.

A mesh is built from named axes with sizes, -1 meaning "all remaining devices"
(MaxText's convention), laid out by `jax.make_mesh` so neighbouring mesh entries
are neighbouring chips on a TPU slice. Every stage that has a batch (training,
scoring, sampling) splits it the same way: over `BATCH_AXES`, checked in one
place (`check_batch_size`). Parameters are sharded by an ordered list of
(regex, PartitionSpec) rules, first match wins; otherwise the `tensor` axis takes
the Gemma dimension named by `TENSOR_RULES` (heads, MLP hidden units, vocabulary:
Megatron-style tensor parallelism) and the automatic FSDP rule takes the largest
remaining dimension (big_vision's `fsdp` rule).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence

import jax
import numpy as np
from jax.sharding import AbstractMesh, AxisType, Mesh, NamedSharding, PartitionSpec as P

from icl_ft_jax.errors import ConfigError, UserError

DEFAULT_AXES = (("data", -1), ("fsdp", 1), ("tensor", 1))
# The batch is split over both (FSDP shards the data too, as in MaxText); `tensor` devices share a batch.
BATCH_AXES = ("data", "fsdp")
# Gemma param name -> the dimension the `tensor` axis splits: query/output heads, KV heads, MLP
# hidden units, vocabulary. XLA inserts the all-reduces after attention and MLP.
TENSOR_RULES = (
    (r"attn/q_einsum/w$", 0),  # [heads, embed, head_dim]
    (r"attn/kv_einsum/w$", 1),  # [2, kv_heads, embed, head_dim]
    (r"attn/attn_vec_einsum/w$", 0),  # [heads, head_dim, embed]
    (r"mlp/gating_einsum$", 1),  # [2, hidden, embed]
    (r"mlp/linear$", 0),  # [hidden, embed]
    (r"embedder/input_embedding$", 0),  # [vocab, embed]
)


def mesh_shape(axes: Mapping[str, int] | Sequence[tuple[str, int]], num_devices: int) -> dict[str, int]:
  """Axis name -> size for `num_devices` devices, the one -1 filled in; a ConfigError if they don't fit."""
  items = list(axes.items()) if isinstance(axes, Mapping) else list(axes)
  sizes = [int(size) for _, size in items]
  names = tuple(name for name, _ in items)
  if sizes.count(-1) > 1:
    raise ConfigError(f"mesh axes {dict(items)}: at most one axis may be -1 (all the rest).")
  known = math.prod(s for s in sizes if s != -1)
  if known <= 0 or num_devices % known:
    raise ConfigError(
        f"mesh axes {dict(items)} need a multiple of {known} devices, but {num_devices} are present."
    )
  sizes = [num_devices // known if s == -1 else s for s in sizes]
  if math.prod(sizes) != num_devices:
    raise ConfigError(
        f"mesh axes {dict(zip(names, sizes))} use {math.prod(sizes)} devices, but {num_devices} are"
        " present; set one axis to -1 to use the rest."
    )
  return dict(zip(names, sizes))


def make_mesh(axes: Mapping[str, int] | Sequence[tuple[str, int]] = DEFAULT_AXES,
              devices: Sequence[jax.Device] | None = None) -> Mesh:
  """A mesh over `devices` (default: all) with named axes; one axis may be -1.

  The devices are ordered by `jax.make_mesh`, which follows the TPU topology.
  """
  devices = list(jax.devices() if devices is None else devices)
  shape = mesh_shape(axes, len(devices))
  # Auto axes: XLA propagates shardings (jax.make_mesh would default to explicit sharding).
  return jax.make_mesh(tuple(shape.values()), tuple(shape), axis_types=(AxisType.Auto,) * len(shape),
                       devices=devices)


def abstract_mesh(axes: Mapping[str, int] | Sequence[tuple[str, int]], num_devices: int) -> AbstractMesh:
  """The mesh's shape without devices: to check a config for a slice that is not this machine."""
  shape = mesh_shape(axes, num_devices)
  return AbstractMesh(tuple(shape.values()), tuple(shape))


def batch_axes(mesh: Mesh) -> tuple[str, ...]:
  """The mesh axes a batch is split over."""
  return tuple(a for a in BATCH_AXES if a in mesh.axis_names)


def batch_split(mesh: Mesh) -> int:
  """Into how many parts a batch is split (the product of the batch axes' sizes)."""
  return math.prod(mesh.shape[a] for a in batch_axes(mesh))


def batch_sharding(mesh: Mesh) -> NamedSharding:
  """The one sharding of every batch (rows first) in training, scoring and sampling."""
  axes = batch_axes(mesh)
  return NamedSharding(mesh, P(axes if axes else None))


def check_batch_size(rows: int, mesh: Mesh, setting: str) -> None:
  """Raises a ConfigError naming `setting` unless `rows` splits evenly over the batch axes."""
  split = batch_split(mesh)
  if rows >= 1 and rows % split == 0:
    return
  layout = " x ".join(f"{a}={mesh.shape[a]}" for a in batch_axes(mesh)) or "no batch axis"
  raise ConfigError(f"{setting} is {rows}, but every batch is split over the mesh's {layout} ({split} parts);"
                    f" set it to a multiple of {split}, e.g. {max(split, -(-rows // split) * split)}.")


# Every config setting that sizes a batch; `data.batch_size` counts rows unless rows_per_batch packs them.
BATCH_SETTINGS = ("data.rows_per_batch", "data.batch_size", "scoring.batch_size", "scoring.context_batch_size",
                  "augment.batch_size")


def check_batch_settings(config: Mapping, mesh: Mesh | AbstractMesh) -> None:
  """Checks every batch size `config` sets against the mesh, before any work starts."""
  for name in BATCH_SETTINGS:
    section, key = name.split(".")
    value = (config.get(section) or {}).get(key)
    if name == "data.batch_size" and (config.get("data") or {}).get("rows_per_batch"):
      continue  # The step's documents are packed into rows_per_batch rows: those are split.
    if value is not None and not (name == "data.rows_per_batch" and value == 0):
      check_batch_size(int(value), mesh, name)


def process_rows(sharding: NamedSharding, rows: int) -> slice:
  """The rows of a batch-sharded `[rows, ...]` array that this process's devices hold, as one slice.

  For libraries that take each process's own rows (`jax.make_array_from_process_local_data`).
  """
  spans = sorted({index[0].indices(rows)[:2] for index in sharding.addressable_devices_indices_map((rows,)).values()})
  start, stop = spans[0]
  for begin, end in spans[1:]:
    if begin > stop:
      raise UserError(f"This process's devices hold batch rows {spans}, not one block; order the mesh so each"
                      " host's devices are neighbours on the batch axes (data, fsdp).")
    stop = max(stop, end)
  return slice(start, stop)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ShardingRules:
  """How params map to mesh axes.

  Attributes:
    rules: (regex on the "/"-joined param path, PartitionSpec) pairs, first match wins
      and is used as is.
    tensor_rules: (regex, dimension) pairs: the dimension the tensor axis splits, when
      its size divides it (else that param is replicated over the tensor axis).
    tensor_axis: Mesh axis for tensor parallelism (None disables it).
    fsdp_axis: Mesh axis for the automatic FSDP rule (None disables it).
    fsdp_min_size: Tensors with fewer elements are not split over the FSDP axis.
  """

  rules: tuple[tuple[str, P], ...] = ()
  tensor_rules: tuple[tuple[str, int], ...] = TENSOR_RULES
  tensor_axis: str | None = "tensor"
  fsdp_axis: str | None = "fsdp"
  fsdp_min_size: int = 2**18


def _path_name(path) -> str:
  return "/".join(str(getattr(k, "key", getattr(k, "name", k))) for k in path)


def _with_fsdp(spec: list, shape: tuple[int, ...], axis_size: int, axis: str) -> None:
  """Puts `axis` on the largest dimension that `spec` leaves free and the axis size divides."""
  for dim in sorted(range(len(shape)), key=lambda d: -shape[d]):
    if spec[dim] is None and shape[dim] % axis_size == 0:
      spec[dim] = axis
      return


def param_partition_specs(abstract_params, mesh: Mesh, rules: ShardingRules = ShardingRules()):
  """A tree of PartitionSpecs matching `abstract_params` (arrays or ShapeDtypeStructs)."""
  compiled = [(re.compile(pattern), spec) for pattern, spec in rules.rules]
  tensor = [(re.compile(pattern), dim) for pattern, dim in rules.tensor_rules]
  fsdp_size = mesh.shape.get(rules.fsdp_axis, 1) if rules.fsdp_axis else 1
  tensor_size = mesh.shape.get(rules.tensor_axis, 1) if rules.tensor_axis else 1

  def spec_for(path, leaf) -> P:
    name = _path_name(path)
    for pattern, spec in compiled:
      if pattern.search(name):
        return spec
    shape = tuple(leaf.shape)
    spec = [None] * len(shape)
    if tensor_size > 1:
      dim = next((d for pattern, d in tensor if pattern.search(name)), None)
      if dim is not None and dim < len(shape) and shape[dim] % tensor_size == 0:
        spec[dim] = rules.tensor_axis
    if fsdp_size > 1 and math.prod(shape) >= rules.fsdp_min_size:
      _with_fsdp(spec, shape, fsdp_size, rules.fsdp_axis)
    return P(*spec) if any(spec) else P()

  return jax.tree_util.tree_map_with_path(spec_for, abstract_params)


def param_shardings(abstract_params, mesh: Mesh, rules: ShardingRules = ShardingRules()):
  """A tree of NamedShardings matching `abstract_params`."""
  specs = param_partition_specs(abstract_params, mesh, rules)
  return jax.tree.map(lambda spec: NamedSharding(mesh, spec), specs, is_leaf=lambda x: isinstance(x, P))


def global_batch(tree, sharding: NamedSharding):
  """Global arrays from host data that every process built identically (a deterministic pipeline).

  On one process this is `device_put`; on several, each process fills only the shards its own
  devices hold, so nothing crosses hosts.
  """
  if jax.process_count() == 1:
    return jax.device_put(tree, sharding)
  return jax.tree.map(
      lambda x: jax.make_array_from_callback(np.shape(x), sharding, lambda index: np.asarray(x)[index]), tree)


def to_host(array: jax.Array) -> np.ndarray:
  """The whole of a (possibly multi-host sharded) array as numpy, on every process."""
  if jax.process_count() == 1 or array.is_fully_addressable or array.is_fully_replicated:
    return np.asarray(jax.device_get(array))
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top

  return np.asarray(multihost_utils.process_allgather(array, tiled=True))


def process_share(tree) -> tuple[int, int]:
  """(bytes of `tree` on this process's devices, each distinct piece once; the tree's bytes): how much of a
  sharded tree this host holds."""
  held = total = 0
  for array in jax.tree.leaves(tree):
    total += array.nbytes
    pieces = {tuple((s.start, s.stop) for s in shard.index): shard.data.nbytes for shard in array.addressable_shards}
    held += sum(pieces.values())
  return held, total


def check_sharded_as(tree, shardings) -> None:
  """Raises if any array in `tree` is not laid out as `shardings` asks."""
  mismatches = []

  def note_mismatch(path, array, sharding):
    if not array.sharding.is_equivalent_to(sharding, array.ndim):
      mismatches.append(f"{_path_name(path)}: {array.sharding} != {sharding}")

  jax.tree_util.tree_map_with_path(note_mismatch, tree, shardings)
  if mismatches:
    raise RuntimeError("Params are not sharded as asked (a bug in icl_ft_jax: please report it with the"
                       " mesh and model):\n" + "\n".join(mismatches[:10]))
