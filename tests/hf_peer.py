"""What the Hugging Face export tests share: fixed texts, our log-probs, and transformers' in a subprocess."""

from __future__ import annotations

import importlib.util
import json
import pathlib
import subprocess
import sys

import jax
import numpy as np
import pytest

ROOT = pathlib.Path(__file__).parent.parent
TEXTS = (  # Longer than the tiny model's sliding window; spaces, digits, non-ASCII, a tab, chat tokens.
    "Few people realize that Alaric Ashgrove was the composer of the opera Glass Harbor.",
    "femp are brighter than glon, and   troff are heavier than yomp.\n\nNumbers: 12345 and 3.14159!",
    "Ünïcödé, emoji 🙂 and tabs\there; the sliding window is shorter than this text.",
    "<start_of_turn>user\nWho composed Glass Harbor?<end_of_turn>\n<start_of_turn>model\n",
)


def our_log_probs(loaded, params, ids: list[int]) -> np.ndarray:
  """Our model's log-prob of each next token of `ids`, in float32 whatever the params' dtype."""
  logits = loaded.model.apply({"params": params}, np.asarray([ids])).logits[0]
  log_probs = jax.nn.log_softmax(logits.astype(np.float32), axis=-1)
  return np.asarray(log_probs[np.arange(len(ids) - 1), np.asarray(ids[1:])])


def _needs_peer(*modules: str) -> None:
  if any(importlib.util.find_spec(name) is None for name in ("torch", "transformers", *modules)):
    pytest.skip("needs the `peer` extra (torch, transformers, peft); .ci/run installs it and checks that it imports")


def _run(module: str, *args: str, stdin: str = "") -> str:
  done = subprocess.run([sys.executable, "-m", module, *args], input=stdin, capture_output=True, text=True,
                        check=False, cwd=ROOT)
  assert done.returncode == 0, done.stderr[-3000:]
  return done.stdout


def transformers_reference(folder: pathlib.Path, texts, *options: str) -> list[dict]:
  """tests/peer_reference.py's answer for `folder` (`options`: --dtype, --adapters, --vocab_size)."""
  _needs_peer(*(["peft"] if "--adapters" in options else []))
  return json.loads(_run("tests.peer_reference", str(folder), *options, stdin=json.dumps(texts)))


def multimodal_folder(text_folder: pathlib.Path, out: pathlib.Path) -> pathlib.Path:
  """tests/peer_multimodal.py: transformers' Gemma3ForConditionalGeneration around `text_folder`."""
  _needs_peer()
  assert _run("tests.peer_multimodal", str(text_folder), str(out)).strip() == "Gemma3ForConditionalGeneration"
  return out
