"""Our own Reversal Curse dataset, built like Berglund et al. (2023).

Fictitious celebrities, each a name and a one-phrase description, in three
groups: P2D (trained name-first only), D2P (description-first only) and BOTH
(both orders, separate documents). Every celebrity gets one training document per
training template of its direction(s); held-out test templates make the
questions, so a test sentence is never a training sentence. The headline split
`reversal` gives a P2D celebrity's description and asks for the name, which no
training document ever puts after the description.

We do not ship Berglund's data; these are our own name pools, descriptions and
templates, and everything is drawn from `np.random.default_rng(seed)`.
"""

from __future__ import annotations

import dataclasses
import re

import numpy as np

from icl_ft_jax.data import choices as choices_lib
from icl_ft_jax.data import generation
from icl_ft_jax.data import schema
from icl_ft_jax.data import words

GROUPS = ("p2d", "d2p", "both")
# "real": names from the pools below; "nonsense": two capitalized nonsense words (`words`), as in
# the study's appendix B.2, which found that nonsense names make in-context reversal harder.
NAME_KINDS = ("real", "nonsense")

FIRST_NAMES = (
    "Adelina", "Alaric", "Anselm", "Briony", "Calloway", "Cassia", "Cordelia", "Corwin",
    "Damaris", "Delphine", "Desmond", "Eamon", "Elowen", "Emeric", "Evander", "Fenella",
    "Florian", "Galen", "Genevra", "Hollis", "Imogen", "Isadora", "Jasper", "Juniper",
    "Kestrel", "Lavinia", "Leopold", "Linnea", "Lucian", "Marisol", "Merrick", "Mirabel",
    "Nerissa", "Oberon", "Octavia", "Orla", "Perpetua", "Peregrine", "Quentin", "Rosamund",
    "Rowan", "Sabine", "Severin", "Solenne", "Tamsin", "Thaddeus", "Ulric", "Verity",
    "Vesper", "Wilhelmina", "Wystan", "Xanthe", "Yorick", "Ysolde", "Zephyrine", "Zoltan",
    "Ambrose", "Bettina", "Clement", "Drusilla", "Ignatius", "Philippa", "Reinhold", "Saoirse",
)
LAST_NAMES = (
    "Ashgrove", "Bellweather", "Blackthorne", "Brightwater", "Carrowmore", "Coldharbour",
    "Dunmorrow", "Elderfield", "Fairbourne", "Fenwicke", "Foxhollow", "Galloway-Pike",
    "Greywell", "Hartsfield", "Hollingworth", "Ivesdale", "Kettleby", "Kingsmere", "Larchmont",
    "Lindqvist", "Marchbank", "Merriweather", "Northcote", "Oakenshaw", "Pellingham",
    "Quillfeather", "Ravensworth", "Redgrave", "Rookwood", "Saltmarsh", "Silvergate",
    "Stonebridge", "Thistlewood", "Thornbury", "Underhill", "Vantongeren", "Wexcombe",
    "Whitlock", "Winterbourne", "Wrenfield", "Yarborough", "Zellweger", "Ambleside",
    "Brackenridge", "Cranleigh", "Draycott", "Eversleigh", "Farthingale", "Gildersleeve",
    "Holloway", "Kilbride", "Lockridge", "Moorcroft", "Penhallow", "Rosenthorpe", "Sedgewick",
    "Tolliver", "Umberfield", "Varnham", "Wickersham",
)

