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
  assert "0.55" in table and "toy" in table


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


def test_bootstrap_interval_is_over_facts_not_questions():
  from icl_ft_jax.report import intervals
  # Ten facts, four questions each: half the facts fully right, half fully wrong.
  clustered = {f"f{i}": [4 * (i % 2), 4] for i in range(10)}
  # The same 20/40 correct, spread evenly: each fact 2 of 4.
  spread = {f"f{i}": [2, 4] for i in range(10)}
  wide, narrow = intervals.accuracy_interval(clustered), intervals.accuracy_interval(spread)
  assert wide.estimate == narrow.estimate == 0.5
  assert wide.contains(0.5) and wide.high - wide.low > 0.4  # Facts, not 40 questions, are the units.
  assert narrow.high - narrow.low < 0.3  # Wilson over questions: no fact-level spread to resample.
  assert intervals.accuracy_interval(clustered) == wide  # Seeded: reproducible.


def test_paired_difference_resamples_the_same_facts():
  from icl_ft_jax.report import intervals
  base = {f"f{i}": [i % 2, 4] for i in range(20)}
  better = {f"f{i}": [i % 2 + 2, 4] for i in range(20)}  # +2 questions on every fact.
  diff = intervals.difference_interval(better, base)
  assert diff.estimate == pytest.approx(0.5)
  assert diff.low == pytest.approx(0.5) and diff.high == pytest.approx(0.5)  # Paired: no spread at all.
  assert not intervals.difference_interval(base, base).low > 0
  with pytest.raises(ValueError, match="share no facts"):
    intervals.difference_interval(base, {"other": [1, 1]})


def test_records_carry_intervals_into_summary_table_and_plot(tmp_path):
  counts = {f"f{i}": [i % 2, 1] for i in range(10)}
  record = records.ResultRecord(dataset="toy", split="reversal", condition="ft", normalization="sum",
                                accuracy=0.5, n=10, chance=0.25, seed=0, fact_counts=counts)
  (summary,) = aggregate.summarize([record])
  assert summary.num_facts == 10 and summary.ci_low < 0.5 < summary.ci_high
  assert summary.stderr == 0.0  # One seed: no spread over seeds, but the bar is the fact interval.
  assert f"0.50 [{summary.ci_low:.2f}, {summary.ci_high:.2f}]" in records.format_table([record])
  png = plots.plot_dataset([summary], "toy", tmp_path / "toy.png")
  assert png.stat().st_size > 5000


def test_comparisons_call_an_effect_only_when_the_interval_excludes_zero():
  from icl_ft_jax.jobs import experiment

  def record(condition, correct):
    counts = {f"f{i}": [c, 1] for i, c in enumerate(correct)}
    return records.ResultRecord(dataset="toy", split="reversal", condition=condition, normalization="sum",
                                accuracy=sum(correct) / len(correct), n=len(correct), chance=0.25,
                                fact_counts=counts)

  base = [0, 1, 0, 0, 1, 0, 0, 0, 1, 0] * 2
  table = experiment.format_comparisons(
      [record("ft", base), record("ft+oracle", [1] * 20), record("ft+local", base[1:] + base[:1])], "toy")
  lines = {line.split()[0]: line for line in table.splitlines()[3:]}
  assert lines["ft+oracle"].endswith("better") and "+0.70" in lines["ft+oracle"]
  assert lines["ft+local"].endswith("not significant")
