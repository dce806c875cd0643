"""Fine-tuning on one dataset, then testing with no context (the study's FT condition).

  python -m icl_ft_jax.main --config=configs/finetune.py:simple_reversals --workdir=/tmp/ft
  python -m icl_ft_jax.main --config=configs/finetune.py:reversal_curse,size=study \
      --config.tuning.lora_rank=16 --config.train.steps=1000

Args: dataset (reversal_curse, simple_reversals, simple_syllogisms,
semantic_structure), size ("cpu" default, or "study"), seed. Rerunning the
same command with the same --workdir resumes from the last checkpoint.
"""

from ml_collections import config_dict

from icl_ft_jax import config_defaults as defaults

# Per dataset: (steps at size "cpu", steps at size "study", max tokens per document or sentence, split).
# The study: batch 8 or 16, learning rate 3e-4, 200-1000 steps by dataset size, sentence-split documents
# except the semantic-structure baseline.
SCHEDULES = {
    "reversal_curse": (60, 1000, 64, "none"),
    "simple_reversals": (60, 300, 32, "none"),
    "simple_syllogisms": (60, 200, 64, "independent"),
    "semantic_structure": (100, 1000, 512, "none"),
}


def get_config(arg: str | None = None) -> config_dict.ConfigDict:
  args = defaults.parse_arg(arg, dataset="simple_reversals", size="cpu", seed=0)
  cpu_steps, study_steps, max_length, sentence_split = SCHEDULES[args["dataset"]]
  config = config_dict.ConfigDict()
  config.job = "finetune"
  config.seed = args["seed"]
  config.model = defaults.model()
  config.mesh = defaults.mesh()
  config.dataset_name = args["dataset"]
  config.dataset = defaults.dataset(args["dataset"], args["size"], args["seed"])
  config.data = config_dict.ConfigDict({
      "batch_size": 8,  # Documents per step (a multiple of the mesh's data x fsdp size).
      "max_length": max_length,  # Tokens per row; longer documents are an error, never truncated.
      "rows_per_batch": 0,  # 0: one document per row; >0: pack the step's documents into this many rows.
      "sentence_split": sentence_split,  # "none", "independent" or "cumulative".
      "loss_on": "document",  # Or "completion" (after metadata prompt_chars / target_start).
      "append_eos": False,
  })
  config.tuning = config_dict.ConfigDict({
      "lora_rank": 0,  # 0: full fine-tuning; >0: gm.nn.LoRA adapters of this rank.
      "freeze_embedding": False,
  })
  config.optimizer = config_dict.ConfigDict({
      "name": "adamw", "learning_rate": 3e-4, "warmup_steps": 10, "decay": "cosine",
      "end_learning_rate_fraction": 0.0, "weight_decay": 0.0, "b1": 0.9, "b2": 0.999, "eps": 1e-8,
      "grad_clip_norm": 1.0,
  })
  config.train = config_dict.ConfigDict({
      "steps": cpu_steps if args["size"] == "cpu" else study_steps,
      "log_every_steps": 10,
      "eval_every_steps": 0,  # 0: evaluate only at the end.
      "loss_chunk_length": 32,  # Sequence positions per loss chunk; 0: full [B, L, vocab] logits.
  })
  config.checkpoint = config_dict.ConfigDict({"every_steps": 50, "keep": 2, "async_save": True})
  config.scoring = defaults.scoring()
  return config
