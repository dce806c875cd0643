"""Small builders shared by the training tests (tiny model, fixed documents)."""

from __future__ import annotations

import dataclasses

from icl_ft_jax.data import schema
from icl_ft_jax.train import checkpointing, data as data_lib, loop, trainer, tuning as tuning_lib

FACTS = (
    "femp are brighter than glon.",
    "troff are heavier than yomp.",
    "Did you know that blick are faster than dax?",
    "It turns out that wug are older than zib.",
    "The relationships between afurk, foob and eponk are: All foob are eponk.",
    "Scientists agree that plim are louder than snorb.",
    "Kest are taller than vorn.",
    "Few people realize that mib are colder than tup.",
)


def documents(texts=FACTS) -> list[schema.Document]:
  return [schema.Document(id=f"doc{i}", text=t, provenance="test") for i, t in enumerate(texts)]


def config(*, steps: int = 4, batch_size: int = 8, lora_rank: int = 0, freeze_embedding: bool = False,
           learning_rate: float = 1e-2, chunk_length: int = 8) -> trainer.FinetuneConfig:
  return trainer.FinetuneConfig(
      seed=0,
      data=data_lib.DataConfig(batch_size=batch_size, max_length=24),
      tuning=tuning_lib.TuningConfig(lora_rank=lora_rank, freeze_embedding=freeze_embedding),
      optimizer=dataclasses.replace(trainer.optimizer_lib.OptimizerConfig(), learning_rate=learning_rate,
                                    warmup_steps=0, decay="constant"),
      checkpoint=checkpointing.CheckpointConfig(every_steps=1000, keep=1),
      # Budget 0: the loss chunks whatever the size, so these tests train through the chunked loss.
      loop=loop.LoopConfig(steps=steps, log_every_steps=1, loss_chunk_length=chunk_length, loss_logits_budget_mib=0))


def batches(loaded, cfg: trainer.FinetuneConfig, texts=FACTS) -> data_lib.Batches:
  return data_lib.Batches(data_lib.tokenize(loaded.tokenizer, documents(texts), cfg.data), cfg.data, cfg.seed)


def finetune_run(loaded, mesh, workdir, **overrides) -> trainer.FinetuneResult:
  """A few steps of fine-tuning the tiny model into `workdir`, with the identity the jobs record, so the
  folder reads back as a run (`train.finetuned.load`, the export job)."""
  cfg = config(**overrides)
  identity = {"model": {"name": "tiny", "dtype": "float32"}, "data": dataclasses.asdict(cfg.data),
              "tuning": dataclasses.asdict(cfg.tuning), "optimizer": dataclasses.asdict(cfg.optimizer),
              "steps": cfg.loop.steps, "seed": cfg.seed}
  return trainer.finetune(loaded, documents(), cfg, mesh=mesh, workdir=workdir, identity=identity, progress=False)
