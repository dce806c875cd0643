"""A tiny Gemma 3 of the same architecture for fast tests.

Same blocks as Gemma 3 (local sliding + global attention, QK norm, post norms,
GQA, tied embedding) and the real 262k vocabulary, so it runs with the real
tokenizer; about 8M parameters, mostly the embedding.
"""

from __future__ import annotations


def tiny_gemma3_config(num_layers: int = 2, sliding_window_size: int = 8):
  """The `TransformerConfig` of the tiny model (use with `gm.nn.Transformer`)."""
  from gemma import gm  # pylint: disable=g-import-not-at-top

  config_api = gm.nn.config  # gemma's public names for building a TransformerConfig.
  local, glob = config_api.AttentionType.LOCAL_SLIDING, config_api.AttentionType.GLOBAL
  config = config_api.TransformerConfig(
      final_logit_softcap=None,
      num_embed=262144,
      embed_dim=32,
      hidden_dim=64,
      num_heads=4,
      head_dim=16,
      num_kv_heads=2,
      use_post_attn_norm=True,
      use_post_ffw_norm=True,
      use_qk_norm=True,
      attention_types=config_api.make_attention_layers_types((local, glob), num_layers=num_layers),
      query_pre_attn_norm=config_api.QueryPreAttentionNormalisation.BY_ONE_OVER_SQRT_HEAD_DIM,
      sliding_window_size=sliding_window_size,
      transpose_gating_einsum=True,
      local_base_frequency=10_000,
      global_base_frequency=1_000_000,
  )
  return config
