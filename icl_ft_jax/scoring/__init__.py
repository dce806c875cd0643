"""Multiple-choice log-likelihood scoring: (prompt, choices) in, per-choice scores out."""

from icl_ft_jax.scoring.records import NORMALIZATIONS, ChoiceScore, MCItem, QuestionScore
from icl_ft_jax.scoring.scorer import ContextCache, Scorer

__all__ = ["NORMALIZATIONS", "ChoiceScore", "ContextCache", "MCItem", "QuestionScore", "Scorer"]
