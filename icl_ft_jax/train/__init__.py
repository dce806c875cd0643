"""Fine-tuning: sharded optax training of Gemma with Orbax checkpoints and exact resume.

One module per job: `data` (documents -> step-addressed batches), `loss`
(chunked cross-entropy), `tuning` / `lora` (what is trained), `optimizer`,
`state`, `step` (the jitted, sharded step), `checkpointing`, `metrics`, `loop`,
and `trainer` (all of them assembled from a config).
"""

from icl_ft_jax.train.trainer import FinetuneConfig, FinetuneResult, finetune

__all__ = ["FinetuneConfig", "FinetuneResult", "finetune"]
