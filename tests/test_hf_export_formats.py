"""Hugging Face folders beyond the plain float32 export: shards, bfloat16, and multimodal folders read text-only.

The tiny model's own params are exported (no fine-tuning: tests/test_hf_export.py covers
that path); transformers (the `peer` extra) loads each folder in a subprocess.
"""

from __future__ import annotations

import json

import jax
import ml_dtypes
import numpy as np
import pytest
from safetensors import safe_open
from safetensors.numpy import load_file, save_file

from configs import export as export_config
from icl_ft_jax.errors import ConfigError, ModelLoadError
from icl_ft_jax.jobs import export
from icl_ft_jax.model import hf_gemma3, loading

from tests import hf_peer
from tests.hf_peer import TEXTS

SHARD_BYTES = 40_000  # The tiny model's embedding is 33.6 MB (a shard of its own), a layer about 50 kB.
BF16_ATOL = 1e-2  # About 8x the measured gap; log-probs here are about -12, bfloat16 keeps 8 bits.


def _assert_same_params(ours, theirs) -> None:
  assert jax.tree.structure(ours) == jax.tree.structure(theirs)
  for a, b in zip(jax.tree.leaves(ours), jax.tree.leaves(theirs), strict=True):
    np.testing.assert_array_equal(np.asarray(b), np.asarray(a))


def _import(folder, dtype="float32"):
  return loading.load_model({"name": "tiny", "checkpoint": str(folder), "dtype": dtype})


def _assert_transformers_matches(tiny_model, params, folder, *options, atol: float) -> list[dict]:
  found = hf_peer.transformers_reference(folder, TEXTS, *options)
  for text, theirs in zip(TEXTS, found, strict=True):
    ids = tiny_model.tokenizer.encode(text, add_bos=True)
    assert theirs["ids"] == ids, text
    np.testing.assert_allclose(np.asarray(theirs["log_probs"]), hf_peer.our_log_probs(tiny_model, params, ids),
                               atol=atol, rtol=0)
  return found


@pytest.mark.slow  # transformers in a subprocess.
def test_a_large_export_is_sharded_with_an_index_that_transformers_and_our_import_read(tiny_model, tmp_path):
  folder = tmp_path / "model"
  export.write_model(folder, tiny_model.params, tiny_model, "float32", max_shard_bytes=SHARD_BYTES)
  index = json.loads((folder / hf_gemma3.WEIGHTS_INDEX).read_text())
  files = sorted(set(index["weight_map"].values()))
  assert len(files) >= 3 and files == [hf_gemma3.shard_name(i, len(files)) for i in range(len(files))]
  assert files[0] == "model-00001-of-0000%d.safetensors" % len(files)
  assert not (folder / hf_gemma3.WEIGHTS).exists()
  total = 0
  for name in files:
    shard = load_file(str(folder / name))
    assert set(shard) == {t for t, f in index["weight_map"].items() if f == name}  # The index is exact.
    size = sum(array.nbytes for array in shard.values())
    assert size <= SHARD_BYTES or len(shard) == 1  # Only a tensor over the limit stands alone above it.
    total += size
  assert index["metadata"]["total_size"] == total
  assert len(index["weight_map"]) == 2 + 13 * tiny_model.model.config.num_layers

  _assert_same_params(tiny_model.params, _import(folder).params)  # Bit-identical through the shards.
  found = _assert_transformers_matches(tiny_model, tiny_model.params, folder, atol=1e-4)
  assert found[0]["model"] == "Gemma3ForCausalLM"

  export.write_model(folder, tiny_model.params, tiny_model, "float32")  # Under the limit: one file again.
  assert sorted(p.name for p in folder.glob("model*.safetensors*")) == [hf_gemma3.WEIGHTS]


def test_the_export_job_refuses_a_shard_size_that_is_not_positive():
  config = export_config.get_config("unused")
  config.max_shard_mb = 0.0
  with pytest.raises(ConfigError, match="max_shard_mb must be > 0"):
    export.check(config)


