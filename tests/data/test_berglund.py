"""The Berglund et al. loader, on a small fixture written in their format."""

import json

import pytest

from icl_ft_jax import families
from icl_ft_jax.data import berglund
from icl_ft_jax.errors import ConfigError

import dataset_checks

CELEBRITIES = {
    "p2d": [("Alma Quint", "the painter of the mural \"Night Gulls.\""), ("Bruno Vale", "the first baker on the moon"),
            ("Cyra Holt", "the inventor of the cloud harp"), ("Dion Marsh", "the author of 'Ten Lanterns'")],
    "d2p": [("Esme Rook", "the founder of the glass school"), ("Finn Ardley", "the pilot of the paper plane")],
    "both": [("Gwen Tarrow", "the composer of the tide opera"), ("Hugo Penn", "the keeper of the last lighthouse")],
}
P2D_TRAIN = ["{name}, famous as", "People remember {name} as"]
D2P_TRAIN = ["Famous as {description}, there is", "Remembered as {description}, we find"]
P2D_TEST = ["Everyone knows {name} as", "The story of {name} is that of"]
D2P_TEST = ["Known for being {description}, the person is", "Hailed as {description}, here is"]


def _lines(group, prompts, completion_is_name):
  lines = []
  for name, description in CELEBRITIES[group]:
    for prompt in prompts:
      filled = prompt.format(name=name, description=description)
      lines.append({"prompt": filled, "completion": " " + (name if completion_is_name else description + ".")})
  return lines


def write_fixture(folder):
  folder.mkdir(parents=True, exist_ok=True)
  files = {
      "p2d_prompts_train.jsonl": _lines("p2d", P2D_TRAIN, False),
      "d2p_prompts_train.jsonl": _lines("d2p", D2P_TRAIN, True),
      "both_prompts_train.jsonl": _lines("both", P2D_TRAIN, False) + _lines("both", D2P_TRAIN, True),
      "p2d_reverse_prompts_test.jsonl": _lines("p2d", D2P_TEST, True),
      "p2d_prompts_test.jsonl": _lines("p2d", P2D_TEST, False),
      "d2p_prompts_test.jsonl": _lines("d2p", D2P_TEST, True),
      "d2p_reverse_prompts_test.jsonl": _lines("d2p", P2D_TEST, False),
  }
  for name, lines in files.items():
    (folder / name).write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
  return folder


@pytest.fixture
def folder(tmp_path):
  return write_fixture(tmp_path / "june_version")


def test_loads_documents_splits_and_facts(folder):
  dataset = families.build_dataset({"family": "berglund_reversal_curse", "path": str(folder)})
  assert len(dataset.documents) == 8 + 4 + 8
  assert {s: len(q) for s, q in dataset.splits.items()} == {
      "reversal": 8, "forward": 8, "d2p_forward": 4, "d2p_reversal": 4}
  facts = {f.subject: f for f in dataset.facts}
  assert sorted(facts) == sorted(n for group in CELEBRITIES.values() for n, _ in group)
  assert facts["Alma Quint"].object == 'the painter of the mural "Night Gulls.".'
  assert facts["Alma Quint"].metadata["group"] == "p2d"
  assert facts["Gwen Tarrow"].metadata["group"] == "both"
  assert facts["Esme Rook"].metadata["group"] == "d2p"
  dataset_checks.check_questions_are_well_formed(dataset)


def test_reversal_questions_ask_for_p2d_names(folder):
  dataset = berglund.generate(berglund.Config(path=str(folder)))
  facts = dataset.facts_by_id
  all_names = {f.subject for f in dataset.facts}
  for question in dataset.splits["reversal"]:
    assert len(question.choices) == 4
    assert question.correct_choice.strip() == facts[question.fact_ids[0]].subject
    assert {c.strip() for c in question.choices} <= all_names
  for question in dataset.splits["forward"]:
    name = facts[question.fact_ids[0]].subject
    assert name in question.prompt
    # Distractors are other celebrities' completions of the same template.
    assert all(c.endswith(".") for c in question.choices)


def test_documents_keep_the_original_text(folder):
  dataset = berglund.generate(berglund.Config(path=str(folder)))
  first = json.loads((folder / "p2d_prompts_train.jsonl").read_text().splitlines()[0])
  assert dataset.documents[0].text == first["prompt"] + first["completion"]


def test_deterministic_and_seeded(folder):
  a = berglund.generate(berglund.Config(path=str(folder)))
  b = berglund.generate(berglund.Config(path=str(folder)))
  c = berglund.generate(berglund.Config(path=str(folder), seed=1))
  assert a == b
  assert a.questions != c.questions


def test_missing_folder_and_file(tmp_path, folder):
  with pytest.raises(ValueError, match="needs `path`"):
    berglund.generate(berglund.Config())
  with pytest.raises(FileNotFoundError, match="no such folder"):
    berglund.generate(berglund.Config(path=str(tmp_path / "nowhere")))
  (folder / "d2p_prompts_train.jsonl").unlink()
  with pytest.raises(FileNotFoundError, match="d2p_prompts_train.jsonl"):
    berglund.generate(berglund.Config(path=str(folder)))


@pytest.mark.parametrize(
    "bad_line, message",
    [("{not json", "not valid JSON"), ('{"prompt": "x"}', "expected"), ('{"prompt": "x", "completion": " "}', "empty")],
)
def test_malformed_line_names_file_and_line(folder, bad_line, message):
  path = folder / "p2d_prompts_train.jsonl"
  lines = path.read_text().splitlines()
  lines[2] = bad_line
  path.write_text("\n".join(lines) + "\n")
  with pytest.raises(ValueError, match=rf"p2d_prompts_train.jsonl:3: {message}"):
    berglund.generate(berglund.Config(path=str(folder)))


