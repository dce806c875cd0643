"""transformers' token ids and next-token log-probs for texts, from an exported folder, in a process of its own.

    python -m tests.peer_reference FOLDER < texts.json > [{"model", "ids", "log_probs"}, ...]

torch beside the JAX/TensorFlow stack of the test process crashed in libc (a segfault
in `from_pretrained`, seen on this project's CPU machine), so the export test asks a
fresh interpreter that imports only torch and transformers (the `peer` extra).
"""

from __future__ import annotations

import json
import sys


def main(folder: str) -> None:
  import torch  # pylint: disable=g-import-not-at-top
  import transformers  # pylint: disable=g-import-not-at-top

  model = transformers.AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
  tokenizer = transformers.AutoTokenizer.from_pretrained(folder)
  results = []
  for text in json.load(sys.stdin):
    ids = tokenizer(text)["input_ids"]
    with torch.no_grad():
      logits = model(torch.tensor([ids])).logits[0].float()
    log_probs = torch.log_softmax(logits, dim=-1)[torch.arange(len(ids) - 1), torch.tensor(ids[1:])]
    results.append({"model": type(model).__name__, "ids": ids, "log_probs": log_probs.tolist()})
  json.dump(results, sys.stdout)


if __name__ == "__main__":
  main(sys.argv[1])
