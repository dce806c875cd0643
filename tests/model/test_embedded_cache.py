"""The converted-model cache repairs itself: damaged files, killed conversions, read-only disks.

A fake weights package and converter stand in for the 25 s conversion, so each
case runs in milliseconds; `builds` counts conversions.
"""

import dataclasses
import pathlib

import pytest

from icl_ft_jax.errors import ModelLoadError
from icl_ft_jax.model import embedded, loading


@dataclasses.dataclass
class FakePackage:
  EXPECTED_SHA256: str = "f" * 64
  MODEL_NAME: str = "model.gguf"

  def assemble(self, output_path, overwrite):
    del overwrite
    pathlib.Path(output_path).write_bytes(b"gguf")
    return pathlib.Path(output_path)


@pytest.fixture
def builds(monkeypatch):
  count = []

  def convert(gguf_path, folder):
    del gguf_path
    count.append(1)
    (folder / "params" / "d").mkdir(parents=True)
    (folder / "params" / "_METADATA").write_text("{}")
    (folder / "params" / "d" / "0001").write_bytes(b"w" * 1000)
    (folder / "tokenizer.model").write_bytes(b"t" * 100)

  monkeypatch.setattr(embedded, "_weights_package", FakePackage)
  monkeypatch.setattr(embedded, "convert_gguf", convert)
  return count


def _folder(cache):
  return cache / f"gemma3-270m-v{embedded.CONVERTER_VERSION}-{'f' * 12}"


def test_converts_once(tmp_path, builds):
  first = embedded.embedded_gemma3_270m(tmp_path)
  assert embedded.embedded_gemma3_270m(tmp_path) == first
  assert len(builds) == 1
  assert not (first.params_path.parent / "model.gguf").exists()


@pytest.mark.parametrize("damage", [
    lambda f: (f / "params" / "d" / "0001").write_bytes(b"w" * 10),  # Truncated.
    lambda f: (f / "params" / "d" / "0001").unlink(),  # Deleted.
    lambda f: (f / "tokenizer.model").write_bytes(b""),  # Emptied.
    lambda f: (f / "manifest.json").unlink(),  # Killed before the manifest.
])
def test_damaged_cache_is_rebuilt(tmp_path, builds, damage):
  embedded.embedded_gemma3_270m(tmp_path)
  damage(_folder(tmp_path))
  converted = embedded.embedded_gemma3_270m(tmp_path)
  assert len(builds) == 2
  assert (converted.params_path / "d" / "0001").stat().st_size == 1000
  assert converted.tokenizer_path.stat().st_size == 100


def test_killed_conversion_leftovers_are_removed(tmp_path, builds):
  embedded.embedded_gemma3_270m(tmp_path)
  leftover = tmp_path / (_folder(tmp_path).name + ".partial-99999")
  (leftover / "params").mkdir(parents=True)
  (_folder(tmp_path) / "tokenizer.model").write_bytes(b"")  # Damaged, so the next call takes the lock.
  embedded.embedded_gemma3_270m(tmp_path)
  assert not leftover.exists()


def test_complete_cache_is_read_without_the_lock(tmp_path, builds, monkeypatch):
  embedded.embedded_gemma3_270m(tmp_path)

  def read_only(path):
    raise PermissionError(13, "Read-only file system", str(path))

  monkeypatch.setattr(embedded, "_exclusive", read_only)
  assert embedded.embedded_gemma3_270m(tmp_path).params_path.is_dir()
  (_folder(tmp_path) / "tokenizer.model").write_bytes(b"")
  with pytest.raises(ModelLoadError, match="not writable.*ICL_FT_JAX_CACHE"):
    embedded.embedded_gemma3_270m(tmp_path)


def test_files_that_fail_to_load_are_rebuilt_once(tmp_path, builds, monkeypatch):
  calls = []

  def load(path, abstract, shardings, dtype):
    del abstract, shardings, dtype
    calls.append(path)
    if len(calls) == 1:
      raise ModelLoadError("Could not read an Orbax params checkpoint: bad chunk")
    return {"w": 1}

  monkeypatch.setattr(loading, "_load_orbax", load)
  monkeypatch.setattr(loading, "_tokenizer", lambda path: f"tokenizer at {path}")
  params, tokenizer, _ = loading._load_embedded({"cache_dir": str(tmp_path)}, None, None, None, "")
  assert params == {"w": 1} and tokenizer.endswith("tokenizer.model")
  assert len(builds) == 2  # The first conversion, then one rebuild.

  def always_fails(*args):
    raise ModelLoadError("Could not read an Orbax params checkpoint: bad chunk")

  monkeypatch.setattr(loading, "_load_orbax", always_fails)
  with pytest.raises(ModelLoadError, match="delete .* and rerun"):
    loading._load_embedded({"cache_dir": str(tmp_path)}, None, None, None, "")


def test_bare_orbax_exception_is_one_line(tmp_path):
  (tmp_path / "params").mkdir()
  with pytest.raises(ModelLoadError, match="Could not read an Orbax params checkpoint") as info:
    loading.load_model({"name": "gemma3-1b", "checkpoint": str(tmp_path / "params"), "tokenizer": "x"})
  assert "\n" not in str(info.value)
