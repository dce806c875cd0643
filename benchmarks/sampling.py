"""Sampling after a shared context: one copy of it for every row, against gemma's loop over a copy per row.

  python benchmarks/sampling.py [--model=gemma3-270m] [--contexts=1024,4096,8192] [--batch=8]
  python benchmarks/sampling.py --model=tiny --quick      # seconds: the smoke test's run

Global augmentation samples many short suffixes after one long context (the training set).
`SharedContextSampler` prefills the context once and decodes every row against that one copy of its
keys and values (`shared_context.decode`), each row keeping a cache of its own tokens only.
Before, the same sampler copied the context's cache to every row (`kv_cache.expand`) and handed it
to gemma's own decoding loop (`gm.text._sampler_loop.SamplerLoop`, private), which reads every slot
of that copy in every layer at every step; `GemmaLoopSampler` below is that code, kept as the
baseline. Both prefill the context the same way; the table gives each side's time for the whole
`sample` call (prefill included, compilation excluded: a warm-up call on the same inputs first), the
prefill alone, the KV memory each decodes from, and whether the greedy tokens agree.
"""

from __future__ import annotations

import argparse
import pathlib
import sys
from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np

from icl_ft_jax import families, shapes, sharding
from icl_ft_jax.augment import prompts, sampling
from icl_ft_jax.model import forward, kv_cache, loading, shared_context

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import scaling  # pylint: disable=g-import-not-at-top,wrong-import-position  # benchmarks/scaling.py.

QUICK = {"contexts": "256,512", "suffixes": 4, "new_tokens": 8, "batch": 4}


class GemmaLoopSampler(sampling.SharedContextSampler):
  """The sampler before the shared-context decoder: the context's cache copied to every row, then
  gemma's `SamplerLoop` (its first step re-runs each row's last suffix token, as gemma's prefill does)."""

  def __init__(self, *args, **kwargs):
    super().__init__(*args, **kwargs)
    self._generate = self._generate_with_gemma_loop
    self._start = jax.jit(self._start_impl)

  def _prepare(self, context_ids: Sequence[int], suffix_capacity: int):
    from gemma.gm.text import _sampler_loop  # pylint: disable=g-import-not-at-top  # gemma's private loop.

    prefilled = self._prefiller(self.loaded.params, context_ids, suffix_capacity + 1)
    loop = _sampler_loop.SamplerLoop(
        model=self.loaded.model, end_tokens=self._end_tokens, forbidden_tokens=self.loaded.tokenizer.FORBIDDEN_TOKENS,
        sampling=self._sampling, cache_length=prefilled.cache_size,
        special_tokens=self.loaded.tokenizer.special_tokens)
    return prefilled, loop

  def _generate_with_gemma_loop(self, params, prepared, tokens, lengths, rng):
    prefilled, loop = prepared
    state = self._start(params, prefilled.cache, jnp.int32(prefilled.length), tokens, lengths, rng)
    return loop.sample(params=params, init_state=state, max_new_tokens=jnp.asarray(self.config.max_new_tokens)
                       ).predicted_tokens

  def _start_impl(self, params, cache, context_length, tokens, lengths, rng):
    """The suffixes against the copied context cache; gemma's initial sampling state."""
    from gemma.gm.text import _sampler_loop  # pylint: disable=g-import-not-at-top

    batch, width = tokens.shape
    cache_size = kv_cache.cache_length(cache)
    cache = kv_cache.expand(cache, context_length, batch, self.batch_sharding)
    positions, attention = kv_cache.suffix_positions_and_mask(tokens, lengths, context_length, cache_size)
    _, cache = forward.hidden_states(self.loaded.model, params, tokens, positions=positions,
                                     attention_mask=attention, cache=cache)
    used = context_length + width - 1  # gemma's loop re-runs each row's last suffix token into this slot.
    cache = kv_cache.with_end_index(cache, jnp.full((batch,), used, jnp.int32))
    key = jnp.arange(cache_size)[None, :]
    full_mask = (key < context_length + lengths[:, None]) | (key >= context_length + width)
    last_token = jnp.take_along_axis(tokens, (lengths - 1)[:, None], axis=1)[:, 0]
    return _sampler_loop.SamplingState(
        step=jnp.asarray(0), done=jnp.zeros((batch,), jnp.bool_), last_token=last_token,
        last_token_pos=context_length + lengths - 1,
        predicted_tokens=jnp.zeros((batch, self.config.max_new_tokens), jnp.int32),
        cache=cache, rng=rng, init_cache_length=jnp.asarray(used, jnp.int32), full_attention_mask=full_mask)


def kv_bytes(config, slots: float, dtype) -> float:
  """Bytes of keys and values of `slots` token slots over every layer."""
  return slots * len(config.attention_types) * 2 * config.num_kv_heads * config.head_dim * jnp.dtype(dtype).itemsize


