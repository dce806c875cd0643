"""Export to the Hugging Face Gemma 3 layout and import back.

A tiny Gemma 3 fine-tuned a few steps is exported by the `export` job; transformers
(the `peer` extra, which .ci/run installs) loads the folder and must give our
log-probs within 1e-4 (float32) and our tokenizer's ids; reading the folder back
through `--config.model.checkpoint` gives bit-identical params; LoRA adapters
exported alone (PEFT layout) add up to the merged export, and the `peft` library puts
them on the exported base model with our merged model's log-probs.
"""

from __future__ import annotations

import pathlib

import jax
import numpy as np
import pytest

from configs import export as export_config
from icl_ft_jax import main
from icl_ft_jax.jobs import export
from icl_ft_jax.model import hf_gemma3, loading

from tests import hf_peer
from tests.hf_peer import TEXTS
from tests.train import helpers

pytestmark = pytest.mark.slow  # Two fine-tuning compiles of the tiny model, and transformers in a subprocess.


def _export(run: pathlib.Path, workdir: pathlib.Path, **overrides) -> pathlib.Path:
  config = export_config.get_config(str(run))
  config.update(overrides)
  main.run(config, str(workdir))
  return workdir


@pytest.fixture(scope="module")
def full_export(tiny_model, one_device_mesh, tmp_path_factory):
  root = tmp_path_factory.mktemp("export_full")
  result = helpers.finetune_run(tiny_model, one_device_mesh, root / "ft", steps=3)
  return result, _export(root / "ft", root / "out") / "model"


def test_transformers_loads_the_export_with_our_log_probs_and_ids(tiny_model, full_export):
  result, folder = full_export
  base_differs, longest = False, 0
  for text, theirs in zip(TEXTS, hf_peer.transformers_reference(folder, TEXTS), strict=True):
    assert theirs["model"] == "Gemma3ForCausalLM"
    ids = tiny_model.tokenizer.encode(text, add_bos=True)
    assert theirs["ids"] == ids, text
    ours = hf_peer.our_log_probs(tiny_model, result.params, ids)
    np.testing.assert_allclose(np.asarray(theirs["log_probs"]), ours, atol=1e-4, rtol=0)
    base_differs |= np.abs(hf_peer.our_log_probs(tiny_model, tiny_model.params, ids) - ours).max() > 1e-3
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


@pytest.fixture(scope="module")
def lora_export(tiny_model, one_device_mesh, tmp_path_factory):
  """A LoRA run exported merged and alone, and the base model exported, as PEFT applies adapters to it."""
  root = tmp_path_factory.mktemp("export_lora")
  result = helpers.finetune_run(tiny_model, one_device_mesh, root / "ft", lora_rank=2, steps=2)
  config = export_config.get_config(str(root / "ft"))
  config.what = "both"
  export.run(config, root / "out")  # The job itself (main's workdir handling is full_export's).
  out = root / "out"
  export.write_model(root / "base", tiny_model.params, tiny_model, "float32")
  return result, out, root / "base"


def test_lora_adapters_alone_add_up_to_the_merged_export(tiny_model, lora_export):
  from safetensors.numpy import load_file  # pylint: disable=g-import-not-at-top

  result, out, _ = lora_export
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


def test_peft_puts_our_adapters_on_the_base_model_with_our_merged_log_probs(tiny_model, lora_export):
  result, out, base = lora_export
  theirs_all = hf_peer.transformers_reference(base, TEXTS, "--adapters", str(out / "adapters"))
  adapted = False
  for text, theirs in zip(TEXTS, theirs_all, strict=True):
    ids = tiny_model.tokenizer.encode(text, add_bos=True)
    assert theirs["model"] == "Gemma3ForCausalLM" and theirs["ids"] == ids
    ours = hf_peer.our_log_probs(tiny_model, result.params, ids)  # LoRA merged into the base.
    np.testing.assert_allclose(np.asarray(theirs["log_probs"]), ours, atol=1e-4, rtol=0)
    adapted |= np.abs(hf_peer.our_log_probs(tiny_model, tiny_model.params, ids) - ours).max() > 1e-3
  assert adapted  # The adapters change the model by more than the tolerance.
