"""Multi-host JAX, switched on explicitly, before anything touches devices.

On a Cloud TPU pod every worker runs the same command with `--distributed` (or
`ICL_FT_JAX_DISTRIBUTED=1`); JAX finds the coordinator itself. Elsewhere (a CPU
test, a GPU cluster) pass the coordinator address, process count and id. Only
process 0 writes results, logs and plots (`is_primary`); every process computes.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Callable
from typing import TypeVar

import jax

from icl_ft_jax.errors import UserError

T = TypeVar("T")

_ENV = "ICL_FT_JAX_DISTRIBUTED"


def requested(flag: bool) -> bool:
  return flag or os.environ.get(_ENV, "0") == "1"


def initialize(coordinator_address: str | None = None, num_processes: int | None = None,
               process_id: int | None = None) -> None:
  """`jax.distributed.initialize`, with CPU collectives (gloo) when the backend is CPU."""
  if jax.config.jax_platforms in (None, "", "cpu") and not _has_accelerator_plugin():
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
  jax.distributed.initialize(coordinator_address=coordinator_address, num_processes=num_processes,
                             process_id=process_id)
  logging.info("Distributed JAX: process %d of %d, %d local / %d global devices.", jax.process_index(),
               jax.process_count(), jax.local_device_count(), jax.device_count())


def _has_accelerator_plugin() -> bool:
  """True on TPU/GPU hosts, where the default collectives are the right ones."""
  return os.path.exists("/dev/accel0") or os.path.exists("/dev/vfio") or bool(os.environ.get("TPU_NAME"))


def is_primary() -> bool:
  return jax.process_index() == 0


def primary_flags(flags: list[bool]) -> list[bool]:
  """Process 0's view of `flags` on every process (e.g. which stages are done).

  Files only process 0 writes (results, augmentations) may look different on
  other hosts; deciding from them separately could make hosts run different
  collective work and hang.
  """
  if jax.process_count() == 1:
    return list(flags)
  import numpy as np  # pylint: disable=g-import-not-at-top
  from jax.experimental import multihost_utils  # pylint: disable=g-import-not-at-top

  return [bool(x) for x in multihost_utils.broadcast_one_to_all(np.asarray(flags, dtype=bool))]


def primary_writes(write: Callable[[], T], what: str) -> T | None:
  """Process 0 runs `write` while the others wait for it; returns its result there, None elsewhere.

  For files only process 0 writes, from data every process holds. No process leaves first: one that
  exited would wait in JAX's shutdown barrier, which fails every process after a few minutes of a
  long write. If `write` fails, process 0 raises its error and the others a one-line error naming
  `what`, instead of waiting.
  """
  if jax.process_count() == 1:
    return write()
  result, error = None, None
  if is_primary():
    try:
      result = write()
    except BaseException as e:  # pylint: disable=broad-except  # Re-raised below, once the others know.
      error = e
  written, = primary_flags([error is None])
  if error is not None:
    raise error
  if not written:
    raise UserError(f"Process 0 failed while writing {what}; its own output says why.")
  return result
