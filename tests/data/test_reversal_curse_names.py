"""Reversal Curse with nonsense names: real English names never used, the same dataset otherwise, recorded."""

import dataclasses

import pytest

from icl_ft_jax import families, main
from icl_ft_jax.data import reversal_curse, words

import dataset_checks
from tests import config_files

CONFIG = reversal_curse.Config(celebrities_per_group=10, train_templates=3)


@pytest.fixture(scope="module")
def real():
  return reversal_curse.generate(CONFIG)


@pytest.fixture(scope="module")
def nonsense():
  return reversal_curse.generate(dataclasses.replace(CONFIG, names="nonsense"))


def _names(dataset):
  return [f.subject for f in dataset.facts]


def test_names_recorded_in_info(real, nonsense, tmp_path):
  assert real.info["names"] == "real" and nonsense.info["names"] == "nonsense"
  dataset_checks.saved_bytes(nonsense, tmp_path)
  assert '"names": "nonsense"' in (tmp_path / "info.json").read_text()


def test_nonsense_names_are_not_english_or_real_names(real, nonsense):
  english = words.english_words()
  pools = {n.casefold() for n in reversal_curse.FIRST_NAMES + reversal_curse.LAST_NAMES}
  names = _names(nonsense)
  assert len(set(names)) == len(names) == 30
  for name in names:
    parts = name.split(" ")
    assert len(parts) == 2 and all(p[:1].isupper() and p[1:].islower() for p in parts), name
    assert not {p.casefold() for p in parts} & (english | pools), name
  assert not set(names) & set(_names(real))
  assert all(n.split(" ")[0] in reversal_curse.FIRST_NAMES for n in _names(real))  # Real stays as before.


def test_only_the_names_differ(real, nonsense):
  swap = dict(zip(_names(real), _names(nonsense)))

  def renamed(text):
    for old, new in swap.items():
      text = text.replace(old, new)
    return text

  assert [renamed(d.text) for d in real.documents] == [d.text for d in nonsense.documents]
  for q_real, q_nonsense in zip(real.questions, nonsense.questions, strict=True):
    assert renamed(q_real.prompt) == q_nonsense.prompt
    assert tuple(renamed(c) for c in q_real.choices) == q_nonsense.choices
    assert q_real.answer == q_nonsense.answer
  dataset_checks.check_questions_are_well_formed(nonsense)


def test_same_seed_same_bytes(tmp_path):
  spec = {"family": "reversal_curse", "celebrities_per_group": 5, "names": "nonsense"}
  first = dataset_checks.saved_bytes(families.build_dataset(spec), tmp_path / "a")
  again = dataset_checks.saved_bytes(families.build_dataset(spec), tmp_path / "b")
  other = dataset_checks.saved_bytes(families.build_dataset({**spec, "seed": 1}), tmp_path / "c")
  assert first == again and first["facts.jsonl"] != other["facts.jsonl"]


def test_unknown_names_kind_is_an_error():
  with pytest.raises(ValueError, match="names must be one of"):
    reversal_curse.generate(dataclasses.replace(CONFIG, names="celebrity"))


def _config(arg):
  return config_files.load("nonsense_names.py", arg)


@pytest.mark.parametrize("names, dataset_name", [("real", "reversal_curse"), ("nonsense", "reversal_curse_nonsense")])
@pytest.mark.parametrize("size", ["cpu", "study"])
def test_comparison_config(names, dataset_name, size):
  config = _config(f"names={names},size={size},seeds=3")
  main.validate(config)
  assert config.dataset.names == names and config.dataset_name == dataset_name
  assert {"icl", "ft"} <= set(config.conditions) and config.seeds == (0, 1, 2)
  real_names = config_files.load("experiment.py", f"reversal_curse,size={size}")
  assert config.icl == real_names.icl  # As the real-name experiment at that size (the whole dataset in context).
  assert families.build_dataset(config.dataset.to_dict()).info["names"] == names


def test_comparison_config_rejects_unknown_names():
  with pytest.raises(ValueError, match="names"):
    _config("names=famous")
