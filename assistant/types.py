"""The plain types that flow from the parser to the page.

Everything here is a frozen dataclass of plain values, so a passage read back
from disk compares equal to the one that was written, and the app, CLI and
tests all speak the same vocabulary.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any

# Kinds of block / passage. "text" is running prose (lists included); the rest
# are the report's set-apart material, kept separate so they can be shown as
# what they are.
TEXT = "text"
QUOTE = "quote"
PEOPLE = "people"
FOOTNOTE = "footnote"
TABLE = "table"  # rows of a table, one a line; Block.label holds its title and column headers


@dataclass(frozen=True)
class Person:
    name: str
    affiliation: str
    section: str  # title of the section whose panel or group lists them
    role: str  # the list's own label, e.g. "PANELISTS" or "MIGRATION GROUP"


@dataclass(frozen=True)
class Section:
    """A heading of a document with the pages it spans."""

    id: str
    title: str
    path: tuple[str, ...]  # titles from the top, ending with this one
    start_page: int
    end_page: int
    start: int  # character offsets of the section in Document.text
    end: int

    @property
    def level(self) -> int:
        return len(self.path)


@dataclass(frozen=True)
class Block:
    """A paragraph-sized unit of a parsed document, with its place in Document.text."""

    text: str
    kind: str  # TEXT, QUOTE, PEOPLE, FOOTNOTE, TABLE
    section_id: str
    start: int
    end: int
    label: str = ""  # footnote number, people-list label
    list_item: bool = False
    notes: tuple[str, ...] = ()  # footnote numbers this block references


@dataclass(frozen=True)
class Document:
    """One parsed document.

    ``text`` is the cleaned text (running headers, cover and contents removed,
    link residue reduced, split sentences joined, pull quotes moved out); every
    passage is a verbatim span of it. ``page_starts`` maps offsets to pages:
    each pair ``(o, p)`` says that from offset ``o`` of ``text`` the text is on
    page ``p``, until the next pair.
    """

    id: str
    title: str
    source: str  # file name inside the corpus folder
    text: str
    sections: tuple[Section, ...]
    blocks: tuple[Block, ...]
    page_starts: tuple[tuple[int, int], ...]
    people: tuple[Person, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    def pages_of(self, start: int, end: int) -> tuple[int, ...]:
        """Pages covered by the character span [start, end).

        ``page_starts`` holds runs, not a sorted page list: a sentence joined
        across a page break may be followed by a footnote of the earlier page.
        """
        end = max(end, start + 1)
        pages = set()
        runs = self.page_starts
        for i, (offset, page) in enumerate(runs):
            nxt = runs[i + 1][0] if i + 1 < len(runs) else len(self.text) + 1
            if offset < end and nxt > start:
                pages.add(page)
        return tuple(sorted(pages))

    def section(self, section_id: str) -> Section:
        for s in self.sections:
            if s.id == section_id:
                return s
        raise KeyError(section_id)


@dataclass(frozen=True)
class Passage:
    """A retrievable chunk: a verbatim span of its document's cleaned text."""

    id: str
    doc_id: str
    text: str
    section: str  # title of the innermost section
    section_path: tuple[str, ...]
    pages: tuple[int, ...]
    start: int
    end: int
    kind: str = TEXT
    # Extra words indexed with the passage but never shown as its text: the
    # section path, and for a footnote the sentence that references it.
    context: str = ""
    notes: tuple[str, ...] = ()
    doc_title: str = ""
    # The numbers printed on those pages, where a document prints other
    # numbers than their place ("20" on the 26th page of a filing); else empty.
    printed_pages: tuple[str, ...] = ()

    @property
    def page_label(self) -> str:
        if not self.pages:
            return ""
        if len(self.pages) == 1:
            label = f"p. {self.pages[0]}"
        else:
            label = f"pp. {self.pages[0]}-{self.pages[-1]}"
        printed = [p for p in self.printed_pages if p]
        if printed:
            shown = printed[0] if len(set(printed)) == 1 else f"{printed[0]}-{printed[-1]}"
            label += f" (printed {shown})"
        return label

    @property
    def citation(self) -> str:
        """Human citation: section and page(s), with the document when there are several."""
        where = " › ".join(self.section_path) if self.section_path else self.section
        return f"{where}, {self.page_label}"

    @property
    def document_citation(self) -> str:
        """The citation naming its document first, for answers drawn from several documents.

        A section path that already opens with the document's title is not
        prefixed again.
        """
        path = self.section_path or (self.section,)
        if not self.doc_title or path[0] == self.doc_title:
            return self.citation
        return f"{self.doc_title} — {self.citation}"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["section_path"] = list(self.section_path)
        d["pages"] = list(self.pages)
        d["notes"] = list(self.notes)
        d["printed_pages"] = list(self.printed_pages)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Passage:
        d = dict(d)
        d["section_path"] = tuple(d.get("section_path", ()))
        d["pages"] = tuple(d.get("pages", ()))
        d["notes"] = tuple(d.get("notes", ()))
        d["printed_pages"] = tuple(d.get("printed_pages", ()))
        return cls(**d)


