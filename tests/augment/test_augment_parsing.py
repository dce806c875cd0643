"""Parsing and filtering of generated text, provenance of augmented documents, and the FT mix."""

import pytest

from icl_ft_jax.augment import documents, parsing, prompts
from icl_ft_jax.data import schema

SOURCE = "Records show that Daphne Barrington is the director of the film 'The Glass Orchard'."
ENTITIES = ("Daphne Barrington", "the director of the film 'The Glass Orchard'")


def _parse(text, **kwargs):
  return parsing.parse([(0, text)], SOURCE, ENTITIES, parsing.FilterConfig(**kwargs))


def test_block_ends_at_blank_line_or_next_example():
  text = ("- The director of the film 'The Glass Orchard' is Daphne Barrington. Daphne Barrington directed it.\n"
          "2. Daphne Barrington made a film.\n\nStatement: something else entirely.\n")
  assert parsing.candidate_sentences(text) == [
      "The director of the film 'The Glass Orchard' is Daphne Barrington.", "Daphne Barrington directed it.",
      "Daphne Barrington made a film."]
  assert parsing.candidate_sentences("Glons are big.\nStatement: x.\nWugs are small.") == ["Glons are big."]
  assert parsing.candidate_sentences("\n\nGlons are big.\n") == ["Glons are big."]


@pytest.mark.parametrize("text,reason", [
    ("Yes.", "empty"),
    ("", None),
    ("The director of the film 'The Glass Orchard' is Daphne", "unfinished"),
    ("Daphne Barrington " + "very " * 60 + "famous.", "too_long"),
    ("Records show that Daphne Barrington is the director of the film 'The Glass Orchard'", "copied_source"),
    ("Orsolya Tarrant invented the clockwork loom.", "copied_example"),
    ("The weather was lovely all week long.", "off_topic"),
])
def test_each_filter_drops_its_case(text, reason):
  parsed = _parse(text)
  assert parsed.kept == ()
  assert sum(parsed.dropped.values()) == (1 if reason else 0)
  if reason:
    assert parsed.dropped[reason] == 1


def test_good_statements_are_kept_once_across_samples():
  good = "The director of the film 'The Glass Orchard' is Daphne Barrington."
  parsed = parsing.parse([(0, good + "\n" + good.upper()), (1, "Daphne Barrington directed 'The Glass Orchard'.\n"
                                                               + good)], SOURCE, ENTITIES)
  assert [(s.text, s.sample, s.index) for s in parsed.kept] == [
      (good, 0, 0), ("Daphne Barrington directed 'The Glass Orchard'.", 1, 1)]
  assert parsed.dropped["repeated"] == 2
  assert parsed.num_candidates == 4


def test_length_limit_is_configurable():
  text = "Daphne Barrington is the director of the film 'The Glass Orchard'."
  assert _parse(text, max_chars=20).dropped["too_long"] == 1
  assert len(_parse(text, max_chars=200).kept) == 1


def test_entities_match_at_word_starts_only():
  assert parsing.mentions("Glons are larger than femps.", "glon")
  assert parsing.mentions("The femp's tail", "femp")
  assert not parsing.mentions("Aglons are large.", "glon")


def test_provenance_and_mix():
  source = schema.Document(id="rc/p2d/03/p2d_train_07", text=SOURCE, provenance="x", fact_ids=("rc/p2d/03",))
  doc = documents.augmented_document(strategy="local", source=source, source_id=source.id, sample=2, index=1,
                                     text="The director is Daphne Barrington.")
  assert doc.provenance == "augment/local/rc/p2d/03/p2d_train_07/2"
  assert doc.id == "augment/local/rc/p2d/03/p2d_train_07/2/001"
  assert doc.fact_ids == ("rc/p2d/03",)
  assert doc.metadata == {"strategy": "local", "source_document": source.id, "sample": 2}
  mix = documents.mix_documents([source], {"local": [doc], "oracle": []})
  assert mix.documents == (source, doc)
  assert mix.counts == {"original": 1, "local": 1, "oracle": 0, "total": 2}


def test_local_prompt_is_one_generic_prompt_ending_with_the_open_target_block():
  generic = prompts.examples_for("simple_reversals", 4)
  assert generic == prompts.examples_for("semantic_structure", 4) == prompts.GENERIC_EXAMPLES
  prompt = prompts.local_prompt("glon are taller than femp.", generic)
  assert prompt.endswith("Statement: glon are taller than femp.\nRephrased and reversed:\n")
  assert prompt.count("Statement:") == 5 and "\n\n" in prompt
  # The ablation puts the family's own examples first.
  assert [e.kind for e in prompts.examples_for("simple_reversals", 3, family_examples=True)] == [
      "comparison", "comparison", "comparison"]
  assert prompts.examples_for("simple_reversals", 3, True)[0] not in prompts.GENERIC_EXAMPLES


def test_trace_is_not_cut_at_blank_lines_and_yields_conclusions():
  trace = ("Daphne Barrington directed 'The Glass Orchard'.\n\n"
           "In this document, Daphne Barrington is the director of the film 'The Glass Orchard', and I learned"
           " earlier that it won a prize; therefore Daphne Barrington directed a film that won a prize.\n"
           "Document: another one.\nIt says nothing.")
  assert parsing.candidate_sentences(trace) == ["Daphne Barrington directed 'The Glass Orchard'."]
  assert parsing.candidate_sentences(trace, trace=True) == [
      "Daphne Barrington directed 'The Glass Orchard'.",
      "In this document, Daphne Barrington is the director of the film 'The Glass Orchard', and I learned"
      " earlier that it won a prize; therefore Daphne Barrington directed a film that won a prize.",
      "Daphne Barrington directed a film that won a prize."]
  parsed = parsing.parse([(0, trace)], SOURCE, ENTITIES, trace=True)
  assert parsed.kept[-1].text == "Daphne Barrington directed a film that won a prize."


def test_global_prompt_reasons_across_documents_and_ends_with_the_open_block():
  target = schema.Document(id="t", text=SOURCE, provenance="")
  preamble, suffix = prompts.global_preamble(), prompts.global_suffix(target)
  assert preamble.endswith(prompts.GLOBAL_DOCUMENTS_INTRO)
  assert suffix.endswith(f"Document: {SOURCE}\n{prompts.GLOBAL_HEADER}\n")
  # The worked example draws a conclusion from two of its documents.
  assert "therefore zax sleep in burrows" in preamble and all(d in preamble for d in prompts.GLOBAL_EXAMPLE_DOCUMENTS)
