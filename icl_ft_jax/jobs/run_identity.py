"""What a result means: the model, dataset, condition settings and seed that produced it.

Every record a job writes carries `metadata["model"]` and
`metadata["run_identity"]`, a digest of its identity; the workdir's
`result_identities.json` maps each digest to the full identity. A rerun then
skips a condition only when its identity is the one recorded, and refuses a
workdir whose results came from another run (another model, dataset or
setting), instead of reporting those results as its own.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from etils import epath

from icl_ft_jax import distributed, storage
from icl_ft_jax.errors import UserError
from icl_ft_jax.report import records

IDENTITIES_FILE = "result_identities.json"
MODEL_KEYS = ("name", "checkpoint", "tokenizer", "dtype")
SCORING_KEYS = ("splits", "max_questions")  # Batch sizes and chunking don't change what is measured.
# What every result of one dataset in a workdir must share, whatever its condition and seed.
SHARED_KEYS = ("model", "dataset_name")


def _plain(value: Any) -> Any:
  """JSON types only (ConfigDicts as dicts, tuples as lists): what the identity file can hold."""
  return json.loads(json.dumps(value, sort_keys=True, default=lambda v: v.to_dict() if hasattr(v, "to_dict")
                               else str(v)))


def model_of(config) -> dict[str, Any]:
  """The part of `config.model` that decides the numbers (not where the cache lives)."""
  return {k: _plain(config.model.get(k, "")) for k in MODEL_KEYS}


def compute_of(config) -> dict[str, str]:
  """`train.compute_dtype` when it is not "auto" (mixed precision trains other params); absent otherwise, so
  the identities of runs made before the setting existed still match."""
  compute = config.train.get("compute_dtype", "auto") if "train" in config else "auto"
  return {} if compute == "auto" else {"compute_dtype": compute}


def scoring_of(config) -> dict[str, Any]:
  return {k: _plain(config.scoring.get(k)) for k in SCORING_KEYS}


def identity(config, condition: str, **settings) -> dict[str, Any]:
  """The identity of `condition`'s results under `config` (its seed), plus its own `settings`."""
  name = config.get("dataset_name", config.dataset.family)
  return _plain({"model": model_of(config), "dataset_name": name, "dataset": config.dataset, "condition": condition,
                 "seed": config.seed, "scoring": scoring_of(config), "settings": settings})


def condition_identity(config, condition: str, *, fine_tuned: bool = False, augmented: bool = False) -> dict:
  """The identity of a condition: in-context settings, or fine-tuning (and augmentation) settings."""
  if condition == "icl":
    return identity(config, condition, icl=config.icl.to_dict())
  if not fine_tuned:
    return identity(config, condition)
  settings = {"data": config.data.to_dict(), "tuning": config.tuning.to_dict(),
              "optimizer": config.optimizer.to_dict(), "steps": config.train.steps,
              "epochs": config.train.get("epochs", 0.0), "augmented_steps": config.get("augmented_steps", "same_steps"),
              **compute_of(config)}
  if augmented:
    from icl_ft_jax.augment import prompts  # pylint: disable=g-import-not-at-top

    settings["augment"] = {k: v for k, v in config.augment.to_dict().items() if k not in ("strategies", "batch_size")}
    settings["augment_prompts"] = prompts.fingerprint()  # Results made with other prompts are another run's.
  return identity(config, condition, **settings)


def checkpoint_identity(config, *, steps: int, **extra) -> dict[str, Any]:
  """What decides the params a training run's checkpoints hold; a workdir begun with another is refused.

  `config` is the run's (its seed and model, dataset and fine-tuning sections); `extra` adds what one
  job varies (an experiment's condition and its mix of documents).
  """
  return {"model": config.model.to_dict(), "dataset": config.dataset.to_dict(), "data": config.data.to_dict(),
          "tuning": config.tuning.to_dict(), "optimizer": config.optimizer.to_dict(), "steps": steps,
          "seed": config.seed, **compute_of(config), **extra}


def digest(ident: Mapping[str, Any]) -> str:
  return hashlib.sha256(json.dumps(ident, sort_keys=True).encode()).hexdigest()[:16]


def stamped(results: Iterable[records.ResultRecord], ident: Mapping[str, Any]) -> list[records.ResultRecord]:
  """`results` with the model and the identity's digest in their metadata."""
  extra = {"model": dict(ident["model"]), "run_identity": digest(ident)}
  return [dataclasses.replace(r, metadata={**r.metadata, **extra}) for r in results]


def _known(workdir: epath.Path) -> dict[str, dict]:
  path = workdir / IDENTITIES_FILE
  if not path.is_file():
    return {}
  try:
    return json.loads(path.read_text())
  except (json.JSONDecodeError, UnicodeDecodeError):
    raise UserError(f"{path} is not valid JSON (damaged); use a new --workdir.") from None


def record(workdir: epath.Path, idents: Sequence[Mapping[str, Any]]) -> None:
  """Adds `idents` to the workdir's identity file (process 0 writes; atomic)."""
  if not distributed.is_primary():
    return
  known = _known(workdir)
  known.update({digest(i): dict(i) for i in idents})
  storage.write_text(workdir / IDENTITIES_FILE, json.dumps(known, indent=2, sort_keys=True) + "\n")


def _flat(value: Any, prefix: str = "") -> dict[str, Any]:
  if isinstance(value, dict):
    return {k: v for key, item in value.items() for k, v in _flat(item, f"{prefix}{key}.").items()}
  return {prefix.rstrip("."): value}


def differences(recorded: Mapping[str, Any], wanted: Mapping[str, Any], keys: Iterable[str]) -> list[str]:
  """`key: was -> now` for each differing leaf of `keys` (dotted names)."""
  old = _flat({k: recorded.get(k) for k in keys})
  new = _flat({k: wanted.get(k) for k in keys})
  return [f"{k}: {old.get(k)!r} -> {new.get(k)!r}" for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]


def done_conditions(workdir: epath.Path,
                    expected: Mapping[tuple[str, int], Mapping[str, Any]]) -> set[tuple[str, int]]:
  """Which (condition, seed) of `expected` are done in `workdir`; refuses results of another run.

  `expected` maps (condition, seed) to this run's identity for it, all of one
  dataset name. A result of that dataset is another run's when it has no
  identity, or a different one for a (condition, seed) this run wants, or a
  different model for one it doesn't.
  """
  if not expected:
    return set()
  any_ident = next(iter(expected.values()))
  name = any_ident["dataset_name"]
  results_path = workdir / "results.json"
  known = _known(workdir)
  done = set()
  for r in records.read_results(results_path):
    if r.dataset != name:
      continue
    recorded = known.get(r.metadata.get("run_identity", ""))
    where = f"{r.condition}, seed {r.seed}"
    if recorded is None:
      raise UserError(f"{results_path} holds {name} results ({where}) with no recorded run identity (an older"
                      " version wrote them), so they can't be matched to this config; use a new --workdir.")
    wanted = expected.get((r.condition, r.seed))
    diff = differences(recorded, wanted or any_ident, recorded.keys() if wanted else SHARED_KEYS)
    if diff:
      raise UserError(f"Workdir {workdir} holds {name} results of another run ({where}; {'; '.join(diff[:3])})."
                      " Use a new --workdir, or rerun with the config that wrote them.")
    if wanted:
      done.add((r.condition, r.seed))
  return done
