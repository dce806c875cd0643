import csv
import json

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


def test_results_written_before_a_field_rename_still_read(tmp_path):
  path = tmp_path / "results.json"
  records.write_results(path, [_record(0, 0.1)])
  (raw,) = json.loads(path.read_text())
  raw["wall_time_s"] = raw.pop("prorated_scoring_s") + 2.5
  path.write_text(json.dumps([raw]))
  (record,) = records.read_results(path)
  assert record.prorated_scoring_s == 2.5 and record.accuracy == 0.1


def test_csv_and_plot(tmp_path):
  summaries = aggregate.summarize([_record(0, 0.2), _record(0, 0.9, condition="icl"),
                                   _record(0, 0.5, split="forward")])
  aggregate.write_csv(tmp_path / "results.csv", summaries)
  rows = list(csv.DictReader((tmp_path / "results.csv").open()))
  assert {r["condition"] for r in rows} == {"ft", "icl"}
  png = plots.plot_dataset(summaries, "toy", tmp_path / "toy.png")
  assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and len(png.read_bytes()) > 5000
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
  assert len(png.read_bytes()) > 5000


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


def _typed(seed, by_inference, chance=None, split="syllogism"):
  """A record whose accuracy and counts come from `by_inference` (label -> fact -> [correct, total])."""
  from icl_ft_jax.report import subtypes  # pylint: disable=g-import-not-at-top

  counts = {k: v for facts in by_inference.values() for k, v in facts.items()}
  spread = subtypes.spread(by_inference)
  return records.ResultRecord(
      dataset="toy", split=split, condition="ft", normalization="sum", n=sum(t for _, t in counts.values()),
      accuracy=sum(c for c, _ in counts.values()) / sum(t for _, t in counts.values()), chance=0.25, seed=seed,
      fact_counts=counts, by_inference=by_inference, inference_chance=chance or {},
      subtype_mean=spread.mean if spread else None, subtype_stderr=spread.stderr if spread else None)


def test_standard_error_over_subtypes():
  from icl_ft_jax.report import subtypes  # pylint: disable=g-import-not-at-top

  spread = subtypes.spread({"s/a": {"f1": [1, 2]}, "s/b": {"f2": [1, 1]}, "s/c": {"f3": [0, 1], "f4": [0, 3]}})
  # Accuracies 0.5, 1, 0: each subtype weighs the same, whatever its number of questions.
  assert (spread.mean, spread.num_subtypes) == (pytest.approx(0.5), 3)
  assert spread.stderr == pytest.approx(0.5 / 3 ** 0.5)
  assert subtypes.spread({"reversal": {"f1": [1, 2]}}) is None


def test_subtype_levels_merge_finer_labels():
  from icl_ft_jax.report import subtypes  # pylint: disable=g-import-not-at-top

  levels = subtypes.levels({"s/1-step/can": {"f1": [1, 1]}, "s/1-step/has": {"f1": [0, 1], "f2": [1, 1]},
                            "s/2-step/can": {"f3": [0, 2]}})
  assert levels == {"s/1-step": {"f1": [1, 2], "f2": [1, 1]}, "s/1-step/can": {"f1": [1, 1]},
                    "s/1-step/has": {"f1": [0, 1], "f2": [1, 1]}, "s/2-step": {"f3": [0, 2]},
                    "s/2-step/can": {"f3": [0, 2]}}
  # One label per level splits nothing: no subtype rows.
  assert subtypes.levels({"s/x/y": {"f": [1, 1]}}) == {}


def test_summaries_by_subtype_pool_seeds_and_reach_the_csv(tmp_path):
  seed0 = _typed(0, {"syllogism/A": {"a0": [1, 1], "b0": [1, 1]}, "syllogism/B": {"c0": [0, 2]}},
                 chance={"syllogism/A": 1 / 6, "syllogism/B": 1 / 3})
  seed1 = _typed(1, {"syllogism/A": {"a1": [0, 2]}, "syllogism/B": {"c1": [2, 2]}},
                 chance={"syllogism/A": 1 / 6, "syllogism/B": 1 / 3})
  (split,) = aggregate.summarize([seed0, seed1])
  # Seeds pooled per subtype: A 2/4, B 2/4 -> mean 0.5, no spread.
  assert (split.subtype, split.num_subtypes, split.subtype_mean, split.subtype_stderr) == ("", 2, 0.5, 0.0)
  rows = {s.subtype: s for s in aggregate.summarize_subtypes([seed0, seed1])}
  assert set(rows) == {"syllogism/A", "syllogism/B"}
  assert (rows["syllogism/A"].mean, rows["syllogism/A"].num_seeds, rows["syllogism/A"].n) == (0.5, 2, 2)
  assert rows["syllogism/A"].stderr == pytest.approx(0.5)  # Seed accuracies 1 and 0.
  assert rows["syllogism/B"].chance == pytest.approx(1 / 3)
  assert rows["syllogism/A"].num_facts == 3
  aggregate.write_csv(tmp_path / "results.csv", [split, *rows.values()])
  written = list(csv.DictReader((tmp_path / "results.csv").open()))
  assert list(written[0])[:3] == ["dataset", "split", "subtype"]
  assert [r["subtype"] for r in written] == ["", "syllogism/A", "syllogism/B"]
  assert float(written[0]["subtype_mean"]) == 0.5
  table = aggregate.format_subtypes([split], list(rows.values()))
  assert "syllogism/B" in table and "0.50 +- 0.00" in table


def test_plots_show_the_study_bars_beside_ours_and_the_subtypes(tmp_path):
  by_inference = {"syllogism/1-step": {"a": [2, 2], "b": [1, 2]}, "syllogism/2-step": {"c": [0, 2]}}
  records_ = [_typed(0, by_inference), _typed(0, {"reversal": {"d": [1, 2]}}, split="reversal")]
  summaries = aggregate.summarize(records_)
  plt = plots._pyplot()  # pylint: disable=protected-access
  fig, ax = plt.subplots()
  plots.draw_dataset(ax, summaries, ["ft"], plt.get_cmap("tab10"))
  diamonds = [line for line in ax.lines if line.get_marker() == "d"]
  # One diamond, for the split of two subtypes (0.75 and 0): the study's mean, not the pooled accuracy.
  assert [tuple(d.get_ydata()) for d in diamonds] == [(pytest.approx(0.375),)]
  plt.close(fig)
  png = plots.plot_subtypes(aggregate.summarize_subtypes(records_), "toy", tmp_path / "toy_subtypes.png")
  assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
  assert plots.plot_subtypes([], "toy", tmp_path / "none.png") is None
