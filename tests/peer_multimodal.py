"""A tiny multimodal Gemma 3 folder written by transformers around an exported text folder, in a process of its own.

    python -m tests.peer_multimodal TEXT_FOLDER OUT_FOLDER

`Gemma3ForConditionalGeneration` (model_type `gemma3`), as the Hub's 4B-27B are: the
exported text weights, an embedding with `EXTRA_ROWS` rows past the text vocabulary (the
Hub's have 262,208 against 262,144: the image token and padding), a one-layer SigLIP
tower (random), saved by `save_pretrained`; the tokenizer files are copied. Like
tests/peer_reference.py, it keeps torch out of the JAX test process.
"""

from __future__ import annotations

import pathlib
import shutil
import sys

EXTRA_ROWS = 64


def main(text_folder: str, out: str) -> None:
  import torch  # pylint: disable=g-import-not-at-top
  import transformers  # pylint: disable=g-import-not-at-top

  text = transformers.Gemma3ForCausalLM.from_pretrained(text_folder, dtype=torch.float32)
  vocab = text.config.vocab_size
  text_config = {**text.config.to_dict(), "vocab_size": vocab + EXTRA_ROWS}
  vision_config = {"hidden_size": 16, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
                   "image_size": 28, "patch_size": 14}
  config = transformers.Gemma3Config(text_config=text_config, vision_config=vision_config, mm_tokens_per_image=4,
                                     image_token_index=vocab)
  model = transformers.Gemma3ForConditionalGeneration(config).to(torch.float32)
  language_model = model.model.language_model
  state = text.model.state_dict()
  embedding = language_model.embed_tokens.weight.detach().clone()
  embedding[:vocab] = state["embed_tokens.weight"]
  state["embed_tokens.weight"] = embedding
  language_model.load_state_dict(state)
  model.save_pretrained(out)
  for path in pathlib.Path(text_folder).iterdir():
    if path.name.startswith(("tokenizer", "special_tokens")):
      shutil.copy(path, pathlib.Path(out) / path.name)
  print(type(model).__name__)


if __name__ == "__main__":
  main(sys.argv[1], sys.argv[2])
