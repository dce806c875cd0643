"""Workdirs through `etils.epath` (a folder or gs://): every write path, the bucket stand-ins, and a guard.

What is covered: every job's writes through an `epath.Path` workdir on a local folder (the type a gs://
workdir has; only the backend differs), and the code that replaces what a bucket lacks (the `.lock`
object, the log copied up whole, the JSONL rewritten whole), run on a local folder. What is not: a real
bucket (no GCS here, and Orbax's tensorstore would need one).
"""

import json
import logging
import pathlib
import re
import time

import pytest
from etils import epath

from icl_ft_jax import main, storage
from icl_ft_jax.errors import UserError
from icl_ft_jax.jobs import workdir as workdir_lib
from icl_ft_jax.train import metrics

from tests import config_files, test_experiment

ROOT = pathlib.Path(__file__).resolve().parents[1]

# Where a run writes: no builtin open(), pathlib or shutil on a workdir path. Each exception says why.
GUARDED = ["icl_ft_jax/jobs", "icl_ft_jax/report", "icl_ft_jax/train", "icl_ft_jax/main.py",
           "icl_ft_jax/evaluation.py", "icl_ft_jax/data/schema.py"]
FORBIDDEN = re.compile(r"(?<![\w.])open\(|pathlib\.Path\(|\bshutil\.|logging\.FileHandler\(|\.savefig\("
                       r"|\bos\.(?:replace|rename|remove|makedirs|mkdir|rmdir)\(")
ALLOWED = {
    # The workdir's local lock: flock needs a local file (a bucket workdir takes the `.lock` object instead).
    ("icl_ft_jax/jobs/workdir.py", 'lock = open(os.fspath(lock_path), "a+", encoding="utf-8")'),
}


def _guarded_lines():
  for place in GUARDED:
    root = ROOT / place
    for file in sorted(root.rglob("*.py")) if root.is_dir() else [root]:
      for number, line in enumerate(file.read_text().splitlines(), start=1):
        code = line.split("#", 1)[0]
        if FORBIDDEN.search(code):
          yield str(file.relative_to(ROOT)), number, line.strip()


def test_no_open_pathlib_or_shutil_on_workdir_paths():
  found = [(file, number, line) for file, number, line in _guarded_lines()
           if not any(file == f and snippet in line for f, snippet in ALLOWED)]
  assert not found, "write through icl_ft_jax.storage / epath instead:\n" + "\n".join(map(str, found))


def test_the_guard_sees_what_it_forbids():
  for bad in ['with open(path, "w") as f:', "p = pathlib.Path(workdir)", "shutil.rmtree(p)", "fig.savefig(p)",
              "os.replace(a, b)", "logging.FileHandler(p)"]:
    assert FORBIDDEN.search(bad), bad
  for fine in ['path.open("w")', "storage.path(workdir)", "epath.Path(p)", "storage.write_figure(fig, p)"]:
    assert not FORBIDDEN.search(fine), fine


def test_paths_keep_a_bucket_a_bucket():
  assert str(storage.path("gs://b/runs/x") / "results.json") == "gs://b/runs/x/results.json"
  assert str(storage.absolute("gs://b/runs/x")) == "gs://b/runs/x"  # epath's absolute() would make it local.
  assert not storage.is_local("gs://b/x") and storage.is_local("runs/x") and storage.is_local(pathlib.Path("/x"))
  assert storage.absolute("runs/x").is_absolute()


@pytest.mark.slow
def test_every_job_writes_through_an_epath_workdir(tmp_path, caplog):
  workdir = epath.Path(tmp_path / "experiment")  # The type a gs:// workdir has.
  config = test_experiment.tiny_experiment_config()
  config.seeds = (0,)
  with caplog.at_level(logging.INFO):  # In process, as `python -m icl_ft_jax.main` logs: INFO reaches log.txt.
    assert main.run(config, workdir) == workdir
  written = {str(p.relative_to(tmp_path / "experiment")) for p in (tmp_path / "experiment").rglob("*") if p.is_file()}
  for name in ["config.json", "log.txt", "results.json", "results.csv", "result_identities.json",
               "plots/simple_reversals.png", "predictions/icl-seed0.jsonl", "predictions/ft+oracle-seed0.jsonl",
               "augmented/simple_reversals/seed0/oracle.jsonl", "augmented/simple_reversals/seed0/oracle.key",
               "augmented/simple_reversals/seed0/augmentation_quality.json",
               "ft/simple_reversals/seed0/ft_oracle/run_identity.json",
               "ft/simple_reversals/seed0/ft_oracle/train_log.jsonl"]:
    assert name in written, (name, sorted(written))
  assert any(n.startswith("ft/simple_reversals/seed0/ft/checkpoints/2/") for n in written)
  assert any(n.startswith("ft/simple_reversals/seed0/ft/tensorboard/") for n in written)
  assert "Running job 'experiment'" in (workdir / "log.txt").read_text()
  assert not [n for n in written if n.endswith(".tmp")]  # Whole-file writes leave no temporary behind.

  report_config = config_files.load("report.py", str(workdir))
  report_dir = main.run(report_config, str(tmp_path / "report"))  # A string workdir as the command line gives.
  assert (report_dir / "report.md").read_text().startswith("# Results")
  assert (report_dir / "plots" / "report.png").read_bytes()[:4] == b"\x89PNG"

  datasets = config_files.load("datasets.py")
  datasets.datasets = {"simple_reversals": datasets.datasets.simple_reversals}
  main.run(datasets, epath.Path(tmp_path / "datasets"))
  assert (tmp_path / "datasets" / "simple_reversals" / "info.json").is_file()


