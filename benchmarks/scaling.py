"""How cost grows: ICL scoring against no-context scoring and context length, the FT step against length.

  python benchmarks/scaling.py [--model=gemma3-270m] [--repeats=3] [--remat]
  python benchmarks/scaling.py --model=tiny --quick          # seconds: the smoke test's run

Measured in one run, on one device (the CPU by default), the project's own code throughout:
1. ICL vs no-context scoring: the same questions x choices (Reversal Curse), scored without
   context and after a shared context of `--icl_context` tokens through `Scorer` (the context
   prefilled once into a KV cache). Issue 14's target: ICL scoring (the prefill excluded)
   <= 1.3x the no-context scoring.
2. ICL scoring against context length (`--contexts`): prefill and scoring seconds, their model
   FLOPs (`icl_ft_jax.cost`) and achieved GFLOP/s; beside our prefill, gemma's own cache-path
   prefill (`GemmaCachePrefiller`, up to `--gemma_prefill_up_to` tokens).
3. The full fine-tuning step (`train_step.CompiledStep`, config defaults) against sequence length
   (`--lengths`), and with `train.remat_blocks` under `--remat`.
Each growth gets a fitted log-log slope (time against length), printed beside three predictions,
the slopes of FLOP counts over the same lengths: "model" is `icl_ft_jax.cost`'s count (every
layer attends causally: half the keys in a prefill); "dense" is what the code executes (every key
slot it is handed, masked or not: see `prefill_flops` and `scoring_flops`); "windowed"
is Gemma 3's design (local layers attend only their `sliding_window_size` keys, so only the
global layers grow with the context). Times exclude compilation (a warm-up run of the same
shapes first) and are the median of `--repeats`.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import platform
import statistics
import sys
import time
from collections.abc import Callable, Sequence

import jax
import jax.numpy as jnp
import numpy as np
import tabulate

from icl_ft_jax import cost, families, shapes, sharding
from icl_ft_jax.model import forward, kv_cache, loading, shared_context
from icl_ft_jax.scoring import MCItem, Scorer
from icl_ft_jax.scoring import scorer as scorer_lib

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))
import train_step  # pylint: disable=g-import-not-at-top,wrong-import-position  # benchmarks/train_step.py.

ICL_TARGET = 1.3  # Issue 14: ICL scoring <= 1.3x no-context scoring, plus the one prefill.
QUICK = {"contexts": "256,512", "lengths": "32,64", "questions": 6, "icl_context": 384}


# ------------------------------------------------------------------ arithmetic


@dataclasses.dataclass(frozen=True)
class Attention:
  """Which layers attend globally, and the local layers' window (Gemma 3: 5 local to 1 global)."""

  global_fraction: float
  window: int

  @classmethod
  def of(cls, config) -> Attention:
    kinds = [kind.name for kind in config.attention_types]
    return cls(kinds.count("GLOBAL") / len(kinds), config.sliding_window_size or 0)

  def causal_keys(self, length: int) -> float:
    """Mean keys a query of a causal `length`-token sequence sees in a local layer (all of them if
    the window is 0)."""
    w = self.window if self.window and self.window < length else length
    return (w * (w + 1) / 2 + (length - w) * w) / length

  def mix(self, global_flops: float, local_flops: float) -> float:
    return self.global_fraction * global_flops + (1 - self.global_fraction) * local_flops


class ExactTokens:
  """`cost.TokenEstimate`'s interface with the tokenizer's own counts (the benchmark has the model)."""

  def __init__(self, tokenizer):
    self.tokenizer = tokenizer

  def question(self, text: str) -> int:
    return max(1, len(self.tokenizer.encode(text)))


@dataclasses.dataclass(frozen=True)
class Flops:
  """One workload's FLOPs counted three ways (see the module docstring)."""

  model: float
  dense: float
  windowed: float


