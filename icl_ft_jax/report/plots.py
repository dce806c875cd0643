"""Bar plots like the study's figures: per dataset, one group per split, one bar per condition.

Each bar carries our 95% bootstrap interval over facts; where a split mixes inference subtypes, a
black diamond beside it marks the study's error bar (mean and standard error over the subtypes), and
`plot_subtypes` draws the subtypes themselves.
"""

from __future__ import annotations

import dataclasses
import math
import os
from collections.abc import Sequence

from etils import epath

from icl_ft_jax import storage
from icl_ft_jax.report.aggregate import Summary
from icl_ft_jax.report.records import condition_rank


def _error_bar(summary: Summary) -> tuple[float, float]:
  """(below, above) the mean: the bootstrap interval, or the s.e. over seeds for older records."""
  if math.isnan(summary.ci_low):
    return summary.stderr, summary.stderr
  return max(summary.mean - summary.ci_low, 0.0), max(summary.ci_high - summary.mean, 0.0)


def _pyplot():
  import matplotlib  # pylint: disable=g-import-not-at-top

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  return plt


def _chosen(summaries: Sequence[Summary], dataset: str, normalization: str) -> list[Summary]:
  chosen = [s for s in summaries if s.dataset == dataset and s.normalization == normalization]
  if not chosen:
    raise ValueError(f"No results for dataset {dataset!r} under normalisation {normalization!r}.")
  return chosen


def draw_dataset(ax, chosen: Sequence[Summary], conditions: Sequence[str], colors) -> None:
  """One dataset's bars on `ax`: a group per split, a bar per condition (interval bars), chance dashed."""
  splits = list(dict.fromkeys(s.split for s in chosen))
  by_key = {(s.split, s.condition): s for s in chosen}
  width = 0.8 / len(conditions)
  for c, condition in enumerate(conditions):
    xs, means, errs, spread = [], [], [], []
    for i, split in enumerate(splits):
      s = by_key.get((split, condition))
      if s is not None:
        xs.append(i - 0.4 + width * (c + 0.5))
        means.append(s.mean)
        errs.append(_error_bar(s))
        if s.num_subtypes >= 2:
          spread.append((xs[-1] + width * 0.3, s.subtype_mean, s.subtype_stderr))
    yerr = list(zip(*errs)) if errs else None  # [[below...], [above...]]
    ax.bar(xs, means, width=width * 0.95, yerr=yerr, capsize=2, label=condition, color=colors(c))
    if spread:  # The study's error bar: mean +- standard error over the split's inference subtypes.
      x, mean, stderr = zip(*spread)
      ax.errorbar(x, mean, yerr=stderr, fmt="d", color="black", markersize=3, elinewidth=0.8, capsize=0)
  for i, split in enumerate(splits):
    chance = next(s.chance for s in chosen if s.split == split)
    ax.hlines(chance, i - 0.45, i + 0.45, colors="black", linestyles="dashed", linewidth=1)
  ax.set_xticks(range(len(splits)), splits)
  ax.set_ylim(0, 1.05)


def _counts(chosen: Sequence[Summary]) -> str:
  seeds = max(s.num_seeds for s in chosen)
  return f"{seeds} seed{'s' * (seeds > 1)}, {max(s.num_facts for s in chosen)} facts"


def _legend_note(chosen: Sequence[Summary]) -> str:
  note = "dashed: chance; bars: 95% bootstrap interval over facts"
  if any(s.num_subtypes >= 2 for s in chosen):
    note += "; diamonds: mean +- s.e. over inference subtypes (the study's bars)"
  return note


def _save(fig, path: str | os.PathLike) -> epath.Path:
  path = storage.write_figure(fig, path, dpi=120)
  _pyplot().close(fig)
  return path