def timed_sample(sampler, context: str, suffixes: Sequence[str], repeats: int):
  """`(median seconds, generations)` of `sampler.sample` after a warm-up call on the same inputs."""
  generations = sampler.sample(context, suffixes)
  return scaling.median_time(lambda: sampler.sample(context, suffixes), repeats), generations


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--model", default="gemma3-270m")
  parser.add_argument("--dtype", default="float32")
  parser.add_argument("--tokenizer", default="", help="SentencePiece file (default: the model's own; random-init models: the embedded model's, converted on first use)")
  parser.add_argument("--contexts", default="1024,4096,8192", help="context tokens")
  parser.add_argument("--suffixes", type=int, default=16, help="global augmentation targets (one row each)")
  parser.add_argument("--batch", type=int, default=8, help="rows per decoding batch (augment.batch_size)")
  parser.add_argument("--new_tokens", type=int, default=48, help="tokens sampled per row (greedy)")
  parser.add_argument("--repeats", type=int, default=1)
  parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test: " + str(QUICK))
  args = parser.parse_args()
  scaling.apply_quick(parser, args, QUICK)
  contexts = scaling.parse_ints(args.contexts, "contexts")
  if min(args.suffixes, args.batch, args.new_tokens, args.repeats) < 1:
    raise SystemExit("--suffixes, --batch, --new_tokens and --repeats must be >= 1.")

  mesh = sharding.make_mesh({"data": 1}, devices=jax.devices()[:1])
  loaded = loading.load_model({"name": args.model, "dtype": args.dtype, "tokenizer": args.tokenizer}, mesh=mesh)
  print(scaling.machine_line(args.model, loaded.dtype, scaling.train_step.matmul_rate(loaded.dtype, 512 if args.quick
                                                                                         else 2048) / 1e9))
  dataset = families.build_dataset({"family": "reversal_curse", "celebrities_per_group": 10, "train_templates": 3})
  documents = [d.text for d in dataset.documents]
  suffixes = [prompts.global_suffix(dataset.documents[i % len(documents)]) for i in range(args.suffixes)]
  config = sampling.SamplingConfig(max_new_tokens=args.new_tokens, batch_size=args.batch,
                                   prompt_buckets=(64, 128, 256))
  print(f"{args.suffixes} global augmentation suffixes (Reversal Curse targets), {args.batch} rows per batch,"
        f" {args.new_tokens} new tokens, greedy; median of {args.repeats} after a warm-up", flush=True)
  ours = sampling.SharedContextSampler(loaded, mesh, config, progress=False)
  gemma = GemmaLoopSampler(loaded, mesh, config, progress=False)
  longest = max(len(loaded.tokenizer.encode(s)) for s in suffixes)
  width = min(b for b in config.prompt_buckets if b >= longest)  # The suffixes' padded width, as the samplers pad.
  suffix_slots = width + args.new_tokens
  rows = []
  for tokens in contexts:
    context = scaling.build_context(loaded.tokenizer, documents, tokens)
    context_ids = loaded.tokenizer.encode(context, add_bos=True)
    prefill_s = scaling.median_time(lambda: jax.block_until_ready(ours._prepare(context_ids, suffix_slots)),  # pylint: disable=protected-access,cell-var-from-loop
                                    args.repeats)
    ours_s, ours_out = timed_sample(ours, context, suffixes, args.repeats)
    gemma_s, gemma_out = timed_sample(gemma, context, suffixes, args.repeats)
    cache_size = gemma._prepare(context_ids, suffix_slots)[0].cache_size  # pylint: disable=protected-access
    print(f"context {len(context_ids)} tokens: prefill {prefill_s:.2f} s, ours {ours_s:.2f} s, gemma's loop"
          f" {gemma_s:.2f} s", file=sys.stderr, flush=True)
    same = [g.token_ids for g in ours_out] == [g.token_ids for g in gemma_out]
    # Ours: the context's slots (`shared_context.context_layers`) and each row's suffix and sampled tokens.
    ours_kv = kv_bytes(loaded.config, shapes.round_up(len(context_ids), shared_context.CONTEXT_SLOTS_MULTIPLE)
                       + args.batch * (suffix_slots - 1), loaded.dtype)
    gemma_kv = kv_bytes(loaded.config, args.batch * cache_size, loaded.dtype)
    rows.append((str(len(context_ids)), f"{prefill_s:.2f}", f"{ours_s:.2f}", f"{gemma_s:.2f}",
                 f"{gemma_s / ours_s:.2f}x", f"{ours_kv / 2**20:.1f}", f"{gemma_kv / 2**20:.1f}",
                 "yes" if same else "NO"))
  scaling.print_table(
      "Sampling after a shared context (whole sample call: prefill, suffixes, decoding)",
      ("context tokens", "prefill s", "ours s", "gemma's loop, cache per row s", "ours faster by",
       "ours KV MiB", "per-row copies KV MiB", "same greedy tokens"), rows)
  print(f"(KV MiB: the keys and values each side decodes from, {args.batch} rows: ours holds the context once plus"
        f" {suffix_slots - 1} slots per row, gemma's loop {args.batch} copies of the context's cache.)")
  if not all(row[-1] == "yes" for row in rows):
    raise SystemExit("The two samplers' greedy tokens differ.")


if __name__ == "__main__":
  main()
