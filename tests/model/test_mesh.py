import jax
import pytest
from jax.sharding import PartitionSpec as P

from icl_ft_jax import sharding
from icl_ft_jax.errors import ConfigError


def test_minus_one_takes_the_rest():
  mesh = sharding.make_mesh({"data": -1, "fsdp": 2, "tensor": 1})
  assert dict(mesh.shape) == {"data": 4, "fsdp": 2, "tensor": 1}


@pytest.mark.parametrize("axes, message", [
    ({"data": -1, "fsdp": -1}, "at most one axis"),
    ({"data": 3, "fsdp": -1}, "multiple of 3"),
    ({"data": 2, "fsdp": 2}, "use 4 devices, but 8"),
])
def test_bad_meshes(axes, message):
  with pytest.raises(ConfigError, match=message):
    sharding.make_mesh(axes)


def test_rules_first_match_then_fsdp():
  mesh = sharding.make_mesh({"data": 1, "fsdp": 8})
  params = {"embed": jax.ShapeDtypeStruct((1024, 64), "float32"),
            "small": jax.ShapeDtypeStruct((16,), "float32"),
            "odd": jax.ShapeDtypeStruct((3, 5, 7), "float32"),
            "pinned": jax.ShapeDtypeStruct((64, 1024), "float32")}
  rules = sharding.ShardingRules(rules=((r"^pinned$", P(None, "fsdp")),), fsdp_min_size=64)
  specs = sharding.param_partition_specs(params, mesh, rules)
  assert specs == {"embed": P("fsdp", None), "small": P(), "odd": P(), "pinned": P(None, "fsdp")}
