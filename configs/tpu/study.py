"""The study at full size on a Cloud TPU slice with an official Gemma 3 checkpoint.

  python launch/tpu.py run --name=N --zone=Z --accelerator=v5litepod-8 \
      --config=configs/tpu/study.py:reversal_curse,model=gemma3-4b
  python launch/tpu.py run --name=N --zone=Z --accelerator=v4-64 \
      --config=configs/tpu/study.py:semantic_structure,model=gemma3-12b,devices=32,seeds=3

Args: dataset, model (gemma3-1b ... gemma3-27b, or -it), devices (chips in the
slice: the FT batch is at least one row per chip), seeds. Params are bfloat16,
fully sharded (FSDP) over every chip; the batch is split over the same axis.
"""

from ml_collections import config_dict

from icl_ft_jax import config_defaults as defaults


def get_config(arg: str | None = None) -> config_dict.ConfigDict:
  args = defaults.parse_arg(arg, dataset="reversal_curse", model="gemma3-4b", devices=8, seeds=3)
  config = defaults.experiment(args["dataset"], "study", seeds=args["seeds"])
  config.model.name = args["model"]
  config.model.dtype = "bfloat16"
  config.mesh = config_dict.ConfigDict({"data": 1, "fsdp": -1, "tensor": 1})
  # The study: batch 8 or 16; one row per chip at least, so every chip has work.
  config.data.batch_size = max(16, args["devices"])
  config.scoring.batch_size = max(64, 4 * args["devices"])
  config.scoring.context_batch_size = max(16, args["devices"])
  config.augment.batch_size = max(16, args["devices"])
  config.augment.samples_per_input = 4
  config.checkpoint.every_steps = 100
  return config
