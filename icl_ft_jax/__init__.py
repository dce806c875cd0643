"""icl_ft_jax: how language models generalize from in-context learning vs fine-tuning.

Importing the package is cheap: the model stack (gemma, kauldron, tensorflow) is
only imported by the modules that need it.
"""

__version__ = "0.1.0"
