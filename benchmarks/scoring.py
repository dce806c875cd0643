"""Scoring speed, measured side by side in one run on the embedded Gemma 3 270M.

  .venv/bin/python benchmarks/scoring.py [--model=gemma3-270m] [--repeats=3]

1. ICL with the shared-context KV cache vs scoring each (context + question +
   choice) from scratch, in a row of its own (what issue 14's 20x target was set
   against), and vs our own no-cache path (context + question once per question,
   its choices branching off): a ~1,000-token context, 20 questions x 4 choices.
2. Logits only at continuation positions vs unembedding every position (what
   `Transformer.__call__` does), on the same rows without context.
3. Packed rows whose choices share their question's prompt vs one padded row per
   (prompt, choice) pair, without context.
Both sides must give identical answers. Prints a table; times exclude compilation
(a warm-up call on the same items compiles every shape first); the median of `--repeats`.
"""

from __future__ import annotations

import argparse
import platform
import statistics
import time

import jax
import jax.numpy as jnp
import tabulate

from icl_ft_jax import families
from icl_ft_jax import sharding
from icl_ft_jax.model import loading
from icl_ft_jax.scoring import MCItem, Scorer, packing
from icl_ft_jax.scoring.scorer import tree_attention_mask


class FullLogitsScorer(Scorer):
  """The baseline: unembed all positions ([B, L, 262144]), then gather."""

  def _score_packed_impl(self, params, tokens, positions, tree, branch, gather, targets, mask):
    attention = tree_attention_mask(tree, branch)
    logits = self.model.apply({"params": params}, tokens, positions=positions,
                              attention_mask=attention).logits.astype(jnp.float32)
    picked = jnp.take_along_axis(logits, gather[..., None], axis=1)
    target_lp = jnp.take_along_axis(jax.nn.log_softmax(picked, axis=-1), targets[..., None], axis=-1)[..., 0]
    greedy = jnp.argmax(picked, -1) == targets
    return jnp.where(mask, target_lp, 0.0), jnp.where(mask, greedy, True)


class RowPerChoiceScorer(Scorer):
  """The baseline: every (prompt, choice) pair in a row of its own, padded to its length bucket."""

  def _trees(self, pairs):
    return [packing.Tree(item, tuple(prompt), ((choice, tuple(cont)),)) for item, choice, prompt, cont in pairs]


def timed(fn, repeats: int) -> tuple[float, object]:
  """Median wall time of `fn` after one warm-up call that compiles every shape it runs."""
  fn()
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    result = fn()
    times.append(time.perf_counter() - start)
  return statistics.median(times), result


def workload(tokenizer, context_tokens: int, num_questions: int = 20):
  dataset = families.build_dataset({"family": "reversal_curse", "celebrities_per_group": 10, "train_templates": 3})
  documents, context = [d.text for d in dataset.documents], ""
  for text in documents:
    if len(tokenizer.encode(context + text + "\n\n")) > context_tokens:
      break
    context += text + "\n\n"
  questions = dataset.splits["reversal"][:num_questions]
  items = [MCItem(prompt=q.prompt, choices=q.choices) for q in questions]
  return context, items


def prefixed_items(context: str, items: list[MCItem], prefix_chars: int = 400) -> list[MCItem]:
  """The items after the context's first characters: ~110-token rows, where the unembedding of every position shows."""
  return [MCItem(prompt=context[:prefix_chars] + it.prompt, choices=it.choices) for it in items]


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--model", default="gemma3-270m")
  parser.add_argument("--tokenizer", default="", help="SentencePiece file (default: the model's own; random-init models: the embedded model's, converted on first use)")
  parser.add_argument("--repeats", type=int, default=1)
  parser.add_argument("--context_tokens", type=int, default=1000)
  parser.add_argument("--batch_size", type=int, default=4)
  args = parser.parse_args()

  mesh = sharding.make_mesh({"data": 1}, devices=jax.devices()[:1])
  loaded = loading.load_model({"name": args.model, "tokenizer": args.tokenizer}, mesh=mesh)
  context, items = workload(loaded.tokenizer, args.context_tokens)
  scorer_options = dict(batch_size=args.batch_size, progress=False)
  ours = Scorer(loaded.model, loaded.params, loaded.tokenizer, mesh, **scorer_options)
  baseline = FullLogitsScorer(loaded.model, loaded.params, loaded.tokenizer, mesh, **scorer_options)
  num_context_tokens = len(ours.encode_context(context))
  long_items = prefixed_items(context, items)  # Longer prompts for the unembedding comparison.

  def compare(ours_label, baseline_label, ours_score, baseline_score, workload_items, **kwargs):
    """Times both sides on the same items and checks they agree."""
    t_ours, ours_result = timed(lambda: ours_score(workload_items, **kwargs), args.repeats)
    t_base, base_result = timed(lambda: baseline_score(workload_items, **kwargs), args.repeats)
    same = [a.prediction() for a in ours_result] == [b.prediction() for b in base_result]
    diff = max(abs(a.logprob - b.logprob) for x, y in zip(ours_result, base_result)
               for a, b in zip(x.choices, y.choices))
    rows.append((ours_label, baseline_label, t_ours, t_base, same, diff))
    print("measured:", rows[-1], flush=True)

  rows = []
  # One row per choice, batch 4x as many rows, each padded only to a multiple of 64 tokens (as a user
  # padding to the batch's longest row would, near enough), not to the scorer's power-of-two buckets.
  per_choice = RowPerChoiceScorer(loaded.model, loaded.params, loaded.tokenizer, mesh, pack_length=1,
                                  batch_size=args.batch_size * 4, length_buckets=range(64, 8193, 64),
                                  progress=False)
  compare("ICL, shared-context cache", "ICL, each choice's row from scratch", ours.score,
          lambda it, **k: per_choice.score(it, use_cache=False, **k), items, context=context)
  compare("ICL, shared-context cache", "ICL, each question from scratch", ours.score,
          lambda it, **k: ours.score(it, use_cache=False, **k), items, context=context)
  compare("continuation-only logits", "all-position logits", ours.score, baseline.score, long_items)
  compare("packed, choices share the prompt", "a padded row per choice", ours.score, per_choice.score, long_items)

  print(f"model {args.model} ({jnp.dtype(loaded.dtype).name}) on {jax.devices()[0].device_kind}, {platform.processor() or platform.machine()},"
        f" {jax.local_device_count()} device(s); context {num_context_tokens} tokens;"
        f" {len(items)} questions x {len(items[0].choices)} choices; batch {args.batch_size}; median of {args.repeats}")
  header = ("ours", "baseline", "ours s", "baseline s", "speed-up", "same answers", "max |dlogprob|")
  table = [(a, b, f"{x:.2f}", f"{y:.2f}", f"{y / x:.1f}x", str(s), f"{d:.1e}") for a, b, x, y, s, d in rows]
  print(tabulate.tabulate(table, headers=header, disable_numparse=True))


if __name__ == "__main__":
  main()
