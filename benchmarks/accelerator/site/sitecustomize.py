"""Lets the gemma library's model classes import on a machine without TensorFlow (a GPU image).

gemma imports TensorFlow with its model classes without using it for them:
`gm.nn` -> `gm.ckpts` -> `kauldron.train`, which imports TensorFlow itself
(`setup_utils`: `tf.config`, used only when a kauldron trainer runs), through
`clu.metric_writers` (TensorBoard summaries) and through `kauldron.typing` (its
array types name `tf.Tensor`). TensorFlow is 1.3 GB, too large to carry to the
accelerator machine, so where it is not installed this file, which Python
imports at start-up when its folder is on PYTHONPATH
(`benchmarks/accelerator/run.sh`), does two things before anything else imports:

* clu's TensorBoard writer module is replaced by one whose writer refuses to be
  built (nothing here writes TensorBoard files: the benchmarks write none);
* `kauldron.typing` and `kauldron.train` are imported against a stand-in
  `tensorflow` whose only name is a `Tensor` class that nothing is an instance
  of (a TensorFlow call fails with a message that says so), and the stand-in is then
  removed from `sys.modules`, so that libraries which test for TensorFlow there
  (etils' array utilities) still see none.

Where TensorFlow is installed it does nothing.
"""

import importlib.util
import sys
import types

STAND_IN = "stand-in: TensorFlow is not installed here (benchmarks/accelerator/site/sitecustomize.py)"


def _summary_writer_module() -> types.ModuleType:
  module = types.ModuleType("clu.metric_writers.summary_writer", STAND_IN)

  class SummaryWriter:  # pylint: disable=too-few-public-methods
    def __init__(self, *args, **kwargs):
      raise RuntimeError(f"clu's TensorBoard SummaryWriter needs TensorFlow; {STAND_IN}")

  module.SummaryWriter = SummaryWriter
  return module


def _import_kauldron_against_a_stand_in() -> None:
  tensorflow = types.ModuleType("tensorflow", STAND_IN)
  tensorflow.Tensor = type("Tensor", (), {"__doc__": STAND_IN})

  def missing(name):
    raise AttributeError(f"tensorflow.{name}: {STAND_IN}")

  tensorflow.__getattr__ = missing
  sys.modules["tensorflow"] = tensorflow
  try:
    # pylint: disable=g-import-not-at-top,import-outside-toplevel,unused-import
    import kauldron.typing  # Its array types name tf.Tensor.
    import kauldron.train  # setup_utils imports tensorflow (tf.config, used only when a trainer runs).
  finally:
    del sys.modules["tensorflow"]


if importlib.util.find_spec("tensorflow") is None:
  sys.modules["clu.metric_writers.summary_writer"] = _summary_writer_module()
  _import_kauldron_against_a_stand_in()
