"""Augmentation strategies end to end: targets -> generations -> statements -> documents + quality.

    results = run_strategies(loaded, mesh, dataset, AugmentConfig.from_config(config.augment))
    results["local"].documents  # Augmented FT documents with provenance.
    results["local"].quality.validity

Strategies:
  * `local`: one prompt per target (each sentence of the training documents by
    default, as in the study; whole documents with `unit="document"`); the model
    writes what follows from it alone. `max_new_tokens` is per sentence: a document
    target gets it times its sentence count.
  * `global`: the training set in context (subsampled only if it does not fit; the
    fraction is recorded), prefilled once, then one target document; the model writes
    a long reasoning trace (`global_max_new_tokens`, not cut at a blank line) on the
    consequences linking it to the rest, and every statement in it is filtered.
  * `oracle`: templated ground truth (`oracle.py`), the control; no model.
"""

from __future__ import annotations

import collections
import dataclasses
import hashlib
import json
import logging
import time
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from icl_ft_jax import chat, config_sections, icl
from icl_ft_jax.augment import claims as claims_lib
from icl_ft_jax.augment import documents as documents_lib
from icl_ft_jax.augment import oracle, parsing, prompts, quality, sampling
from icl_ft_jax.data import schema, splitting
from icl_ft_jax.errors import ConfigError

STRATEGIES = ("local", "global", "oracle")
UNITS = ("document", "sentence")


@dataclasses.dataclass(frozen=True, kw_only=True)
class AugmentConfig:
  """Everything the augmentation stage reads (`config.augment` in a job config).

  Attributes:
    strategies: Any of "local", "global", "oracle".
    sampling: Temperature, samples per input, static shapes.
    num_shots: Generic worked examples in each local prompt (there are four).
    family_examples: Ablation: the family's own worked examples first (recorded in the results).
    unit: Local targets: each sentence of the training documents, or whole documents.
    global_max_new_tokens: Length of each global reasoning trace (the study: about 1k).
    max_targets: Targets per strategy, drawn at random with the seed (0 = all).
    global_context_tokens: Budget for the global context (0 = the model's window minus room
      for the suffix and the generation).
    global_batch_size: Rows per step of global sampling (0 = sampling.batch_size). Each row holds
      its own copy of the whole-dataset context's KV cache, so at study size this is one per chip.
    prefill_chunk: Chunk length of the global context's prefill.
    filters: Statement filters.
    oracle_derived: The oracle also writes derived inferences (syllogism conclusions, closure).
    prompt_format: "plain", "chat" (Gemma's chat template) or "auto" (chat for -it models).
  """

  strategies: tuple[str, ...] = STRATEGIES
  sampling: sampling.SamplingConfig = sampling.SamplingConfig()
  num_shots: int = len(prompts.GENERIC_EXAMPLES)
  family_examples: bool = False
  unit: str = "sentence"
  global_max_new_tokens: int = 128
  max_targets: int = 0
  global_context_tokens: int = 0
  global_batch_size: int = 0
  prefill_chunk: int = 1024
  filters: parsing.FilterConfig = parsing.FilterConfig()
  oracle_derived: bool = True
  prompt_format: str = "auto"

  def __post_init__(self):
    unknown = [s for s in self.strategies if s not in STRATEGIES]
    if unknown or not self.strategies:
      raise ConfigError(f"augment.strategies {list(self.strategies)}: choose from {', '.join(STRATEGIES)}.")
    if self.unit not in UNITS:
      raise ConfigError(f"augment.unit must be one of {UNITS}, got {self.unit!r}.")
    if self.num_shots < 0 or self.max_targets < 0 or self.global_batch_size < 0:
      raise ConfigError("augment.num_shots, augment.max_targets and augment.global_batch_size must be >= 0.")
    if self.prompt_format not in chat.PROMPT_FORMATS:
      raise ConfigError(f"augment.prompt_format must be one of {chat.PROMPT_FORMATS}, got {self.prompt_format!r}.")
    if self.global_max_new_tokens < 1:
      raise ConfigError(f"augment.global_max_new_tokens must be >= 1, got {self.global_max_new_tokens}.")

  @classmethod
  def from_config(cls, config: Mapping[str, Any]) -> AugmentConfig:
    """From the `augment` section of a job config (see `configs/augment.py`)."""
    config = dict(config)
    sampling_fields = config_sections.field_names(sampling.SamplingConfig)
    filter_fields = config_sections.field_names(parsing.FilterConfig)
    own = config_sections.field_names(cls) - {"sampling", "filters"}
    config_sections.check_keys(cls, {k: v for k, v in config.items() if k not in sampling_fields | filter_fields},
                               "augment", also=sampling_fields | filter_fields)
    if isinstance(config.get("strategies"), str):  # "--config.augment.strategies=local,oracle"
      config["strategies"] = tuple(s.strip() for s in config["strategies"].split(",") if s.strip())
    tuples = lambda d: {k: tuple(v) if isinstance(v, (list, tuple)) else v for k, v in d.items()}
    return cls(
        sampling=sampling.SamplingConfig(**tuples({k: v for k, v in config.items() if k in sampling_fields})),
        filters=parsing.FilterConfig(**{k: v for k, v in config.items() if k in filter_fields}),
        **tuples({k: v for k, v in config.items() if k in own}))


