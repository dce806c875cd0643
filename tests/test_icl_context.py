import pytest

from icl_ft_jax import icl
from icl_ft_jax.data import schema
from icl_ft_jax.errors import ConfigError, UserError

DOCS = [schema.Document(id=f"d{i}", text=f"Document number {i} says zorp{i} are blue.", provenance="test")
        for i in range(40)]
count_words = lambda text: len(text.split())


def test_all_documents_shuffled_with_separator():
  context = icl.build_context(DOCS, icl.ContextConfig(seed=1), count_words, budget=10_000)
  assert sorted(context.document_ids) == sorted(d.id for d in DOCS)
  assert list(context.document_ids) != [d.id for d in DOCS]
  assert context.text.endswith("\n\n") and context.text.count("\n\n") == len(DOCS)
  assert context.fraction == 1.0
  assert icl.build_context(DOCS, icl.ContextConfig(seed=1), count_words, 10_000) == context
  assert icl.build_context(DOCS, icl.ContextConfig(seed=2), count_words, 10_000).text != context.text


def test_subsample_nests_and_counts():
  half = icl.build_context(DOCS, icl.ContextConfig(subsample=0.5), count_words, 10_000)
  quarter = icl.build_context(DOCS, icl.ContextConfig(subsample=0.25), count_words, 10_000)
  assert len(half.document_ids) == 20 and len(quarter.document_ids) == 10
  assert set(quarter.document_ids) <= set(half.document_ids)


def test_instruction_and_demonstrations_frame_the_documents():
  config = icl.ContextConfig(instruction="Read these facts.", demonstrations=("Q: x? A: y.",))
  text = icl.build_context(DOCS[:2], config, count_words, 10_000).text
  assert text.startswith("Read these facts.\n\n") and text.endswith("Q: x? A: y.\n\n")


def test_too_long_context_says_how_much_fits():
  with pytest.raises(UserError, match=r"Keep about 0\.2\d\d of them"):
    icl.build_context(DOCS, icl.ContextConfig(), count_words, budget=80)


def test_subsample_to_fit_policy_records_fraction():
  context = icl.build_context(DOCS, icl.ContextConfig(fit="subsample"), count_words, budget=80)
  assert context.num_tokens <= 80
  assert 0 < context.fraction < 0.3


def test_bad_context_config():
  with pytest.raises(ConfigError, match="icl.subsample"):
    icl.ContextConfig(subsample=0.0)
  with pytest.raises(ConfigError, match="icl.fit"):
    icl.ContextConfig(fit="truncate")


def test_subsample_policy_fails_when_nothing_fits():
  # One document over the budget used to loop forever.
  with pytest.raises(UserError, match="Even one in-context document"):
    icl.build_context(DOCS, icl.ContextConfig(fit="subsample"), count_words, budget=3)
