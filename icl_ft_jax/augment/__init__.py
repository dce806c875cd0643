"""The augmentation stage: the model's own inferences as extra fine-tuning data.

    from icl_ft_jax import augment
    results = augment.run_strategies(loaded, mesh, dataset, augment.AugmentConfig.from_config(config.augment))
    mix = augment.mix_documents(dataset.documents, {s: r.documents for s, r in results.items()})

Generated files are keyed by `augment.cache_key(config, strategy, model=..., dataset=...)`
(config, model, dataset and prompts): a file under another key is stale.
"""

from icl_ft_jax.augment.documents import Mix, mix_documents
from icl_ft_jax.augment.oracle import oracle_statements
from icl_ft_jax.augment.pipeline import (STRATEGIES, AugmentationResult, AugmentConfig, cache_key, cache_record,
                                         run_global, run_local, run_oracle, run_strategies)
from icl_ft_jax.augment.quality import Quality, assess
from icl_ft_jax.augment.sampling import Generation, LocalSampler, SamplingConfig, SharedContextSampler

__all__ = [
    "STRATEGIES", "AugmentConfig", "AugmentationResult", "Generation", "LocalSampler", "Mix", "Quality",
    "SamplingConfig", "SharedContextSampler", "assess", "cache_key", "cache_record", "mix_documents",
    "oracle_statements", "run_global", "run_local", "run_oracle", "run_strategies",
]