@dataclass(frozen=True)
class Sentence:
    """A sentence of a passage, by offsets into the passage text."""

    passage_id: str
    start: int
    end: int


@dataclass(frozen=True)
class Hit:
    passage: Passage
    score: float  # fused score, larger is better; comparable within one query only
    dense: float = 0.0  # cosine similarity of question and passage
    lexical: float = 0.0  # BM25 score


@dataclass(frozen=True)
class AnswerSentence:
    text: str  # verbatim sentence of the cited passage
    citation: int  # 1-based number of the cited passage in Answer.citations
    score: float
    item: bool = False  # an item of a list (shown on its own line, after its lead-in)


@dataclass(frozen=True)
class AnswerGroup:
    """The sentences an answer brings from one section, in the report's order."""

    section: str  # the section's place, e.g. "Working Groups › Migration"
    pages: tuple[int, ...]
    sentences: tuple[AnswerSentence, ...]
    more: str = ""  # a list cut short: how many items were left out and where they are


@dataclass(frozen=True)
class Answer:
    question: str
    # The composed answer: sentences each followed by [n] (grouped under section
    # headings when they come from several sections), or the abstention notice.
    text: str
    sentences: tuple[AnswerSentence, ...]  # every sentence of the answer, in the order shown
    # Numbered from 1, in that order: the passages the answer quotes first, in the
    # order it quotes them, then the other retrieved ones (an abstention: the
    # closest passages, by rank).
    citations: tuple[Hit, ...]
    abstained: bool
    reason: str = ""  # why it abstained, or notes such as a truncated question
    query: str = ""  # the query actually searched (after expansion / follow-up)
    groups: tuple[AnswerGroup, ...] = ()  # the sentences by section (one group: one section)
    ranked: tuple[Hit, ...] = ()  # the retrieval's ranking, best first (what eval's hit@k reads)


@dataclass(frozen=True)
class Statement:
    """A sentence in which a section states its position on a compared topic."""

    hit: int  # 0-based index into CompareRow.hits
    start: int  # offsets into that passage's text
    end: int
    score: float  # cosine of the topic with the sentence
    names: bool  # the sentence names the topic (its words, or an acronym's expansion)


@dataclass(frozen=True)
class CompareRow:
    section: str
    section_path: tuple[str, ...]
    doc_id: str
    pages: tuple[int, ...]
    score: float
    hits: tuple[Hit, ...]  # the section's most relevant passages, best first
    position: tuple[Statement, ...] = ()  # its own one or two sentences on the topic, in text order


@dataclass(frozen=True)
class Comparison:
    topic: str
    rows: tuple[CompareRow, ...]
    abstained: bool = False
    reason: str = ""
