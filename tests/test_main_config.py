"""The entry point refuses bad configs with one clear line, before any work starts."""

import os
import pathlib
import subprocess
import sys

import pytest
from ml_collections import config_dict

from icl_ft_jax import config_defaults, main
from icl_ft_jax.errors import ConfigError, UserError

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _main(*args, timeout=120):
  env = {**os.environ, "XLA_FLAGS": ""}
  return subprocess.run([sys.executable, "-m", "icl_ft_jax.main", *args], cwd=ROOT, env=env,
                        capture_output=True, text=True, timeout=timeout)


def test_unknown_override_key_is_refused(tmp_path):
  result = _main("--config=configs/icl.py:simple_reversals", "--config.scoring.batch_sise=4",
                 f"--workdir={tmp_path}")
  assert result.returncode == 2
  assert "unknown config key 'scoring.batch_sise'; did you mean 'scoring.batch_size'?" in result.stderr
  assert "Traceback" not in result.stderr
  assert not (tmp_path / "results.json").exists()


def test_wrong_type_is_refused(tmp_path):
  result = _main("--config=configs/icl.py:simple_reversals", "--config.scoring.batch_size=many",
                 f"--workdir={tmp_path}")
  assert result.returncode != 0
  assert "batch_size" in result.stderr


def test_unknown_dataset_arg_is_refused(tmp_path):
  result = _main("--config=configs/icl.py:no_such_dataset", f"--workdir={tmp_path}")
  assert result.returncode == 2
  assert "Unknown dataset 'no_such_dataset'" in result.stderr
  assert "Traceback" not in result.stderr


def test_missing_required_field():
  config = config_dict.ConfigDict({"job": "datasets", "datasets": {}})
  config.dataset_path = config_dict.placeholder(str)
  with pytest.raises(ConfigError, match="Required config field.*dataset_path"):
    main.validate(config)


def test_unknown_job():
  with pytest.raises(ConfigError, match="config.job is 'nope'"):
    main.validate(config_dict.ConfigDict({"job": "nope"}))


def test_bad_dataset_field_is_one_line_error(tmp_path):
  result = _main("--config=configs/datasets.py", "--config.datasets.simple_reversals.num_facts=-5",
                 f"--workdir={tmp_path}")
  assert result.returncode == 2
  assert result.stderr.strip().splitlines()[-1].startswith("error: ")
  assert "Traceback" not in result.stderr


def test_parse_arg():
  assert config_defaults.parse_arg("simple_reversals,size=study,seed=3", dataset="x", size="cpu", seed=0) == {
      "dataset": "simple_reversals", "size": "study", "seed": 3}
  with pytest.raises(ValueError, match="Unknown config arg 'colour'"):
    config_defaults.parse_arg("colour=red", dataset="x")


def test_rerun_with_another_config_keeps_the_first_config(tmp_path):
  config = config_dict.ConfigDict({"job": "datasets", "x": 1})
  main._record_config(tmp_path, config)
  main._record_config(tmp_path, config)
  assert [p.name for p in tmp_path.iterdir()] == ["config.json"]
  config.x = 2
  main._record_config(tmp_path, config)
  assert '"x": 1' in (tmp_path / "config.json").read_text()
  (dated,) = [p for p in tmp_path.iterdir() if p.name != "config.json"]
  assert '"x": 2' in dated.read_text()


def test_multi_host_needs_an_explicit_workdir(monkeypatch, tmp_path):
  import jax  # pylint: disable=g-import-not-at-top

  from icl_ft_jax.jobs import workdir  # pylint: disable=g-import-not-at-top

  monkeypatch.setattr(jax, "process_count", lambda: 2)
  with pytest.raises(UserError, match="explicit --workdir"):
    with workdir.claimed(None, "icl"):
      pass
  with workdir.claimed(str(tmp_path / "w"), "icl") as path:
    assert path == tmp_path / "w"


def test_importing_the_entry_point_starts_no_jax_backend():
  """`jax.distributed.initialize` must run before any backend exists (multi-host `--distributed`)."""
  import subprocess
  import sys
  code = ("import jax._src.xla_bridge as xb; from icl_ft_jax import main; "
          "import sys; sys.exit(1 if xb._backends else 0)")
  assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
