"""Where the jobs write inside a workdir: one rule for every job."""

from icl_ft_jax.jobs import workdir


def test_predictions_go_under_the_workdir_by_condition_and_seed(tmp_path):
  assert workdir.predictions_path(tmp_path, "ft+local", 3) == tmp_path / "predictions" / "ft+local-seed3.jsonl"
  assert workdir.predictions_path(str(tmp_path), "icl", 0) == tmp_path / "predictions" / "icl-seed0.jsonl"
  assert workdir.predictions_path(None, "icl", 0) is None  # No workdir, nothing written.
