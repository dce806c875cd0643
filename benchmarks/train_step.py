"""Train-step throughput: step time, tokens/s and model FLOP/s against this machine's matmul rate.

  python benchmarks/train_step.py                                  # 270M, full / frozen embedding / LoRA
  python benchmarks/train_step.py --model=gemma3-1b-random --batch=16 --length=1024  # on an accelerator
  python benchmarks/train_step.py --compute_dtypes=auto,bfloat16   # mixed precision beside the params' dtype

The matmul rate is measured in the same run (a square matmul in the model's
dtype), so the utilisation column compares like with like on one machine.
Model FLOPs are counted analytically (MaxText's convention, `icl_ft_jax.cost`, the
count launch cost estimates use): 6 x params x tokens for the matmuls of a full
step (2 forward, 4 backward), 4 x for weights that get no gradient (frozen
embedding, LoRA's base), plus causal attention. Peak memory
comes from XLA's buffer assignment of the compiled step; `--memory` compares the
chunked loss with full `[B, L, vocab]` logits (the loss chunks only when the
logits exceed `--logits_budget_mib`, as training does).
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import pathlib
import platform
import sys
import time
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np
import tabulate

from icl_ft_jax import cost, sharding
from icl_ft_jax.errors import ConfigError
from icl_ft_jax.model import loading
from icl_ft_jax.train import checkpointing, data as data_lib, loop, optimizer as optimizer_lib
from icl_ft_jax.train import trainer, tuning as tuning_lib

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parent))  # Also when loaded by path (tests/test_cost.py).
import synthetic  # pylint: disable=g-import-not-at-top,wrong-import-position  # benchmarks/synthetic.py.

DEFAULT_LOOP = loop.LoopConfig()

VARIANTS = {
    "full": tuning_lib.TuningConfig(),
    "frozen_embedding": tuning_lib.TuningConfig(freeze_embedding=True),
    "lora16": tuning_lib.TuningConfig(lora_rank=16),
}


def matmul_rate(dtype, size: int, repeats: int = 5) -> float:
  """Achieved FLOP/s of one large square matmul on the default device."""
  a = jax.random.normal(jax.random.key(0), (size, size), dtype)
  b = jax.random.normal(jax.random.key(1), (size, size), dtype)
  matmul = jax.jit(lambda a, b: a @ b)
  matmul(a, b).block_until_ready()
  start = time.perf_counter()
  for _ in range(repeats):
    out = matmul(a, b)
  out.block_until_ready()
  return 2 * size**3 * repeats / (time.perf_counter() - start)


def finetune_config(tuning, batch: int, length: int, chunk: int,
                    logits_budget_mib: int = DEFAULT_LOOP.loss_logits_budget_mib,
                    compute_dtype: str = "auto") -> trainer.FinetuneConfig:
  return trainer.FinetuneConfig(
      data=data_lib.DataConfig(batch_size=batch, max_length=length), tuning=tuning,
      optimizer=optimizer_lib.OptimizerConfig(), checkpoint=checkpointing.CheckpointConfig(),
      loop=loop.LoopConfig(steps=1000, loss_chunk_length=chunk, loss_logits_budget_mib=logits_budget_mib,
                           compute_dtype=compute_dtype))


@dataclasses.dataclass
class CompiledStep:
  """The project's jitted train step compiled for one synthetic batch, with its state on the mesh."""

  step: Any
  state: Any
  frozen: Any
  batch: Any

  @classmethod
  def build(cls, loaded, mesh, config: trainer.FinetuneConfig, *, donate: bool = False) -> CompiledStep:
    """`donate=True` trains in `loaded.params`' buffers, as the finetune job does (one copy of the model
    fewer; `loaded` is then spent)."""
    run = trainer.prepare(loaded, config, mesh=mesh)
    state = run.initial_state(loaded.params, donate=donate)
    batch = jax.device_put(synthetic.synthetic_batch(config.data.batch_size, config.data.max_length),
                           run.shardings.batch)
    return cls(run.train_step.lower(state, run.frozen, batch).compile(), state, run.frozen, batch)

  def run(self, steps: int) -> tuple[list[float], float]:
    """Seconds of each of `steps` steps after one warm-up step, and the warm-up step's loss."""
    self.state, metrics = self.step(self.state, self.frozen, self.batch)
    first_loss = float(metrics["loss"])
    times = []
    for _ in range(steps):
      start = time.perf_counter()
      self.state, metrics = self.step(self.state, self.frozen, self.batch)
      jax.block_until_ready((self.state, metrics))
      times.append(time.perf_counter() - start)
    return times, first_loss


@dataclasses.dataclass(frozen=True)
class Row:
  variant: str
  step_s: float
  tokens_per_s: float
  model_gflops: float
  utilisation: float
  temp_gib: float
  total_gib: float


def _gib(n: float) -> float:
  return n / 2**30


