"""TFDS export: array_record files that read back as our records without TensorFlow."""

import subprocess
import sys

import pytest

from icl_ft_jax import families
from icl_ft_jax.data import tfds_builders  # tensorflow-datasets and array-record are dependencies.

SPECS = {
    "syllogisms_small": {"family": "simple_syllogisms", "num_examples": 9, "seed": 2},
    "reversals_small": {"family": "simple_reversals", "num_facts": 6, "articles_per_fact": 2},
}


@pytest.mark.parametrize("name", sorted(SPECS))
def test_build_and_read_back(tmp_path, name):
  spec = SPECS[name]
  dataset = families.build_dataset(spec)
  path = tfds_builders.build(name, spec, tmp_path)
  assert list(path.glob("*.array_record-*"))
  train = tfds_builders.data_source(path, split="train")
  documents = {tfds_builders.to_record(train[i]).id: tfds_builders.to_record(train[i]) for i in range(len(train))}
  assert documents == {d.id: d for d in dataset.documents}
  for split, questions in dataset.splits.items():
    source = tfds_builders.data_source(path, split=split)
    read = {q.id: q for q in (tfds_builders.to_record(source[i]) for i in range(len(source)))}
    assert read == {q.id: q for q in questions}


def test_tfds_data_source_by_name(tmp_path):
  import tensorflow_datasets as tfds  # pylint: disable=g-import-not-at-top

  tfds_builders.build("syllogisms_small", SPECS["syllogisms_small"], tmp_path)
  source = tfds.data_source("icl_ft_dataset/syllogisms_small", split="syllogism", data_dir=tmp_path, download=False)
  assert len(source) == 9
  assert source[0]["kind"] == b"question"


def test_reading_needs_no_tensorflow(tmp_path):
  path = tfds_builders.build("syllogisms_small", SPECS["syllogisms_small"], tmp_path)
  # A fresh interpreter: reading must not load TensorFlow.
  script = (
      "import sys\n"
      "from icl_ft_jax.data import tfds_builders\n"
      f"source = tfds_builders.data_source({str(path)!r}, split='syllogism')\n"
      "record = tfds_builders.to_record(source[0])\n"
      "print('tensorflow' in sys.modules, len(source), record.split)\n"
  )
  result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120, check=False)
  assert result.returncode == 0, result.stderr[-2000:]
  assert result.stdout.split()[-3:] == ["False", "9", "syllogism"]
