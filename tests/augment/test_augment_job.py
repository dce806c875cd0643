"""The augment job end to end on the tiny model, sharded over the eight fake devices."""

import json

from icl_ft_jax import main
from icl_ft_jax.data import schema

from tests import config_files


def _config(arg):
  return config_files.load("augment.py", arg)


def test_augment_job_writes_documents_quality_and_table(tmp_path, capsys):
  config = _config("simple_reversals")
  config.model.name = "tiny"
  config.augment.max_targets = 3
  config.augment.samples_per_input = 2
  config.augment.max_new_tokens = 6
  config.augment.global_max_new_tokens = 8
  config.augment.batch_size = 8  # The mesh's data axis spans all eight devices.
  main.run(config, str(tmp_path))
  quality = json.loads((tmp_path / "augmentation_quality.json").read_text())
  assert set(quality["strategies"]) == {"local", "global", "oracle"}
  local_setup = quality["strategies"]["local"]["setup"]
  assert local_setup["unit"] == "sentence" and local_setup["examples"] == "generic"
  assert quality["strategies"]["global"]["setup"]["context_fraction"] == 1.0
  assert quality["strategies"]["oracle"]["quality"]["validity"] == 1.0
  for strategy in ("local", "global"):
    summary = quality["strategies"][strategy]
    assert summary["targets"] == 3 and summary["generations"] == 6
    assert (tmp_path / "augmented" / f"{strategy}_samples.jsonl").is_file()
  oracle_docs = schema.read_jsonl(tmp_path / "augmented" / "oracle.jsonl", schema.Document)
  assert len(oracle_docs) == quality["strategies"]["oracle"]["statements"]
  table = capsys.readouterr().out
  assert "strategy" in table and "oracle" in table and "coverage" in table


def test_augment_job_writes_only_on_process_zero(tmp_path, monkeypatch, capsys):
  from icl_ft_jax import distributed  # pylint: disable=g-import-not-at-top

  config = _config("simple_reversals")
  config.augment.strategies = ("oracle",)
  monkeypatch.setattr(distributed, "is_primary", lambda: False)
  main.run(config, str(tmp_path))
  assert not (tmp_path / "augmentation_quality.json").exists()
  assert not (tmp_path / "augmented").exists()
  assert "oracle" not in capsys.readouterr().out
