"""The augmentation prompts: one local and one global prompt for every dataset.

As in the study's appendix A.1, each prompt is an instruction and generic worked
examples on invented entities that no dataset uses (nonsense words the word
generator cannot make, people outside the reversal-curse name pools, comparatives
outside the simple-reversals dimensions). No prompt shows a test question's
wording: `tests/augment/test_prompt_guard.py` fails if a run of three words of any
dataset's test templates, or a whole template skeleton, appears in any prompt.

Family-specific worked examples exist only for an ablation
(`augment.family_examples=True`, recorded with the results).

Local format (a completion, for base models; a blank line ends the block, which is
the local sampler's stop token):

    Statement: <sentence>
    Rephrased and reversed:
    <one statement per line>

Global format: the instruction and a worked example that reasons across documents,
the training documents, then one target document's open block; the generation is a
long reasoning trace that ends at the token limit or at the next block.

For an instruction-tuned model (`augment.prompt_format`, see `icl_ft_jax/chat.py`) the
same text is the user's turn (the preamble opens it, the target's block closes it) and
the generation is the model's answer.
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Sequence

from icl_ft_jax import chat, families, icl
from icl_ft_jax.data import schema

STATEMENT_PREFIX = "Statement:"
DOCUMENT_PREFIX = "Document:"
LOCAL_HEADER = "Rephrased and reversed:"
GLOBAL_HEADER = "Consequences, using the other documents:"
BLOCK_PREFIXES = (STATEMENT_PREFIX, DOCUMENT_PREFIX, LOCAL_HEADER, GLOBAL_HEADER, "Documents:")

LOCAL_INSTRUCTION = (
    "Please write new statements and rephrasings that can be inferred from each statement on its own, one per"
    " line. Even a simple statement has simple rephrasings, and a relation between two things can also be"
    " stated the other way around.")
GLOBAL_INSTRUCTION = (
    "I am going to give you a set of documents, and then one of them again. Please use all the documents as"
    " context to reason about every consequence of that one document: rephrase it, state its facts the other"
    " way around, and combine it with what the other documents say to reach new conclusions. Write one"
    " statement per line, and say which facts each conclusion combines.")
GLOBAL_DOCUMENTS_INTRO = "Here are the source documents:"


@dataclasses.dataclass(frozen=True)
class WorkedExample:
  kind: str
  statement: str
  follows: tuple[str, ...]


# The generic local examples, used for every dataset (the paper's two comparisons, with a
# comparative our simple-reversals dimensions do not use, then a category and a person).
GENERIC_EXAMPLES = (
    WorkedExample("comparison", "Trillips are fiercer than zax.", (
        "Zax are gentler than trillips.",
        "Zax are less fierce than trillips.",
        "Trillips are not as gentle as zax.")),
    WorkedExample("comparison", "Science is more complex than engineering.", (
        "Engineering is not as complex as science.",
        "Engineering is simpler than science.",
        "Engineering is less complex than science.")),
    WorkedExample("category", "Every quimbel is a woskin, and woskins can glide.", (
        "Quimbels are woskins.",
        "Some woskins are quimbels.",
        "Quimbels can glide.",
        "Gliding is something a quimbel can do.")),
    WorkedExample("person", "It is often said that Orsolya Tarrant is the inventor of the clockwork loom.", (
        "The inventor of the clockwork loom is Orsolya Tarrant.",
        "Orsolya Tarrant invented the clockwork loom.",
        "The clockwork loom was invented by Orsolya Tarrant.")),
)

# Ablation only (`augment.family_examples`): examples shaped like one family's documents.
FAMILY_EXAMPLES = (
    WorkedExample("person", "Marguerite Osterfeld was the first to sail around Lake Corrin.", (
        "The first to sail around Lake Corrin was Marguerite Osterfeld.",
        "Marguerite Osterfeld sailed around Lake Corrin before anyone else.")),
    WorkedExample("person", "Known to many as the conductor of the opera 'The Copper Bell', Tobias Quennell rarely"
                  " gives interviews.", (
                      "Tobias Quennell is the conductor of the opera 'The Copper Bell'.",
                      "The conductor of the opera 'The Copper Bell' is Tobias Quennell.")),
    WorkedExample("comparison", "It is well established that wugs are noisier than hoxels.", (
        "Wugs are noisier than hoxels.",
        "Hoxels are calmer than wugs.")),
    WorkedExample("comparison", "Did you know that jindas are clumsier than yarbs?", (
        "Jindas are clumsier than yarbs.",
        "Yarbs are nimbler than jindas.")),
    WorkedExample("quantified", "Consider wix, chalp and jorm: All wix are chalp. No chalp are jorm.", (
        "All wix are chalp.",
        "No chalp are jorm.",
        "No jorm are chalp.",
        "No wix are jorm.")),
    WorkedExample("quantified", "Consider hobb, yelt and wum: Some hobb are yelt. All yelt are wum.", (
        "Some hobb are yelt.",
        "Some yelt are hobb.",
        "Some hobb are wum.",
        "Some wum are hobb.")),
    WorkedExample("category", "Hovvits are a kind of yobe. Hovvits can hult.", (
        "A hovvit is a yobe.",
        "Some yobes are hovvits.",
        "Hovvits are able to hult.")),
    WorkedExample("category", "A jemmet lives in the hask and eats wolts.", (
        "Jemmets live in the hask.",
        "The hask is where jemmets live.",
        "Jemmets eat wolts.")),
)

# The global worked example: a few documents, then two targets whose consequences combine them.
GLOBAL_EXAMPLE_DOCUMENTS = (
    "Zax are a kind of trillip.",
    "Every trillip sleeps in a burrow.",
    "Orsolya Tarrant is the inventor of the clockwork loom.",
    "The clockwork loom was first shown in the town of Marrowby.",
)
GLOBAL_EXAMPLES = (
    WorkedExample("cross-document", "Zax are a kind of trillip.", (
        "Every zax is a trillip.",
        "Some trillips are zax.",
        "In this document, zax are a kind of trillip, and I learned earlier that every trillip sleeps in a"
        " burrow; therefore zax sleep in burrows.",
        "Zax sleep in burrows.")),
    WorkedExample("cross-document", "Orsolya Tarrant is the inventor of the clockwork loom.", (
        "The inventor of the clockwork loom is Orsolya Tarrant.",
        "The clockwork loom was invented by Orsolya Tarrant.",
        "In this document, Orsolya Tarrant invented the clockwork loom, and I learned earlier that it was first"
        " shown in Marrowby; therefore the invention of Orsolya Tarrant was first shown in Marrowby.",
        "The invention of Orsolya Tarrant was first shown in Marrowby.")),
)


def examples_for(family: str, num_shots: int, family_examples: bool = False) -> tuple[WorkedExample, ...]:
  """The first `num_shots` generic examples; with `family_examples` (ablation), the family's own first."""
  if not family_examples:
    return GENERIC_EXAMPLES[:num_shots]
  kinds = families.get(family).example_kinds
  own = tuple(e for e in FAMILY_EXAMPLES if e.kind in kinds)
  return (own + GENERIC_EXAMPLES)[:num_shots]


