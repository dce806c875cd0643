"""Batched text generation for augmentation, on the loaded model and its mesh.

Two samplers, one output record (`Generation`):

* `LocalSampler` samples short prompts with the gemma library's `gm.text.Sampler`:
  a static cache length and padded prompt buckets (so jit compiles once per bucket),
  a fixed batch (short batches are padded with copies), and `samples_per_input`
  rows per prompt.
* `SharedContextSampler` samples many short suffixes after one long shared context
  (global augmentation: the training set, then one target document). `gm.text.Sampler`
  can only start from text (or from its own previous turn, one conversation per row),
  so it would re-run the whole context for every target. Instead the context is
  prefilled once into a KV cache (`model/kv_cache.py`, as ICL scoring does), copied to
  the batch, the suffixes are run against it in one parallel pass, and the result is
  handed to gemma's own jitted `lax.while_loop` decoder (`SamplerLoop`, private, reached
  through `model/gemma_internals.py`) as its initial state. The state follows gemma's conventions exactly (the last prompt token
  is re-run at the first step; padding is masked in `full_attention_mask`), so the
  tokens equal those of `gm.text.Sampler` on the concatenated sequence (tested).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding

from icl_ft_jax import progress as progress_lib, shapes, sharding as sharding_lib
from icl_ft_jax.errors import ConfigError, UserError
from icl_ft_jax.model import forward, gemma_internals, kv_cache

STOP_TEXT = "\n\n"  # A blank line ends one block of statements (a single Gemma token).


@dataclasses.dataclass(frozen=True, kw_only=True)
class SamplingConfig:
  """How many samples, how random, and the static shapes that bound compilation.

  Attributes:
    temperature: 0 is greedy decoding (then `samples_per_input` must be 1).
    samples_per_input: Rows sampled per prompt.
    max_new_tokens: Static output length.
    batch_size: Rows per step; a multiple of the mesh's batch split (`sharding.batch_split`).
    prompt_buckets: Prompts are padded to the smallest bucket that fits.
    seed: Sampling seed; the same seed and inputs give the same outputs.
  """

  temperature: float = 0.0
  samples_per_input: int = 1
  max_new_tokens: int = 48
  batch_size: int = 8
  prompt_buckets: tuple[int, ...] = (64, 128, 256, 512)
  seed: int = 0

  def __post_init__(self):
    if self.temperature < 0:
      raise ConfigError(f"augment.temperature must be >= 0, got {self.temperature}.")
    if self.samples_per_input < 1:
      raise ConfigError(f"augment.samples_per_input must be >= 1, got {self.samples_per_input}.")
    if self.temperature == 0 and self.samples_per_input > 1:
      raise ConfigError("Greedy decoding (augment.temperature=0) gives one sample per input; set"
                        " augment.samples_per_input=1 or a temperature above 0.")
    if self.max_new_tokens < 1 or self.batch_size < 1 or not self.prompt_buckets:
      raise ConfigError("augment.max_new_tokens and augment.batch_size must be >= 1, and"
                        " augment.prompt_buckets non-empty.")


@dataclasses.dataclass(frozen=True)
class Generation:
  """One sampled continuation of input `input_index` (its `sample`-th row)."""

  input_index: int
  sample: int
  text: str
  token_ids: tuple[int, ...]


def sampling_method(temperature: float):
  from gemma import gm  # pylint: disable=g-import-not-at-top

  if temperature == 0:
    return gm.text.Greedy()
  return gm.text.RandomSampling(temperature=temperature)


def _bucket(length: int, buckets: Sequence[int], what: str) -> int:
  return shapes.bucket(length, buckets, what=what, largest="augment.prompt_buckets entry",
                       advice="; add a larger bucket or shorten the prompt")


def _rows(num_inputs: int, samples: int) -> list[tuple[int, int]]:
  return [(i, s) for i in range(num_inputs) for s in range(samples)]


def _batches(rows: list, batch_size: int):
  """Fixed-size batches; the last is padded with copies of its last row (outputs dropped)."""
  for start in range(0, len(rows), batch_size):
    chunk = rows[start:start + batch_size]
    yield start // batch_size, chunk, chunk + [chunk[-1]] * (batch_size - len(chunk))


def _end_tokens(tokenizer) -> tuple[int, ...]:
  special = tokenizer.special_tokens
  (stop,) = tokenizer.encode(STOP_TEXT)
  return (special.EOS, special.END_OF_TURN, stop)


def _decode(tokenizer, ids, end_tokens) -> tuple[str, tuple[int, ...]]:
  kept = []
  for token in np.asarray(ids).tolist():
    if token in end_tokens or token == tokenizer.special_tokens.PAD:
      break
    kept.append(int(token))
  return tokenizer.decode(kept), tuple(kept)


def _batch_sharding(mesh: jax.sharding.Mesh, batch_size: int) -> NamedSharding:
  sharding_lib.check_batch_size(batch_size, mesh, "augment.batch_size")
  return sharding_lib.batch_sharding(mesh)


class LocalSampler:
  """Samples continuations of short prompts with `gm.text.Sampler`.

      sampler = LocalSampler(loaded, mesh, SamplingConfig(temperature=0.8, samples_per_input=4))
      generations = sampler.sample(["Statement: ...\\nRephrased and reversed:\\n"])
  """

  def __init__(self, loaded, mesh: jax.sharding.Mesh, config: SamplingConfig, *, progress: bool = True):
    from gemma import gm  # pylint: disable=g-import-not-at-top

    self.loaded, self.config, self.progress = loaded, config, progress
    self.batch_sharding = _batch_sharding(mesh, config.batch_size)
    self._split = sharding_lib.batch_split(mesh) > 1
    self._end_tokens = _end_tokens(loaded.tokenizer)
    buckets = tuple(sorted(config.prompt_buckets))
    self._sampler = gm.text.Sampler(
        model=loaded.model, params=loaded.params, tokenizer=loaded.tokenizer,
        sampling=sampling_method(config.temperature), stop_tokens=(self._end_tokens[-1],),
        cache_length=shapes.round_up(buckets[-1] + config.max_new_tokens + 1, 128),
        max_out_length=config.max_new_tokens, pad_length=buckets)

  def sample(self, prompts: Sequence[str], description: str = "local augmentation") -> list[Generation]:
    lengths = [len(self.loaded.tokenizer.encode(p)) + 1 for p in prompts]
    for length in lengths:
      _bucket(length, self.config.prompt_buckets, "local prompt")
    rows = _rows(len(prompts), self.config.samples_per_input)
    # Similar lengths share a batch, so most batches use the smallest bucket that fits.
    rows.sort(key=lambda r: (lengths[r[0]], r))
    out = []
    with progress_lib.progress_bar(len(rows), description=description, unit="sample", enabled=self.progress) as bar:
      for index, real, padded in _batches(rows, self.config.batch_size):
        tokens = self._sample_batch([prompts[i] for i, _ in padded], index)
        for b, (i, s) in enumerate(real):
          text, ids = _decode(self.loaded.tokenizer, tokens[b], self._end_tokens)
          out.append(Generation(i, s, text, ids))
        bar.update(len(real))
    return sorted(out, key=lambda g: (g.input_index, g.sample))

  def _sample_batch(self, prompts: list[str], index: int) -> np.ndarray:
    """Predicted tokens `[batch, max_new_tokens]` of one full batch, its rows split over the mesh."""
    rng = jax.random.fold_in(jax.random.key(self.config.seed), index)
    if not self._split:
      result = self._sampler.sample(prompts, rng=rng, return_state=True)
    else:
      # gemma shards with `make_array_from_process_local_data`: each process passes its own rows.
      rows = sharding_lib.process_rows(self.batch_sharding, len(prompts))
      result = self._sampler.sample(prompts[rows], rng=rng, return_state=True, sharding=self.batch_sharding)
    return sharding_lib.to_host(result.state.predicted_tokens)


class SharedContextSampler:
  """Samples continuations of many suffixes after one shared context, prefilled once.

      sampler = SharedContextSampler(loaded, mesh, SamplingConfig())
      generations = sampler.sample(context_text, ["Statement: ...\\nInferences:\\n", ...])
  """

  def __init__(self, loaded, mesh: jax.sharding.Mesh, config: SamplingConfig, *, prefill_chunk: int = 1024,
               progress: bool = True, stop_at_blank_line: bool = True):
    self.loaded, self.config, self.progress = loaded, config, progress
    self.batch_sharding = _batch_sharding(mesh, config.batch_size)
    self._prefiller = kv_cache.Prefiller(
        loaded.model, mesh, max_sequence_length=loaded.spec.max_sequence_length, chunk=prefill_chunk,
        too_long_fix="Lower augment.global_context_tokens (or the new tokens and prompt buckets) so the context shrinks")
    # A long reasoning trace (global augmentation) may hold blank lines: then only EOS ends it.
    self._end_tokens = _end_tokens(loaded.tokenizer)[:None if stop_at_blank_line else -1]
    self._start = jax.jit(self._start_impl)

  def sample(self, context: str, suffixes: Sequence[str], description: str = "global augmentation"
             ) -> list[Generation]:
    tokenizer = self.loaded.tokenizer
    suffix_ids = [tuple(tokenizer.encode(s)) for s in suffixes]
    if any(not ids for ids in suffix_ids):
      raise UserError("Every global augmentation suffix needs at least one token.")
    longest = _bucket(max(len(ids) for ids in suffix_ids), self.config.prompt_buckets, "suffix")
    context_cache = self._prefiller(self.loaded.params, tokenizer.encode(context, add_bos=True),
                                    longest + self.config.max_new_tokens + 1)
    loop = gemma_internals.sampler_loop(
        model=self.loaded.model, end_tokens=self._end_tokens, forbidden_tokens=tokenizer.FORBIDDEN_TOKENS,
        sampling=sampling_method(self.config.temperature), cache_length=context_cache.cache_size,
        special_tokens=tokenizer.special_tokens)
    rows = _rows(len(suffixes), self.config.samples_per_input)
    rows.sort(key=lambda r: (len(suffix_ids[r[0]]), r))
    out = []
    with progress_lib.progress_bar(len(rows), description=description, unit="sample", enabled=self.progress) as bar:
      for index, real, padded in _batches(rows, self.config.batch_size):
        width = _bucket(max(len(suffix_ids[i]) for i, _ in padded), self.config.prompt_buckets, "suffix")
        tokens = np.zeros((self.config.batch_size, width), np.int32)  # Padding is masked by `lengths`.
        lengths = np.zeros((self.config.batch_size,), np.int32)
        for b, (i, _) in enumerate(padded):
          tokens[b, :len(suffix_ids[i])] = suffix_ids[i]
          lengths[b] = len(suffix_ids[i])
        put = lambda x: sharding_lib.global_batch(x, self.batch_sharding)
        state = self._start(self.loaded.params, context_cache.cache, jnp.int32(context_cache.length),
                            put(tokens), put(lengths),
                            jax.random.fold_in(jax.random.key(self.config.seed), index))
        state = loop.sample(params=self.loaded.params, init_state=state,
                            max_new_tokens=jnp.asarray(self.config.max_new_tokens))
        predicted = sharding_lib.to_host(state.predicted_tokens)
        for b, (i, s) in enumerate(real):
          text, ids = _decode(tokenizer, predicted[b], self._end_tokens)
          out.append(Generation(i, s, text, ids))
        bar.update(len(real))
    return sorted(out, key=lambda g: (g.input_index, g.sample))

  def _start_impl(self, params, cache, context_length, tokens, lengths, rng):
    """Runs the suffixes against the copied context cache; returns gemma's initial sampling state."""
    batch, width = tokens.shape
    cache_size = kv_cache.cache_length(cache)
    cache = kv_cache.expand(cache, context_length, batch, self.batch_sharding)
    positions, attention = kv_cache.suffix_positions_and_mask(tokens, lengths, context_length, cache_size)
    _, cache = forward.hidden_states(self.loaded.model, params, tokens, positions=positions,
                                     attention_mask=attention, cache=cache)
    # As in gemma's prefill: the loop re-runs each row's last prompt token into slot `used`.
    used = context_length + width - 1
    cache = kv_cache.with_end_index(cache, jnp.full((batch,), used, jnp.int32))
    key = jnp.arange(cache_size)[None, :]
    suffix_end = context_length + lengths[:, None]
    full_mask = (key < suffix_end) | (key >= context_length + width)
    last_token = jnp.take_along_axis(tokens, (lengths - 1)[:, None], axis=1)[:, 0]
    return gemma_internals.sampling_state(
        step=jnp.asarray(0), done=jnp.zeros((batch,), jnp.bool_), last_token=last_token,
        last_token_pos=context_length + lengths - 1,
        predicted_tokens=jnp.zeros((batch, self.config.max_new_tokens), jnp.int32),
        cache=cache, rng=rng, init_cache_length=jnp.asarray(used, jnp.int32), full_attention_mask=full_mask)
