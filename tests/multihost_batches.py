"""Samples and scores the same inputs on a mesh; each process prints one JSON line.

  python tests/multihost_batches.py '{"data": 1, "fsdp": 8}' [COORDINATOR NUM_PROCESSES PROCESS_ID]

Run once as one process and once as several (test_data_parallel_multihost.py): the
outputs must agree, and each process must hold only its own block of every batch.
"""

import json
import sys


def main(argv: list[str]) -> None:
  from icl_ft_jax import distributed, sharding  # pylint: disable=g-import-not-at-top

  if len(argv) > 1:
    distributed.initialize(argv[1], int(argv[2]), int(argv[3]))
  from icl_ft_jax.augment import sampling  # pylint: disable=g-import-not-at-top
  from icl_ft_jax.model import loading  # pylint: disable=g-import-not-at-top
  from icl_ft_jax.scoring import MCItem, Scorer  # pylint: disable=g-import-not-at-top

  read, to_host = [], sharding.to_host

  def recording_to_host(array):  # Sampled batches as they come back: global rows, devices holding them.
    read.append([array.shape[0], len(array.sharding.device_set)])
    return to_host(array)

  sharding.to_host = recording_to_host
  mesh = sharding.make_mesh(json.loads(argv[0]))
  loaded = loading.load_model({"name": "tiny", "dtype": "float32"}, mesh=mesh,
                              rules=sharding.ShardingRules(fsdp_min_size=256))
  suffixes = [f"Statement: the zorp number {i} is blue.\nFollows:\n" for i in range(5)]
  context = "".join(f"Fact {i}: the zorp number {i} is {c}.\n\n" for i, c in enumerate(["blue", "large"] * 4))
  items = [MCItem(prompt=f"The zorp number {i} is", choices=(" blue", " large and round")) for i in range(5)]
  config = sampling.SamplingConfig(temperature=1.0, samples_per_input=2, seed=5, max_new_tokens=6, batch_size=8,
                                   prompt_buckets=(32, 256))
  local = sampling.LocalSampler(loaded, mesh, config, progress=False)
  shared = sampling.SharedContextSampler(loaded, mesh, config, prefill_chunk=32, progress=False)
  scorer = Scorer(loaded.model, loaded.params, loaded.tokenizer, mesh, batch_size=8, progress=False)
  logprobs = lambda scores: [c.logprob for q in scores for c in q.choices]
  rows = sharding.process_rows(local.batch_sharding, config.batch_size)
  print(json.dumps({
      "process": sharding.jax.process_index(), "rows": [rows.start, rows.stop],
      "local": [g.token_ids for g in local.sample(suffixes)],
      "shared": [g.token_ids for g in shared.sample(context, suffixes)],
      "scores": logprobs(scorer.score(items)), "icl_scores": logprobs(scorer.score(items, context=context)),
      "read": read,
  }), flush=True)


if __name__ == "__main__":
  main(sys.argv[1:])