def test_a_bucket_lock_refuses_a_live_run_and_frees_a_dead_ones(tmp_path):
  path = epath.Path(tmp_path)
  with workdir_lib._remote_locked(path):  # pylint: disable=protected-access
    owner = json.loads((path / workdir_lib.LOCK_FILE).read_text())
    assert owner["pid"] > 0 and time.time() - owner["time"] < 60
    with pytest.raises(UserError, match=r"in use by another run \(host .*, process \d+, seen \d+ s ago\)"):
      with workdir_lib._remote_locked(path):  # pylint: disable=protected-access
        pass
  assert not (path / workdir_lib.LOCK_FILE).exists()  # Freed at the end.
  stale = {"host": "h", "pid": 1, "time": time.time() - workdir_lib.REMOTE_LOCK_STALE_S - 1}
  (path / workdir_lib.LOCK_FILE).write_text(json.dumps(stale))
  with workdir_lib._remote_locked(path):  # pylint: disable=protected-access  # A run that died: taken over.
    assert json.loads((path / workdir_lib.LOCK_FILE).read_text())["pid"] != 1


def test_a_bucket_lock_is_kept_fresh(tmp_path, monkeypatch):
  monkeypatch.setattr(workdir_lib, "REMOTE_LOCK_BEAT_S", 0.05)
  path = epath.Path(tmp_path)
  with workdir_lib._remote_locked(path):  # pylint: disable=protected-access
    first = json.loads((path / workdir_lib.LOCK_FILE).read_text())["time"]
    time.sleep(0.5)
    assert json.loads((path / workdir_lib.LOCK_FILE).read_text())["time"] > first


def test_an_uploaded_log_continues_the_earlier_one_and_is_copied_up(tmp_path):
  remote = epath.Path(tmp_path / "log.txt")
  remote.write_text("from the run before\n")
  handler = storage.UploadedLog(remote, upload_every_s=3600)
  handler.emit(_record("first"))
  assert remote.read_text() == "from the run before\n"  # Not yet: at most every upload_every_s.
  handler._every_s = 0  # pylint: disable=protected-access
  handler.emit(_record("second"))
  assert remote.read_text() == "from the run before\nfirst\nsecond\n"
  local = pathlib.Path(handler.baseFilename)
  handler.emit(_record("third"))
  handler.close()
  assert remote.read_text().endswith("second\nthird\n") and not local.exists()


def _record(message):
  import logging  # pylint: disable=g-import-not-at-top
  return logging.LogRecord("t", logging.INFO, __file__, 1, message, None, None)


def test_a_jsonl_without_append_is_rewritten_whole(tmp_path):
  local = tmp_path / "local.jsonl"
  writer = metrics.JsonlWriter(local)
  writer.write_scalars(1, {"loss": 2.0})
  writer.write_scalars(2, {"loss": 1.0})
  rewritten = tmp_path / "bucket.jsonl"
  writer = metrics.JsonlWriter(rewritten, append=False)  # What a gs:// path gets.
  writer.write_scalars(1, {"loss": 2.0})
  writer.write_scalars(2, {"loss": 1.0})
  assert rewritten.read_text() == local.read_text() == '{"step": 1, "loss": 2.0}\n{"step": 2, "loss": 1.0}\n'


def test_the_default_log_handler_on_disk_is_a_plain_file(tmp_path):
  import logging  # pylint: disable=g-import-not-at-top
  handler = storage.log_handler(tmp_path / "log.txt")
  assert type(handler) is logging.FileHandler  # pylint: disable=unidiomatic-typecheck
  handler.close()


def test_copy_tree_copies_every_file_below_a_folder(tmp_path):
  (tmp_path / "out" / "model").mkdir(parents=True)
  (tmp_path / "out" / "model" / "config.json").write_text("{}")
  (tmp_path / "out" / "adapters.bin").write_bytes(b"\x00\x01")
  storage.copy_tree(tmp_path / "out", epath.Path(tmp_path / "copy"))
  assert (tmp_path / "copy" / "model" / "config.json").read_text() == "{}"
  assert (tmp_path / "copy" / "adapters.bin").read_bytes() == b"\x00\x01"
  with storage.staged(tmp_path / "here") as out:  # On disk the writer writes in place.
    assert out == tmp_path / "here"
