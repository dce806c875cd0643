"""The real-world knowledge behind the semantic structure benchmark.

`semantic_hierarchy.json` holds a Rogers & McClelland-style tree of categories,
each with its own properties and relations. This module reads and validates it
and lists its base facts: the statements the data file makes directly, from
which every other true statement follows (see `semantic_logic`).

Example:

  hierarchy = load_hierarchy()
  hierarchy.ancestors("robin")  # ("songbird", "bird", "animal", "living thing")
"""

from __future__ import annotations

import dataclasses
import functools
import json
import pathlib
from collections.abc import Mapping

DEFAULT_PATH = pathlib.Path(__file__).with_name("semantic_hierarchy.json")

IS_A = "is_a"
# Relations a category owns and passes on to every descendant, in rendering order.
PROPERTY_RELATIONS = ("is", "has", "can")
OBJECT_RELATIONS = ("eats", "lives_in")
RELATIONS = (IS_A, *PROPERTY_RELATIONS, *OBJECT_RELATIONS)
MAX_OWN_PROPERTIES = 6

Triple = tuple[str, str, str]  # (subject, relation, object), real-world words.


@dataclasses.dataclass(frozen=True, kw_only=True)
class Category:
  """One node of the tree with what it owns (not what it inherits)."""

  name: str
  parent: str | None
  properties: tuple[tuple[str, str], ...]  # (relation, value), in file order.


@dataclasses.dataclass(frozen=True, kw_only=True)
class Hierarchy:
  """The validated tree; categories keep the file's order, which fixes every iteration order."""

  categories: tuple[Category, ...]
  foods: tuple[str, ...]
  habitats: tuple[str, ...]

  @functools.cached_property
  def by_name(self) -> dict[str, Category]:
    return {c.name: c for c in self.categories}

  @functools.cached_property
  def _children(self) -> dict[str, tuple[str, ...]]:
    children: dict[str, list[str]] = {c.name: [] for c in self.categories}
    for c in self.categories:
      if c.parent is not None:
        children[c.parent].append(c.name)
    return {name: tuple(kids) for name, kids in children.items()}

  @property
  def names(self) -> tuple[str, ...]:
    return tuple(c.name for c in self.categories)

  def children(self, name: str) -> tuple[str, ...]:
    return self._children[name]

  def ancestors(self, name: str) -> tuple[str, ...]:
    """Parent first, root last."""
    chain = []
    parent = self.by_name[name].parent
    while parent is not None:
      chain.append(parent)
      parent = self.by_name[parent].parent
    return tuple(chain)

  def descendants(self, name: str) -> tuple[str, ...]:
    """Depth-first, in file order."""
    found = []
    for child in self.children(name):
      found.append(child)
      found.extend(self.descendants(child))
    return tuple(found)

  def is_leaf(self, name: str) -> bool:
    return not self.children(name)

  def base_triples(self) -> tuple[Triple, ...]:
    """Every statement the file makes: each parent link, then each own property."""
    triples = []
    for c in self.categories:
      if c.parent is not None:
        triples.append((c.name, IS_A, c.parent))
      triples.extend((c.name, relation, value) for relation, value in c.properties)
    return tuple(triples)

  def content_words(self) -> tuple[str, ...]:
    """Every real word that gets a nonsense replacement, first appearance first."""
    words = dict.fromkeys(self.names)
    for c in self.categories:
      words.update(dict.fromkeys(value for _, value in c.properties))
    words.update(dict.fromkeys(self.foods))
    words.update(dict.fromkeys(self.habitats))
    return tuple(words)

  def relation_objects(self) -> frozenset[str]:
    """Categories that appear as the object of an eats/lives_in relation."""
    return frozenset(v for c in self.categories for r, v in c.properties if r in OBJECT_RELATIONS)


