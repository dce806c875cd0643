"""Evaluation refuses a bad split choice with a one-line config error."""

import pytest

from icl_ft_jax import evaluation, families
from icl_ft_jax.errors import ConfigError


def test_unknown_split_is_a_config_error():
  dataset = families.build_dataset({"family": "simple_reversals", "num_facts": 2, "articles_per_fact": 1})
  with pytest.raises(ConfigError, match=r"scoring.splits: .*no split\(s\) \['nope'\]"):
    evaluation.evaluate(None, dataset, condition="pretrained", splits=("nope",))


def test_max_questions_draws_across_the_split_not_a_prefix():
  from icl_ft_jax import evaluation  # pylint: disable=g-import-not-at-top
  from icl_ft_jax.data import schema  # pylint: disable=g-import-not-at-top

  questions = [schema.Question(id=f"fact{i // 10}/q{i % 10}", split="s", prompt="p", choices=(" a", " b"), answer=0)
               for i in range(100)]
  chosen = evaluation.subsample_questions(questions, 20, seed=0)
  assert len(chosen) == 20 and len({q.id for q in chosen}) == 20
  assert len({q.id.split("/")[0] for q in chosen}) >= 6  # A prefix of 20 would cover only 2 facts.
  assert [questions.index(q) for q in chosen] == sorted(questions.index(q) for q in chosen)
  assert evaluation.subsample_questions(questions, 20, seed=0) == chosen
  assert evaluation.subsample_questions(questions, 20, seed=1) != chosen
  assert evaluation.subsample_questions(questions, 0, seed=0) == tuple(questions)


@pytest.mark.slow  # Compiles the tiny model's scoring shapes: ~30 s alone, minutes on a shared CPU.
def test_records_and_predictions_carry_inference_types_and_equivalent_answers(tmp_path, tiny_model, one_device_mesh):
  import json  # pylint: disable=g-import-not-at-top

  import numpy as np  # pylint: disable=g-import-not-at-top

  from icl_ft_jax.data import syllogisms  # pylint: disable=g-import-not-at-top
  from icl_ft_jax.scoring import Scorer  # pylint: disable=g-import-not-at-top

  dataset = families.build_dataset({"family": "simple_syllogisms", "num_examples": 18, "seed": 1})
  scorer = Scorer(tiny_model.model, tiny_model.params, tiny_model.tokenizer, one_device_mesh, batch_size=8,
                  progress=False)
  results = evaluation.evaluate(scorer, dataset, condition="pretrained", predictions_path=tmp_path / "p.jsonl")
  lines = [json.loads(line) for line in (tmp_path / "p.jsonl").open()]
  questions = {q.id: q for q in dataset.questions}
  for line in lines:  # Correct: the highest summed log-likelihood is the answer or an equivalent choice.
    question = questions[line["id"]]
    assert line["inference"] == question.inference and line["also_correct"] == list(question.also_correct)
    assert line["correct"]["sum"] == (int(np.argmax(line["logprobs"])) in (question.answer, *question.also_correct))
  for record in (r for r in results if r.normalization == "sum"):
    rows = [line for line in lines if line["split"] == record.split]
    per_form = {}
    for line in rows:
      per_form.setdefault(line["inference"], []).append(line["correct"]["sum"])
    assert set(per_form) == {f"syllogism/{form}" for form in syllogisms.FORMS}
    assert {k: sum(t for _, t in v.values()) for k, v in record.by_inference.items()} == {
        k: len(v) for k, v in per_form.items()}
    assert {k: sum(c for c, _ in v.values()) for k, v in record.by_inference.items()} == {
        k: sum(v) for k, v in per_form.items()}
    accuracies = [sum(v) / len(v) for v in per_form.values()]
    assert record.subtype_mean == pytest.approx(np.mean(accuracies), abs=1e-6)
    assert record.subtype_stderr == pytest.approx(np.std(accuracies, ddof=1) / len(accuracies) ** 0.5, abs=1e-6)
    assert record.accuracy == pytest.approx(np.mean([line["correct"]["sum"] for line in rows]))
  chance = {r.split: r.chance for r in results}
  assert chance[syllogisms.SIX_WAY_SPLIT] == pytest.approx(dataset.chance(syllogisms.SIX_WAY_SPLIT))
  assert chance[syllogisms.SIX_WAY_SPLIT] > 1 / 6  # Symmetric conclusions: two of six choices count.
