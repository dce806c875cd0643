"""Multiple-choice log-likelihood scoring: (prompt, choices) in, per-choice scores out."""

from icl_ft_jax.scoring.records import NORMALIZATIONS, ChoiceScore, MCItem, QuestionScore
from icl_ft_jax.scoring.scorer import Scorer

__all__ = ["NORMALIZATIONS", "ChoiceScore", "MCItem", "QuestionScore", "Scorer"]
