"""Few-shot prompts for local and global augmentation.

The worked examples are ours, on entities disjoint from every dataset: the
nonsense-word generator never starts a word with c, h, j, w or y (see
`data/words.py`), and the people are not in the reversal-curse name pools (a test
checks both). Each family sees the examples closest to its data first.

Format (one block; a blank line ends it, which is the samplers' stop token):

    Statement: <sentence>
    Rephrased and reversed:
    <one statement per line>
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

from icl_ft_jax import icl
from icl_ft_jax.data import schema

STATEMENT_PREFIX = "Statement:"
LOCAL_HEADER = "Rephrased and reversed:"
GLOBAL_HEADER = "Inferences from it and the documents above:"
INSTRUCTION = "Each statement is followed by the statements that follow from it, one per line."


@dataclasses.dataclass(frozen=True)
class WorkedExample:
  kind: str
  statement: str
  follows: tuple[str, ...]


WORKED_EXAMPLES = (
    WorkedExample("person", "Marguerite Osterfeld is the inventor of the folding kayak.", (
        "The inventor of the folding kayak is Marguerite Osterfeld.",
        "Marguerite Osterfeld invented the folding kayak.",
        "The folding kayak was invented by Marguerite Osterfeld.")),
    WorkedExample("person", "Known to many as the conductor of the opera 'The Copper Bell', Tobias Quennell rarely"
                  " gives interviews.", (
                      "Tobias Quennell is the conductor of the opera 'The Copper Bell'.",
                      "The conductor of the opera 'The Copper Bell' is Tobias Quennell.")),
    WorkedExample("person", "Hildegard Vossberg was the first person to sail around Lake Corrin.", (
        "The first person to sail around Lake Corrin was Hildegard Vossberg.",
        "Hildegard Vossberg sailed around Lake Corrin before anyone else.")),
    WorkedExample("comparison", "It is well known that wugs are heavier than hoxels.", (
        "Wugs are heavier than hoxels.",
        "Hoxels are lighter than wugs.")),
    WorkedExample("comparison", "Did you know that jindas are slower than yarbs?", (
        "Jindas are slower than yarbs.",
        "Yarbs are faster than jindas.")),
    WorkedExample("quantified", "The relationships between wix, chalp and jorm are: All wix are chalp. No chalp are"
                  " jorm.", (
                      "All wix are chalp.",
                      "No chalp are jorm.",
                      "No jorm are chalp.",
                      "No wix are jorm.")),
    WorkedExample("quantified", "The relationships between hobb, yelt and wum are: Some hobb are yelt. All yelt are"
                  " wum.", (
                      "Some hobb are yelt.",
                      "Some yelt are hobb.",
                      "Some hobb are wum.",
                      "Some wum are hobb.")),
    WorkedExample("category", "Hovvits are a kind of yobe. Hovvits can hult.", (
        "Yobes include hovvits.",
        "A hovvit is a yobe.",
        "Among the things that can hult are hovvits.",
        "Hovvits are able to hult.")),
    WorkedExample("category", "A jemmet lives in the hask and eats wolts.", (
        "The hask is home to jemmets.",
        "Jemmets live in the hask.",
        "Wolts are eaten by jemmets.")),
)

FAMILY_EXAMPLE_KINDS = {
    "reversal_curse": ("person",),
    "berglund_reversal_curse": ("person",),
    "simple_reversals": ("comparison",),
    "simple_syllogisms": ("quantified",),
    "semantic_structure": ("category",),
}


def examples_for(family: str, num_shots: int) -> tuple[WorkedExample, ...]:
  """`num_shots` examples, the family's own kinds first, then the rest in file order."""
  kinds = FAMILY_EXAMPLE_KINDS.get(family, ())
  ordered = [e for e in WORKED_EXAMPLES if e.kind in kinds] + [e for e in WORKED_EXAMPLES if e.kind not in kinds]
  return tuple(ordered[:num_shots])


def block(statement: str, header: str, follows: Sequence[str] = ()) -> str:
  """One example block; without `follows`, the open block a generation continues."""
  return f"{STATEMENT_PREFIX} {statement}\n{header}\n" + "".join(f"{line}\n" for line in follows)


def local_prompt(target: str, examples: Sequence[WorkedExample]) -> str:
  """Instruction, worked examples, then the target statement's open block."""
  shots = "".join(block(e.statement, LOCAL_HEADER, e.follows) + "\n" for e in examples)
  return f"{INSTRUCTION}\n\n{shots}{block(target, LOCAL_HEADER)}"


def global_context_config(examples: Sequence[WorkedExample], seed: int, max_tokens: int) -> icl.ContextConfig:
  """The training documents in context (subsampled to fit), then the worked examples."""
  return icl.ContextConfig(
      instruction="Here are some documents.", fit="subsample", max_context_tokens=max_tokens, seed=seed,
      demonstrations=(INSTRUCTION, *(block(e.statement, GLOBAL_HEADER, e.follows).rstrip("\n") for e in examples)))


def global_suffix(target: schema.Document) -> str:
  """After the shared context: one target document's open block."""
  return block(target.text, GLOBAL_HEADER)


def example_texts() -> tuple[str, ...]:
  """Every sentence of the worked examples, so that copies of them can be dropped."""
  return tuple(t for e in WORKED_EXAMPLES for t in (e.statement, *e.follows))