@dataclasses.dataclass(frozen=True, kw_only=True)
class AugmentationResult:
  """One strategy's augmented documents, how they were made and filtered, and their quality."""

  strategy: str
  documents: tuple[schema.Document, ...]
  num_targets: int
  num_generations: int
  num_candidates: int
  dropped: Mapping[str, int]
  quality: quality.Quality
  targets_with_valid: int  # Targets with at least one valid statement.
  targets_with_valid_reversal: int  # ... with a valid statement that names the object first.
  seconds: float
  generations: tuple[sampling.Generation, ...] = ()  # Raw samples (for inspection), model strategies only.
  setup: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # Prompt examples, unit, tokens, context.

  @property
  def statements_per_target(self) -> float:
    return len(self.documents) / self.num_targets if self.num_targets else 0.0

  def summary(self) -> dict[str, Any]:
    return {
        "strategy": self.strategy, "setup": dict(self.setup), "targets": self.num_targets,
        "generations": self.num_generations, "candidates": self.num_candidates, "statements": len(self.documents),
        "statements_per_target": round(self.statements_per_target, 3), "dropped": dict(self.dropped),
        "targets_with_valid": self.targets_with_valid,
        "targets_with_valid_reversal": self.targets_with_valid_reversal,
        "seconds": round(self.seconds, 1), "quality": self.quality.to_json(),
    }


def cache_record(config: AugmentConfig, strategy: str, *, model: Mapping[str, Any],
                 dataset: Mapping[str, Any]) -> dict[str, Any]:
  """What one strategy's generated documents depend on: its config, the model, the dataset, the prompts."""
  fields = {k: v for k, v in dataclasses.asdict(config).items() if k != "strategies"}
  return {"strategy": strategy, "augment": fields, "model": dict(model), "dataset": dict(dataset),
          "prompts": prompts.fingerprint()}


def cache_key(config: AugmentConfig, strategy: str, *, model: Mapping[str, Any], dataset: Mapping[str, Any]) -> str:
  """A hash of `cache_record`: files written under another key are stale and must be regenerated."""
  record = cache_record(config, strategy, model=model, dataset=dataset)
  return hashlib.sha256(json.dumps(record, sort_keys=True, default=list).encode()).hexdigest()[:16]


def local_targets(dataset: schema.Dataset, config: AugmentConfig) -> list[schema.Document]:
  documents = list(dataset.documents)
  if config.unit == "sentence":
    documents = [piece for d in documents for piece in splitting.split_document(d)]
  return _subsample(documents, config)


