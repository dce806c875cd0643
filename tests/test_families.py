"""The family records: each is complete, a new family needs no other file, and no other module names one."""

import ast
import dataclasses
import pathlib
import sys
import textwrap

import pytest

from icl_ft_jax import config_defaults, families, main
from icl_ft_jax.augment import oracle, prompts, quality
from icl_ft_jax.errors import ConfigError

PACKAGE = pathlib.Path(families.__file__).parents[1]


@pytest.mark.parametrize("name", tuple(families.MODULES))
def test_each_record_is_complete(name):
  family = families.get(name)
  assert family.name == name
  assert dataclasses.is_dataclass(family.generator.Config) and callable(family.generator.generate)
  assert set(family.presets) <= {"study", "cpu"}
  if family.presets:
    dataset = families.build_dataset(config_defaults.dataset(name, "cpu").to_dict())
    assert families.of(dataset) is family
    assert family.inference_splits and set(family.inference_splits) <= set(dataset.splits)
    assert set(family.example_kinds) <= {e.kind for e in prompts.FAMILY_EXAMPLES}
    assert family.schedule.sentence_split in ("none", "independent", "cumulative")


def test_unknown_family_and_size_are_config_errors():
  with pytest.raises(ConfigError, match="Unknown dataset family 'nope'. Known families: berglund_reversal_curse"):
    families.get("nope")
  with pytest.raises(ConfigError, match="no size 'huge'; choose one of study, cpu"):
    config_defaults.dataset("simple_reversals", "huge")
  with pytest.raises(ConfigError, match="loaded from files"):
    config_defaults.dataset("berglund_reversal_curse")
  with pytest.raises(ConfigError, match="no fine-tuning schedule"):
    config_defaults.finetune("berglund_reversal_curse")


NEW_FAMILY = textwrap.dedent('''
    """A family added the documented way: this file plus one line in `families.MODULES`."""
    import dataclasses
    from icl_ft_jax import families
    from icl_ft_jax.data import simple_reversals
    from icl_ft_jax.families import simple_reversals as base

    class generator:  # Reuses the simple-reversal generator under a new name.
      Config = simple_reversals.Config

      @staticmethod
      def generate(config):
        dataset = simple_reversals.generate(config)
        return dataclasses.replace(dataset, name="mirror_facts", info={**dataset.info, "family": "mirror_facts"})

    FAMILY = dataclasses.replace(base.FAMILY, name="mirror_facts", generator=generator,
                                 presets={"cpu": {"num_facts": 12, "articles_per_fact": 1}})
''')


def test_a_new_family_is_one_file_and_one_line(tmp_path, monkeypatch):
  (tmp_path / "mirror_facts_family.py").write_text(NEW_FAMILY)
  monkeypatch.syspath_prepend(str(tmp_path))
  monkeypatch.setitem(families.MODULES, "mirror_facts", "mirror_facts_family")
  try:
    config = config_defaults.experiment("mirror_facts", "cpu")
    main.validate(config)
    dataset = families.build_dataset(config.dataset.to_dict())
    assert dataset.name == "mirror_facts" and config.train.steps == families.get("simple_reversals").schedule.cpu_steps
    statements = [s for _, s in oracle.oracle_statements(dataset)]
    assessed = quality.assess(dataset, statements)
    assert assessed.validity == 1.0 and assessed.inference_coverage == 1.0
  finally:
    sys.modules.pop("mirror_facts_family", None)


def _string_constants(path: pathlib.Path) -> set[str]:
  return {node.value for node in ast.walk(ast.parse(path.read_text()))
          if isinstance(node, ast.Constant) and isinstance(node.value, str)}


def test_only_the_family_records_and_generators_name_a_family():
  """Per-family knowledge lives in icl_ft_jax/families/ (and each generator names its own output)."""
  offenders = []
  for path in sorted(PACKAGE.rglob("*.py")):
    relative = path.relative_to(PACKAGE).as_posix()
    if relative.startswith(("families/", "data/")):
      continue
    named = _string_constants(path) & set(families.MODULES)
    offenders += [f"{relative}: {name}" for name in sorted(named)]
  assert not offenders, offenders
