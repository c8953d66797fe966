"""Compare: what each section says about one topic, side by side."""

from __future__ import annotations

from assistant.retrieve.hybrid import Retrieval
from assistant.types import CompareRow, Comparison, Hit


def compare_sections(topic: str, r: Retrieval, index_of: dict[str, int], per_section: int = 2,
                     min_support: float = 0.30, max_rows: int = 8) -> Comparison:
    """Group the retrieved passages by section and rank the sections.

    A section is ranked by its best passage's fused score (so one strong
    passage outranks several weak ones), and is shown only when one of its
    sentences is at least ``min_support`` similar to the topic or the passage
    shares words with it: a section that merely sits near the topic in vector
    space is left out rather than shown as a position it does not take.
    """
    groups: dict[tuple[str, tuple[str, ...]], list[Hit]] = {}
    for hit in r.hits:
        p = hit.passage
        pi = index_of[p.id]
        if float(r.sentence[pi]) < min_support and hit.lexical <= 0:
            continue
        groups.setdefault((p.doc_id, p.section_path), []).append(hit)
    rows = []
    for (doc_id, path), hits in groups.items():
        hits = hits[:per_section]
        pages = tuple(sorted({pg for h in hits for pg in h.passage.pages}))
        rows.append(CompareRow(path[-1], path, doc_id, pages, hits[0].score, tuple(hits)))
    rows.sort(key=lambda row: -row.score)
    rows = rows[:max_rows]
    if not rows:
        return Comparison(topic, (), True, "no section of the report addresses this topic")
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
