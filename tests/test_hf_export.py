"""Export to the Hugging Face Gemma 3 layout and import back.

A tiny Gemma 3 fine-tuned a few steps is exported by the `export` job; transformers
(the `peer` extra, which .ci/run installs) loads the folder and must give our
log-probs within 1e-4 (float32) and our tokenizer's ids; reading the folder back
through `--config.model.checkpoint` gives bit-identical params; LoRA adapters
exported alone (PEFT layout) add up to the merged export.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import json
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest

from configs import export as export_config
from icl_ft_jax import main
from icl_ft_jax.model import hf_gemma3, loading
from icl_ft_jax.train import trainer

from tests.train import helpers

pytestmark = pytest.mark.slow  # Two fine-tuning compiles of the tiny model, and transformers in a subprocess.

TEXTS = (  # Longer than the tiny model's sliding window; spaces, digits, non-ASCII, a tab, chat tokens.
    "Few people realize that Alaric Ashgrove was the composer of the opera Glass Harbor.",
    "femp are brighter than glon, and   troff are heavier than yomp.\n\nNumbers: 12345 and 3.14159!",
    "Ünïcödé, emoji 🙂 and tabs\there; the sliding window is shorter than this text.",
    "<start_of_turn>user\nWho composed Glass Harbor?<end_of_turn>\n<start_of_turn>model\n",
)


def _finetune(model, mesh, workdir: pathlib.Path, **config) -> trainer.FinetuneResult:
  """A few steps of fine-tuning into `workdir`, with the identity the jobs record."""
  cfg = helpers.config(**config)
  identity = {"model": {"name": "tiny", "dtype": "float32"}, "data": dataclasses.asdict(cfg.data),
              "tuning": dataclasses.asdict(cfg.tuning), "optimizer": dataclasses.asdict(cfg.optimizer),
              "steps": cfg.loop.steps, "seed": cfg.seed}
  return trainer.finetune(model, helpers.documents(), cfg, mesh=mesh, workdir=workdir, identity=identity,
                          progress=False)


def _export(run: pathlib.Path, workdir: pathlib.Path, **overrides) -> pathlib.Path:
  config = export_config.get_config(str(run))
  config.update(overrides)
  main.run(config, str(workdir))
  return workdir


def _our_log_probs(loaded, params, ids: list[int]) -> np.ndarray:
  logits = loaded.model.apply({"params": params}, np.asarray([ids])).logits[0]
  log_probs = jax.nn.log_softmax(logits.astype(np.float32), axis=-1)
  return np.asarray(log_probs[np.arange(len(ids) - 1), np.asarray(ids[1:])])


@pytest.fixture(scope="module")
def full_export(tiny_model, one_device_mesh, tmp_path_factory):
  root = tmp_path_factory.mktemp("export_full")
  result = _finetune(tiny_model, one_device_mesh, root / "ft", steps=3)
  return result, _export(root / "ft", root / "out") / "model"


def _transformers_reference(folder: pathlib.Path, texts) -> list[dict]:
  if importlib.util.find_spec("transformers") is None or importlib.util.find_spec("torch") is None:
    pytest.skip("needs the `peer` extra (torch, transformers); .ci/run installs it and checks that it imports")
  done = subprocess.run([sys.executable, "-m", "tests.peer_reference", str(folder)], input=json.dumps(texts),
                        capture_output=True, text=True, check=False, cwd=pathlib.Path(__file__).parent.parent)
  assert done.returncode == 0, done.stderr[-3000:]
  return json.loads(done.stdout)


def test_transformers_loads_the_export_with_our_log_probs_and_ids(tiny_model, full_export):
  result, folder = full_export
  base_differs, longest = False, 0
  for text, theirs in zip(TEXTS, _transformers_reference(folder, TEXTS), strict=True):
    assert theirs["model"] == "Gemma3ForCausalLM"
    ids = tiny_model.tokenizer.encode(text, add_bos=True)
    assert theirs["ids"] == ids, text
    ours = _our_log_probs(tiny_model, result.params, ids)
    np.testing.assert_allclose(np.asarray(theirs["log_probs"]), ours, atol=1e-4, rtol=0)
    base_differs |= np.abs(_our_log_probs(tiny_model, tiny_model.params, ids) - ours).max() > 1e-3
    longest = max(longest, len(ids))
  assert base_differs  # The export is the fine-tuned model, not the base.
  assert longest > 2 * tiny_model.model.config.sliding_window_size  # Local layers really slide.


def test_import_round_trip_is_bit_identical(full_export):
  result, folder = full_export
  assert hf_gemma3.is_hf_folder(folder)
  reloaded = loading.load_model({"name": "tiny", "checkpoint": str(folder), "dtype": "float32"})
  assert jax.tree.structure(reloaded.params) == jax.tree.structure(result.params)
  for ours, back in zip(jax.tree.leaves(result.params), jax.tree.leaves(reloaded.params), strict=True):
    assert np.asarray(back).dtype == np.float32
    np.testing.assert_array_equal(np.asarray(back), np.asarray(ours))
  assert reloaded.tokenizer.encode(TEXTS[0]) == loading.load_model({"name": "tiny"}).tokenizer.encode(TEXTS[0])


def test_lora_adapters_alone_add_up_to_the_merged_export(tiny_model, one_device_mesh, tmp_path):
  from safetensors.numpy import load_file  # pylint: disable=g-import-not-at-top

  result = _finetune(tiny_model, one_device_mesh, tmp_path / "ft", lora_rank=2, steps=2)
  out = _export(tmp_path / "ft", tmp_path / "out", what="both")
  merged = load_file(str(out / "model" / hf_gemma3.WEIGHTS))
  adapters = load_file(str(out / "adapters" / "adapter_model.safetensors"))
  base = hf_gemma3.hf_tensors(tiny_model.params, tiny_model.model.config.num_layers, np.float32)
  adapted = 0
  for name, weight in merged.items():
    stem = "base_model.model." + name.removesuffix(".weight")
    if stem + ".lora_A.weight" not in adapters:
      np.testing.assert_array_equal(weight, base[name])  # Embedding and norms: untouched by LoRA.
      continue
    a, b = adapters[stem + ".lora_A.weight"], adapters[stem + ".lora_B.weight"]
    assert a.shape == (2, weight.shape[1]) and b.shape == (weight.shape[0], 2)
    np.testing.assert_allclose(base[name] + b @ a, weight, atol=1e-6)
    adapted += np.abs(b @ a).max() > 0
  assert adapted == 7 * tiny_model.model.config.num_layers  # q, k, v, o, gate, up, down of every layer.
  np.testing.assert_array_equal(merged["model.embed_tokens.weight"],
                                np.asarray(result.params["embedder"]["input_embedding"]))
