"""Batched, packed, sharded multiple-choice log-likelihood scoring.

Each item's prompt is run once and its choices branch off it (`packing.py`: a
prefix-sharing tree whose attention mask keeps sibling choices apart); trees are
packed into rows of `pack_length` tokens, `batch_size` rows per step but the last (which
takes the fewest of split x 2^k that hold its packs: less padding, and jit still compiles a
handful of shapes), split over the mesh's batch axes
(`sharding.batch_sharding`), and scored with float32 log-softmax at continuation
positions only. A choice's score does not depend on its row mates or padding.

With a shared `context` (in-context learning), the context is run through the
model once into a KV cache, and every packed row is scored as a suffix against
that cache (`model/shared_context.py`: one copy of it for all rows, and local
layers read only its last window): the cost grows with the questions' tokens,
not with the number of choices times the context length.
"""

from __future__ import annotations

from collections.abc import Sequence

import jax
import jax.numpy as jnp
import numpy as np
from jax.sharding import NamedSharding, PartitionSpec as P

from icl_ft_jax import progress as progress_lib, shapes, sharding as sharding_lib
from icl_ft_jax.errors import UserError
from icl_ft_jax.model import forward, kv_cache, shared_context
from icl_ft_jax.scoring import packing
from icl_ft_jax.scoring.records import ChoiceScore, MCItem, QuestionScore
from icl_ft_jax.scoring.tokenize import encode_pair

DEFAULT_PACK_LENGTH = 256  # Tokens per packed row: attention over a row stays ~10% of the blocks' cost.


