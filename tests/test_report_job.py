"""The `report` job: several experiment workdirs -> one Markdown table and one figure, a panel per dataset."""

import pytest

from icl_ft_jax import main
from icl_ft_jax.errors import ConfigError
from icl_ft_jax.jobs import report as report_job
from icl_ft_jax.report import aggregate, intervals, plots, records

from tests import config_files


def _records(dataset: str, splits: dict[str, int], conditions: tuple[str, ...], seed: int = 0):
  """Records as `evaluation` writes them: accuracy, n and interval from per-fact counts (3 questions per fact)."""
  out = []
  for c_index, condition in enumerate(conditions):
    for split, choices in splits.items():
      counts = {f"fact{i}": [(i + c_index) % 4, 3] for i in range(10)}
      correct, total = sum(c for c, _ in counts.values()), sum(t for _, t in counts.values())
      interval = intervals.accuracy_interval(counts)
      for normalization in ("sum", "per_token"):
        out.append(records.ResultRecord(dataset=dataset, split=split, condition=condition, normalization=normalization,
                                        accuracy=correct / total, n=total, chance=1 / choices, seed=seed,
                                        ci_low=interval.low, ci_high=interval.high, fact_counts=counts))
  return out


@pytest.fixture
def two_studies(tmp_path):
  reversal = tmp_path / "reversal"
  syllogisms = tmp_path / "syllogisms"
  for workdir, rs in ((reversal, _records("reversal_curse", {"forward": 4, "reversal": 4},
                                           ("pretrained", "icl", "ft", "ft+oracle"))),
                      (syllogisms, _records("simple_syllogisms", {"syllogism": 5}, ("pretrained", "ft", "ft+local")))):
    workdir.mkdir()
    records.write_results(workdir / "results.json", rs)
  return reversal, syllogisms


def _config(*workdirs):
  return config_files.load("report.py", ",".join(str(w) for w in workdirs))


def test_report_writes_each_workdirs_conditions_and_a_panel_per_dataset(two_studies, tmp_path):
  out = main.run(_config(*two_studies), str(tmp_path / "report"))
  text = (out / "report.md").read_text()
  table = [line for line in text.splitlines() if line.startswith("|")]
  header = [cell.strip() for cell in table[0].strip("|").split("|")]
  assert header[:4] == ["dataset", "split", "n", "chance"]
  assert set(header[4:]) == {"pretrained", "icl", "ft", "ft+oracle", "ft+local"}
  rows = {(cells[0], cells[1]): dict(zip(header, cells)) for cells in (
      [c.strip() for c in line.strip("|").split("|")] for line in table[2:])}
  assert set(rows) == {("reversal_curse", "forward"), ("reversal_curse", "reversal"),
                       ("simple_syllogisms", "syllogism")}
  assert rows[("simple_syllogisms", "syllogism")]["chance"] == "0.20"
  assert rows[("simple_syllogisms", "syllogism")]["icl"] == "-"  # Not a condition of that workdir.
  assert rows[("reversal_curse", "reversal")]["ft+oracle"].count("[") == 1  # Mean and interval.
  assert (out / "plots" / "report.png").read_bytes()  # A figure was written (epath: no st_size).


def test_figure_has_a_panel_per_dataset_with_a_bar_per_split_and_condition(two_studies):
  everything = report_job.read_all(two_studies)
  figure = plots.datasets_figure(aggregate.summarize(everything))
  panels = [ax for ax in figure.axes if ax.get_title()]
  assert [ax.get_title().splitlines()[0] for ax in panels] == ["reversal_curse", "simple_syllogisms"]
  assert [len(ax.patches) for ax in panels] == [2 * 4, 1 * 3]
  assert [tick.get_text() for tick in panels[0].get_xticklabels()] == ["forward", "reversal"]
  chance = [segment[0][1] for line in panels[1].collections if hasattr(line, "get_segments")
            for segment in line.get_segments() if segment[0][1] == segment[1][1]]
  assert chance == pytest.approx([0.2])


def test_a_dataset_in_two_workdirs_gets_a_panel_for_each(two_studies, tmp_path):
  other = tmp_path / "reversal_27b"
  other.mkdir()
  records.write_results(other / "results.json", _records("reversal_curse", {"forward": 4}, ("ft",)))
  datasets = {r.dataset for r in report_job.read_all([two_studies[0], other])}
  assert datasets == {f"reversal_curse ({two_studies[0]})", f"reversal_curse ({other})"}


def test_report_refuses_a_workdir_without_results(tmp_path):
  with pytest.raises(ConfigError, match="no results.json"):
    main.check(_config(tmp_path))
  with pytest.raises(ConfigError, match="workdirs is empty"):
    main.check(_config())
