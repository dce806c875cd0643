"""Command-line config overrides the flag parser can't do alone, and its errors as one line.

`--config.dataset.family=F` switches the dataset section to family F: the
section is rebuilt with F's fields (keeping the seed), then the other
`--config.dataset.<field>=` overrides apply to it, so
`--config.dataset.family=berglund_reversal_curse --config.dataset.path=DIR`
works on any config with a dataset section. Records are then named after F
unless `--config.dataset_name` says otherwise.
"""

from __future__ import annotations

import ast
import difflib
import re
from collections.abc import Sequence

from ml_collections import config_dict

from icl_ft_jax.errors import ConfigError

_DATASET_PREFIX = "--config.dataset."


def split_dataset_family(argv: Sequence[str]) -> tuple[list[str], str | None, dict[str, str]]:
  """(argv without the dataset overrides, the family asked for, {field: text}) when a family is given."""
  family = next((a.split("=", 1)[1] for a in argv if a.startswith(_DATASET_PREFIX + "family=")), None)
  if family is None:
    return list(argv), None, {}
  kept, fields = [], {}
  for arg in argv:
    if arg.startswith(_DATASET_PREFIX) and "=" in arg:
      key, value = arg[len(_DATASET_PREFIX):].split("=", 1)
      if key != "family":
        fields[key] = value
    else:
      kept.append(arg)
  return kept, family, fields


def _coerce(key: str, text: str, default):
  try:
    if isinstance(default, bool):
      if text.lower() not in ("true", "false", "1", "0"):
        raise ValueError(text)
      return text.lower() in ("true", "1")
    if isinstance(default, (int, float)):
      return type(default)(text)
    if isinstance(default, (tuple, list)):
      return tuple(ast.literal_eval(text))
  except (ValueError, SyntaxError):
    raise ConfigError(f"--config.dataset.{key}={text}: not a valid {type(default).__name__}.") from None
  return text


def apply_dataset_family(config: config_dict.ConfigDict, family: str, fields: dict[str, str],
                         argv: Sequence[str]) -> None:
  """Replaces `config.dataset` with `family`'s fields and the given overrides."""
  from icl_ft_jax import config_defaults  # pylint: disable=g-import-not-at-top

  if "dataset" not in config:
    raise ConfigError("--config.dataset.family: this config has no dataset section.")
  try:
    section = config_defaults.family_fields(family, {"seed": config.dataset.get("seed", 0)})
  except (ValueError, TypeError) as e:
    raise ConfigError(f"--config.dataset.family: {e}") from None
  for key, text in fields.items():
    if key not in section:
      raise ConfigError(f"unknown config key 'dataset.{key}' for dataset family {family!r}{_suggest(key, section)}")
    section[key] = _coerce(key, text, section[key])
  with config.unlocked():
    config.dataset = section
    if not any(a.startswith("--config.dataset_name=") for a in argv) and "dataset_name" in config:
      config.dataset_name = family


def keys_of(config: config_dict.ConfigDict, prefix: str = "") -> list[str]:
  """Every dotted key of `config`, sections included."""
  keys = []
  for key, value in config.items():
    keys.append(prefix + key)
    if isinstance(value, config_dict.ConfigDict):
      keys += keys_of(value, prefix + key + ".")
  return keys


def _suggest(key: str, candidates) -> str:
  close = difflib.get_close_matches(key, list(candidates), n=1, cutoff=0.6)
  return f"; did you mean {close[0]!r}?" if close else f"; known keys: {', '.join(sorted(candidates))}."


def unknown_override(config: config_dict.ConfigDict | None, argv: Sequence[str]) -> str | None:
  """"unknown config key ..." with the nearest known key, for the first override `config` lacks."""
  if config is None:
    return None
  keys = keys_of(config)
  for arg in argv:
    match = re.match(r"--config\.([\w.]+)(=|$)", arg)
    if match and match.group(1) not in keys:
      key = match.group(1)
      parent = key.rpartition(".")[0]
      siblings = [k for k in keys if k.rpartition(".")[0] == parent] or keys
      return f"unknown config key {key!r}{_suggest(key, siblings)}"
  return None


def config_file_error(message: str) -> str:
  """One line from a config file's load error: the file and line, and the cause."""
  lines = [line.strip() for line in message.splitlines() if line.strip()]
  where = [m for m in (re.search(r'File "([^"]+)", line (\d+)', line) for line in lines) if m]
  cause = lines[-1] if lines else message
  if "No such file or directory" in message:
    return f"config file not found: {cause}"
  return f"{where[-1].group(1)}:{where[-1].group(2)}: {cause}" if where else cause