@pytest.mark.slow  # transformers in a subprocess.
def test_a_bfloat16_export_holds_bfloat16_tensors_that_transformers_loads_as_such(tiny_model, tmp_path):
  folder = tmp_path / "model"
  export.write_model(folder, tiny_model.params, tiny_model, "bfloat16")
  config = json.loads((folder / hf_gemma3.CONFIG).read_text())
  assert config["dtype"] == config["torch_dtype"] == "bfloat16"
  with safe_open(str(folder / hf_gemma3.WEIGHTS), framework="numpy") as weights:
    dtypes = {weights.get_tensor(name).dtype for name in weights.keys()}
  assert dtypes == {np.dtype(ml_dtypes.bfloat16)}

  rounded = jax.tree.map(lambda x: np.asarray(x).astype(ml_dtypes.bfloat16), tiny_model.params)
  reloaded = _import(folder, dtype="bfloat16")
  _assert_same_params(rounded, reloaded.params)  # The import reads the bfloat16 values exactly.
  # transformers computes in bfloat16 (dtype "auto" from the config); ours are the float32 log-probs of
  # the same rounded weights: the gap is transformers' bfloat16 arithmetic (1.2e-3 measured, 2026-11-27).
  found = _assert_transformers_matches(tiny_model, jax.tree.map(lambda x: x.astype(np.float32), rounded), folder,
                                       "--dtype", "auto", atol=BF16_ATOL)
  assert {theirs["dtype"] for theirs in found} == {"bfloat16"}


def _legacy_layout(folder, out) -> None:
  """transformers 4.5x's multimodal names (the Hub's 4B-27B as first published): language_model.model.*."""
  out.mkdir()
  for path in folder.iterdir():
    if path.suffix == ".safetensors":
      tensors = {name.replace("model.language_model.", "language_model.model.")
                 .replace("model.vision_tower.", "vision_tower.")
                 .replace("model.multi_modal_projector.", "multi_modal_projector."): array
                 for name, array in load_file(str(path)).items()}
      save_file(tensors, str(out / path.name), metadata={"format": "pt"})
    elif path.suffix == ".json" and path.name.endswith("index.json"):
      raise AssertionError("the tiny multimodal folder is expected in one file")
    else:
      (out / path.name).write_bytes(path.read_bytes())


@pytest.mark.slow  # transformers in a subprocess.
def test_a_multimodal_folder_imports_text_only(tiny_model, tmp_path):
  export.write_model(tmp_path / "text", tiny_model.params, tiny_model, "float32")
  folder = hf_peer.multimodal_folder(tmp_path / "text", tmp_path / "multimodal")
  config = json.loads((folder / hf_gemma3.CONFIG).read_text())
  assert config["model_type"] == "gemma3" and config["architectures"] == ["Gemma3ForConditionalGeneration"]
  vocab = tiny_model.model.config.num_embed
  with safe_open(str(folder / hf_gemma3.WEIGHTS), framework="numpy") as weights:
    names = list(weights.keys())
    embedding, = [name for name in names if name.endswith("embed_tokens.weight")]
    assert weights.get_slice(embedding).get_shape()[0] > vocab  # Rows past the text vocabulary.
  assert any("vision" in name for name in names)

  _assert_same_params(tiny_model.params, _import(folder).params)  # The text model, bit for bit.
  # transformers' multimodal model on text, normalised over the text vocabulary as ours is (gap 2.9e-6).
  found = _assert_transformers_matches(tiny_model, tiny_model.params, folder, "--vocab_size", str(vocab),
                                       atol=1e-4)
  assert found[0]["model"] == "Gemma3ForConditionalGeneration"

  _legacy_layout(folder, tmp_path / "legacy")
  _assert_same_params(tiny_model.params, _import(tmp_path / "legacy").params)


def test_extra_embedding_rows_are_refused_in_a_text_folder_and_where_the_config_disagrees(tiny_model, tmp_path):
  folder = tmp_path / "model"
  export.write_model(folder, tiny_model.params, tiny_model, "float32")
  tensors = load_file(str(folder / hf_gemma3.WEIGHTS))
  embedding = tensors["model.embed_tokens.weight"]
  tensors["model.embed_tokens.weight"] = np.concatenate([embedding, embedding[:64]])
  save_file(tensors, str(folder / hf_gemma3.WEIGHTS), metadata={"format": "pt"})
  with pytest.raises(ModelLoadError, match="vocab_size 262144 in config.json but 262208 in the weights"):
    _import(folder)
  config = json.loads((folder / hf_gemma3.CONFIG).read_text())
  (folder / hf_gemma3.CONFIG).write_text(json.dumps({**config, "vocab_size": 262208}))
  with pytest.raises(ModelLoadError, match=r"does not hold tiny: vocab_size 262208 \(model.name=tiny has 262144\)"):
    _import(folder)
