"""Compare: what each section (or each document) says about one topic, side by side."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from assistant.lexical import tokenize
from assistant.retrieve.hybrid import Retrieval
from assistant.types import PEOPLE, CompareRow, Comparison, Hit, Passage, Statement

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


def without_framing(question: str) -> str:
    """The question without the words that only ask for a comparison ("Compare what the
    report says about fentanyl" -> "what the about fentanyl"): what is left is what the
    evidence for it is judged on, as those words are not the topic."""
    kept = [w for w in question.split() if not (set(tokenize(w)) and set(tokenize(w)) <= _FRAMING)]
    return " ".join(kept) or question


def naming_sets(topic: str, query: str, rare: frozenset[str]) -> list[frozenset[str]]:
    """The word sets that name a topic; a sentence names it when it holds every word of one set.

    Each of the topic's own rare words (``rare``: stems rare in the corpus)
    names it alone, as a reader's "vaccinated" names "COVID-19 vaccination";
    a topic made only of common words must be named whole. The words an
    acronym is expanded to count only together: "USMCA" is searched as
    "United States-Mexico-Canada Agreement", and a sentence that merely says
    "Canada" or "United States" takes no position on the agreement.
    """
    own = frozenset(tokenize(topic)) - _FRAMING
    own_rare = own & rare
    sets = [frozenset({t}) for t in sorted(own_rare)] or ([own] if own else [])
    extra = frozenset(tokenize(query)) - own - _FRAMING
    if extra and query != topic:
        sets.append(extra)
    return sets


def compare_sections(topic: str, r: Retrieval, index_of: dict[str, int],
                     topic_terms: frozenset[str] = frozenset(), per_section: int = 2,
                     min_support: float = 0.35, relative_drop: float = 0.15,
                     second_ratio: float = 0.8,
                     max_rows: int = 8, by: str = "section", *,
                     sent_spans: np.ndarray, position_sentences: int = 2) -> Comparison:
    """Group the retrieved passages by section (or by document) and rank the groups.

    ``by`` names a grouping of ``GROUPINGS``: "section" gives one row per
    section, "document" one row per document, titled by the document and
    holding its best passages from whichever of its sections they come. The
    rules below are the same for both; only the grouping key differs.

    The test is made sentence by sentence (``sent_spans``: rows of passage
    index, start, end). A sentence addresses the topic when it names it (see
    ``naming_sets``), since a long sentence naming the topic in passing can
    score low in vector space; or when it is squarely about it: at least
    ``min_support`` and within ``relative_drop`` of the best sentence found.
    A passage with no such sentence does not count, and a section without
    one is left out rather than shown as taking a position it does not take.
    ``topic_terms`` are the searched query's rare stems (acronyms expanded).

    Each row carries its position: up to ``position_sentences`` of those
    sentences, the ones naming the topic first, then by closeness, shown in
    the order the section has them. A section's second passage is shown only
    when it scores nearly as well as its first (``second_ratio``), so rows are
    not padded with filler. Sections rank by their best passage plus half
    their second, so a section that discusses the topic at length edges out
    a passing mention.
    """
    key, row_noun = GROUPINGS[by]
    names = naming_sets(topic, r.query, topic_terms)
    # A member list names affiliations; it takes no position on anything.
    candidates = [h for h in r.hits if h.passage.kind != PEOPLE]
    sentences: dict[str, list[tuple[int, int, float, bool]]] = {}
    for h in candidates:
        rows = r.sentence_rows(index_of[h.passage.id])
        found = []
        for row in rows:
            s, e = int(sent_spans[row, 1]), int(sent_spans[row, 2])
            words = set(tokenize(h.passage.text[s:e]))
            found.append((s, e, float(r.sent_scores[row]), any(n <= words for n in names)))
        sentences[h.passage.id] = found
    best = max((x[2] for found in sentences.values() for x in found), default=0.0)
    # Relative floor too: when the topic has sentences squarely about it, a
    # section far below them is only brushing against the words.
    floor = max(min_support, best - relative_drop)
    groups: dict[tuple[str, tuple[str, ...]], list[Hit]] = {}
    for hit in candidates:
        sentences[hit.passage.id] = [x for x in sentences[hit.passage.id]
                                     if x[3] or x[2] >= floor]
        if sentences[hit.passage.id]:
            groups.setdefault(key(hit.passage), []).append(hit)
    rows = []
    for (doc_id, path), hits in groups.items():
        first = hits[0].score
        keep = [hits[0]] + [h for h in hits[1:per_section] if h.score >= second_ratio * first]
        pages = tuple(sorted({pg for h in keep for pg in h.passage.pages}))
        score = keep[0].score + (0.5 * keep[1].score if len(keep) > 1 else 0.0)
        said = [Statement(i, s, e, sc, nm) for i, h in enumerate(keep)
                for s, e, sc, nm in sentences[h.passage.id]]
        said.sort(key=lambda x: (not x.names, -x.score))
        position = tuple(sorted(said[:position_sentences], key=lambda x: (x.hit, x.start)))
        rows.append(CompareRow(path[-1], path, doc_id, pages, score, tuple(keep), position))
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
