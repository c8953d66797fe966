"""Build a Document from a stream of headings and blocks.

The PDF, Markdown and HTML parsers read very different files but say the same
things: "a heading of level n on page p", "a paragraph (maybe continued over
a page break)", "a footnote". This builder turns that stream into the one
document model: headings nest into sections by level (a level-2 heading
belongs to the level-1 heading above it, and a parent section's span covers
its children), the cleaned text is assembled with its page runs, and every
block is a verbatim span of it.

Text before the first heading (a title page, an abstract) is not dropped: it
becomes a leading section named after the document.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from assistant.types import FOOTNOTE, TEXT, Block, Document, Section

SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
_SUP_TO_DIGIT = {c: str(i) for i, c in enumerate(SUPERSCRIPTS)}
_NOTE_REF = re.compile(rf"[{SUPERSCRIPTS}]+")


def to_superscript(digits: str) -> str:
    return "".join(SUPERSCRIPTS[int(c)] for c in digits)


def note_refs(text: str) -> tuple[str, ...]:
    """Footnote numbers referenced in ``text`` by superscript digits."""
    return tuple("".join(_SUP_TO_DIGIT[c] for c in m.group(0)) for m in _NOTE_REF.finditer(text))


@dataclass
class _Heading:
    level: int
    title: str
    page: int
    start: int


@dataclass
class _Block:
    kind: str
    section: int  # index into headings, -1 for the leading section
    start: int
    end: int
    label: str
    list_item: bool


class OutlineBuilder:
    """Accumulates headings and blocks in reading order; ``build`` makes the Document."""

    def __init__(self) -> None:
        self._parts: list[str] = []
        self._length = 0
        self._runs: list[tuple[int, int]] = []
        self._headings: list[_Heading] = []
        self._blocks: list[_Block] = []

    @property
    def has_content(self) -> bool:
        return bool(self._blocks)

    def _emit(self, text: str, page: int) -> int:
        if self._parts:
            self._parts.append("\n\n")
            self._length += 2
        if not self._runs or self._runs[-1][1] != page:
            self._runs.append((self._length, page))
        start = self._length
        self._parts.append(text)
        self._length += len(text)
        return start

    def heading(self, level: int, title: str, page: int) -> None:
        title = " ".join(title.split())
        if not title:
            return
        start = self._emit(title, page)
        self._headings.append(_Heading(max(1, level), title, page, start))

    def block(self, pieces: list[tuple[str, int]], kind: str = TEXT, label: str = "",
              list_item: bool = False, sep: str = " ") -> None:
        """A block made of ``(text, page)`` pieces joined by ``sep`` (pieces cross pages)."""
        pieces = [(t, p) for t, p in pieces if t]
        if not pieces:
            return
        start = self._emit(pieces[0][0], pieces[0][1])
        for text, page in pieces[1:]:
            self._parts.append(sep)
            self._length += len(sep)
            if self._runs[-1][1] != page:
                self._runs.append((self._length, page))
            self._parts.append(text)
            self._length += len(text)
        self._blocks.append(_Block(kind, len(self._headings) - 1, start, self._length, label,
                                   list_item))

    def build(self, doc_id: str, source: str, title: str, meta: dict) -> Document:
        text = "".join(self._parts)
        runs = tuple(self._runs) or ((0, 1),)

        def page_at(offset: int) -> int:
            page = runs[0][1]
            for start, p in runs:
                if start > offset:
                    break
                page = p
            return page

        def last_page(start: int, end: int) -> int:
            end = len(text[:end].rstrip())
            return page_at(max(start, end - 1))

        sections: list[Section] = []
        ids: dict[int, str] = {}
        if any(b.section < 0 for b in self._blocks):
            end = self._headings[0].start if self._headings else len(text)
            sections.append(Section("s00", title, (title,), page_at(0), last_page(0, end),
                                    0, end))
            ids[-1] = "s00"
        stack: list[_Heading] = []
        for n, h in enumerate(self._headings):
            while stack and stack[-1].level >= h.level:
                stack.pop()
            stack.append(h)
            # A section runs until the next heading of its level or above, so a
            # chapter's span covers its subsections.
            end = next((later.start for later in self._headings[n + 1:]
                        if later.level <= h.level), len(text))
            sid = f"s{n + 1:02d}"
            ids[n] = sid
            sections.append(Section(sid, h.title, tuple(x.title for x in stack), h.page,
                                    last_page(h.start, end), h.start, end))

        blocks = tuple(
            Block(text[b.start:b.end], b.kind, ids[b.section], b.start, b.end, label=b.label,
                  list_item=b.list_item,
                  notes=() if b.kind == FOOTNOTE else note_refs(text[b.start:b.end]))
            for b in self._blocks
        )
        return Document(id=doc_id, title=title, source=source, text=text,
                        sections=tuple(sections), blocks=blocks, page_starts=runs,
                        meta=dict(meta))


def fallback_title(stem: str) -> str:
    """A readable title from a file name: "water-report_2021" -> "water report 2021"."""
    return " ".join(re.split(r"[-_\s]+", stem)).strip() or stem
