"""The one progress bar (rate and ETA) of scoring, sampling and fine-tuning, on process 0 only."""

from __future__ import annotations


def progress_bar(total: int, *, description: str, unit: str, enabled: bool = True, **options):
  """A tqdm bar refreshed at most every 2 s; a silent one when not `enabled` or off process 0.

  `options` go to tqdm (e.g. `initial` for a resumed run, `smoothing`).
  """
  import jax  # pylint: disable=g-import-not-at-top
  from tqdm.auto import tqdm  # pylint: disable=g-import-not-at-top

  return tqdm(total=total, desc=description, unit=unit, mininterval=2.0,
              disable=not enabled or jax.process_index() != 0, **options)
