"""transformers' token ids and next-token log-probs for texts, from an exported folder, in a process of its own.

    python -m tests.peer_reference FOLDER [--dtype auto] [--adapters DIR] [--vocab_size N] < texts.json \
        > [{"model", "dtype", "ids", "log_probs"}, ...]

`--dtype auto` keeps the folder's dtype (its config's `dtype`/`torch_dtype`), the default
is float32; `--adapters DIR` puts PEFT LoRA adapters on the model (`PeftModel.from_pretrained`);
`--vocab_size N` normalises over the first N logits (a multimodal model's text vocabulary).
torch beside the JAX/TensorFlow stack of the test process crashed in libc (a segfault
in `from_pretrained`, seen on this project's CPU machine), so the export tests ask a
fresh interpreter that imports only torch, transformers and peft (the `peer` extra).
"""

from __future__ import annotations

import argparse
import json
import sys


def main(folder: str, dtype: str, adapters: str | None, vocab_size: int | None) -> None:
  import torch  # pylint: disable=g-import-not-at-top
  import transformers  # pylint: disable=g-import-not-at-top

  model = transformers.AutoModelForCausalLM.from_pretrained(
      folder, dtype="auto" if dtype == "auto" else getattr(torch, dtype))
  name = type(model).__name__
  if adapters:
    import peft  # pylint: disable=g-import-not-at-top

    model = peft.PeftModel.from_pretrained(model, adapters)
  tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
  results = []
  for text in json.load(sys.stdin):
    ids = tokenizer(text)["input_ids"]
    with torch.no_grad():
      logits = model(input_ids=torch.tensor([ids])).logits[0, :, :vocab_size].float()
    log_probs = torch.log_softmax(logits, dim=-1)[torch.arange(len(ids) - 1), torch.tensor(ids[1:])]
    results.append({"model": name, "dtype": str(next(model.parameters()).dtype).removeprefix("torch."),
                    "ids": ids, "log_probs": log_probs.tolist()})
  json.dump(results, sys.stdout)


if __name__ == "__main__":
  parser = argparse.ArgumentParser()
  parser.add_argument("folder")
  parser.add_argument("--dtype", default="float32")
  parser.add_argument("--adapters")
  parser.add_argument("--vocab_size", type=int)
  args = parser.parse_args()
  main(args.folder, args.dtype, args.adapters, args.vocab_size)