def _parse_category(raw: Mapping[str, object], where: str) -> Category:
  unknown = sorted(set(raw) - {"name", "parent", *PROPERTY_RELATIONS, *OBJECT_RELATIONS})
  if unknown:
    raise ValueError(f"{where}: unknown field(s) {unknown}.")
  if not isinstance(raw.get("name"), str) or not raw["name"]:
    raise ValueError(f"{where}: needs a non-empty string `name`.")
  properties = []
  for relation in (*PROPERTY_RELATIONS, *OBJECT_RELATIONS):
    values = raw.get(relation, [])
    if not isinstance(values, list) or not all(isinstance(v, str) and v for v in values):
      raise ValueError(f"{where}: `{relation}` must be a list of non-empty strings.")
    properties.extend((relation, v) for v in values)
  parent = raw.get("parent")
  if parent is not None and not isinstance(parent, str):
    raise ValueError(f"{where}: `parent` must be a category name or null.")
  return Category(name=raw["name"], parent=parent, properties=tuple(properties))


def _validate(hierarchy: Hierarchy, source: str) -> None:
  names = hierarchy.names
  if len(set(names)) != len(names):
    repeated = sorted({n for n in names if names.count(n) > 1})
    raise ValueError(f"{source}: repeated category names {repeated}.")
  by_name = hierarchy.by_name
  for c in hierarchy.categories:
    where = f"{source}: category {c.name!r}"
    if c.parent is not None and c.parent not in by_name:
      raise ValueError(f"{where}: unknown parent {c.parent!r}.")
    own = [(r, v) for r, v in c.properties if r in PROPERTY_RELATIONS]
    if not 1 <= len(own) <= MAX_OWN_PROPERTIES:
      raise ValueError(f"{where}: needs 1-{MAX_OWN_PROPERTIES} is/has/can properties, has {len(own)}.")
    if len(set(c.properties)) != len(c.properties):
      raise ValueError(f"{where}: repeats a property.")
  for c in hierarchy.categories:  # Cycles, checked once parents are known to exist.
    seen = {c.name}
    parent = c.parent
    while parent is not None:
      if parent in seen:
        raise ValueError(f"{source}: category {c.name!r} is its own ancestor.")
      seen.add(parent)
      parent = by_name[parent].parent
  for c in hierarchy.categories:
    inherited = {p for a in hierarchy.ancestors(c.name) for p in by_name[a].properties}
    restated = [p for p in c.properties if p in inherited]
    if restated:
      raise ValueError(f"{source}: category {c.name!r} restates inherited properties {restated}.")
    for relation, value in c.properties:
      if relation == "eats" and value not in by_name and value not in hierarchy.foods:
        raise ValueError(f"{source}: {c.name!r} eats {value!r}, which is neither a category nor a food.")
      if relation == "lives_in" and value not in hierarchy.habitats:
        raise ValueError(f"{source}: {c.name!r} lives in {value!r}, which is not a habitat.")


@functools.cache
def load_hierarchy(path: str | pathlib.Path = DEFAULT_PATH) -> Hierarchy:
  """Reads and validates a hierarchy file; errors name the file and the category."""
  path = pathlib.Path(path)
  if not path.is_file():
    raise FileNotFoundError(f"{path}: no such hierarchy file.")
  try:
    raw = json.loads(path.read_text(encoding="utf-8"))
  except json.JSONDecodeError as e:
    raise ValueError(f"{path}: not valid JSON: {e}") from None
  if not isinstance(raw, dict) or not isinstance(raw.get("categories"), list):
    raise ValueError(f"{path}: needs a top-level object with a `categories` list.")
  categories = tuple(
      _parse_category(entry, f"{path}: categories[{i}]") for i, entry in enumerate(raw["categories"])
  )
  hierarchy = Hierarchy(
      categories=categories,
      foods=tuple(raw.get("foods", ())),
      habitats=tuple(raw.get("habitats", ())),
  )
  _validate(hierarchy, str(path))
  return hierarchy