def plot_dataset(summaries: Sequence[Summary], dataset: str, path: str | os.PathLike,
                 normalization: str = "sum") -> epath.Path:
  """Saves a PNG of accuracy per split and condition, with interval bars and chance lines."""
  plt = _pyplot()
  chosen = _chosen(summaries, dataset, normalization)
  splits = list(dict.fromkeys(s.split for s in chosen))
  conditions = sorted(dict.fromkeys(s.condition for s in chosen), key=condition_rank)
  fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(splits) * max(1, len(conditions) / 3), 4.0))
  draw_dataset(ax, chosen, conditions, plt.get_cmap("tab10"))
  ax.set_ylabel(f"accuracy ({normalization})")
  ax.set_title(f"{dataset}: {_counts(chosen)}\n({_legend_note(chosen)})", fontsize=8, wrap=True)
  ax.legend(fontsize=7, ncol=min(4, len(conditions)), loc="upper center", bbox_to_anchor=(0.5, -0.1),
            frameon=False)
  fig.tight_layout()
  return _save(fig, path)


def plot_subtypes(by_subtype: Sequence[Summary], dataset: str, path: str | os.PathLike,
                  normalization: str = "sum") -> epath.Path | None:
  """Saves a PNG with a group per inference subtype (the coarsest level: "syllogism/3-step"), if any."""
  coarse = [dataclasses.replace(s, split=s.subtype) for s in by_subtype
            if s.dataset == dataset and s.normalization == normalization and s.subtype.count("/") == 1]
  if not coarse:
    return None
  plt = _pyplot()
  groups = len({s.split for s in coarse})
  conditions = sorted(dict.fromkeys(s.condition for s in coarse), key=condition_rank)
  fig, ax = plt.subplots(figsize=(1.2 + 0.9 * groups * max(1, len(conditions) / 3), 4.2))
  draw_dataset(ax, coarse, conditions, plt.get_cmap("tab10"))
  ax.tick_params(axis="x", labelsize=7, labelrotation=30)
  ax.set_ylabel(f"accuracy ({normalization})")
  ax.set_title(f"{dataset} by inference subtype: {_counts(coarse)}\n({_legend_note(coarse)})", fontsize=8)
  ax.legend(fontsize=7, ncol=min(4, len(conditions)), loc="upper center", bbox_to_anchor=(0.5, -0.25),
            frameon=False)
  fig.tight_layout()
  return _save(fig, path)


def datasets_figure(summaries: Sequence[Summary], normalization: str = "sum"):
  """One matplotlib figure with a panel per dataset (the study's figure layout), in first-seen order.

  A condition keeps its colour in every panel, and one legend serves them all.
  """
  plt = _pyplot()
  datasets = list(dict.fromkeys(s.dataset for s in summaries if s.normalization == normalization))
  if not datasets:
    raise ValueError(f"No results under normalisation {normalization!r}.")
  conditions = sorted({s.condition for s in summaries if s.normalization == normalization}, key=condition_rank)
  splits = [len({s.split for s in _chosen(summaries, d, normalization)}) for d in datasets]
  fig, axes = plt.subplots(1, len(datasets), squeeze=False, sharey=True,
                           figsize=(sum(1.0 + 0.35 * n * len(conditions) for n in splits), 4.2),
                           gridspec_kw={"width_ratios": splits})
  colors = plt.get_cmap("tab10")
  for ax, dataset in zip(axes[0], datasets):
    chosen = _chosen(summaries, dataset, normalization)
    present = [c for c in conditions if any(s.condition == c for s in chosen)]
    draw_dataset(ax, chosen, present, lambda i, present=present: colors(conditions.index(present[i])))
    ax.set_title(f"{dataset}\n{_counts(chosen)}", fontsize=9)
    ax.tick_params(axis="x", labelsize=8)
  axes[0][0].set_ylabel(f"accuracy ({normalization})")
  handles = [plt.Rectangle((0, 0), 1, 1, color=colors(i)) for i in range(len(conditions))]
  fig.legend(handles, conditions, fontsize=8, ncol=min(7, len(conditions)), loc="lower center", frameon=False)
  fig.suptitle(_legend_note(summaries).replace("over facts", "over facts (pooled over seeds)"), fontsize=8, y=0.995)
  fig.tight_layout(rect=(0, 0.07, 1, 0.97))
  return fig


def plot_datasets(summaries: Sequence[Summary], path: str | os.PathLike, normalization: str = "sum") -> epath.Path:
  """Saves `datasets_figure` as a PNG."""
  return _save(datasets_figure(summaries, normalization), path)
