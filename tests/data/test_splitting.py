"""Sentence splitting: right boundaries on our text, and never a changed character."""

import pytest

from icl_ft_jax.data import schema
from icl_ft_jax.data import simple_reversals
from icl_ft_jax.data import splitting
from icl_ft_jax.data import syllogisms


@pytest.mark.parametrize(
    "text, expected",
    [
        ("All glon are yomp. All troff are glon.", ["All glon are yomp.", "All troff are glon."]),
        ("The relationships between a, b and c are: All a are b. No c are b.",
         ["The relationships between a, b and c are: All a are b.", "No c are b."]),
        ("Behind the novel 'St. Wren's Tide' stands Orla Ashgrove. Dr. Quill met her. She left!",
         ["Behind the novel 'St. Wren's Tide' stands Orla Ashgrove.", "Dr. Quill met her.", "She left!"]),
        ('The masterpiece, "A Journey Through Time.". Next one.',
         ['The masterpiece, "A Journey Through Time.".', "Next one."]),
        ('He said "Go home." Then he left.', ['He said "Go home."', "Then he left."]),
        ("Did you know that femp are brighter than glon? Yes.",
         ["Did you know that femp are brighter than glon?", "Yes."]),
        ("gruds are abmes. abmes are rony.\nA heading\nJ. R. Wexcombe wrote it, e.g. here. The end...",
         ["gruds are abmes.", "abmes are rony.", "A heading", "J. R. Wexcombe wrote it, e.g. here.", "The end..."]),
        ("The celebrities' favorite is 'A Last Mirror'. Next.", ["The celebrities' favorite is 'A Last Mirror'.", "Next."]),
        ("  no terminal at all  ", ["no terminal at all"]),
        ("", []),
    ],
)
def test_split_sentences(text, expected):
  assert splitting.split_sentences(text) == expected


def _assert_spans_cover(text):
  spans = splitting.sentence_spans(text)
  position = 0
  for start, end in spans:
    assert text[position:start].strip() == ""
    assert start < end
    position = end
  assert text[position:].strip() == ""


@pytest.mark.parametrize("text", [
    "A. B. C.", "x  \n\n  y. z", "'unclosed quote. and more. \"x.\" y", "Mr. Dr. St. end. ok?!  Fine.",
])
def test_only_whitespace_between_sentences(text):
  _assert_spans_cover(text)


def _datasets():
  return [
      simple_reversals.generate(simple_reversals.Config(num_facts=30)),
      syllogisms.generate(syllogisms.Config()),
  ]


@pytest.mark.parametrize("mode", splitting.MODES)
def test_split_documents_preserves_text(mode):
  for dataset in _datasets():
    split = splitting.split_documents(dataset, mode)
    assert split.questions == dataset.questions
    assert split.info["sentence_split"] == mode
    by_source = {}
    for piece in split.documents:
      by_source.setdefault(piece.metadata.get("source_document", piece.id), []).append(piece)
    for document in dataset.documents:
      pieces = by_source[document.id]
      _assert_spans_cover(document.text)
      if mode == "independent":
        rebuilt = " ".join(p.text for p in pieces)
        assert rebuilt == " ".join(document.text.split())  # Our text has single spaces.
      else:
        assert pieces[-1].text == document.text.strip()
        for piece in pieces:
          assert document.text.startswith(piece.text)
          assert piece.text[piece.metadata.get("target_start", 0):] in document.text
      for piece in pieces:
        assert piece.fact_ids == document.fact_ids


def test_syllogism_documents_split_in_two_sentences():
  dataset = splitting.split_documents(syllogisms.generate(syllogisms.Config(num_examples=5)))
  assert len(dataset.documents) == 10
  assert dataset.documents[1].text.count(".") == 1


def test_cumulative_marks_the_new_sentence():
  document = schema.Document(id="d", text="One two. Three four. Five.", provenance="p")
  pieces = splitting.split_document(document, "cumulative")
  assert [p.text for p in pieces] == ["One two.", "One two. Three four.", "One two. Three four. Five."]
  assert [p.text[p.metadata["target_start"]:] for p in pieces] == ["One two.", "Three four.", "Five."]


def test_unknown_mode():
  with pytest.raises(ValueError, match="mode"):
    splitting.split_document(schema.Document(id="d", text="a. b.", provenance="p"), "pairs")


def test_pieces_drop_character_offsets_of_the_whole_document():
  document = schema.Document(id="d", text="Who wrote it? Daphne did. She is famous.", provenance="test",
                             metadata={"prompt_chars": 13, "group": "p2d"})
  for mode in ("independent", "cumulative"):
    pieces = splitting.split_document(document, mode)
    assert all("prompt_chars" not in p.metadata and p.metadata["group"] == "p2d" for p in pieces)