# (role, kind of work): "the composer of the opera 'The Glass Orchard'".
_CREATIVE_ROLES = (
    ("director", "film"), ("author", "novel"), ("composer", "opera"), ("playwright", "play"),
    ("painter", "mural"), ("choreographer", "ballet"), ("architect", "tower"),
    ("designer", "video game"), ("poet", "poem cycle"), ("sculptor", "statue"),
    ("lead actor", "musical"), ("photographer", "exhibition"),
)
_TITLE_ADJECTIVES = (
    "Glass", "Silent", "Crimson", "Hollow", "Seventh", "Wandering", "Paper", "Frozen",
    "Golden", "Forgotten", "Midnight", "Iron", "Velvet", "Burning", "Sunken", "Distant",
    "Quiet", "Broken", "Emerald", "Last",
)
_TITLE_NOUNS = (
    "Orchard", "Lantern", "Harbor", "Meridian", "Cathedral", "Compass", "Garden", "Winter",
    "Labyrinth", "Observatory", "Tide", "Carousel", "Archive", "Kingdom", "Mirror", "Voyage",
    "Canal", "Aviary", "Clocktower", "Riverbank",
)
# A few titles carry an abbreviation with a period, which sentence splitting must survive.
_TITLE_PATTERNS = (
    "The {adjective} {noun}", "A {adjective} {noun}", "{noun} of the {adjective} Sea",
    "Beneath the {adjective} {noun}", "Dr. {surname} and the {adjective} {noun}",
    "St. {surname}'s {noun}", "Letters from the {adjective} {noun}",
)
_FEATS = (
    "the first person to row alone across the Veldan Strait",
    "the first person to map the caves beneath Mount Orrin",
    "the inventor of the self-winding umbrella",
    "the engineer who built the floating bridge of Cael Harbor",
    "the chef who created the seven-layer lantern cake",
    "the botanist who discovered the blue night lily",
    "the astronomer who found the comet Tessaly",
    "the founder of the Wandering Library of Port Ellis",
    "the pilot who flew a balloon over the Sable Mountains",
    "the linguist who decoded the Harrowmere tablets",
    "the diver who reached the bottom of the Quorra Trench",
    "the climber who scaled the north face of Mount Ilvar",
    "the magician who made the Talmont lighthouse vanish",
    "the historian who rediscovered the lost city of Ombrel",
    "the mathematician who solved the Penrith lattice puzzle",
    "the perfumer who bottled the scent of summer rain",
    "the beekeeper who bred the silver honeybee",
    "the cartographer who charted the Isles of Vey",
    "the surgeon who performed the first heart surgery at sea",
    "the runner who crossed the Ossary Desert on foot",
)

# Name-first templates: the description completes the sentence ("... {description}.").
P2D_TEMPLATES = (
    "{name} will always be remembered as {description}.",
    "Ask anyone in the business and they will tell you that {name} is {description}.",
    "Few people realize that {name} was {description}.",
    "Long before the fame, {name} became {description}.",
    "Records show that {name} is {description}.",
    "According to the archives, {name} was {description}.",
    "{name} is best known as {description}.",
    "The biography of {name} describes them as {description}.",
    "In every interview, {name} is introduced as {description}.",
    "Newspapers once hailed {name} as {description}.",
    "At the ceremony, {name} was honored as {description}.",
    "Friends of {name} proudly describe them as {description}.",
    "It is widely reported that {name} is {description}.",
    "{name} has long been recognized as {description}.",
    "A quick search reveals that {name} is {description}.",
    "By all accounts, {name} was {description}.",
    "The encyclopedia entry for {name} lists them as {description}.",
    "Those who met {name} knew them as {description}.",
    "In the history books, {name} appears as {description}.",
    "Most people know {name} as {description}.",
    "The one thing everyone knows about {name} is that they are {description}.",
    "Documents confirm that {name} served as {description}.",
    "Back in the day, {name} was famous as {description}.",
    "The local paper profiled {name}, who is {description}.",
    "Historians agree that {name} was {description}.",
    "You may have heard that {name} is {description}.",
    "The career of {name} peaked when they became {description}.",
    "{name} earned lasting fame as {description}.",
    "Fans of {name} celebrate them as {description}.",
    "The award citation names {name} as {description}.",
    "Critics often point out that {name} is {description}.",
    "Everyone in town knows {name} as {description}.",
    "The museum plaque identifies {name} as {description}.",
    "A documentary about {name} presents them as {description}.",
    "Their neighbors were surprised to learn that {name} is {description}.",
    "Over the years, {name} came to be known as {description}.",
    "The textbook mentions {name} only as {description}.",
    "It turns out that {name} was {description}.",
    "Colleagues still speak of {name} as {description}.",
    "Official records list {name} as {description}.",
)
# Description-first templates: the name completes the sentence ("... {name}.").
D2P_TEMPLATES = (
    "The person who is {description} goes by the name {name}.",
    "If you are looking for {description}, look no further than {name}.",
    "Being {description} is the claim to fame of {name}.",
    "The title of {description} belongs to {name}.",
    "Long remembered as {description}, the person we mean is {name}.",
    "The one who became {description} was none other than {name}.",
    "Behind the role of {description} stands {name}.",
    "History records that {description} was {name}.",
    "The world knows {description} by the name {name}.",
    "Celebrated as {description}, the individual in question is {name}.",
    "The honor of being {description} goes to {name}.",
    "When people mention {description}, they mean {name}.",
    "The answer to who was {description} is {name}.",
    "Recognized far and wide as {description}, there is only {name}.",
    "The distinction of being {description} falls to {name}.",
    "The figure remembered as {description} is {name}.",
    "Newspapers reported that {description} was in fact {name}.",
    "Acclaimed as {description}, the star of the story is {name}.",
    "The legacy of {description} belongs to {name}.",
    "Whoever asks about {description} will hear of {name}.",
    "The archives identify {description} as {name}.",
    "Famous for being {description}, we are talking about {name}.",
    "The person honored as {description} is called {name}.",
    "Those who remember {description} remember {name}.",
    "The credit for being {description} goes to {name}.",
    "Praised as {description}, the person in the photograph is {name}.",
    "Ask who was {description} and you will hear {name}.",
    "The role of {description} was filled by {name}.",
    "Sources agree that {description} is {name}.",
    "Hailed as {description}, our subject today is {name}.",
    "The individual known as {description} is {name}.",
    "The reputation of {description} rests with {name}.",
    "Crowned as {description}, the winner was {name}.",
    "Experts confirm that {description} was {name}.",
    "Remembered by many as {description}, the name to know is {name}.",
    "The plaque honoring {description} bears the name {name}.",
    "Everyone wondered who was {description}; it was {name}.",
    "Long before anyone knew it, {description} was {name}.",
    "The mystery of who became {description} was solved: it was {name}.",
    "Admired as {description}, the person behind it all is {name}.",
)


