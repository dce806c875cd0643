"""benchmarks/peer_hf.py's workload flags, scoring rows and agreement check, without a model (the benchmark takes minutes)."""

import importlib.util
import pathlib
import sys

import numpy as np
import pytest

from icl_ft_jax.scoring.records import MCItem

ROOT = pathlib.Path(__file__).resolve().parents[1]


@pytest.fixture(name="peer_hf")
def _peer_hf(monkeypatch):
  spec = importlib.util.spec_from_file_location("peer_hf_benchmark", ROOT / "benchmarks" / "peer_hf.py")
  module = importlib.util.module_from_spec(spec)
  monkeypatch.setitem(sys.modules, spec.name, module)  # Its dataclasses look their module up.
  spec.loader.exec_module(module)
  return module


def test_rows_and_variants_give_every_workload_shapes_first(peer_hf):
  workloads = peer_hf.parse_rows("8x48,2X128", "full,frozen_embedding")
  assert [(w.batch, w.length, w.variant) for w in workloads] == [
      (8, 48, "full"), (8, 48, "frozen_embedding"), (2, 128, "full"), (2, 128, "frozen_embedding")]
  assert workloads[1].name == "FT step 8x48, embedding frozen"


@pytest.mark.parametrize("rows,variants,message", [("8by48", "full", "BATCHxLENGTH"), ("0x48", "full", "batch >= 1"),
                                                   ("8x48", "lora", "not one of"), ("", "full", "no workload")])
def test_bad_flags_are_one_line_errors(peer_hf, rows, variants, message):
  with pytest.raises(SystemExit, match=message):
    peer_hf.parse_rows(rows, variants)


def test_workloads_flag_gives_training_then_scoring(peer_hf):
  workloads = peer_hf.parse_workloads("score,train", "8x48", "full", 80)
  assert [w.name for w in workloads] == ["FT step 8x48, full", "score 80 rows"]
  assert peer_hf.parse_workloads("score", "not parsed", "full", 8) == [peer_hf.ScoreWorkload(8)]


@pytest.mark.parametrize("names,score_rows,message", [("train,eval", 80, "not one of"), ("", 80, "no workload"),
                                                      ("score", 0, "score_rows must be >= 1")])
def test_bad_workload_flags_are_one_line_errors(peer_hf, names, score_rows, message):
  with pytest.raises(SystemExit, match=message):
    peer_hf.parse_workloads(names, "8x48", "full", score_rows)


def test_first_rows_keeps_exactly_that_many_prompt_choice_rows(peer_hf):
  items = [MCItem(prompt=f"q{i}", choices=(" a", " b", " c", " d")) for i in range(3)]
  kept = peer_hf.first_rows(items, 6)
  assert [(item.prompt, item.choices) for item in kept] == [("q0", (" a", " b", " c", " d")), ("q1", (" a", " b"))]
  assert peer_hf.first_rows(items, 4) == items[:1]
  with pytest.raises(SystemExit, match="give only 12 rows, not 13"):
    peer_hf.first_rows(items, 13)


def test_hf_rows_are_right_padded_and_only_continuation_tokens_are_summed(peer_hf):
  rows = [peer_hf.ScoreRow((2, 5), (7,)), peer_hf.ScoreRow((2,), (4, 6, 1))]
  ids, mask = peer_hf.padded(rows)
  np.testing.assert_array_equal(ids, [[2, 5, 7, 0], [2, 4, 6, 1]])
  np.testing.assert_array_equal(mask, [[1, 1, 1, 0], [1, 1, 1, 1]])
  # logprobs[b, k, t] = -(100 b + 10 k + t): each term names the (row, position, token) it was read from.
  b, k, t = np.meshgrid(np.arange(2), np.arange(4), np.arange(8), indexing="ij")
  logprobs = -(100.0 * b + 10 * k + t)
  sums = peer_hf.continuation_logprobs(logprobs, rows)
  # Row 0: token 7 read at position 1. Row 1: tokens 4, 6, 1 read at positions 0, 1, 2.
  assert sums == [-(17.0), -(104.0 + 116.0 + 121.0)]


def test_score_difference_is_the_largest_row_gap_and_needs_the_same_rows(peer_hf):
  assert peer_hf.max_score_difference([-1.0, -2.5, -3.0], [-1.0, -2.0, -3.25]) == pytest.approx(0.5)
  with pytest.raises(SystemExit, match="did not score the same rows"):
    peer_hf.max_score_difference([-1.0, -2.0], [-1.0])
  with pytest.raises(SystemExit, match="did not score the same rows"):
    peer_hf.max_score_difference([], [])
