"""Packing trees into rows: every tree once, rows within their token and target budgets."""

import random

from icl_ft_jax.scoring import packing


def _tree(item: int, prompt: int, choices: tuple[int, ...]) -> packing.Tree:
  return packing.Tree(item, tuple(range(1, prompt + 1)),
                      tuple((j, tuple(range(1, n + 1))) for j, n in enumerate(choices)))


def test_rows_keep_to_token_and_target_budgets():
  rng = random.Random(0)
  trees = [_tree(i, rng.randint(5, 60), tuple(rng.randint(1, 12) for _ in range(4))) for i in range(60)]
  packs = packing.pack(trees, 256, max_targets=64)
  placed = sorted(t.item_index for p in packs for t in p.trees)
  assert placed == list(range(60))
  assert all(p.length <= 256 and p.num_targets <= 64 for p in packs)
  # Without the target cap the same trees fill rows by tokens alone, and some row goes over 64 targets.
  uncapped = packing.pack(trees, 256)
  assert len(uncapped) < len(packs) and max(p.num_targets for p in uncapped) > 64


def test_a_tree_over_either_budget_gets_a_row_of_its_own():
  big_targets, long, small = _tree(0, 2, (40, 40)), _tree(1, 300, (1,)), _tree(2, 3, (1, 1))
  packs = packing.pack([big_targets, long, small], 256, max_targets=64)
  rows = {tuple(t.item_index for t in p.trees) for p in packs}
  assert (0,) in rows and (1,) in rows and (2,) in rows