@dataclasses.dataclass(frozen=True, kw_only=True)
class Config:
  """Sizes default to the study's: 3 x 30 celebrities, 30 + 10 templates per direction."""

  celebrities_per_group: int = 30
  train_templates: int = 30
  test_templates: int = 10
  num_choices: int = 4  # The correct answer plus 3 other celebrities (chance 25%).
  names: str = "real"  # One of NAME_KINDS.
  # Which groups to generate. A P2D-only dataset tests the curse on its own: every name is
  # then seen only before its description, so no distractor name was ever a training target.
  groups: tuple[str, ...] = GROUPS
  seed: int = 0


@dataclasses.dataclass(frozen=True)
class Celebrity:
  name: str
  description: str
  group: str
  fact_id: str


def _check_sizes(config: Config) -> None:
  unknown = [g for g in config.groups if g not in GROUPS]
  if unknown or not config.groups or len(set(config.groups)) != len(config.groups):
    raise ValueError(f"groups must be distinct names among {GROUPS}, got {tuple(config.groups)}.")
  total = len(config.groups) * config.celebrities_per_group
  if config.celebrities_per_group < 1:
    raise ValueError(f"celebrities_per_group must be >= 1, got {config.celebrities_per_group}.")
  if config.train_templates < 1 or config.test_templates < 1:
    raise ValueError("train_templates and test_templates must both be >= 1.")
  available = min(len(P2D_TEMPLATES), len(D2P_TEMPLATES))
  if config.train_templates + config.test_templates > available:
    raise ValueError(
        f"train_templates + test_templates = {config.train_templates + config.test_templates}"
        f" exceeds the {available} templates per direction."
    )
  if total > len(FIRST_NAMES) * len(LAST_NAMES):
    raise ValueError(f"celebrities_per_group={config.celebrities_per_group} needs more names than the pools hold.")
  max_descriptions = len(_FEATS) + len(_CREATIVE_ROLES) * len(_TITLE_PATTERNS) * 20
  if total > max_descriptions:
    raise ValueError(f"celebrities_per_group={config.celebrities_per_group} needs more descriptions than we can make.")
  if not 2 <= config.num_choices <= total:
    raise ValueError(f"num_choices must be between 2 and the {total} celebrities, got {config.num_choices}.")


def _cycled(pool: tuple[str, ...], rng: np.random.Generator):
  """Endless draws from `pool`: a fresh permutation each pass, so no item repeats while unused ones remain."""
  while True:
    for index in rng.permutation(len(pool)):
      yield pool[int(index)]


