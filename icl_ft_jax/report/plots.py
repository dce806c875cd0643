"""Bar plots like the study's figures: per dataset, one group per split, one bar per condition."""

from __future__ import annotations

import math
import pathlib
from collections.abc import Sequence

from icl_ft_jax.report.aggregate import Summary
from icl_ft_jax.report.records import condition_rank


def _error_bar(summary: Summary) -> tuple[float, float]:
  """(below, above) the mean: the bootstrap interval, or the s.e. over seeds for older records."""
  if math.isnan(summary.ci_low):
    return summary.stderr, summary.stderr
  return max(summary.mean - summary.ci_low, 0.0), max(summary.ci_high - summary.mean, 0.0)


def plot_dataset(summaries: Sequence[Summary], dataset: str, path: str | pathlib.Path,
                 normalization: str = "sum") -> pathlib.Path:
  """Saves a PNG of accuracy per split and condition, with standard-error bars and chance lines."""
  import matplotlib  # pylint: disable=g-import-not-at-top

  matplotlib.use("Agg")
  import matplotlib.pyplot as plt  # pylint: disable=g-import-not-at-top

  chosen = [s for s in summaries if s.dataset == dataset and s.normalization == normalization]
  if not chosen:
    raise ValueError(f"No results for dataset {dataset!r} under normalisation {normalization!r}.")
  splits = list(dict.fromkeys(s.split for s in chosen))
  conditions = sorted(dict.fromkeys(s.condition for s in chosen), key=condition_rank)
  by_key = {(s.split, s.condition): s for s in chosen}
  width = 0.8 / len(conditions)
  fig, ax = plt.subplots(figsize=(1.2 + 1.1 * len(splits) * max(1, len(conditions) / 3), 4.0))
  colors = plt.get_cmap("tab10")
  for c, condition in enumerate(conditions):
    xs, means, errs = [], [], []
    for i, split in enumerate(splits):
      s = by_key.get((split, condition))
      if s is not None:
        xs.append(i - 0.4 + width * (c + 0.5))
        means.append(s.mean)
        errs.append(_error_bar(s))
    yerr = list(zip(*errs)) if errs else None  # [[below...], [above...]]
    ax.bar(xs, means, width=width * 0.95, yerr=yerr, capsize=2, label=condition, color=colors(c))
  for i, split in enumerate(splits):
    chance = next(s.chance for s in chosen if s.split == split)
    ax.hlines(chance, i - 0.45, i + 0.45, colors="black", linestyles="dashed", linewidth=1)
  ax.set_xticks(range(len(splits)), splits)
  ax.set_ylim(0, 1.05)
  ax.set_ylabel(f"accuracy ({normalization})")
  seeds = max(s.num_seeds for s in chosen)
  facts = max(s.num_facts for s in chosen)
  ax.set_title(f"{dataset}: {seeds} seed{'s' * (seeds > 1)}, {facts} facts\n(dashed: chance;"
               f" bars: 95% bootstrap interval over facts)", fontsize=9)
  ax.legend(fontsize=7, ncol=min(4, len(conditions)), loc="upper center", bbox_to_anchor=(0.5, -0.1),
            frameon=False)
  fig.tight_layout()
  path = pathlib.Path(path)
  fig.savefig(path, dpi=120)
  plt.close(fig)
  return path