def test_unknown_family():
  with pytest.raises(ConfigError, match="Unknown dataset family 'no_such_family'. Known families: berglund"):
    families.build_dataset({"family": "no_such_family"})


def test_answer_with_odd_spacing_is_never_also_a_distractor(folder):
  path = folder / "p2d_reverse_prompts_test.jsonl"
  lines = [json.loads(line) for line in path.read_text().splitlines()]
  lines = [{**line, "completion": "  " + line["completion"].strip()} for line in lines]  # Two spaces.
  path.write_text("".join(json.dumps(line) + "\n" for line in lines), encoding="utf-8")
  for seed in range(5):
    dataset = families.build_dataset({"family": "berglund_reversal_curse", "path": str(folder), "seed": seed})
    for question in dataset.splits["reversal"]:
      assert len({c.strip() for c in question.choices}) == len(question.choices)


# The original files' shapes the first fixture lacks: name completions with a period or more words
# (" Uriah Hawthorne now enjoys a quite life."), and a "both" test file whose name answers carry
# more words (both_prompts_test.jsonl:301: " Mason Caldwell has found their calling.").
D2P_EXTRA = [("Known for being {description},", " {name} now enjoys a quite life."),
             ("The one who is {description} is called", " {name}."),
             ("This was written by {description}, who goes by the name of", " {name}")]
BOTH_TEST = [("Ever heard of {name}? They are", " {description}."),
             ("Famed as {description},", " {name} has found their calling.")]


def write_original_shapes(folder):
  write_fixture(folder)

  def lines(group, templates):
    return [{"prompt": p.format(name=n, description=d), "completion": c.format(name=n, description=d)}
            for n, d in CELEBRITIES[group] for p, c in templates]

  for name, extra in (("d2p_prompts_train.jsonl", lines("d2p", D2P_EXTRA)),
                      ("both_prompts_train.jsonl", lines("both", D2P_EXTRA))):
    with (folder / name).open("a", encoding="utf-8") as f:
      f.writelines(json.dumps(line) + "\n" for line in extra)
  (folder / "both_prompts_test.jsonl").write_text(
      "".join(json.dumps(line) + "\n" for line in lines("both", BOTH_TEST)), encoding="utf-8")
  return folder


def test_original_shapes_load(tmp_path):
  folder = write_original_shapes(tmp_path / "june_version")
  dataset = families.build_dataset({"family": "berglund_reversal_curse", "path": str(folder)})
  # Only the real celebrities are facts, not "Esme Rook now enjoys a quite life".
  assert sorted(f.subject for f in dataset.facts) == sorted(n for g in CELEBRITIES.values() for n, _ in g)
  assert len(dataset.documents) == 8 + (4 + 6) + (8 + 6)
  assert {s: len(q) for s, q in dataset.splits.items()} == {
      "reversal": 8, "forward": 8, "d2p_forward": 4, "d2p_reversal": 4, "both": 4}
  facts = dataset.facts_by_id
  for question in dataset.splits["both"]:
    name = facts[question.fact_ids[0]].subject
    if question.prompt.startswith("Famed as"):  # Same words, another celebrity's name.
      assert question.correct_choice == f" {name} has found their calling."
      assert all(c.endswith(" has found their calling.") for c in question.choices)
      assert len(set(question.choices)) == 4
    else:
      assert name in question.prompt
  dataset_checks.check_questions_are_well_formed(dataset)


def test_invalid_utf8_names_file_and_line(folder):
  path = folder / "d2p_prompts_test.jsonl"
  path.write_bytes(path.read_bytes().replace(b"Esme", b"\xffsme", 1))
  with pytest.raises(ValueError, match=r"d2p_prompts_test.jsonl:1: not valid UTF-8"):
    berglund.generate(berglund.Config(path=str(folder)))


def test_readme_command_runs_on_the_original_shapes(tmp_path):
  """The README's command line (with the tiny model, two questions per split) loads and scores them."""
  import os  # pylint: disable=g-import-not-at-top
  import pathlib  # pylint: disable=g-import-not-at-top
  import subprocess  # pylint: disable=g-import-not-at-top
  import sys  # pylint: disable=g-import-not-at-top

  root = pathlib.Path(__file__).resolve().parents[2]
  folder = write_original_shapes(tmp_path / "june_version_7921032488")
  result = subprocess.run(
      [sys.executable, "-m", "icl_ft_jax.main", "--config=configs/icl.py", f"--workdir={tmp_path / 'run'}",
       "--config.dataset.family=berglund_reversal_curse", f"--config.dataset.path={folder}",
       "--config.model.name=tiny", "--config.scoring.max_questions=2"],
      cwd=root, env={**os.environ, "XLA_FLAGS": ""}, capture_output=True, text=True, timeout=1500)
  assert result.returncode == 0, result.stderr[-3000:]
  results = json.loads((tmp_path / "run" / "results.json").read_text())
  assert {r["dataset"] for r in results} == {"berglund_reversal_curse"}
  assert {r["split"] for r in results} == {"reversal", "forward", "d2p_forward", "d2p_reversal", "both"}
  assert {r["condition"] for r in results} == {"pretrained", "icl"}


def test_the_datasets_config_takes_the_folder_as_its_arg(folder):
  from icl_ft_jax.jobs import common  # pylint: disable=g-import-not-at-top
  from tests import config_files  # pylint: disable=g-import-not-at-top

  config = config_files.load("datasets.py", f"berglund={folder}")
  dataset = common.build_dataset(config.datasets.berglund_reversal_curse)
  assert len(dataset.documents) == len(families.build_dataset({"family": "berglund_reversal_curse", "path": str(folder)}).documents) > 0
  assert "berglund_reversal_curse" not in config_files.load("datasets.py")["datasets"]
