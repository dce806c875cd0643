"""The entry point refuses bad configs with one clear line, before any work starts."""

import subprocess
import sys

import pytest
from ml_collections import config_dict

from icl_ft_jax import config_defaults, main
from icl_ft_jax.errors import ConfigError, UserError

from tests import entry_point


def test_unknown_override_key_is_refused(tmp_path):
  result = entry_point.run("--config=configs/icl.py:simple_reversals", "--config.scoring.batch_sise=4",
                           f"--workdir={tmp_path / 'w'}")
  entry_point.assert_refused(result, "unknown config key 'scoring.batch_sise'; did you mean 'scoring.batch_size'?")
  assert not (tmp_path / "w").exists()


def test_wrong_type_is_refused(tmp_path):
  result = entry_point.run("--config=configs/icl.py:simple_reversals", "--config.scoring.batch_size=many",
                           f"--workdir={tmp_path / 'w'}")
  entry_point.assert_refused(result, "--config.scoring.batch_size=many", "invalid literal for int()")
  assert not (tmp_path / "w").exists()


def test_unknown_dataset_arg_is_refused(tmp_path):
  result = entry_point.run("--config=configs/icl.py:no_such_dataset", f"--workdir={tmp_path / 'w'}")
  entry_point.assert_refused(result, "Unknown dataset family 'no_such_dataset'")
  assert not (tmp_path / "w").exists()


def test_missing_required_field():
  config = config_dict.ConfigDict({"job": "datasets", "datasets": {}})
  config.dataset_path = config_dict.placeholder(str)
  with pytest.raises(ConfigError, match="Required config field.*dataset_path"):
    main.validate(config)


def test_unknown_job():
  with pytest.raises(ConfigError, match="config.job is 'nope'"):
    main.validate(config_dict.ConfigDict({"job": "nope"}))


def test_bad_dataset_field_is_one_line_error(tmp_path):
  result = entry_point.run("--config=configs/datasets.py", "--config.datasets.simple_reversals.num_facts=-5",
                           f"--workdir={tmp_path / 'w'}")
  entry_point.assert_refused(result, "num_facts must be >= 1, got -5")
  assert not (tmp_path / "w").exists()


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
  code = ("import jax._src.xla_bridge as xb; from icl_ft_jax import main; "
          "import sys; sys.exit(1 if xb._backends else 0)")
  assert subprocess.run([sys.executable, "-c", code], capture_output=True).returncode == 0
