"""Multiple-choice items laid out as prefix-sharing trees packed into fixed-length rows.

A question's choices share its prompt: scoring four choices as four rows runs the
prompt four times. Here each item becomes a *tree*, its prompt tokens once and then
each choice's tokens, and trees are packed first-fit into rows of `pack_length`
tokens. Every token carries three ids that define what it may attend to:

* `tree` (0 = padding): tokens only see tokens of their own tree;
* `branch` (0 = the prompt, j + 1 = choice j): a choice token sees the prompt and
  its own choice, never a sibling choice;
* its slot: causal within the row.

Positions restart per tree (a choice's first token follows the prompt's last), so
each choice is scored exactly as if it were alone in its own row after its prompt.
Pure numpy: the scorer turns the ids into an attention mask inside jit.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np


@dataclasses.dataclass(frozen=True)
class Tree:
  """One item's prompt and the choices that follow it (choice index, continuation ids)."""

  item_index: int  # The item's position in the scorer's input.
  prompt_ids: tuple[int, ...]
  continuations: tuple[tuple[int, tuple[int, ...]], ...]

  @property
  def length(self) -> int:
    return len(self.prompt_ids) + sum(len(ids) for _, ids in self.continuations)

  @property
  def num_targets(self) -> int:
    return sum(len(ids) for _, ids in self.continuations)


@dataclasses.dataclass(frozen=True)
class Pack:
  """Trees that share one row; `length` and `num_targets` before bucketing."""

  trees: tuple[Tree, ...]

  @property
  def length(self) -> int:
    return sum(t.length for t in self.trees)

  @property
  def num_targets(self) -> int:
    return sum(t.num_targets for t in self.trees)

  @property
  def num_choices(self) -> int:
    return sum(len(t.continuations) for t in self.trees)


def trees_of(pairs: Sequence[tuple[int, int, tuple[int, ...], tuple[int, ...]]]) -> list[Tree]:
  """(item, choice, prompt ids, continuation ids) -> trees, one per item and distinct prompt.

  Joint tokenization can give one choice other prompt ids than its siblings (a merge
  across the boundary); such a choice gets a tree of its own, so sharing never
  changes a score.
  """
  groups: dict[tuple[int, tuple[int, ...]], list[tuple[int, tuple[int, ...]]]] = {}
  for item, choice, prompt_ids, continuation_ids in pairs:
    groups.setdefault((item, tuple(prompt_ids)), []).append((choice, tuple(continuation_ids)))
  return [Tree(item, prompt, tuple(conts)) for (item, prompt), conts in groups.items()]


def pack(trees: Sequence[Tree], pack_length: int, max_targets: int | None = None) -> list[Pack]:
  """First-fit-decreasing packing; a tree longer than `pack_length` gets a row of its own.

  `max_targets` also caps a row's targets (a tree with more gets a row of its own): a step's
  targets are padded to one bucket for all its rows, so one row just over a bucket's edge would
  double every row's unembedding.
  """
  order = sorted(range(len(trees)), key=lambda k: (-trees[k].length, k))
  rows: list[list[Tree]] = []
  used: list[tuple[int, int]] = []  # (tokens, targets) of each row.
  target_cap = max_targets if max_targets is not None else float("inf")
  for k in order:
    tree = trees[k]
    row = next((r for r, (tokens, targets) in enumerate(used)
                if tokens + tree.length <= pack_length and targets + tree.num_targets <= target_cap), None)
    if row is None:
      rows.append([tree])
      used.append((tree.length, tree.num_targets))
    else:
      rows[row].append(tree)
      used[row] = (used[row][0] + tree.length, used[row][1] + tree.num_targets)
  return [Pack(tuple(row)) for row in rows]


@dataclasses.dataclass(frozen=True)
class Layout:
  """Arrays of a batch of packs, `[B, L]` token ids and `[B, G]` targets.

  `owners[b][g]` is the (item, choice) that target `g` of row `b` belongs to.
  """

  tokens: np.ndarray  # [B, L] int32, 0 on padding.
  positions: np.ndarray  # [B, L] int32, restarting at 0 per tree.
  tree: np.ndarray  # [B, L] int32, 0 on padding.
  branch: np.ndarray  # [B, L] int32, 0 for prompt tokens, j + 1 for choice j.
  gather: np.ndarray  # [B, G] int32: the slot whose hidden state predicts the target.
  targets: np.ndarray  # [B, G] int32.
  mask: np.ndarray  # [B, G] bool: real targets.
  owners: tuple[tuple[tuple[int, int], ...], ...]


def layout(packs: Sequence[Pack], batch: int, length: int, num_targets: int) -> Layout:
  """Lays out `packs` (at most `batch`) into fixed `[batch, length]` / `[batch, num_targets]` arrays."""
  shape, target_shape = (batch, length), (batch, num_targets)
  # Padding is zeros: tree id 0 and mask False hide it, so its token id is never read.
  tokens, positions = np.zeros(shape, np.int32), np.zeros(shape, np.int32)
  tree_ids, branch = np.zeros(shape, np.int32), np.zeros(shape, np.int32)
  gather, targets = np.zeros(target_shape, np.int32), np.zeros(target_shape, np.int32)
  mask = np.zeros(target_shape, bool)
  owners = []
  for b, one_pack in enumerate(packs):
    slot, g, row_owners = 0, 0, []
    for t, tree in enumerate(one_pack.trees, start=1):
      prompt = len(tree.prompt_ids)
      span = slice(slot, slot + prompt)
      tokens[b, span], positions[b, span], tree_ids[b, span] = tree.prompt_ids, np.arange(prompt), t
      last_prompt_slot = slot + prompt - 1
      slot += prompt
      for j, (choice, ids) in enumerate(tree.continuations, start=1):
        n = len(ids)
        span = slice(slot, slot + n)
        tokens[b, span], positions[b, span] = ids, prompt + np.arange(n)
        tree_ids[b, span], branch[b, span] = t, j
        # Token u of the choice is predicted by the slot before it: the prompt's last for u = 0.
        gather[b, g:g + n] = [last_prompt_slot, *range(slot, slot + n - 1)]
        targets[b, g:g + n], mask[b, g:g + n] = ids, True
        row_owners.extend([(tree.item_index, choice)] * n)
        slot, g = slot + n, g + n
    owners.append(tuple(row_owners))
  owners.extend(() for _ in range(batch - len(packs)))
  return Layout(tokens, positions, tree_ids, branch, gather, targets, mask, tuple(owners))
