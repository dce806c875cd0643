"""benchmarks/peer_hf.py's workload flags, without running a model (the benchmark itself takes minutes)."""

import importlib.util
import pathlib
import sys

import pytest

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
