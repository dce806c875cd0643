"""The ICL job checks the context fits before scoring anything, and suggests a subsample that fits."""

import dataclasses
import re

import pytest
from ml_collections import config_dict

from icl_ft_jax import config_defaults
from icl_ft_jax.data import schema
from icl_ft_jax.errors import UserError
from icl_ft_jax.jobs import icl as icl_job


class WordTokenizer:
  def encode(self, text):
    return text.split()


@dataclasses.dataclass
class Spec:
  max_sequence_length: int
  instruction_tuned: bool = False


@dataclasses.dataclass
class Loaded:
  spec: Spec
  tokenizer: WordTokenizer = dataclasses.field(default_factory=WordTokenizer)


def _dataset(num_documents=50):
  documents = tuple(schema.Document(id=f"d{i}", text=f"document {i} has " + "word " * (i % 7 + 3),
                                    provenance="test") for i in range(num_documents))
  return schema.Dataset(name="words", documents=documents, questions=())


def _config(max_context_tokens):
  config = config_dict.ConfigDict({"seed": 0, "icl": config_defaults.icl(), "scoring": config_defaults.scoring()})
  config.icl.max_context_tokens = max_context_tokens
  return config


@pytest.mark.parametrize("budget", [60, 150, 333])
def test_suggested_subsample_fits(budget):
  dataset, config = _dataset(), _config(budget)
  with pytest.raises(UserError, match="--config.icl.subsample=") as error:
    icl_job.fitted_context(Loaded(Spec(4096)), dataset, config)
  assert "\n" not in str(error.value)
  suggested = float(re.search(r"subsample=([0-9.]+)", str(error.value)).group(1))
  config.icl.subsample = suggested
  context = icl_job.fitted_context(Loaded(Spec(4096)), dataset, config)  # Fits now.
  assert context.num_tokens <= budget - 1
  assert context.num_tokens > 0.6 * (budget - 1)  # Not a needlessly small context.


def test_context_is_checked_before_any_scoring(monkeypatch):
  scored = []
  monkeypatch.setattr(icl_job, "make_scorer", lambda *args, **kwargs: scored.append(kwargs))
  config = _config(40)
  config.scoring.splits = ()
  with pytest.raises(UserError, match="over the budget"):
    icl_job.evaluate_conditions(Loaded(Spec(4096)), None, _dataset(), config, ("pretrained", "icl"))
  assert scored == []  # The pretrained condition was not scored and thrown away.

