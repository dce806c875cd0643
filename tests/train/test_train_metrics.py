"""Training metrics through clu's metric writers: `train_log.jsonl` rows and TensorBoard events."""

import json

from icl_ft_jax.train import metrics


def _rows(workdir):
  return [json.loads(line) for line in (workdir / metrics.LOG_NAME).read_text().splitlines()]


def test_writes_jsonl_rows_and_tensorboard_events(tmp_path):
  writer = metrics.create_writer(tmp_path)
  writer.write_scalars(1, {"loss": 2.0})
  writer.write_scalars(2, {"loss": 1.5})
  writer.write_scalars(2, {"eval/forward/sum": 0.25})
  writer.close()
  assert _rows(tmp_path) == [{"step": 1, "loss": 2.0}, {"step": 2, "loss": 1.5},
                             {"step": 2, "eval/forward/sum": 0.25}]
  events = list((tmp_path / "tensorboard").glob("events.out.tfevents.*"))
  assert events and events[0].stat().st_size > 0


def test_a_resumed_run_drops_rows_past_its_checkpoint_and_replaces_rows_logged_again(tmp_path):
  writer = metrics.create_writer(tmp_path, tensorboard=False)
  for step in (1, 2, 3):
    writer.write_scalars(step, {"loss": float(step)})
  writer.close()
  with (tmp_path / metrics.LOG_NAME).open("a") as f:
    f.write('{"step": 4, "lo')  # A line cut short by a kill.

  writer = metrics.create_writer(tmp_path, resume_step=2, tensorboard=False)
  assert [row["step"] for row in _rows(tmp_path)] == [1, 2]
  writer.write_scalars(3, {"loss": 30.0})
  writer.write_scalars(3, {"eval/x": 1.0})
  writer.write_scalars(3, {"eval/x": 0.5})  # A finished run's final evaluation, rerun.
  writer.close()
  assert _rows(tmp_path) == [{"step": 1, "loss": 1.0}, {"step": 2, "loss": 2.0}, {"step": 3, "loss": 30.0},
                             {"step": 3, "eval/x": 0.5}]
