"""The config files under configs/, loaded by path as `--config=configs/<file>.py:<arg>` loads them.

    config = config_files.load("experiment.py", "simple_reversals,seeds=2")
    study = config_files.module("tpu/study.py")  # When a test calls `get_config` itself.
"""

from __future__ import annotations

import importlib.util
import pathlib
import types

from ml_collections import config_dict

CONFIGS = pathlib.Path(__file__).resolve().parents[1] / "configs"


def module(relative: str) -> types.ModuleType:
  """The module of `configs/<relative>`, freshly executed (a test may change what it returns)."""
  path = CONFIGS / relative
  spec = importlib.util.spec_from_file_location(f"configs_{path.stem}", path)
  loaded = importlib.util.module_from_spec(spec)
  spec.loader.exec_module(loaded)
  return loaded


def load(relative: str, arg: str | None = None) -> config_dict.ConfigDict:
  """`get_config(arg)` of `configs/<relative>` (no argument when `arg` is None, as `file.py` alone)."""
  get_config = module(relative).get_config
  return get_config() if arg is None else get_config(arg)
