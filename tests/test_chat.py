"""Gemma's chat template for -it models: where it applies, what the prompts look like, how they tokenize."""

import pytest

from icl_ft_jax import chat, icl
from icl_ft_jax.augment import prompts
from icl_ft_jax.data import schema
from icl_ft_jax.errors import ConfigError
from icl_ft_jax.model import specs

DOCS = [schema.Document(id=f"d{i}", text=f"Zorp{i} are blue.", provenance="test") for i in range(3)]


@pytest.mark.parametrize("name, expected", [("gemma3-4b-it", "chat"), ("gemma3-27b-it", "chat"),
                                            ("gemma3-270m-it-official", "chat"), ("gemma3-4b", "plain"),
                                            ("gemma3-270m", "plain"), ("tiny", "plain")])
def test_auto_uses_the_chat_template_for_instruction_tuned_models(name, expected):
  spec = specs.lookup(name)
  assert chat.resolve("auto", spec) == expected
  assert chat.resolve("plain", spec) == "plain" and chat.resolve("chat", spec) == "chat"


def test_an_unknown_format_is_refused():
  with pytest.raises(ConfigError, match="prompt_format must be one of auto, plain, chat"):
    chat.resolve("instruct", specs.lookup("tiny"))


def test_the_markers_are_gemmas_and_tokenize_as_its_turn_tokens(tiny_model):
  turn = chat.gemma_user_turn()
  assert turn.wrap("Hi.") == "<start_of_turn>user\nHi.<end_of_turn>\n<start_of_turn>model\n"
  special = tiny_model.tokenizer.special_tokens
  ids = tiny_model.tokenizer.encode(turn.wrap("Hi."))
  assert ids.count(special.START_OF_TURN) == 2 and ids.count(special.END_OF_TURN) == 1


def test_a_chat_context_is_the_users_turn_and_opens_the_models():
  config = icl.ContextConfig(instruction="Answer from these.", prompt_format="chat")
  text = icl.build_context(DOCS, config, lambda t: len(t.split()), 10_000).text
  plain = icl.build_context(DOCS, icl.ContextConfig(instruction="Answer from these."), lambda t: len(t.split()),
                            10_000).text
  assert text == chat.gemma_user_turn().wrap(plain.removesuffix("\n\n"))
  assert text.startswith("<start_of_turn>user\nAnswer from these.\n\n")
  assert text.endswith("blue.<end_of_turn>\n<start_of_turn>model\n")


def test_a_context_needs_a_resolved_format():
  with pytest.raises(ConfigError, match="resolve 'auto'"):
    icl.ContextConfig(prompt_format="auto")


def test_chat_augmentation_prompts_close_the_users_turn_after_the_target():
  turn = chat.gemma_user_turn()
  local = prompts.local_prompt("Glons are big.", prompts.GENERIC_EXAMPLES, turn)
  assert local.startswith(turn.start + prompts.LOCAL_INSTRUCTION)
  assert local.endswith(f"Statement: Glons are big.\n{prompts.LOCAL_HEADER}{turn.end}")
  assert local.replace(turn.start, "").replace(turn.end, "\n") == prompts.local_prompt(
      "Glons are big.", prompts.GENERIC_EXAMPLES)
  target = schema.Document(id="t", text="Glons are big.", provenance="")
  assert prompts.global_context_config(0, 100, turn).instruction.startswith(turn.start)
  assert prompts.global_suffix(target, turn).endswith(f"{prompts.GLOBAL_HEADER}{turn.end}")
