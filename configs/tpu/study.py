"""The study at full size on a Cloud TPU slice with an official Gemma 3 checkpoint.

  python launch/tpu.py run --name=N --zone=Z --accelerator=v5litepod-8 \
      --config=configs/tpu/study.py:reversal_curse,model=gemma3-4b
  python launch/tpu.py run --name=N --zone=Z --accelerator=v4-64 \
      --config=configs/tpu/study.py:semantic_structure,model=gemma3-12b,devices=32,seeds=3

Args: dataset, model (gemma3-1b-it ... gemma3-27b-it, default gemma3-4b-it; or the
pretrained gemma3-1b ... gemma3-27b), devices (chips in the slice), seeds, tensor
(tensor-parallel chips per model replica, default 1).

As in the study, the instruction-tuned model answers in context and writes the
augmentations: ICL contexts and augmentation prompts use Gemma's chat template
(`prompt_format="auto"` picks it for -it models; `--config.icl.prompt_format=plain`
and `--config.augment.prompt_format=plain` are the recorded base-style option), and the
ICL instruction asks it to answer from the documents. A pretrained `model=` gets plain
text prompts and no instruction. Fine-tuning data and scored questions are plain text
in both. Params
are bfloat16, sharded over every chip (FSDP, and by heads / MLP units over
`tensor`); every batch (fine-tuning, scoring, sampling) is split over the
`devices / tensor` FSDP chips, so each batch size is a multiple of that and every
chip gets rows. `tensor=2` or 4 helps 12B/27B when a chip's share of the batch is
small. Mixed precision instead (float32 params and AdamW moments, bfloat16 passes):
`--config.model.dtype=float32 --config.train.compute_dtype=bfloat16`, at twice the
params' and moments' memory.
"""

from ml_collections import config_dict

from icl_ft_jax import config_defaults as defaults
from icl_ft_jax.model import specs


def get_config(arg: str | None = None) -> config_dict.ConfigDict:
  args = defaults.parse_arg(arg, dataset="reversal_curse", model="gemma3-4b-it", devices=8, seeds=3, tensor=1)
  if args["tensor"] < 1 or args["devices"] % args["tensor"]:
    raise ValueError(f"tensor={args['tensor']} must divide devices={args['devices']}.")
  config = defaults.experiment(args["dataset"], "study", seeds=args["seeds"])
  config.model.name = args["model"]
  config.model.dtype = "bfloat16"
  if specs.lookup(args["model"]).instruction_tuned:
    config.icl.instruction = defaults.ICL_CHAT_INSTRUCTION
  # Fine-tuning: full fine-tuning (every weight, as a served model's tuning API does) at lr 3e-5, not
  # the study's 3e-4 (tuned for Gemini 1.5 Flash through its API). Measured on the 270M (quickstart
  # data, 3 epochs; README, "Choosing the learning rate"): lr 3e-4 took held-out prose loss from 3.10 to
  # 12.9 nats/token (the model is wrecked), 1e-4 to 8.4, LoRA rank 16 at 1e-3 to 8.6, and 3e-5 to 4.8
  # while learning the facts (forward 0.90). Larger models take smaller full-FT learning rates, not
  # larger ones; check `heldout_nll` in the results after the first run.
  config.tuning.lora_rank = 0
  config.optimizer.learning_rate = 3e-5
  config.mesh = config_dict.ConfigDict({"data": 1, "fsdp": -1, "tensor": args["tensor"]})
  # The study: batch 8 or 16. Each batch is rounded up to a multiple of its split (one row per
  # chip at least); scoring rows are short, so it takes 4 rows per chip.
  split = args["devices"] // args["tensor"]
  per_chip = lambda rows: -(-rows // split) * split
  config.data.batch_size = per_chip(16)
  config.scoring.batch_size = per_chip(max(64, 4 * split))
  # With a context, each packed row holds a copy of its KV cache: the whole reversal curse (~88k tokens)
  # is about 12 GB per row on the 4B in bfloat16 (34 layers x 4 KV heads x 256 x 2 x 2 bytes per token),
  # so one row per chip.
  config.scoring.context_batch_size = per_chip(1)
  config.augment.batch_size = per_chip(16)  # Local: short shared prompt, 16 rows are cheap.
  # Global: each row copies the whole-dataset context's KV cache (up to the window), like ICL scoring.
  config.augment.global_batch_size = per_chip(1)
  config.augment.samples_per_input = 4
  config.checkpoint.every_steps = 100
  return config
