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
  prefilled once into a KV cache (`model/kv_cache.py`, as ICL scoring does), the
  suffixes are run after it in one parallel pass, and a jitted `lax.while_loop` decodes,
  every row attending to the one copy of the context (`model/shared_context.py`) and to
  a cache of its own tokens. The tokens equal those of `gm.text.Sampler` on the
  concatenated sequence (tested).
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from icl_ft_jax import progress as progress_lib, shapes, sharding as sharding_lib
from icl_ft_jax.errors import ConfigError, UserError
from icl_ft_jax.model import forward, kv_cache, shared_context

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


@flax.struct.dataclass
class DecodingState:
  """The rows' decoding state after a shared context: what `SharedContextSampler`'s loop carries."""

  step: jax.Array  # Scalar: tokens sampled so far.
  done: jax.Array  # [B] the row has sampled an end token.
  last_token: jax.Array  # [B] the latest sampled token (the next step's input).
  predicted: jax.Array  # [B, max_new_tokens] sampled tokens (0 where not yet).
  rows: dict  # Per layer, each row's cache of its own tokens (`shared_context.RowCache`).
  rng: jax.Array


class SharedContextSampler:
  """Samples continuations of many suffixes after one shared context, prefilled once.

      sampler = SharedContextSampler(loaded, mesh, SamplingConfig())
      generations = sampler.sample(context_text, ["Statement: ...\\nInferences:\\n", ...])

  Every row attends to one copy of the context's keys and values (`shared_context.decode`) and keeps
  a cache of its own suffix and sampled tokens only, so memory and reads per decoding step no longer
  grow with rows x context (gemma's loop needs a full copy of the context's cache per row); local
  layers read only the context's last window. The loop is gemma's (`gm.text.Sampler`'s): each step
  splits the rng, masks the tokenizer's forbidden tokens, and applies the same sampling method, so
  greedy decoding gives the tokens of `gm.text.Sampler` on the concatenated text (tested).
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
    self._sampling = sampling_method(config.temperature)
    replicated = NamedSharding(mesh, P())
    self._context_layers = jax.jit(shared_context.context_layers, static_argnums=1, out_shardings=replicated)
    self._generate = jax.jit(self._generate_impl)

  def sample(self, context: str, suffixes: Sequence[str], description: str = "global augmentation"
             ) -> list[Generation]:
    tokenizer = self.loaded.tokenizer
    suffix_ids = [tuple(tokenizer.encode(s)) for s in suffixes]
    if any(not ids for ids in suffix_ids):
      raise UserError("Every global augmentation suffix needs at least one token.")
    longest = _bucket(max(len(ids) for ids in suffix_ids), self.config.prompt_buckets, "suffix")
    prepared = self._prepare(tokenizer.encode(context, add_bos=True), longest + self.config.max_new_tokens)
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
        predicted = sharding_lib.to_host(self._generate(
            self.loaded.params, prepared, put(tokens), put(lengths),
            jax.random.fold_in(jax.random.key(self.config.seed), index)))
        for b, (i, s) in enumerate(real):
          text, ids = _decode(tokenizer, predicted[b], self._end_tokens)
          out.append(Generation(i, s, text, ids))
        bar.update(len(real))
    return sorted(out, key=lambda g: (g.input_index, g.sample))

  def _prepare(self, context_ids: Sequence[int], suffix_capacity: int):
    """The context run once (what `_generate` reads): per layer, its keys and values, replicated."""
    prefilled = self._prefiller(self.loaded.params, context_ids, suffix_capacity)
    return self._context_layers(prefilled.cache, prefilled.length)  # Only the context's own slots.

  def _generate_impl(self, params, context, tokens, lengths, rng):
    """`[B, max_new_tokens]` tokens sampled after the context and each row's suffix (`tokens[b, :lengths[b]]`)."""
    model, new_tokens = self.loaded.model, self.config.max_new_tokens
    batch, width = tokens.shape
    context_length = context["layer_0"].length
    slots = width + new_tokens - 1  # The suffix, then every sampled token fed back but the last.
    constrain = lambda tree: jax.tree.map(lambda x: jax.lax.with_sharding_constraint(x, self.batch_sharding), tree)
    slot = jnp.arange(slots)[None, :]
    suffix_real = slot < lengths[:, None]  # [B, R]; slots from `width` on take the sampled tokens.

    # The suffixes in one pass: their keys and values start the row caches, and the last real token's
    # logits give the first sampled token.
    causal = jnp.arange(width)[None, :] <= jnp.arange(width)[:, None]
    positions = context_length + jnp.arange(width)[None].repeat(batch, 0)
    hidden, keys_values = shared_context.hidden_and_row_keys_values(
        model, params, tokens, positions=positions, row_mask=causal[None] & suffix_real[:, None, :width],
        context=context)
    rows = constrain({name: shared_context.row_cache(kv, positions, slots) for name, kv in keys_values.items()})
    last = jnp.take_along_axis(hidden, (lengths - 1)[:, None, None], axis=1)  # [B, 1, D]
    end_tokens = jnp.asarray(self._end_tokens)

    def sample_from(hidden, state_rng):
      logits = forward.unembed(model, params, hidden[:, 0])
      forbidden = self.loaded.tokenizer.FORBIDDEN_TOKENS
      if forbidden:
        logits = logits.at[:, jnp.asarray(forbidden)].set(-jnp.inf)
      next_rng, rng = jax.random.split(state_rng)
      return self._sampling.get_next_tokens(logits, rng=rng), next_rng

    first, rng = sample_from(last, rng)
    state = DecodingState(step=jnp.int32(1), done=jnp.isin(first, end_tokens), last_token=first,
                          predicted=constrain(jnp.zeros((batch, new_tokens), jnp.int32).at[:, 0].set(first)),
                          rows=rows, rng=rng)

    def step(state: DecodingState) -> DecodingState:
      write = width + state.step - 1  # The latest token's slot.
      row_mask = suffix_real | ((slot >= width) & (slot <= write))
      hidden, rows = shared_context.decode(
          model, params, state.last_token[:, None], positions=(context_length + lengths + state.step - 1)[:, None],
          row_mask=row_mask[:, None, :],
          layers={name: shared_context.DecodingLayer(context=context[name], rows=state.rows[name], write=write)
                  for name in context})
      token, rng = sample_from(hidden, state.rng)
      return DecodingState(step=state.step + 1, done=state.done | jnp.isin(token, end_tokens),
                           last_token=token, predicted=state.predicted.at[:, state.step].set(token),
                           rows=constrain(rows), rng=rng)

    keep_going = lambda state: (state.step < new_tokens) & ~jnp.all(state.done)
    return jax.lax.while_loop(keep_going, step, state).predicted
