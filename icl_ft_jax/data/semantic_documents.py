"""Wiki-like training articles for the semantic structure benchmark.

Articles state only trained base facts, always subject first, so that reversals
and deductions are never written down. Each article centres on one category and
fills up with facts about its tree neighbours (parent, siblings, children, then
further out), in one of five styles: an encyclopedia paragraph, a bullet list, a
Q&A sheet, a comparison of two categories, or a quiz of unrelated QA examples.
A first pass writes one article per category that states all its facts with full
names, so every fact a question needs is in at least one article.
"""

from __future__ import annotations

import collections
import dataclasses
from collections.abc import Callable, Sequence

import numpy as np

from icl_ft_jax.data import semantic_knowledge
from icl_ft_jax.data import semantic_text

Triple = semantic_knowledge.Triple

STYLES = ("encyclopedia", "bullets", "qa", "comparison", "quiz")
_RANDOM_STYLE_WEIGHTS = (0.35, 0.2, 0.15, 0.2, 0.1)
MIN_SENTENCES = 4
MAX_SENTENCES = 20
_BULLET_HEADERS = ("Facts about {S}:", "{S} at a glance:", "Notes on {S}:")
_CONNECTIVES = ("In contrast, ", "Meanwhile, ", "On the other hand, ", "By comparison, ")


@dataclasses.dataclass(frozen=True, kw_only=True)
class Article:
  """One written article: its text, the facts it states, how it was made."""

  text: str
  triples: tuple[Triple, ...]
  style: str
  focus: str
  num_sentences: int