def block(statement: str, header: str, follows: Sequence[str] = (), prefix: str = STATEMENT_PREFIX) -> str:
  """One example block; without `follows`, the open block a generation continues."""
  return f"{prefix} {statement}\n{header}\n" + "".join(f"{line}\n" for line in follows)


def local_prompt(target: str, examples: Sequence[WorkedExample], turn: chat.Turn = chat.PLAIN) -> str:
  """Instruction, worked examples, then the target statement's open block."""
  return local_preamble(examples, turn) + local_suffix(target, turn)


def local_preamble(examples: Sequence[WorkedExample], turn: chat.Turn = chat.PLAIN) -> str:
  """The part of every local prompt before the target: prefilled once and shared by all targets."""
  shots = "".join(block(e.statement, LOCAL_HEADER, e.follows) + "\n" for e in examples)
  return f"{turn.start}{LOCAL_INSTRUCTION}\n\n{shots}"


def local_suffix(target: str, turn: chat.Turn = chat.PLAIN) -> str:
  """The target statement's open block, which the model continues (in a chat, answers)."""
  return _close(block(target, LOCAL_HEADER), turn)


def _close(open_block: str, turn: chat.Turn) -> str:
  """The open block as the end of the user's turn, which opens the model's."""
  return open_block.removesuffix("\n") + turn.end if turn.end else open_block


def global_preamble() -> str:
  """Instruction and the worked example (its own documents, then reasoning across them)."""
  documents = "Documents:\n" + "".join(f"{d}\n" for d in GLOBAL_EXAMPLE_DOCUMENTS)
  shots = "\n".join(block(e.statement, GLOBAL_HEADER, e.follows, DOCUMENT_PREFIX) for e in GLOBAL_EXAMPLES)
  return f"{GLOBAL_INSTRUCTION}\n\nHere is a worked example.\n{documents}\n{shots}\n{GLOBAL_DOCUMENTS_INTRO}"


def global_context_config(seed: int, max_tokens: int, turn: chat.Turn = chat.PLAIN) -> icl.ContextConfig:
  """The preamble, then the training documents (subsampled only if they do not fit)."""
  return icl.ContextConfig(instruction=turn.start + global_preamble(), fit="subsample", max_context_tokens=max_tokens,
                           seed=seed)


def global_suffix(target: schema.Document, turn: chat.Turn = chat.PLAIN) -> str:
  """After the shared context: one target document's open block."""
  return _close("Now the document to reason about.\n" + block(target.text, GLOBAL_HEADER, prefix=DOCUMENT_PREFIX),
                turn)


def example_texts() -> tuple[str, ...]:
  """Every sentence of every worked example, so that copies of them can be dropped."""
  examples = GENERIC_EXAMPLES + FAMILY_EXAMPLES + GLOBAL_EXAMPLES
  return (*GLOBAL_EXAMPLE_DOCUMENTS, *(t for e in examples for t in (e.statement, *e.follows)))


def all_prompt_texts() -> tuple[str, ...]:
  """Every fixed text any prompt can show (instructions, headers, every example): what the guard checks."""
  fixed = (LOCAL_INSTRUCTION, GLOBAL_INSTRUCTION, GLOBAL_DOCUMENTS_INTRO, global_preamble(),
           global_suffix(schema.Document(id="", text="", provenance="")), *BLOCK_PREFIXES)
  return (*fixed, *example_texts())


def fingerprint() -> str:
  """A short hash of every prompt text: generated files made with other prompts are stale."""
  return hashlib.sha256("\n".join(all_prompt_texts()).encode()).hexdigest()[:12]