def _subsample(documents: list[schema.Document], config: AugmentConfig) -> list[schema.Document]:
  """At most `max_targets` targets, drawn with the seed and spread over the facts they state.

  Facts take turns (in a seeded order, each contributing a seeded choice of its
  documents), so 25 targets on a 25-fact dataset cover every fact once instead of
  some facts twice and others never.
  """
  if not config.max_targets or config.max_targets >= len(documents):
    return documents
  rng = np.random.default_rng(config.sampling.seed)
  by_fact: dict[str, list[int]] = collections.defaultdict(list)
  for i in rng.permutation(len(documents)):
    document = documents[int(i)]
    by_fact[document.fact_ids[0] if document.fact_ids else document.id].append(int(i))
  queues = list(by_fact.values())
  keep: list[int] = []
  for turn in range(max(len(q) for q in queues)):
    keep.extend(q[turn] for q in queues if turn < len(q))
  return [documents[i] for i in sorted(keep[:config.max_targets])]


def _finish(strategy: str, dataset: schema.Dataset, targets: Sequence[schema.Document],
            generations: Sequence[sampling.Generation], config: AugmentConfig, start: float, *,
            setup: Mapping[str, Any] | None = None, trace: bool = False) -> AugmentationResult:
  """Parses and filters each target's samples into documents, then assesses them."""
  by_target: dict[int, list[tuple[int, str]]] = collections.defaultdict(list)
  for g in generations:
    by_target[g.input_index].append((g.sample, g.text))
  checker = claims_lib.checker_for(dataset)
  docs, dropped, candidates, with_valid, with_reversal = [], collections.Counter(), 0, 0, 0
  for index, target in enumerate(targets):
    parsed = parsing.parse(by_target[index], target.text, documents_lib.source_entities(dataset, target),
                           config.filters, trace=trace)
    dropped.update(parsed.dropped)
    candidates += parsed.num_candidates
    found = [checker.claims(s.text) for s in parsed.kept]
    valid = [c for claims in found if claims and all(c.valid for c in claims) for c in claims]
    with_valid += bool(valid)
    with_reversal += any(c.object_first for c in valid)
    docs += [documents_lib.augmented_document(strategy=strategy, source=target, source_id=target.id,
                                              sample=s.sample, index=s.index, text=s.text) for s in parsed.kept]
  return AugmentationResult(
      strategy=strategy, documents=tuple(docs), num_targets=len(targets), num_generations=len(generations),
      num_candidates=candidates, dropped={r: dropped[r] for r in parsing.DROP_REASONS},
      quality=quality.assess(dataset, [d.text for d in docs]), targets_with_valid=with_valid,
      targets_with_valid_reversal=with_reversal, seconds=time.time() - start,
      generations=tuple(generations), setup=dict(setup or {}))


def _examples(dataset: schema.Dataset, config: AugmentConfig) -> tuple[prompts.WorkedExample, ...]:
  return prompts.examples_for(dataset.info.get("family", dataset.name), config.num_shots, config.family_examples)


def local_max_new_tokens(targets: Sequence[schema.Document], config: AugmentConfig) -> int:
  """`max_new_tokens` per sentence of the unit: a document of n sentences gets n times as many."""
  sentences = max((len(splitting.sentence_spans(t.text)) for t in targets), default=1)
  return config.sampling.max_new_tokens * max(1, sentences)


def run_local(loaded, mesh, dataset: schema.Dataset, config: AugmentConfig, *, progress: bool = True
              ) -> AugmentationResult:
  start = time.time()
  targets = local_targets(dataset, config)
  examples = _examples(dataset, config)
  tokens = local_max_new_tokens(targets, config)
  # The instruction and worked examples are the same for every target: prefilled once into a KV
  # cache, so each sample runs only its target's block (the prompt is ~10x longer than the block).
  sampler = sampling.SharedContextSampler(loaded, mesh, dataclasses.replace(config.sampling, max_new_tokens=tokens),
                                          prefill_chunk=config.prefill_chunk, progress=progress)
  turn = chat.turn_for(config.prompt_format, loaded.spec)
  generations = sampler.sample(prompts.local_preamble(examples, turn),
                               [prompts.local_suffix(t.text, turn) for t in targets], description="local augmentation")
  setup = {"unit": config.unit, "examples": "family" if config.family_examples else "generic",
           "worked_examples": [e.statement for e in examples], "max_new_tokens": tokens,
           "prompt_format": chat.resolve(config.prompt_format, loaded.spec)}
  return _finish("local", dataset, targets, generations, config, start, setup=setup)