def prefill_flops(shape: cost.Shape, attention: Attention, run: ScoringRun) -> Flops:
  """The context once into the cache, `run.chunk` tokens at a time (`kv_cache.Prefiller`).

  "dense" is what runs: each chunk scores its own keys and, after the first chunk, the cache's
  slots before it: every slot in a global layer, the last window in a local one (`shared_context`).
  """
  c, chunk, later = run.context_tokens, run.chunk, run.padded_context - run.chunk
  local_slots = min(run.cache_size, attention.window) if attention.window else run.cache_size
  dense = 2 * shape.block_params * run.padded_context + shape.attention_flops(run.padded_context, chunk) + (
      attention.mix(shape.attention_flops(later, run.cache_size), shape.attention_flops(later, local_slots)))
  windowed = attention.mix(cost.forward_flops(shape, c, c / 2, 0),
                           cost.forward_flops(shape, c, attention.causal_keys(c), 0))
  return Flops(cost.prefill_flops(shape, c), dense, windowed)


def gemma_prefill_flops(shape: cost.Shape, run: ScoringRun) -> float:
  """gemma's cache path (`GemmaCachePrefiller`): every chunk scores every cache slot in every layer."""
  return 2 * shape.block_params * run.padded_context + shape.attention_flops(run.padded_context, run.cache_size)


def scoring_flops(shape: cost.Shape, attention: Attention, questions, tokens: ExactTokens, run: ScoringRun) -> Flops:
  """The packed rows after the context: each row token attends to the context's keys and its own tree.

  "dense" is what runs: every key a row is handed, masked or not. The project's scorer hands global
  layers the context's slots (`shared_context`) and local layers their last window; gemma's cache
  path (`run.per_row_cache`) hands every layer every slot of the cache.
  """
  c = run.context_tokens
  at = lambda context: cost.scoring_flops(shape, questions, tokens, context)

  def executed(b: int, length: int, targets: int) -> float:
    matmuls = 2 * shape.block_params * b * length + 2 * shape.embed_params * b * targets
    if not c:
      return matmuls + shape.attention_flops(b * length, length)
    if run.per_row_cache:
      return matmuls + shape.attention_flops(b * length, run.cache_size)
    slots = shapes.round_up(c, shared_context.CONTEXT_SLOTS_MULTIPLE)
    local_slots = min(slots, attention.window) if attention.window else slots
    return matmuls + attention.mix(shape.attention_flops(b * length, slots + length),
                                   shape.attention_flops(b * length, local_slots + length))

  windowed = attention.mix(at(c), at(min(c, attention.window) if attention.window else c))
  return Flops(at(c), sum(executed(*step) for step in run.steps), windowed)


def train_flops(shape: cost.Shape, attention: Attention, tuning, batch: int, length: int) -> Flops:
  """One step (forward and backward: 3x the forward's attention); dense: every (query, key) pair of the row."""
  model = cost.train_step_flops(shape, tuning, batch, length)
  attend = lambda keys: 3 * shape.attention_flops(batch * length, keys)
  return Flops(model, model - attend(length / 2) + attend(length),
               model - (1 - attention.global_fraction) * (attend(length / 2) - attend(attention.causal_keys(length))))


def slope(lengths: Sequence[float], values: Sequence[float]) -> float:
  """The least-squares slope of log(value) against log(length): 1 linear, 2 quadratic."""
  return float(np.polyfit(np.log(lengths), np.log(values), 1)[0])


# ------------------------------------------------------------------ measuring


def median_time(fn: Callable[[], object], repeats: int) -> float:
  """Median seconds of `fn` over `repeats` calls, after one warm-up call that compiles its shapes."""
  fn()
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    fn()
    times.append(time.perf_counter() - start)
  return statistics.median(times)


class _TimedPrefill:
  """Wraps the scorer's prefiller: seconds of each prefill (blocked until the cache is ready) and its cache."""

  def __init__(self, prefiller):
    self.prefiller, self.seconds, self.last = prefiller, [], None

  def __call__(self, *args, **kwargs):
    start = time.perf_counter()
    self.last = self.prefiller(*args, **kwargs)
    jax.block_until_ready(self.last.cache)
    self.seconds.append(time.perf_counter() - start)
    return self.last


class MeasuredScorer(Scorer):
  """The project's scorer, timing its prefill and recording each step's rows, row length and targets."""

  def __init__(self, *args, **kwargs):
    super().__init__(*args, **kwargs)
    self._prefiller = _TimedPrefill(self._prefiller)
    self.steps: list[tuple[int, int, int]] = []

  def _device_arrays(self, layout):
    self.steps.append((*layout.tokens.shape, layout.gather.shape[1]))
    return super()._device_arrays(layout)


