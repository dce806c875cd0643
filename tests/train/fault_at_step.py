"""The entry point with a fault injected at a chosen fine-tuning step, for the resume tests.

    python -m tests.train.fault_at_step kill 6 --config=configs/finetune.py:... --workdir=...

Once step 6 has trained, and every save before it has committed, the process sends itself
SIGKILL (`kill`: no cleanup at all) or SIGINT (`interrupt`: a Ctrl-C). The fault lands at the
same step on every run, however fast the machine, so the test knows which checkpoint the
rerun must resume from.
"""

from __future__ import annotations

import os
import runpy
import signal
import sys

from icl_ft_jax.train import checkpointing

SIGNALS = {"kill": signal.SIGKILL, "interrupt": signal.SIGINT}


def inject(kind: str, at_step: int) -> None:
  """Makes `Checkpointer.save` (called after every step) signal this process after step `at_step`."""
  save = checkpointing.Checkpointer.save
  fired = []

  def save_then_fault(self, step, state, *, force=False):
    saved = save(self, step, state, force=force)
    if step == at_step and not fired:  # Once: a Ctrl-C's own checkpoint of this step saves through here too.
      fired.append(step)
      self.wait()  # The saves so far have committed: the rerun's starting point is known.
      os.kill(os.getpid(), SIGNALS[kind])
    return saved

  checkpointing.Checkpointer.save = save_then_fault


if __name__ == "__main__":
  kind, at_step, *main_args = sys.argv[1:]
  inject(kind, int(at_step))
  sys.argv = [sys.argv[0], *main_args]
  runpy.run_module("icl_ft_jax.main", run_name="__main__", alter_sys=True)