def run_global(loaded, mesh, dataset: schema.Dataset, config: AugmentConfig, *, progress: bool = True
               ) -> AugmentationResult:
  """The training set in context (as much as fits, recorded), then a long reasoning trace per target."""
  start = time.time()
  targets = _subsample(list(dataset.documents), config)
  turn = chat.turn_for(config.prompt_format, loaded.spec)
  suffixes = [prompts.global_suffix(t, turn) for t in targets]
  sampling_config = dataclasses.replace(config.sampling, max_new_tokens=config.global_max_new_tokens,
                                        batch_size=config.global_batch_size or config.sampling.batch_size)
  room = max(config.sampling.prompt_buckets) + config.global_max_new_tokens + 128
  budget = config.global_context_tokens or loaded.spec.max_sequence_length - room
  spec = prompts.global_context_config(config.sampling.seed, budget, turn)
  context = icl.build_context(dataset.documents, spec, lambda t: len(loaded.tokenizer.encode(t)), budget)
  logging.info("Global augmentation context: %d documents (%.3f of them), %d tokens.", len(context.document_ids),
               context.fraction, context.num_tokens)
  sampler = sampling.SharedContextSampler(loaded, mesh, sampling_config, prefill_chunk=config.prefill_chunk,
                                          progress=progress, stop_at_blank_line=False)
  generations = sampler.sample(context.text, suffixes)
  setup = {"context_documents": len(context.document_ids), "context_fraction": round(context.fraction, 4),
           "context_tokens": context.num_tokens, "max_new_tokens": config.global_max_new_tokens,
           "batch_size": sampling_config.batch_size, "prompt_format": chat.resolve(config.prompt_format, loaded.spec)}
  return _finish("global", dataset, targets, generations, config, start, setup=setup, trace=True)


def run_oracle(dataset: schema.Dataset, config: AugmentConfig) -> AugmentationResult:
  """The templated ground truth through the same filters (the oracle source text is the target document)."""
  start = time.time()
  pairs = oracle.oracle_statements(dataset, include_derived=config.oracle_derived)
  by_id = {d.id: d for d in dataset.documents}
  grouped: dict[str, list[str]] = collections.defaultdict(list)
  for source, statement in pairs:
    grouped[source].append(statement)
  # A source's statements form one block, so the filters see them together (repeats are dropped).
  targets = [by_id.get(source) or schema.Document(id=source or "none", text="", provenance="")
             for source in grouped]
  blocks = [sampling.Generation(i, 0, "\n".join(lines), ()) for i, lines in enumerate(grouped.values())]
  result = _finish("oracle", dataset, targets, blocks, config, start)
  return dataclasses.replace(result, num_generations=len(pairs), generations=())


def run_strategies(loaded, mesh, dataset: schema.Dataset, config: AugmentConfig, *, progress: bool = True
                   ) -> dict[str, AugmentationResult]:
  """Each configured strategy's result, in the configured order (model strategies need `loaded`)."""
  results = {}
  for strategy in config.strategies:
    if strategy == "oracle":
      results[strategy] = run_oracle(dataset, config)
    elif strategy == "local":
      results[strategy] = run_local(loaded, mesh, dataset, config, progress=progress)
    else:
      results[strategy] = run_global(loaded, mesh, dataset, config, progress=progress)
    logging.info("Augmentation %s: %s", strategy, results[strategy].summary())
  return results
