"""Export of every configured dataset as JSONL, and the summary table."""

import pytest

from icl_ft_jax.data import export
from icl_ft_jax.data import schema
from icl_ft_jax.errors import ConfigError

from tests import config_files


def _config():
  return config_files.load("datasets.py")


def test_config_names_every_family():
  config = _config()
  assert config.job == "datasets"
  assert {name: spec.family for name, spec in config.datasets.items()} == {
      "reversal_curse": "reversal_curse", "simple_reversals": "simple_reversals",
      "simple_syllogisms": "simple_syllogisms", "semantic_structure": "semantic_structure",
      "process_knowledge": "process_knowledge",
  }


def test_export_writes_jsonl_per_dataset(tmp_path):
  config = _config()
  specs = {name: config.datasets[name] for name in ("simple_reversals", "simple_syllogisms")}
  datasets = export.export_datasets(specs, tmp_path)
  assert [d.name for d in datasets] == ["simple_reversals", "simple_syllogisms"]
  for name, dataset in zip(specs, datasets):
    assert sorted(p.name for p in (tmp_path / name).iterdir()) == [
        "documents.jsonl", "facts.jsonl", "info.json", "questions.jsonl"]
    assert schema.load_dataset(tmp_path / name) == dataset
  table = export.format_summary_table(schema.summary_rows(datasets))
  lines = table.splitlines()
  assert lines[0].split() == ["dataset", "documents", "split", "questions", "chance"]
  assert len(lines) == 2 + sum(len(d.splits) for d in datasets)  # Header, rule, a row per split.
  assert "simple_syllogisms" in lines[-1] and "69" in lines[-1]
  assert len({len(line) for line in lines[:2]}) == 1


def test_bad_spec_names_the_dataset(tmp_path):
  with pytest.raises(ConfigError, match=r"datasets.broken: .*Unknown dataset family"):
    export.export_datasets({"broken": {"family": "nope"}}, tmp_path)
  with pytest.raises(ValueError, match=r"datasets.small: num_facts"):
    export.export_datasets({"small": {"family": "simple_reversals", "num_facts": 0}}, tmp_path)
