"""Compare: what each section (or each document) says about one topic, side by side."""

from __future__ import annotations

from collections.abc import Callable

from assistant.lexical import tokenize
from assistant.retrieve.hybrid import Retrieval
from assistant.types import PEOPLE, CompareRow, Comparison, Hit, Passage

# A row's key: the document it belongs to and the heading path it is shown under.
GroupKey = Callable[[Passage], tuple[str, tuple[str, ...]]]


def by_section(p: Passage) -> tuple[str, tuple[str, ...]]:
    return p.doc_id, p.section_path


def by_document(p: Passage) -> tuple[str, tuple[str, ...]]:
    # An index built before passages carried their document's title still has its id.
    return p.doc_id, (p.doc_title or p.doc_id,)


# What ``Assistant.compare(by=...)`` accepts, and what a row stands for in messages.
GROUPINGS: dict[str, tuple[GroupKey, str]] = {
    "section": (by_section, "section of the report"),
    "document": (by_document, "document"),
}


# Words a reader uses to ask for a comparison rather than to name its topic
# ("How is X discussed in different parts of the report?"). They are rare
# enough in a report to pass as distinctive, and every passage that says
# "report" or "discussed" would then count as mentioning the topic.
_FRAMING = frozenset(tokenize(
    "section sections part parts chapter chapters report document discuss discussed discussion "
    "say says said describe described treat treated compare comparison different differ various "
    "across view views address addressed mention mentioned talk cover covered assess assessed "
    "approach refer portray present presented handle handled each "
    # Prepositions that bm25s's English stop list lacks ("say about X").
    "about regarding concerning"))


def compare_sections(topic: str, r: Retrieval, index_of: dict[str, int],
                     topic_terms: frozenset[str] = frozenset(), per_section: int = 2,
                     min_support: float = 0.35, relative_drop: float = 0.15,
                     second_ratio: float = 0.8,
                     max_rows: int = 8, by: str = "section") -> Comparison:
    """Group the retrieved passages by section (or by document) and rank the groups.

    ``by`` names a grouping of ``GROUPINGS``: "section" gives one row per
    section, "document" one row per document, titled by the document and
    holding its best passages from whichever of its sections they come. The
    rules below are the same for both; only the grouping key differs.

    A passage speaks to the topic when it uses the topic's distinctive words
    (``topic_terms``: stems rare in the corpus, acronyms expanded), since a
    long sentence naming the topic in passing can score low in vector space;
    or when one of its sentences is close to the topic: at least
    ``min_support`` and within ``relative_drop`` of the best sentence found.
    A section that only sits near the topic in vector space is left out
    rather than shown as taking a position it does not take.

    A section's second passage is shown only when it scores nearly as well as
    its first (``second_ratio``), so rows are not padded with filler. Sections
    rank by their best passage plus half their second, so a section that
    discusses the topic at length edges out a passing mention.
    """
    key, row_noun = GROUPINGS[by]
    topic_terms = topic_terms - _FRAMING
    # A member list names affiliations; it takes no position on anything.
    candidates = [h for h in r.hits if h.passage.kind != PEOPLE]
    support = {h.passage.id: float(r.sentence[index_of[h.passage.id]]) for h in candidates}
    # Relative floor too: when the topic has sentences squarely about it, a
    # section far below them is only brushing against the words.
    floor = max(min_support, max(support.values(), default=0.0) - relative_drop)
    groups: dict[tuple[str, tuple[str, ...]], list[Hit]] = {}
    for hit in candidates:
        p = hit.passage
        mentions = bool(topic_terms & set(tokenize(p.text)))
        if not mentions and support[p.id] < floor:
            continue
        groups.setdefault(key(p), []).append(hit)
    rows = []
    for (doc_id, path), hits in groups.items():
        first = hits[0].score
        keep = [hits[0]] + [h for h in hits[1:per_section] if h.score >= second_ratio * first]
        pages = tuple(sorted({pg for h in keep for pg in h.passage.pages}))
        score = keep[0].score + (0.5 * keep[1].score if len(keep) > 1 else 0.0)
        rows.append(CompareRow(path[-1], path, doc_id, pages, score, tuple(keep)))
    rows.sort(key=lambda row: -row.score)
    rows = rows[:max_rows]
    if not rows:
        return Comparison(topic, (), True, f"no {row_noun} addresses this topic")
    return Comparison(topic, tuple(rows))


def comparison_passages(c: Comparison, limit: int = 10) -> list[Hit]:
    """Passages in reading order for a ranked list: each section's best first, then seconds."""
    out: list[Hit] = []
    depth = max((len(row.hits) for row in c.rows), default=0)
    for level in range(depth):
        for row in c.rows:
            if level < len(row.hits):
                out.append(row.hits[level])
    return out[:limit]