class GemmaCachePrefiller(kv_cache.Prefiller):
  """The alternative, side by side: each chunk through gemma's own KV-cache attention, which scores
  every slot of the cache in every layer (local ones too). The project's prefill did this before it
  went through `shared_context`; the caches are the same (`tests/model/test_kv_cache.py`)."""

  def _prefill_impl(self, params, cache, tokens, start, length, first: bool):
    del first  # Every chunk scores every slot here.
    chunk = tokens.shape[1]
    query = start + jnp.arange(chunk)[:, None]
    key = jnp.arange(kv_cache.cache_length(cache))[None, :]
    mask = ((key <= query) & (key < length))[None]
    positions = (start + jnp.arange(chunk))[None]
    return forward.hidden_states(self.model, params, tokens, positions=positions, attention_mask=mask,
                                 cache=cache)[1]


def measure_gemma_prefill(scorer: Scorer, context: str, run: ScoringRun, repeats: int) -> float:
  """Median seconds of `GemmaCachePrefiller` on the context `run` prefilled (same chunk and cache room)."""
  ours = scorer._prefiller.prefiller  # pylint: disable=protected-access
  gemma = GemmaCachePrefiller(scorer.model, scorer.mesh, max_sequence_length=ours.max_sequence_length,
                              chunk=ours.chunk, length_buckets=ours.length_buckets)
  context_ids = scorer.encode_context(context)
  room = run.cache_size - run.padded_context  # Gives the same cache size.
  prefill = lambda: jax.block_until_ready(gemma(scorer.params, context_ids, room).cache)
  return median_time(prefill, repeats)


class GemmaCacheScorer(MeasuredScorer):
  """The alternative, side by side: rows after the context through gemma's own KV-cache attention, which
  needs each row's own copy of the context's cache (`kv_cache.expand`) and scores every slot of it in
  every layer. The project's scorer did this before `shared_context`; the numbers are the same."""

  def __init__(self, *args, **kwargs):
    super().__init__(*args, **kwargs)
    self._context_layers = lambda cache, length: (cache, np.int32(length))

  def _score_suffix_impl(self, params, context, tokens, positions, tree, branch, gather, targets, mask):
    cache, context_length = context
    batch, length = tokens.shape
    cache = kv_cache.expand(cache, context_length, batch, self.batch_sharding)
    key = jnp.arange(kv_cache.cache_length(cache))
    in_row = scorer_lib.tree_attention_mask(tree, branch)
    row_part = jnp.take(in_row, jnp.clip(key - context_length, 0, length - 1), axis=2)  # Slot c + k: row token k.
    in_suffix = (key >= context_length) & (key < context_length + length)
    attention = jnp.where(in_suffix[None, None], row_part, (key < context_length)[None, None])
    hidden, _ = forward.hidden_states(self.model, params, tokens, positions=positions + context_length,
                                      attention_mask=attention, cache=cache)
    return forward.target_logprobs(self.model, params, hidden, gather, targets, mask)


@dataclasses.dataclass(frozen=True)
class ScoringRun:
  """Median seconds of one scoring workload, and the shapes it ran (for the dense FLOPs)."""

  context_tokens: int  # 0 without context.
  prefill_s: float
  scoring_s: float  # The scorer's call less its prefill.
  padded_context: int  # The context padded to whole prefill chunks.
  chunk: int  # Tokens per prefill chunk (0 without context).
  cache_size: int  # Slots of the KV cache every row attends to (0 without context).
  steps: tuple[tuple[int, int, int], ...]  # (rows, row length, targets) of each jitted step.
  per_row_cache: bool = False  # Scored through gemma's cache path (`GemmaCacheScorer`).