class Scorer:
  """Scores multiple-choice items with a loaded gemma model.

      scorer = Scorer(loaded.model, loaded.params, loaded.tokenizer, mesh)
      scores = scorer.score([MCItem(prompt="The capital of France is",
                                    choices=(" Paris", " Rome"))])
      scores[0].prediction("sum")  # -> 0

  `batch_size` is packed rows per step (a multiple of the mesh's batch split), each
  `pack_length` tokens long (longer when one item's tree needs it).
  """

  def __init__(self, model, params, tokenizer, mesh: jax.sharding.Mesh, *, batch_size: int = 4,
               pack_length: int = DEFAULT_PACK_LENGTH,
               length_buckets: Sequence[int] = shapes.POWERS_OF_TWO,
               max_sequence_length: int = 32768, prefill_chunk: int = 1024, progress: bool = True):
    sharding_lib.check_batch_size(batch_size, mesh, "The scoring batch size (scoring.batch_size or .context_batch_size)")
    if pack_length < 1:
      raise UserError(f"scoring.pack_length must be >= 1, got {pack_length}.")
    self.model, self.params, self.tokenizer, self.mesh = model, params, tokenizer, mesh
    self.batch_size = batch_size
    self.pack_length = pack_length
    self.length_buckets = tuple(sorted(length_buckets))
    self.progress = progress
    self.batch_sharding = sharding_lib.batch_sharding(mesh)  # Rows are split over every batch device.
    self._split = sharding_lib.batch_split(mesh)
    self._replicated = NamedSharding(mesh, P())
    # Per-target outputs are tiny: replicate them so every host can read them (multi-host).
    self._score_packed = jax.jit(self._score_packed_impl, out_shardings=self._replicated)
    self._prefiller = kv_cache.Prefiller(model, mesh, max_sequence_length=max_sequence_length,
                                         chunk=prefill_chunk, length_buckets=self.length_buckets)
    self._context_layers = jax.jit(shared_context.context_layers, static_argnums=1, out_shardings=self._replicated)
    self._score_suffix = jax.jit(self._score_suffix_impl, out_shardings=self._replicated)

  # ------------------------------------------------------------------ public API

  def score(self, items: Sequence[MCItem], *, context: str | None = None,
            use_cache: bool = True, description: str = "scoring") -> list[QuestionScore]:
    """Scores every choice of every item, after an optional shared `context`.

    Args:
      items: Prompts with their choices.
      context: Text that precedes every prompt (e.g. the training documents). It
        is tokenized on its own, so callers should end it with a separator.
      use_cache: With a context, run it once into a KV cache (default) instead of
        re-running it for every item; both give the same numbers.
      description: Label of the progress bar.
    """
    context_ids = self.encode_context(context) if context is not None else None
    pairs = self._pairs(items, with_bos=context_ids is None)
    if context_ids is not None and not use_cache:
      pairs = [(i, j, context_ids + prompt, cont) for i, j, prompt, cont in pairs]
    # At most half a row's tokens are targets: their bucket stays `pack_length / 2` for full rows.
    packs = packing.pack(self._trees(pairs), self.pack_length, max_targets=self.pack_length // 2)
    if context_ids is not None and use_cache:
      longest = max(p.length for p in packs)
      prefilled = self._prefiller(self.params, context_ids, self._bucket(longest, "packed row"))
      context = self._context_layers(prefilled.cache, prefilled.length)
      del prefilled  # The layers keep only the context's own slots.
      run = lambda layout: self._score_suffix(self.params, context, *self._device_arrays(layout))
    else:
      run = lambda layout: self._score_packed(self.params, *self._device_arrays(layout))
    sums: dict[tuple[int, int], float] = {}
    greedy: dict[tuple[int, int], bool] = {}
    for layout in self._layouts(packs, description):
      logprobs, is_argmax = (np.asarray(x) for x in jax.device_get(run(layout)))
      for b, owners in enumerate(layout.owners):
        for g, owner in enumerate(owners):
          sums[owner] = sums.get(owner, 0.0) + float(logprobs[b, g])
          greedy[owner] = greedy.get(owner, True) and bool(is_argmax[b, g])
    return self._assemble(items, pairs, sums, greedy)

  def encode_context(self, context: str) -> tuple[int, ...]:
    return tuple(self.tokenizer.encode(context, add_bos=True))

  # ------------------------------------------------------------------ layout

  def _pairs(self, items: Sequence[MCItem], *, with_bos: bool):
    """(item, choice, prompt ids, continuation ids) for every choice, tokenized as lm-eval does."""
    pairs = []
    for i, item in enumerate(items):
      for j, choice in enumerate(item.choices):
        pair = encode_pair(self.tokenizer, item.prompt, choice, add_bos=with_bos)
        if not pair.prompt_ids:
          raise UserError(f"Item {i} has an empty prompt; with a shared context every item needs a prompt.")
        pairs.append((i, j, pair.prompt_ids, pair.continuation_ids))
    return pairs

  def _trees(self, pairs) -> list[packing.Tree]:
    """Each item's choices sharing its prompt (a benchmark overrides this with one tree per choice)."""
    return packing.trees_of(pairs)

  def _layouts(self, packs: list[packing.Pack], description: str):
    """Fixed-shape layouts of `batch_size` packs at a time (similar lengths together), with progress."""
    order = sorted(packs, key=lambda p: p.length)
    steps = [order[start:start + self.batch_size] for start in range(0, len(order), self.batch_size)]
    with progress_lib.progress_bar(sum(p.num_choices for p in packs), description=description, unit="choice",
                                   enabled=self.progress) as bar:
      for step in steps:
        length = self._bucket(max(p.length for p in step), "packed row")
        targets = self._bucket(max(p.num_targets for p in step), "choice")
        yield packing.layout(step, self.rows_for(len(step)), length, targets)
        bar.update(sum(p.num_choices for p in step))

  def rows_for(self, packs: int) -> int:
    """Rows of a step of `packs` packs: the fewest of split x 2^k that hold them, at most `batch_size`."""
    rows = self._split
    while rows < packs:
      rows *= 2
    return min(rows, self.batch_size)

  def _bucket(self, n: int, what: str) -> int:
    return shapes.bucket(n, self.length_buckets, what=what)

  def _device_arrays(self, layout: packing.Layout):
    return tuple(sharding_lib.global_batch(x, self.batch_sharding) for x in (
        layout.tokens, layout.positions, layout.tree, layout.branch, layout.gather, layout.targets, layout.mask))

  def _assemble(self, items, pairs, sums, greedy) -> list[QuestionScore]:
    per_item: list[list[ChoiceScore | None]] = [[None] * len(item.choices) for item in items]
    for i, j, _, continuation_ids in pairs:
      per_item[i][j] = ChoiceScore(logprob=sums[i, j], num_tokens=len(continuation_ids),
                                   num_chars=len(items[i].choices[j]), is_greedy=greedy[i, j])
    return [QuestionScore(choices=tuple(choices)) for choices in per_item]

  # ------------------------------------------------------------------ jitted kernels

  def _score_packed_impl(self, params, tokens, positions, tree, branch, gather, targets, mask):
    attention = tree_attention_mask(tree, branch)
    hidden, _ = forward.hidden_states(self.model, params, tokens, positions=positions, attention_mask=attention)
    return forward.target_logprobs(self.model, params, hidden, gather, targets, mask)

  def _score_suffix_impl(self, params, context, tokens, positions, tree, branch, gather, targets, mask):
    """Packed rows after the context (`shared_context`): every row sees the whole context, then its own tree."""
    hidden = shared_context.hidden_states(self.model, params, tokens, positions=positions + context["layer_0"].length,
                                          row_mask=tree_attention_mask(tree, branch), context=context)
    return forward.target_logprobs(self.model, params, hidden, gather, targets, mask)


def tree_attention_mask(tree, branch):
  """`[B, L, L]`: causal, within one tree, and a choice never sees a sibling choice (see packing.py)."""
  length = tree.shape[1]
  causal = jnp.tril(jnp.ones((length, length), bool))[None]
  same_tree = (tree[:, :, None] == tree[:, None, :]) & (tree[:, None, :] > 0)
  visible_branch = (branch[:, None, :] == 0) | (branch[:, None, :] == branch[:, :, None])
  return causal & same_tree & visible_branch
