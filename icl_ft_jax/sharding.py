"""Device meshes and parameter sharding rules, as data.

A mesh is built from named axes with sizes, -1 meaning "all remaining devices"
(MaxText's convention). Parameters are sharded by an ordered list of
(regex, PartitionSpec) rules, first match wins, with an automatic FSDP rule for
large tensors that no explicit rule names (big_vision's `fsdp` rule).
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Mapping, Sequence

import jax
import numpy as np
from jax.sharding import Mesh, NamedSharding, PartitionSpec as P

from icl_ft_jax.errors import ConfigError

DEFAULT_AXES = (("data", -1), ("fsdp", 1), ("tensor", 1))


def make_mesh(axes: Mapping[str, int] | Sequence[tuple[str, int]] = DEFAULT_AXES,
              devices: Sequence[jax.Device] | None = None) -> Mesh:
  """A mesh over `devices` (default: all) with named axes; one axis may be -1."""
  items = list(axes.items()) if isinstance(axes, Mapping) else list(axes)
  devices = list(jax.devices() if devices is None else devices)
  sizes = [int(size) for _, size in items]
  names = tuple(name for name, _ in items)
  if sizes.count(-1) > 1:
    raise ConfigError(f"mesh axes {dict(items)}: at most one axis may be -1 (all the rest).")
  known = math.prod(s for s in sizes if s != -1)
  if known <= 0 or len(devices) % known:
    raise ConfigError(
        f"mesh axes {dict(items)} need a multiple of {known} devices, but {len(devices)} are present."
    )
  sizes = [len(devices) // known if s == -1 else s for s in sizes]
  if math.prod(sizes) != len(devices):
    raise ConfigError(
        f"mesh axes {dict(zip(names, sizes))} use {math.prod(sizes)} devices, but {len(devices)} are"
        " present; set one axis to -1 to use the rest."
    )
  return Mesh(np.asarray(devices).reshape(sizes), names)


@dataclasses.dataclass(frozen=True, kw_only=True)
class ShardingRules:
  """How params map to mesh axes.

  Attributes:
    rules: (regex on the "/"-joined param path, PartitionSpec) pairs, first match wins.
    fsdp_axis: Mesh axis for the automatic FSDP rule (None disables it).
    fsdp_min_size: Tensors with fewer elements stay replicated.
  """

  rules: tuple[tuple[str, P], ...] = ()
  fsdp_axis: str | None = "fsdp"
  fsdp_min_size: int = 2**18


def _path_name(path) -> str:
  return "/".join(str(getattr(k, "key", getattr(k, "name", k))) for k in path)


def _fsdp_spec(shape: tuple[int, ...], axis_size: int, axis: str) -> P:
  """Shards the largest dimension divisible by the axis size; else replicates."""
  order = sorted(range(len(shape)), key=lambda d: -shape[d])
  for dim in order:
    if shape[dim] % axis_size == 0:
      spec = [None] * len(shape)
      spec[dim] = axis
      return P(*spec)
  return P()


def param_partition_specs(abstract_params, mesh: Mesh, rules: ShardingRules = ShardingRules()):
  """A tree of PartitionSpecs matching `abstract_params` (arrays or ShapeDtypeStructs)."""
  compiled = [(re.compile(pattern), spec) for pattern, spec in rules.rules]
  fsdp_size = mesh.shape.get(rules.fsdp_axis, 1) if rules.fsdp_axis else 1

  def spec_for(path, leaf) -> P:
    name = _path_name(path)
    for pattern, spec in compiled:
      if pattern.search(name):
        return spec
    if fsdp_size > 1 and math.prod(leaf.shape) >= rules.fsdp_min_size:
      return _fsdp_spec(tuple(leaf.shape), fsdp_size, rules.fsdp_axis)
    return P()

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


def check_sharded_as(tree, shardings) -> None:
  """Raises if any array in `tree` is not laid out as `shardings` asks."""
  mismatches = []

  def check(path, array, sharding):
    if not array.sharding.is_equivalent_to(sharding, array.ndim):
      mismatches.append(f"{_path_name(path)}: {array.sharding} != {sharding}")

  jax.tree_util.tree_map_with_path(check, tree, shardings)
  if mismatches:
    raise AssertionError("params are not sharded as asked:\n" + "\n".join(mismatches[:10]))
