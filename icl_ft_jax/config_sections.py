"""One way to turn a config section into its typed dataclass: unknown or missing keys are a ConfigError.

Every stage reads its part of the ml_collections config as a frozen dataclass
(`DataConfig`, `AugmentConfig`, a dataset family's `Config`, ...). Building them
through `build` means a misspelt key is refused the same way everywhere, in one
line that names the section and its fields, instead of a `TypeError` from the
dataclass constructor.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any, TypeVar

from icl_ft_jax.errors import ConfigError

T = TypeVar("T")


def field_names(cls) -> set[str]:
  return {f.name for f in dataclasses.fields(cls) if f.init}


def check_keys(cls, section: Mapping[str, Any], name: str, *, also: set[str] = frozenset()) -> None:
  """Refuses keys of `section` that are not fields of `cls` (or in `also`), and missing required fields."""
  known = field_names(cls) | set(also)
  unknown = sorted(set(section) - known)
  if unknown:
    raise ConfigError(f"{name} has no field(s) {unknown}; its fields: {', '.join(sorted(known))}.")
  required = [f.name for f in dataclasses.fields(cls) if f.init and f.default is dataclasses.MISSING
              and f.default_factory is dataclasses.MISSING and f.name not in section]
  if required:
    raise ConfigError(f"{name} needs field(s) {required}.")


def build(cls: type[T], section: Mapping[str, Any], name: str) -> T:
  """`cls(**section)`, after `check_keys`."""
  section = dict(section)
  check_keys(cls, section, name)
  return cls(**section)
