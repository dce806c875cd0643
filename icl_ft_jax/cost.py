"""Model FLOPs of a run by stage, from its config alone: what a launch costs, before it starts.

    stages = estimate(config)   # [Stage(name="fine-tuning", flops=..., detail=...), ...]

Counted as MaxText counts model FLOPs (and `benchmarks/train_step.py` reports them, through
`train_step_flops`): 2 FLOPs per multiply-add of every weight matmul per token forward; a training
step is 3x that (the backward pass is twice the forward), and 2x for weights that get no gradient
(frozen embedding, LoRA's base: the backward still runs through them); the tied embedding counts
once, as the output projection. Attention adds 4 x heads x head_dim FLOPs per (query, key) pair per
layer (QK^T and AV), over the keys a query sees (half the row, causally; Gemma's sliding windows are
not discounted, as our model computes every masked pair). Norms, softmax and the optimizer are
left out. Padding counts: a fine-tuning row is `data.max_length` tokens whatever its document (an
upper bound where `data.pad_to="bucket"` pads a step of short documents to less).

Token counts come from the dataset the config builds (its real documents and questions) at the
Gemma 3 tokenizer's characters per token, measured per dataset family (`Family.chars_per_token`), so no
tokenizer or model is loaded. Augmented documents are not known before sampling: with
`train.epochs`, an augmented mix is sized with `STATEMENTS_PER_SAMPLE` (kept statements are
counted as one training document each, also where a condition splits sentences).
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Sequence

from icl_ft_jax import augment, chat, families, icl
from icl_ft_jax.augment import pipeline, prompts
from icl_ft_jax.data import schema
from icl_ft_jax.model import specs
from icl_ft_jax.train import data as train_data
from icl_ft_jax.train import trainer, tuning as tuning_lib

# Kept statements per sample, to size an augmented mix before sampling (only with `train.epochs`).
# local: the quickstart's measurement (80 samples of the 270M kept 100 statements); global: a guess.
STATEMENTS_PER_SAMPLE = {"local": 1.25, "global": 5.0}


@dataclasses.dataclass(frozen=True, kw_only=True)
class Shape:
  """What the FLOP count needs of a Gemma architecture."""

  num_layers: int
  embed_dim: int
  hidden_dim: int
  num_heads: int
  head_dim: int
  num_kv_heads: int
  vocab_size: int

  @classmethod
  def of(cls, transformer_config) -> Shape:
    """From a gemma `TransformerConfig` (e.g. `gm.nn.Gemma3_4B.config`, or a loaded model's)."""
    c = transformer_config
    return cls(num_layers=c.num_layers, embed_dim=c.embed_dim, hidden_dim=c.hidden_dim, num_heads=c.num_heads,
               head_dim=c.head_dim, num_kv_heads=c.num_kv_heads, vocab_size=c.num_embed)

  @property
  def block_params(self) -> int:
    """Weights of the matmuls in the transformer blocks (q, k, v, o; gated MLP), all layers."""
    attention = self.embed_dim * self.head_dim * (2 * self.num_heads + 2 * self.num_kv_heads)
    return (attention + 3 * self.embed_dim * self.hidden_dim) * self.num_layers

  @property
  def embed_params(self) -> int:
    return self.vocab_size * self.embed_dim

  def attention_flops(self, queries: float, keys_per_query: float) -> float:
    """Forward QK^T and AV over all layers."""
    return 4 * self.num_heads * self.head_dim * keys_per_query * queries * self.num_layers


def model_shape(name: str) -> Shape:
  """The shape of a model named in `specs.SPECS`, without loading it."""
  from gemma import gm  # pylint: disable=g-import-not-at-top

  spec = specs.SPECS[name]
  if spec.model_class == "tiny":
    from icl_ft_jax.model import tiny  # pylint: disable=g-import-not-at-top

    return Shape.of(tiny.tiny_gemma3_config())
  return Shape.of(getattr(gm.nn, spec.model_class).config)


def train_step_flops(shape: Shape, tuning: tuning_lib.TuningConfig, batch: int, length: int) -> float:
  """Model FLOPs of one fine-tuning step on `batch` rows of `length` tokens."""
  tokens = batch * length
  if tuning.lora_rank:
    matmuls = 4 * (shape.block_params + shape.embed_params) * tokens
  elif tuning.freeze_embedding:
    matmuls = (6 * shape.block_params + 4 * shape.embed_params) * tokens
  else:
    matmuls = 6 * (shape.block_params + shape.embed_params) * tokens
  return matmuls + 3 * shape.attention_flops(tokens, length / 2)


def forward_flops(shape: Shape, tokens: float, keys_per_token: float, logit_tokens: float) -> float:
  """One forward pass over `tokens`, with output logits at `logit_tokens` of them."""
  return (2 * shape.block_params * tokens + 2 * shape.embed_params * logit_tokens
          + shape.attention_flops(tokens, keys_per_token))


@dataclasses.dataclass(frozen=True, kw_only=True)
class Stage:
  name: str
  flops: float
  detail: str


class TokenEstimate:
  """Tokens of a text at a family's measured characters per token (documents or questions)."""

  def __init__(self, family: str):
    self.documents_ratio, self.questions_ratio = families.get(family).chars_per_token

  def document(self, text: str) -> int:
    return max(1, math.ceil(len(text) / self.documents_ratio))

  def question(self, text: str) -> int:
    return max(1, math.ceil(len(text) / self.questions_ratio))


def _questions(dataset: schema.Dataset, config) -> list[schema.Question]:
  """The questions the scoring section scores (its splits, at most `max_questions` each)."""
  scoring = config.get("scoring", {})
  splits = tuple(scoring.get("splits", ())) or tuple(dataset.splits)
  limit = scoring.get("max_questions", 0) or None
  return [q for split in splits for q in dataset.splits.get(split, ())[:limit]]


def scoring_flops(shape: Shape, questions: Sequence[schema.Question], tokens: TokenEstimate,
                  context_tokens: int = 0) -> float:
  """Every question's prompt once and each choice after it (choices share the prompt), logits on the
  choices only; with a context, each token also attends to the context's keys."""
  total = 0.0
  for q in questions:
    prompt = tokens.question(q.prompt)
    choices = [tokens.question(c) for c in q.choices]
    length = prompt + sum(choices)
    total += forward_flops(shape, length, context_tokens + (prompt + max(choices)) / 2, sum(choices))
  return total


def prefill_flops(shape: Shape, context_tokens: int) -> float:
  """A shared context through the model once, causally, into the KV cache (no logits)."""
  return forward_flops(shape, context_tokens, context_tokens / 2, 0)


def sampling_flops(shape: Shape, prefix_tokens: int, suffixes: Sequence[int], samples: int, new_tokens: int) -> float:
  """A shared prefix prefilled once; per suffix and sample, its block then `new_tokens` decode steps."""
  total = prefill_flops(shape, prefix_tokens)
  for suffix in suffixes:
    block = forward_flops(shape, suffix, prefix_tokens + suffix / 2, 1)
    decode = forward_flops(shape, new_tokens, prefix_tokens + suffix + new_tokens / 2, new_tokens)
    total += samples * (block + decode)
  return total


@dataclasses.dataclass(frozen=True, kw_only=True)
class Plan:
  """What a config runs: seeds, scored conditions without and with context, FT mixes, samplings."""

  seeds: tuple[int, ...]
  scored: tuple[str, ...]  # Conditions scored without context (pretrained and every fine-tuned one).
  icl: bool
  finetuned: dict[str, tuple[str, ...]]  # FT condition -> augmentation strategies in its mix.
  sampled: tuple[str, ...]  # Model-sampled augmentation strategies ("local", "global").


def plan(config) -> Plan:
  """The stages of `config.job` (jobs without a model, e.g. `datasets`, run none)."""
  from icl_ft_jax.jobs import experiment  # pylint: disable=g-import-not-at-top

  job = config.get("job")
  if job == "experiment":
    conditions = experiment.conditions_of(config)
    finetuned = {c: experiment.FT_CONDITIONS[c] for c in conditions if c in experiment.FT_CONDITIONS}
    sampled = tuple(dict.fromkeys(s for mix in finetuned.values() for s in mix if s != "oracle"))
    return Plan(seeds=tuple(config.seeds), icl="icl" in conditions, finetuned=finetuned, sampled=sampled,
                scored=tuple(c for c in conditions if c != "icl"))
  seeds = (int(config.get("seed", 0)),)
  if job == "icl":
    conditions = tuple(config.conditions)
    return Plan(seeds=seeds, icl="icl" in conditions, finetuned={}, sampled=(),
                scored=tuple(c for c in conditions if c != "icl"))
  if job == "finetune":
    return Plan(seeds=seeds, icl=False, finetuned={"ft": ()}, sampled=(), scored=("ft",))
  if job == "augment":
    strategies = augment.AugmentConfig.from_config(config.augment.to_dict()).strategies
    return Plan(seeds=seeds, icl=False, finetuned={}, scored=(), sampled=tuple(s for s in strategies if s != "oracle"))
  return Plan(seeds=(), icl=False, finetuned={}, sampled=(), scored=())


def estimate(config) -> list[Stage]:
  """Model FLOPs by stage over every seed: fine-tuning, scoring, ICL prefill, augmentation sampling."""
  from icl_ft_jax.jobs import common, experiment, icl as icl_job  # pylint: disable=g-import-not-at-top

  steps = plan(config)
  if not steps.seeds:
    return []
  shape = model_shape(config.model.name)
  model_spec = specs.lookup(config.model.name)
  window = model_spec.max_sequence_length
  flops = dict.fromkeys(("fine-tuning", "scoring", "ICL prefill", "augmentation sampling"), 0.0)
  details: dict[str, list[str]] = {name: [] for name in flops}
  for seed in steps.seeds:
    seeded = experiment.seeded(config, seed) if config.get("job") == "experiment" else config
    dataset = common.build_dataset(seeded.dataset)
    tokens = TokenEstimate(seeded.dataset.family)
    questions = _questions(dataset, seeded)
    flops["scoring"] += len(steps.scored) * scoring_flops(shape, questions, tokens)
    details["scoring"] = [f"{len(steps.scored)} condition(s) x {len(questions)} questions"]
    if steps.icl:
      spec = icl_job.context_config(seeded)
      budget = (spec.max_context_tokens or window - 512) - 1
      context = icl.build_context(dataset.documents, spec, tokens.document, budget)
      flops["ICL prefill"] += prefill_flops(shape, context.num_tokens)
      flops["scoring"] += scoring_flops(shape, questions, tokens, context.num_tokens)
      details["ICL prefill"] = [f"{context.num_tokens:,} context tokens"]
      details["scoring"] = [f"{len(steps.scored) + 1} condition(s) x {len(questions)} questions"]
    augment_config = augment.AugmentConfig.from_config(seeded.augment.to_dict()) if "augment" in seeded else None
    sampled_docs = {}
    for strategy in steps.sampled:
      turn = chat.turn_for(augment_config.prompt_format, model_spec)
      sampled, count, what = _sampling(shape, dataset, augment_config, strategy, tokens, window, turn)
      flops["augmentation sampling"] += sampled
      sampled_docs[strategy] = count
      details["augmentation sampling"].append(what)
    if any("oracle" in mix for mix in steps.finetuned.values()):
      sampled_docs["oracle"] = len(pipeline.run_oracle(dataset, augment_config).documents)
    for condition, mix in steps.finetuned.items():
      # An experiment's condition may set its own data fields (`data_by_condition`: sentence splitting, rows).
      # and train the baseline's epochs (`augmented_steps`).
      finetune_config = (experiment.condition_finetune_config(seeded, dataset, condition)
                         if config.get("job") == "experiment" else trainer.FinetuneConfig.from_config(seeded))
      documents = (len(train_data.training_documents(dataset, finetune_config.data))
                   + sum(sampled_docs.get(s, 0) for s in mix))
      step_config = trainer.with_epochs(finetune_config, documents)
      data = step_config.data
      rows = data.rows_per_batch or data.batch_size
      flops["fine-tuning"] += step_config.loop.steps * train_step_flops(shape, step_config.tuning, rows,
                                                                        data.max_length)
      details["fine-tuning"].append(f"{condition} {step_config.loop.steps} steps of {rows} x {data.max_length}")
  seeds = f"{len(steps.seeds)} seed(s)"
  return [Stage(name=name, flops=value, detail=f"{seeds}; " + ", ".join(dict.fromkeys(details[name])))
          for name, value in flops.items() if value]


def _sampling(shape: Shape, dataset: schema.Dataset, config: augment.AugmentConfig, strategy: str,
              tokens: TokenEstimate, window: int, turn: chat.Turn) -> tuple[float, int, str]:
  """(FLOPs, expected kept statements, description) of one sampled augmentation strategy."""
  samples = config.sampling.samples_per_input
  if strategy == "local":
    targets = pipeline.local_targets(dataset, config)
    preamble = tokens.document(prompts.local_preamble(pipeline._examples(dataset, config), turn))  # pylint: disable=protected-access
    new_tokens = pipeline.local_max_new_tokens(targets, config)
    suffixes = [tokens.document(prompts.local_suffix(t.text, turn)) for t in targets]
  else:
    targets = pipeline._subsample(list(dataset.documents), config)  # pylint: disable=protected-access
    room = max(config.sampling.prompt_buckets) + config.global_max_new_tokens + 128
    budget = config.global_context_tokens or window - room
    context = icl.build_context(dataset.documents, prompts.global_context_config(config.sampling.seed, budget, turn),
                                tokens.document, budget)
    preamble, new_tokens = context.num_tokens, config.global_max_new_tokens
    suffixes = [tokens.document(prompts.global_suffix(t, turn)) for t in targets]
  flops = sampling_flops(shape, preamble, suffixes, samples, new_tokens)
  kept = round(len(targets) * samples * STATEMENTS_PER_SAMPLE[strategy])
  return flops, kept, f"{strategy} {len(targets)} x {samples} samples of {new_tokens} tokens"
