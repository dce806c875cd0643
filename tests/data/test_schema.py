"""JSONL round trips and chance levels of the dataset records."""

import pytest

from icl_ft_jax.data import schema
from icl_ft_jax.data import syllogisms


def test_saved_dataset_loads_back_equal(tmp_path):
  dataset = syllogisms.generate(syllogisms.Config(num_examples=12, seed=3))
  schema.save_dataset(dataset, tmp_path)
  assert schema.load_dataset(tmp_path) == dataset


def test_quotes_and_unicode_round_trip(tmp_path):
  document = schema.Document(
      id="d", text="She said \"it's 'Dr. Wu's' café\".\nNext.", provenance="p", fact_ids=("f",),
      metadata={"n": 1, "x": 0.5, "ok": True, "none": None},
  )
  schema.write_jsonl(tmp_path / "d.jsonl", [document])
  assert schema.read_jsonl(tmp_path / "d.jsonl", schema.Document) == [document]


def test_chance_is_mean_inverse_choice_count():
  questions = (
      schema.Question(id="a", split="s", prompt="p", choices=(" x", " y"), answer=0),
      schema.Question(id="b", split="s", prompt="p", choices=(" x", " y", " z", " w"), answer=3),
  )
  dataset = schema.Dataset(name="d", documents=(), questions=questions)
  assert dataset.chance("s") == pytest.approx((1 / 2 + 1 / 4) / 2)
  with pytest.raises(KeyError, match="no split"):
    dataset.chance("missing")


def test_equivalent_choices_count_as_correct_and_raise_chance():
  question = schema.Question(id="q", split="s", prompt="p", choices=(" a", " b", " c", " d"), answer=1,
                             also_correct=(3,))
  assert [question.is_correct(i) for i in range(4)] == [False, True, False, True]
  assert question.chance == pytest.approx(2 / 4)
  for bad in ((1,), (3, 3), (4,)):
    with pytest.raises(ValueError, match="also_correct"):
      schema.Question(id="q", split="s", prompt="p", choices=(" a", " b", " c", " d"), answer=1, also_correct=bad)


def test_malformed_line_names_file_and_line(tmp_path):
  path = tmp_path / "documents.jsonl"
  path.write_text('{"id": "a", "text": "t", "provenance": "p"}\n{"id": "b"}\n', encoding="utf-8")
  with pytest.raises(ValueError, match=r"documents.jsonl:2"):
    schema.read_jsonl(path, schema.Document)