@dataclasses.dataclass(frozen=True, kw_only=True)
class ArticleWriter:
  """Writes articles from the trained facts; all randomness comes from the `rng` passed in."""

  hierarchy: semantic_knowledge.Hierarchy
  lexicon: semantic_text.Lexicon
  trained: tuple[Triple, ...]  # Trained base facts, in hierarchy order.

  def __post_init__(self):
    by_subject: dict[str, list[Triple]] = collections.defaultdict(list)
    for triple in self.trained:
      by_subject[triple[0]].append(triple)
    # is_a first: an article opens by saying what its subject is.
    ordered = {s: tuple(sorted(ts, key=lambda t: t[1] != semantic_knowledge.IS_A)) for s, ts in by_subject.items()}
    object.__setattr__(self, "_facts_by_subject", ordered)

  @property
  def subjects(self) -> tuple[str, ...]:
    """Categories with at least one trained fact, in hierarchy order."""
    return tuple(n for n in self.hierarchy.names if n in self._facts_by_subject)

  def facts_about(self, name: str) -> tuple[Triple, ...]:
    return self._facts_by_subject.get(name, ())

  def neighbourhood(self, name: str) -> tuple[str, ...]:
    """Other categories by distance in the tree (breadth first, file order within a level)."""
    seen = {name}
    order = []
    frontier = [name]
    while frontier:
      next_frontier = []
      for node in frontier:
        parent = self.hierarchy.by_name[node].parent
        for other in ((parent,) if parent else ()) + self.hierarchy.children(node):
          if other not in seen:
            seen.add(other)
            next_frontier.append(other)
      order.extend(next_frontier)
      frontier = next_frontier
    return tuple(n for n in order if self.facts_about(n))

  # ------------------------------------------------------------------------------------
  # Sentences
  # ------------------------------------------------------------------------------------

  def statement(self, triple: Triple, rng: np.random.Generator, *, pronoun: bool = False) -> str:
    subject, relation, obj = triple
    templates = semantic_text.PRONOUN_TEMPLATES[relation] if pronoun else semantic_text.TRAIN_TEMPLATES[relation]
    return semantic_text.render(templates[rng.integers(len(templates))], self.lexicon, subject, obj)

  def question(self, triple: Triple, rng: np.random.Generator) -> str:
    templates = semantic_text.TRAIN_QUESTIONS[triple[1]]
    return semantic_text.render(templates[rng.integers(len(templates))], self.lexicon, triple[0], None)

  # ------------------------------------------------------------------------------------
  # Choosing what an article says
  # ------------------------------------------------------------------------------------

  def _groups(
      self, focus: str, num_facts: int, rng: np.random.Generator, *, skip: tuple[str, ...] = ()
  ) -> list[tuple[Triple, ...]]:
    """All of the focus's facts, then random parts of its neighbours', grouped by subject."""
    own = self.facts_about(focus)
    groups = [own[:1] + tuple(own[1:][i] for i in rng.permutation(len(own) - 1))]
    total = len(own)
    for neighbour in self.neighbourhood(focus):
      if total >= num_facts:
        break
      if neighbour in skip:
        continue
      facts = self.facts_about(neighbour)
      take = min(int(rng.integers(1, len(facts) + 1)), num_facts - total)
      picked = sorted(rng.choice(len(facts), size=take, replace=False))
      groups.append(tuple(facts[i] for i in picked))
      total += take
    return groups

  def _partner(self, focus: str, rng: np.random.Generator) -> str:
    """A sibling to compare with when there is one, else the nearest neighbour."""
    parent = self.hierarchy.by_name[focus].parent
    siblings = [n for n in self.hierarchy.children(parent) if n != focus and self.facts_about(n)] if parent else []
    if siblings:
      return siblings[rng.integers(len(siblings))]
    return self.neighbourhood(focus)[0]

  # ------------------------------------------------------------------------------------
  # Styles
  # ------------------------------------------------------------------------------------

  def encyclopedia(self, focus: str, rng: np.random.Generator, *, pronouns: bool = True) -> Article:
    num_facts = int(rng.integers(MIN_SENTENCES, MAX_SENTENCES + 1))
    paragraphs, triples = [], []
    for group in self._groups(focus, num_facts, rng):
      sentences = [
          self.statement(t, rng, pronoun=pronouns and i > 0 and rng.random() < 0.5) for i, t in enumerate(group)
      ]
      paragraphs.append(" ".join(sentences))
      triples.extend(group)
    return Article(text="\n\n".join(paragraphs), triples=tuple(triples), style="encyclopedia",
                   focus=focus, num_sentences=len(triples))

  def bullets(self, focus: str, rng: np.random.Generator) -> Article:
    num_facts = int(rng.integers(MIN_SENTENCES, MAX_SENTENCES + 1))
    groups = self._groups(focus, num_facts, rng)
    # Headers are lines of their own to a sentence splitter: keep them within the limit too.
    while sum(map(len, groups)) + len(groups) > MAX_SENTENCES:
      groups[-1] = groups[-1][:-1]
      if not groups[-1]:
        groups.pop()
    blocks, triples = [], []
    for group in groups:
      header_template = _BULLET_HEADERS[rng.integers(len(_BULLET_HEADERS))]
      header = semantic_text.render(header_template, self.lexicon, group[0][0], None)
      blocks.append("\n".join([header] + [f"- {self.statement(t, rng)}" for t in group]))
      triples.extend(group)
    return Article(text="\n\n".join(blocks), triples=tuple(triples), style="bullets", focus=focus,
                   num_sentences=len(triples))

  def _qa_text(self, facts: Sequence[Triple], rng: np.random.Generator) -> str:
    return "\n".join(f"Q: {self.question(t, rng)}\nA: {self.statement(t, rng)}" for t in facts)

  def qa(self, focus: str, rng: np.random.Generator) -> Article:
    num_facts = max(len(self.facts_about(focus)), int(rng.integers(MIN_SENTENCES // 2, MAX_SENTENCES // 2 + 1)))
    facts = [t for group in self._groups(focus, num_facts, rng) for t in group]
    return Article(text=self._qa_text(facts, rng), triples=tuple(facts), style="qa", focus=focus,
                   num_sentences=2 * len(facts))

  def quiz(self, focus: str, rng: np.random.Generator) -> Article:
    """QA examples about unrelated categories, the focus's facts among them."""
    num_facts = max(len(self.facts_about(focus)), int(rng.integers(MIN_SENTENCES // 2, MAX_SENTENCES // 2 + 1)))
    others = [i for i, t in enumerate(self.trained) if t[0] != focus]
    extra = [self.trained[i] for i in sorted(rng.choice(others, size=num_facts - len(self.facts_about(focus)),
                                                         replace=False))]
    facts = list(self.facts_about(focus)) + extra
    facts = [facts[i] for i in rng.permutation(len(facts))]
    return Article(text=self._qa_text(facts, rng), triples=tuple(facts), style="quiz", focus=focus,
                   num_sentences=2 * len(facts))

  def comparison(self, focus: str, rng: np.random.Generator) -> Article:
    """Two categories side by side, one subject per sentence, then related facts."""
    partner = self._partner(focus, rng)
    first, second = list(self.facts_about(focus)), list(self.facts_about(partner))
    sentences, triples = [], []
    parent = self.hierarchy.by_name[focus].parent
    shared = (focus, semantic_knowledge.IS_A, parent)
    if parent is not None and shared in first and (partner, semantic_knowledge.IS_A, parent) in second:
      s, p = self.lexicon.plural(focus), self.lexicon.plural(partner)
      sentences.append(f"Both {s} and {p} are {self.lexicon.plural(parent)}.")
      triples.extend([shared, (partner, semantic_knowledge.IS_A, parent)])
      first.remove(shared)
      second.remove((partner, semantic_knowledge.IS_A, parent))
    for i in range(max(len(first), len(second))):
      if i < len(first):
        sentences.append(self.statement(first[i], rng))
        triples.append(first[i])
      if i < len(second):
        connective = _CONNECTIVES[rng.integers(len(_CONNECTIVES))]
        sentence = self.statement(second[i], rng)
        sentences.append(connective + sentence[0].lower() + sentence[1:])
        triples.append(second[i])
    paragraphs = [" ".join(sentences)]
    num_sentences = len(sentences)
    target = max(num_sentences, int(rng.integers(MIN_SENTENCES, MAX_SENTENCES + 1)))
    if num_sentences < target:
      wanted = target - num_sentences + len(self.facts_about(focus))
      for group in self._groups(focus, wanted, rng, skip=(partner,))[1:]:
        paragraphs.append(" ".join(self.statement(t, rng) for t in group))
        num_sentences += len(group)
        triples.extend(group)
    return Article(text="\n\n".join(paragraphs), triples=tuple(triples), style="comparison", focus=focus,
                   num_sentences=num_sentences)

  def write(self, style: str, focus: str, rng: np.random.Generator, *, full_names: bool = False) -> Article:
    """One article; `full_names` (no pronouns) makes every fact readable on its own."""
    writers: dict[str, Callable[..., Article]] = {
        "bullets": self.bullets, "qa": self.qa, "comparison": self.comparison, "quiz": self.quiz,
    }
    if style == "encyclopedia":
      return self.encyclopedia(focus, rng, pronouns=not full_names)
    return writers[style](focus, rng)


def write_articles(writer: ArticleWriter, num_articles: int, rng: np.random.Generator) -> list[Article]:
  """One full-name article per category first (coverage), then random ones, shuffled."""
  subjects = writer.subjects
  if num_articles < len(subjects):
    raise ValueError(
        f"num_documents={num_articles} is too few: every one of the {len(subjects)} categories"
        " needs an article stating its facts."
    )
  articles = []
  for focus in subjects:
    style = STYLES[rng.integers(len(STYLES) - 1)]  # Any style but the quiz.
    articles.append(writer.write(style, focus, rng, full_names=True))
  for _ in range(num_articles - len(subjects)):
    style = STYLES[rng.choice(len(STYLES), p=_RANDOM_STYLE_WEIGHTS)]
    focus = subjects[rng.integers(len(subjects))]
    articles.append(writer.write(style, focus, rng))
  return [articles[i] for i in rng.permutation(len(articles))]