def measure(loaded, mesh, variant, tuning, args, peak_flops: float, chunk: int, compute_dtype: str = "auto") -> Row:
  """One variant's step; `peak_flops` is the matmul rate in the dtype the step computes in."""
  compiled = CompiledStep.build(loaded, mesh, finetune_config(tuning, args.batch, args.length, chunk,
                                                               args.logits_budget_mib, compute_dtype))
  memory = compiled.step.memory_analysis()
  temp = memory.temp_size_in_bytes if memory else float("nan")
  total = (memory.temp_size_in_bytes + memory.argument_size_in_bytes + memory.output_size_in_bytes
           - memory.alias_size_in_bytes) if memory else float("nan")
  if args.steps == 0:
    return Row(variant, float("nan"), float("nan"), float("nan"), float("nan"), _gib(temp), _gib(total))
  step_s = float(np.mean(compiled.run(args.steps)[0]))
  flops = cost.train_step_flops(cost.Shape.of(loaded.config), tuning, args.batch, args.length)
  return Row(variant, step_s, args.batch * args.length / step_s, flops / step_s / 1e9,
             flops / step_s / peak_flops, _gib(temp), _gib(total))


def main():
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--model", default="gemma3-270m")
  parser.add_argument("--dtype", default="auto")
  parser.add_argument("--tokenizer", default="", help="SentencePiece file (default: the model's own; random-init models: the embedded model's, converted on first use)")
  parser.add_argument("--batch", type=int, default=8)
  parser.add_argument("--length", type=int, default=128)
  parser.add_argument("--steps", type=int, default=3)
  parser.add_argument("--chunk", type=int, default=DEFAULT_LOOP.loss_chunk_length,
                      help="loss chunk length (sequence positions); 0: full logits")
  parser.add_argument("--logits_budget_mib", type=int, default=DEFAULT_LOOP.loss_logits_budget_mib,
                      help="full logits while they fit in this many MiB (train.loss_logits_budget_mib); 0: always chunk")
  parser.add_argument("--variants", default=",".join(VARIANTS))
  parser.add_argument("--matmul_size", type=int, default=0, help="0: 2048 on CPU, 8192 elsewhere")
  parser.add_argument("--memory", action="store_true", help="also compile with full logits and compare memory")
  parser.add_argument("--compute_dtypes", default="auto",
                      help="train.compute_dtype values to time each variant with, comma-separated (auto: the"
                           " params' dtype; bfloat16: mixed precision)")
  args = parser.parse_args()

  mesh = sharding.make_mesh({"data": -1, "fsdp": 1})
  loaded = loading.load_model({"name": args.model, "dtype": args.dtype, "tokenizer": args.tokenizer}, mesh=mesh)
  size = args.matmul_size or (2048 if jax.default_backend() == "cpu" else 8192)
  compute_dtypes = args.compute_dtypes.split(",")
  for name in compute_dtypes:
    try:
      loop.LoopConfig(compute_dtype=name)  # An unknown one is refused before any work.
    except ConfigError as e:
      parser.error(str(e))
  computes_in = {name: loaded.dtype if name == "auto" else jnp.dtype(name) for name in compute_dtypes}
  peaks = {name: matmul_rate(dtype, size) for name, dtype in computes_in.items()}
  peak = peaks[compute_dtypes[0]]
  device = jax.devices()[0]
  rates = ", ".join(f"{jnp.dtype(computes_in[n]).name} {p / 1e9:.1f}" for n, p in peaks.items())
  print(f"machine: {platform.node()} {device.platform} {getattr(device, 'device_kind', '')} x{len(jax.devices())},"
        f" {os.cpu_count()} CPUs; model {args.model} ({jnp.dtype(loaded.dtype).name}); batch {args.batch} x"
        f" {args.length} tokens; measured matmul rate (GFLOP/s, {size}^2): {rates}")
  rows = []
  for variant in args.variants.split(","):
    for name in compute_dtypes:
      label = variant if name == "auto" else f"{variant}, {name} compute"
      rows.append(measure(loaded, mesh, label, VARIANTS[variant], args, peaks[name], args.chunk, name))
    if args.memory and variant == "full":
      no_timing = argparse.Namespace(**{**vars(args), "steps": 0})
      rows.append(measure(loaded, mesh, "full, full logits", VARIANTS[variant], no_timing, peak, 0))
      chunked = argparse.Namespace(**{**vars(no_timing), "logits_budget_mib": 0})
      rows.append(measure(loaded, mesh, "full, chunked logits", VARIANTS[variant], chunked, peak, args.chunk))
  header = ("variant", "step s", "tokens/s", "model GFLOP/s", "of matmul", "XLA temp GiB", "XLA total GiB")
  table = [(r.variant, f"{r.step_s:.3f}", f"{r.tokens_per_s:.0f}", f"{r.model_gflops:.1f}",
            f"{r.utilisation:.1%}", f"{r.temp_gib:.2f}", f"{r.total_gib:.2f}") for r in rows]
  print(tabulate.tabulate(table, headers=header, disable_numparse=True))


if __name__ == "__main__":
  main()
