"""Berglund et al.'s original Reversal Curse files, loaded from a folder (`configs/datasets.py:berglund=PATH`).

Read and checked as our own Reversal Curse family is; no presets, since the files are the data.
"""

from icl_ft_jax import families
from icl_ft_jax.data import berglund
from icl_ft_jax.families import reversal_curse

FAMILY = families.Family(
    name="berglund_reversal_curse",
    generator=berglund,
    presets={},
    schedule=None,
    inference_splits=("reversal", "d2p_reversal"),
    checker=reversal_curse.checker,
    oracle=reversal_curse.oracle,
    example_kinds=("person",),
    chars_per_token=(4.51, 4.53),  # Not measured: the same kind of text as reversal_curse.
)
