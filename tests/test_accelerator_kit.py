"""benchmarks/accelerator/: the train step benchmark runs where TensorFlow is not installed (a GPU image).

The kit's `site/sitecustomize.py` lets gemma's model classes import without
TensorFlow. Here a process is made to lack TensorFlow (an import hook refuses
it and `find_spec` finds none, as on such a machine) and then runs
`benchmarks/train_step.py` on the tiny model with the kit's site folder loaded
as Python loads it at start-up. Without the kit that process fails at `gm.nn`.
"""

import os
import pathlib
import subprocess
import sys


ROOT = pathlib.Path(__file__).resolve().parents[1]
SITE = ROOT / "benchmarks" / "accelerator" / "site" / "sitecustomize.py"

WITHOUT_TENSORFLOW = """
import importlib.util, runpy, sys

class RefuseTensorFlow:
  def find_spec(self, name, path=None, target=None):
    if name.split(".")[0] == "tensorflow":
      raise ModuleNotFoundError(f"No module named {{name!r}}")

sys.meta_path.insert(0, RefuseTensorFlow())
real_find_spec = importlib.util.find_spec
importlib.util.find_spec = lambda name, package=None: (
    None if name.split(".")[0] == "tensorflow" else real_find_spec(name, package))
if {load_kit}:
  spec = importlib.util.spec_from_file_location("sitecustomize", {site!r})
  spec.loader.exec_module(importlib.util.module_from_spec(spec))
sys.argv = ["train_step.py", "--model=tiny", "--batch=2", "--length=16", "--steps=1", "--variants=full",
            "--matmul_size=64"]
sys.path.insert(0, {benchmarks!r})
runpy.run_path({train_step!r}, run_name="__main__")
from clu.metric_writers import summary_writer
from icl_ft_jax.model import loading, specs
model = loading._make_model(specs.lookup("gemma3-1b-random"), "float32")  # gm.nn.Gemma3_1B: through kauldron.train.
print("1B params:", sum(x.size for x in __import__("jax").tree.leaves(loading.abstract_params(model))))
print("tensorflow in sys.modules:", "tensorflow" in sys.modules)
print("summary writer:", summary_writer.__doc__)
"""


def _run(load_kit: bool) -> subprocess.CompletedProcess:
  code = WITHOUT_TENSORFLOW.format(load_kit=load_kit, site=str(SITE), benchmarks=str(ROOT / "benchmarks"),
                                   train_step=str(ROOT / "benchmarks" / "train_step.py"))
  env = {**os.environ, "XLA_FLAGS": "", "JAX_PLATFORMS": "cpu"}
  return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT,
                        check=False, timeout=600)


def test_train_step_runs_without_tensorflow_through_the_kit():
  result = _run(load_kit=True)
  assert result.returncode == 0, result.stderr[-3000:]
  table_row = [line for line in result.stdout.splitlines() if line.startswith("full ")]
  assert len(table_row) == 1 and float(table_row[0].split()[1]) > 0, result.stdout
  # The stand-in is gone again, so libraries that look for TensorFlow there see none.
  assert "tensorflow in sys.modules: False" in result.stdout
  assert "stand-in: TensorFlow is not installed here" in result.stdout
  (params_line,) = [line for line in result.stdout.splitlines() if line.startswith("1B params:")]
  assert 0.9e9 < int(params_line.split()[-1]) < 1.1e9, params_line  # The model run.sh times, built without TF.


def test_without_the_kit_gemma_fails_on_tensorflow():
  """The check above can fail: the same process without the kit stops at TensorFlow."""
  result = _run(load_kit=False)
  assert result.returncode != 0
  assert "No module named 'tensorflow'" in result.stderr


def test_run_sh_explains_a_missing_kit(tmp_path):
  """run.sh refuses in one line, before any work, when .device_kit/ was not fetched and carried."""
  tree = tmp_path / "tree"
  (tree / "benchmarks").mkdir(parents=True)
  (tree / "benchmarks" / "accelerator").symlink_to(ROOT / "benchmarks" / "accelerator")
  result = subprocess.run(["bash", str(tree / "benchmarks" / "accelerator" / "run.sh")], capture_output=True,
                          text=True, check=False, timeout=60)
  assert result.returncode == 2
  assert "run benchmarks/accelerator/fetch.sh" in result.stderr