def measure_scoring(scorer: MeasuredScorer, items: Sequence[MCItem], context: str | None, repeats: int) -> ScoringRun:
  """Scores `items` after `context` once to compile, then `repeats` times: median prefill and scoring seconds."""
  prefills, scorings = [], []
  for attempt in range(repeats + 1):
    scorer.steps, scorer._prefiller.seconds = [], []  # pylint: disable=protected-access
    start = time.perf_counter()
    scorer.score(items, context=context)
    total = time.perf_counter() - start
    prefill = sum(scorer._prefiller.seconds)  # pylint: disable=protected-access
    if attempt:
      prefills.append(prefill)
      scorings.append(total - prefill)
  if context is None:
    return ScoringRun(0, 0.0, statistics.median(scorings), 0, 0, 0, tuple(scorer.steps))
  cached = scorer._prefiller.last  # pylint: disable=protected-access
  chunk = min(scorer._prefiller.prefiller.chunk, shapes.bucket(cached.length, scorer.length_buckets, what="context"))  # pylint: disable=protected-access
  return ScoringRun(cached.length, statistics.median(prefills), statistics.median(scorings),
                    shapes.round_up(cached.length, chunk), chunk, cached.cache_size, tuple(scorer.steps),
                    isinstance(scorer, GemmaCacheScorer))


def build_context(tokenizer, documents: Sequence[str], max_tokens: int) -> str:
  """The documents, cycled as often as needed, to at most `max_tokens` tokens with BOS (as the scorer counts)."""
  counts = [len(tokenizer.encode(text + "\n\n")) for text in documents]
  chosen, total, i = [], 1, 0
  while total + counts[i % len(documents)] <= max_tokens:
    chosen.append(documents[i % len(documents)] + "\n\n")
    total += counts[i % len(documents)]
    i += 1
  while chosen and len(tokenizer.encode("".join(chosen), add_bos=True)) > max_tokens:
    chosen.pop()  # Tokens merge across documents: per-document counts are close, not exact.
  if not chosen:
    raise SystemExit(f"A context of {max_tokens} tokens holds no whole document; ask for more tokens.")
  return "".join(chosen)


# ------------------------------------------------------------------ report


def machine_line(model: str, dtype, matmul_gflops: float) -> str:
  device = jax.devices()[0]
  load = " ".join(f"{x:.2f}" for x in os.getloadavg())
  return (f"machine: {platform.platform()}, {platform.processor() or platform.machine()}, {os.cpu_count()} CPUs,"
          f" device {device.platform} {getattr(device, 'device_kind', '')} (one used), load average {load};"
          f" model {model} ({jnp.dtype(dtype).name}); measured matmul rate {matmul_gflops:.1f} GFLOP/s")


def gflop(flops: float) -> str:
  value = flops / 1e9
  return f"{value:.1f}" if value >= 10 else f"{value:.3g}"


def print_table(title: str, header: Sequence[str], rows: Sequence[Sequence[object]]) -> None:
  print(f"\n{title}\n")
  print(tabulate.tabulate(rows, headers=header, tablefmt="github", disable_numparse=True), flush=True)


def slope_row(name: str, lengths: Sequence[float], seconds: Sequence[float], flops: Sequence[Flops]) -> list[str]:
  predicted = [slope(lengths, [getattr(f, kind) for f in flops]) for kind in ("model", "dense", "windowed")]
  return [name, f"{slope(lengths, seconds):.2f}", *(f"{p:.2f}" for p in predicted)]


SLOPE_HEADER = ("growth", "measured slope", "model FLOPs slope", "dense slope", "windowed slope")


def parse_ints(text: str, flag: str) -> tuple[int, ...]:
  try:
    values = tuple(int(x) for x in text.split(","))
  except ValueError:
    raise SystemExit(f"--{flag} takes comma-separated integers, got {text!r}.") from None
  if len(values) < 2 or min(values) < 1:
    raise SystemExit(f"--{flag} needs at least two lengths >= 1 (for the slope), got {text!r}.")
  return values