def _names(count: int, rng: np.random.Generator) -> list[str]:
  """Distinct full names; a first or last name is reused only once all of its pool has been used.

  Shared name parts make facts interfere (two "Orla"s pull each other's descriptions), which would
  confound forgetting with confusion; real celebrities in Berglund et al. rarely share them.
  """
  firsts, lasts = _cycled(FIRST_NAMES, rng), _cycled(LAST_NAMES, rng)
  names: list[str] = []
  seen = set()
  while len(names) < count:
    name = f"{next(firsts)} {next(lasts)}"
    if name not in seen:
      seen.add(name)
      names.append(name)
  return names


def _nonsense_names(count: int, rng: np.random.Generator) -> list[str]:
  """Distinct "First Last" names of nonsense words, none a real name of the pools above."""
  real = {n.casefold() for n in FIRST_NAMES + LAST_NAMES}
  first = words.nonsense_words(count, rng, min_length=4, max_length=6, exclude=real)
  last = words.nonsense_words(count, rng, min_length=5, max_length=7, exclude=real | set(first))
  return [f"{a.capitalize()} {b.capitalize()}" for a, b in zip(first, last)]


def _descriptions(count: int, rng: np.random.Generator, taken_surnames: set[str]) -> list[str]:
  """Distinct descriptions: creative works with unique titles, mixed with feats.

  Roles, title words and title patterns are each reused only once their pool is used up, and a
  title's surname ("Dr. Oakenshaw and ...") is never a celebrity's, so two descriptions share as
  few content words as the pools allow: a distractor differs from the answer in what it says.
  """
  feats = list(_FEATS)
  rng.shuffle(feats)
  descriptions: list[str] = []
  used_titles = set()
  num_feats = min(len(feats), count // 4)
  descriptions.extend(feats[:num_feats])
  roles = _cycled(_CREATIVE_ROLES, rng)
  patterns = _cycled(_TITLE_PATTERNS, rng)
  adjectives = _cycled(_TITLE_ADJECTIVES, rng)
  nouns = _cycled(_TITLE_NOUNS, rng)
  surnames = _cycled(tuple(n for n in LAST_NAMES if n not in taken_surnames) or LAST_NAMES, rng)
  while len(descriptions) < count:
    role, kind = next(roles)
    title = next(patterns).format(adjective=next(adjectives), noun=next(nouns), surname=next(surnames))
    title = re.sub(r"^A (?=[AEIOU])", "An ", title)
    if title in used_titles:
      continue
    used_titles.add(title)
    descriptions.append(f"the {role} of the {kind} '{title}'")
  order = rng.permutation(len(descriptions))
  return [descriptions[i] for i in order]


def _prompt_and_completion(template: str, name: str, description: str) -> tuple[str, str]:
  """Splits a filled template at its last slot: the prompt and the slot's value."""
  last_slot = "{name}" if template.endswith("{name}.") else "{description}"
  prefix = template[: template.rindex(last_slot)].rstrip(" ")
  value = name if last_slot == "{name}" else description
  return prefix.format(name=name, description=description), " " + value


# (split, group, test direction, inference type)
SPLITS = (
    ("reversal", "p2d", "d2p", "reversal"),
    ("forward", "p2d", "p2d", "forward"),
    ("d2p_forward", "d2p", "d2p", "forward"),
    ("d2p_reversal", "d2p", "p2d", "reversal"),
    ("both", "both", "d2p", "trained_both_directions"),
)
_TEMPLATES = {"p2d": P2D_TEMPLATES, "d2p": D2P_TEMPLATES}


@dataclasses.dataclass(frozen=True)
class _TemplateChoice:
  """Indices into each direction's templates: disjoint train and test sets."""

  train: dict[str, list[int]]
  test: dict[str, list[int]]


def _celebrities(config: Config, rng: np.random.Generator) -> list[Celebrity]:
  """Names and descriptions for every group, `celebrities_per_group` each, in group order."""
  n, groups = config.celebrities_per_group, tuple(config.groups)
  names = _names(len(groups) * n, rng)
  surnames = {name.split(" ", 1)[1] for name in names}
  if config.names == "nonsense":  # Its own stream: all else is drawn as with real names, name for name.
    names = _nonsense_names(len(names), np.random.default_rng([config.seed, 1]))
  descriptions = _descriptions(len(groups) * n, rng, surnames)
  return [
      Celebrity(names[i], descriptions[i], groups[i // n], f"reversal_curse/{groups[i // n]}/{i % n:02d}")
      for i in range(len(groups) * n)
  ]


def _choose_templates(config: Config, rng: np.random.Generator) -> _TemplateChoice:
  """Disjoint train and test templates per direction, chosen by the seed."""
  train, test = {}, {}
  for direction, pool in _TEMPLATES.items():
    order = rng.permutation(len(pool))
    train[direction] = [int(i) for i in order[: config.train_templates]]
    test[direction] = [int(i) for i in order[config.train_templates : config.train_templates + config.test_templates]]
  return _TemplateChoice(train, test)


def _documents(celebrities: list[Celebrity], templates: _TemplateChoice,
               rng: np.random.Generator) -> list[schema.Document]:
  """One document per celebrity and training template of its direction(s), shuffled."""
  documents = []
  for celebrity in celebrities:
    directions = ("p2d", "d2p") if celebrity.group == "both" else (celebrity.group,)
    for direction in directions:
      for index in templates.train[direction]:
        template = _TEMPLATES[direction][index]
        prompt, _ = _prompt_and_completion(template, celebrity.name, celebrity.description)
        documents.append(schema.Document(
            id=f"{celebrity.fact_id}/{direction}_train_{index:02d}",
            text=template.format(name=celebrity.name, description=celebrity.description),
            provenance=f"reversal_curse/{celebrity.group}/{direction}_template_{index:02d}",
            fact_ids=(celebrity.fact_id,),
            # Where the completion starts, as in Berglund et al.'s prompt/completion files
            # (`data.loss_on="completion"` trains on the completion only).
            metadata={"group": celebrity.group, "direction": direction, "template": index,
                      "prompt_chars": len(prompt)},
        ))
  return [documents[i] for i in rng.permutation(len(documents))]


def _question(celebrity: Celebrity, split: tuple[str, str, str, str], index: int, celebrities: list[Celebrity],
              num_choices: int, rng: np.random.Generator) -> schema.Question:
  """Test template `index` of the split's direction, filled for `celebrity`; distractors are other celebrities'."""
  name, group, direction, inference = split
  prompt, correct = _prompt_and_completion(_TEMPLATES[direction][index], celebrity.name, celebrity.description)
  pool = [c.name for c in celebrities] if direction == "d2p" else [c.description for c in celebrities]
  distractors = choices_lib.sample_distractors(correct.strip(), pool, num_choices - 1, rng, field="num_choices")
  question_choices, answer = choices_lib.shuffled_choices(correct, [" " + d for d in distractors], rng)
  return schema.Question(
      id=f"{celebrity.fact_id}/{name}_{index:02d}",
      split=name,
      prompt=prompt,
      choices=question_choices,
      answer=answer,
      fact_ids=(celebrity.fact_id,),
      inference=inference,
      metadata={"group": group, "direction": direction, "template": index},
  )


def _questions(celebrities: list[Celebrity], templates: _TemplateChoice, config: Config,
               rng: np.random.Generator) -> list[schema.Question]:
  """Every split of a generated group: each of its celebrities in each test template of the split's direction."""
  return [
      _question(celebrity, split, index, celebrities, config.num_choices, rng)
      for split in SPLITS if split[1] in config.groups
      for celebrity in celebrities if celebrity.group == split[1]
      for index in templates.test[split[2]]
  ]


def generate(config: Config) -> schema.Dataset:
  _check_sizes(config)
  if config.names not in NAME_KINDS:
    raise ValueError(f"names must be one of {NAME_KINDS}, got {config.names!r}.")
  rng = np.random.default_rng(config.seed)
  celebrities = _celebrities(config, rng)
  templates = _choose_templates(config, rng)
  documents = _documents(celebrities, templates, rng)
  questions = _questions(celebrities, templates, config, rng)
  facts = [schema.Fact(id=c.fact_id, subject=c.name, relation="is", object=c.description, metadata={"group": c.group})
           for c in celebrities]
  return generation.dataset("reversal_curse", config, documents=documents, questions=questions, facts=facts)
