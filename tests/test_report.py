import csv

import pytest

from icl_ft_jax.report import aggregate, plots, records


def _record(seed, accuracy, condition="ft", split="reversal"):
  return records.ResultRecord(dataset="toy", split=split, condition=condition, normalization="sum",
                              accuracy=accuracy, n=10, chance=0.25, seed=seed)


def test_mean_and_standard_error_over_seeds():
  (summary,) = aggregate.summarize([_record(0, 0.2), _record(1, 0.4), _record(2, 0.6)])
  assert summary.mean == pytest.approx(0.4)
  assert summary.stderr == pytest.approx(0.2 / 3 ** 0.5)
  assert summary.num_seeds == 3


def test_results_merge_by_key(tmp_path):
  path = tmp_path / "results.json"
  records.write_results(path, [_record(0, 0.1), _record(1, 0.2)])
  everything = records.write_results(path, [_record(0, 0.9, )])
  assert sorted(r.accuracy for r in everything) == [0.2, 0.9]
  assert records.read_results(path) == everything
  table = records.format_table(everything)
  assert "0.550" in table and "toy" in table


def test_csv_and_plot(tmp_path):
  summaries = aggregate.summarize([_record(0, 0.2), _record(0, 0.9, condition="icl"),
                                   _record(0, 0.5, split="forward")])
  aggregate.write_csv(tmp_path / "results.csv", summaries)
  rows = list(csv.DictReader((tmp_path / "results.csv").open()))
  assert {r["condition"] for r in rows} == {"ft", "icl"}
  png = plots.plot_dataset(summaries, "toy", tmp_path / "toy.png")
  assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 5000
  with pytest.raises(ValueError, match="No results"):
    plots.plot_dataset(summaries, "other", tmp_path / "x.png")