def apply_quick(parser: argparse.ArgumentParser, args: argparse.Namespace, quick: dict[str, object]) -> None:
  """Under `--quick`, the `quick` sizes for every flag left at its default."""
  if args.quick:
    defaults = {action.dest: action.default for action in parser._actions}  # pylint: disable=protected-access
    for key, value in quick.items():
      if getattr(args, key) == defaults[key]:
        setattr(args, key, value)


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--model", default="gemma3-270m")
  parser.add_argument("--dtype", default="float32")
  parser.add_argument("--repeats", type=int, default=3)
  parser.add_argument("--quick", action="store_true", help="tiny sizes, for a smoke test: " + str(QUICK))
  parser.add_argument("--questions", type=int, default=50, help="Reversal Curse questions (4 choices each)")
  parser.add_argument("--icl_context", type=int, default=1451, help="context tokens of part 1 (the quickstart's)")
  parser.add_argument("--contexts", default="1024,4096,16384", help="context tokens of part 2")
  parser.add_argument("--lengths", default="64,128,256,512", help="FT row lengths of part 3")
  parser.add_argument("--batch", type=int, default=8, help="FT rows per step")
  parser.add_argument("--batch_size", type=int, default=4, help="packed rows per scoring step without context")
  parser.add_argument("--context_batch_size", type=int, default=1, help="packed rows per step after a context")
  parser.add_argument("--remat", action="store_true", help="also time the FT step with train.remat_blocks")
  parser.add_argument("--gemma_prefill_up_to", type=int, default=4096,
                      help="part 2: also time gemma's cache-path prefill at contexts up to this many tokens")
  parser.add_argument("--skip", default="", help="parts to leave out, e.g. 'ft' or 'icl,contexts'")
  args = parser.parse_args()
  apply_quick(parser, args, QUICK)
  contexts, lengths = parse_ints(args.contexts, "contexts"), parse_ints(args.lengths, "lengths")
  skip = set(filter(None, args.skip.split(",")))
  if args.repeats < 1 or args.questions < 1 or skip - {"icl", "contexts", "ft"}:
    raise SystemExit("--repeats and --questions must be >= 1; --skip takes icl, contexts, ft.")

  mesh = sharding.make_mesh({"data": 1}, devices=jax.devices()[:1])
  loaded = loading.load_model({"name": args.model, "dtype": args.dtype}, mesh=mesh)
  shape, attention = cost.Shape.of(loaded.config), Attention.of(loaded.config)
  matmul = train_step.matmul_rate(loaded.dtype, 512 if args.quick else 2048)
  print(machine_line(args.model, loaded.dtype, matmul / 1e9))
  print(f"scoring: {args.questions} Reversal Curse questions x 4 choices; {args.batch_size} packed rows per step"
        f" without context, {args.context_batch_size} with; fine-tuning: batch {args.batch}, full, config defaults;"
        f" median of {args.repeats} after a warm-up; {attention.global_fraction:.0%} of layers global, local"
        f" window {attention.window}", flush=True)

  dataset = families.build_dataset({"family": "reversal_curse", "celebrities_per_group": 10, "train_templates": 3})
  questions = dataset.splits["reversal"][:args.questions]
  items = [MCItem(prompt=q.prompt, choices=q.choices) for q in questions]
  documents = [d.text for d in dataset.documents]
  tokens = ExactTokens(loaded.tokenizer)
  scorer = lambda batch, kind=MeasuredScorer: kind(loaded.model, loaded.params, loaded.tokenizer, mesh,
                                                  batch_size=batch, max_sequence_length=loaded.spec.max_sequence_length,
                                                  progress=False)
  plain, with_context = scorer(args.batch_size), scorer(args.context_batch_size)

  if not skip >= {"icl", "contexts"}:
    none = measure_scoring(plain, items, None, args.repeats)
    none_flops = scoring_flops(shape, attention, questions, tokens, none)
  if "icl" not in skip:
    context = build_context(loaded.tokenizer, documents, args.icl_context)
    icl = measure_scoring(with_context, items, context, args.repeats)
    per_row = measure_scoring(scorer(args.context_batch_size, GemmaCacheScorer), items, context, args.repeats)
    rows = [("no context", "0", "-", f"{none.scoring_s:.3f}", "1.00", "", gflop(none_flops.dense),
             gflop(none_flops.model), gflop(none_flops.model / none.scoring_s))]
    for name, run in (("ICL, shared context (ours)", icl), ("ICL, gemma's cache copied per row", per_row)):
      ratio = run.scoring_s / none.scoring_s
      run_flops = scoring_flops(shape, attention, questions, tokens, run)
      rows.append((name, str(run.context_tokens), f"{run.prefill_s:.3f}", f"{run.scoring_s:.3f}", f"{ratio:.2f}",
                   f"<= {ICL_TARGET}x: {'met' if ratio <= ICL_TARGET else 'not met'}", gflop(run_flops.dense),
                   gflop(run_flops.model), gflop(run_flops.model / run.scoring_s)))
    print_table("1. ICL vs no-context scoring (same rows; ICL scoring excludes its one prefill)",
                ("scoring", "context tokens", "prefill s", "scoring s", "scoring / no-context", "target",
                 "executed GFLOP", "model GFLOP", "model GFLOP/s"), rows)

  if "contexts" not in skip:
    texts = [build_context(loaded.tokenizer, documents, c) for c in contexts]
    runs = [measure_scoring(with_context, items, text, args.repeats) for text in texts]
    gemma_prefill = [measure_gemma_prefill(with_context, text, run, args.repeats)
                     if c <= args.gemma_prefill_up_to else None for c, text, run in zip(contexts, texts, runs)]
    print_gemma = lambda t, r: "-" if t is None else f"{t:.3f} ({t / r.prefill_s:.2f}x)"
    prefill = [prefill_flops(shape, attention, r) for r in runs]
    scoring = [scoring_flops(shape, attention, questions, tokens, r) for r in runs]
    print_table("2. ICL scoring against context length (model GFLOP: icl_ft_jax.cost)",
                ("context tokens", "prefill s", "prefill model GFLOP", "prefill GFLOP/s",
                 "gemma's cache-path prefill s (/ ours)", "scoring s", "scoring model GFLOP", "scoring GFLOP/s",
                 "scoring / no-context"),
                [(str(r.context_tokens), f"{r.prefill_s:.3f}", gflop(p.model),
                  gflop(p.model / r.prefill_s), print_gemma(g, r), f"{r.scoring_s:.3f}", gflop(s.model),
                  gflop(s.model / r.scoring_s), f"{r.scoring_s / none.scoring_s:.2f}")
                 for r, p, s, g in zip(runs, prefill, scoring, gemma_prefill)])
    measured = [r.context_tokens for r in runs]
    slopes = [slope_row("prefill", measured, [r.prefill_s for r in runs], prefill),
              slope_row("ICL scoring", measured, [r.scoring_s for r in runs], scoring)]
    timed = [i for i, g in enumerate(gemma_prefill) if g is not None]
    if len(timed) >= 2:  # Its "dense" count is what gemma's path executes; model and windowed are the same.
      slopes.append(slope_row("prefill, gemma's cache path", [measured[i] for i in timed],
                              [gemma_prefill[i] for i in timed],
                              [dataclasses.replace(prefill[i], dense=gemma_prefill_flops(shape, runs[i]))
                               for i in timed]))
    print_table("Slopes of log time against log context tokens (1: linear, 2: quadratic)", SLOPE_HEADER, slopes)

  if "ft" not in skip:
    variants = [("full", False)] + ([("full, remat_blocks", True)] if args.remat else [])
    table, slopes = [], []
    for name, remat in variants:
      times, flops = [], []
      for length in lengths:
        config = train_step.finetune_config(train_step.VARIANTS["full"], args.batch, length,
                                            train_step.DEFAULT_LOOP.loss_chunk_length)
        config = dataclasses.replace(config, loop=dataclasses.replace(config.loop, remat_blocks=remat))
        compiled = train_step.CompiledStep.build(loaded, mesh, config)
        times.append(statistics.median(compiled.run(args.repeats)[0]))
        del compiled  # Its optimizer state, before the next length's.
        flops.append(train_flops(shape, attention, config.tuning, args.batch, length))
        table.append((name, str(length), f"{times[-1]:.3f}", f"{args.batch * length / times[-1]:.0f}",
                      gflop(flops[-1].model), gflop(flops[-1].model / times[-1]),
                      f"{flops[-1].model / times[-1] / matmul:.0%}"))
        print("measured:", table[-1], flush=True)
      slopes.append(slope_row(f"FT step, {name}", lengths, times, flops))
    print_table(f"3. Fine-tuning step against sequence length (batch {args.batch}; model GFLOP: cost.train_step_flops)",
                ("variant", "length", "step s", "tokens/s", "model GFLOP", "GFLOP/s", "of matmul"), table)
    print_table("Slopes of log step time against log length", SLOPE_HEADER, slopes)
  print(f"\nload average at the end: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
  main()
