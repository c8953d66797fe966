"""Parser for a paged report exported to text (the forum report's format).

The export keeps the printed layout's traces, which this parser reads as
structure instead of throwing away:

* a running header line opens every page after the cover, so pages are
  counted from it (the cover is page 1);
* a printed Table of Contents gives the section titles and their pages; the
  headings are found again in the body, and the page they land on is checked
  against the printed one by the tests;
* a heading with no text of its own before the next heading is a part
  ("WORKING GROUPS"): it adopts the sections that follow it while they are
  the same kind of section (they close with a "... GROUP" member list);
* an all-caps label followed by "Name, Affiliation" lines is a list of people;
* lines opening with a superscript number are footnotes;
* a short quoted paragraph set apart is a pull quote; when it interrupts a
  sentence (or a page break does), the two halves of the sentence are joined.

The output is a Document whose ``text`` is the cleaned report. Blocks are
verbatim spans of it, and a page-run table maps every offset to its page.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field, replace

from assistant.types import FOOTNOTE, PEOPLE, QUOTE, TEXT, Block, Document, Person, Section

SUPERSCRIPTS = "⁰¹²³⁴⁵⁶⁷⁸⁹"
_SUP_TO_DIGIT = {c: str(i) for i, c in enumerate(SUPERSCRIPTS)}
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_BOLD = re.compile(r"\*\*(.+?)\*\*", re.S)
_TOC_LINE = re.compile(r"^(\d{1,4})\s+(\S.*)$")
_FOOTNOTE = re.compile(rf"^([{SUPERSCRIPTS}]+)\s+\S")
_NOTE_REF = re.compile(rf"[{SUPERSCRIPTS}]+")
_PERSON = re.compile(r"^(?!- )([A-ZÁÉÍÓÚÑ][^,\n]{1,60}),\s+(\S[^\n]*)$")
_TERMINAL = tuple('.?!:;"”)')
_QUOTE_OPEN = ('"', "“")
_QUOTE_CLOSE = ('"', "”", '”"')
MAX_QUOTE_WORDS = 60


def clean_inline(text: str) -> str:
    """Reduce Markdown link residue and bold markers to their text."""
    text = _LINK.sub(r"\1", text)
    return _BOLD.sub(r"\1", text)


def _key(title: str) -> str:
    """Comparison key for headings: case, accents and punctuation ignored."""
    t = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", t.lower()).strip()


def find_running_header(raw: str) -> str | None:
    """The short line that repeats on most pages, if the text has one."""
    lines = [ln.strip() for ln in raw.splitlines() if ln.strip()]
    if not lines:
        return None
    line, count = Counter(lines).most_common(1)[0]
    if count >= 3 and len(line.split()) <= 8 and not line.endswith("."):
        return line
    return None


def split_pages(raw: str, header: str | None) -> list[str]:
    """Page texts, page 1 first. Each running header line opens a new page."""
    if header is None:
        return [raw]
    pages: list[list[str]] = [[]]
    for line in raw.splitlines():
        if line.strip() == header:
            pages.append([])
        else:
            pages[-1].append(line)
    return ["\n".join(p) for p in pages]


def parse_toc(pages: list[str]) -> tuple[int | None, list[tuple[int, str]]]:
    """(index of the contents page, [(printed page, title), ...])."""
    for i, page in enumerate(pages):
        lines = [ln.strip() for ln in page.splitlines() if ln.strip()]
        if not any(_key(ln) in {"table of contents", "contents"} for ln in lines):
            continue
        entries = []
        for ln in lines:
            m = _TOC_LINE.match(ln)
            if m:
                entries.append((int(m.group(1)), m.group(2).strip()))
        if entries:
            return i, entries
    return None, []


def _ends_sentence(text: str) -> bool:
    # A footnote marker after the full stop does not reopen the sentence.
    return text.rstrip().rstrip(SUPERSCRIPTS).endswith(_TERMINAL)


def _paragraphs(page: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n[ \t]*\n", page) if p.strip()]


def _is_sentence_like(text: str) -> bool:
    return len(text.split()) >= 6 and text.rstrip().endswith((".", "?", "!", ":"))


def _is_label(par: str) -> bool:
    return "\n" not in par and par.isupper() and len(par.split()) <= 6 and not par.endswith(".")


def _person_lines(par: str) -> list[tuple[str, str]] | None:
    out = []
    for ln in par.splitlines():
        ln = clean_inline(ln.strip())
        m = _PERSON.match(ln)
        if not m or ln.endswith(".") or len(ln.split()) > 16:
            return None
        out.append((m.group(1).strip(), m.group(2).strip()))
    return out or None


def _is_quote(par: str) -> bool:
    t = clean_inline(par).strip()
    return (
        t.startswith(_QUOTE_OPEN)
        and t.endswith(_QUOTE_CLOSE)
        and len(t.split()) <= MAX_QUOTE_WORDS
    )


def _quote_text(par: str) -> str:
    return re.sub(r"\s*\n\s*", " ", clean_inline(par).strip())


@dataclass
class _Piece:
    """A run of block text from one page, before offsets are known."""

    text: str
    page: int


@dataclass
class _PendingBlock:
    kind: str
    section: int  # index into the heading list
    pieces: list[_Piece] = field(default_factory=list)
    label: str = ""
    list_item: bool = False


class _Builder:
    """Accumulates the cleaned text, its page runs and its blocks."""

    def __init__(self) -> None:
        self.parts: list[str] = []
        self.length = 0
        self.runs: list[tuple[int, int]] = []
        self.blocks: list[tuple[_PendingBlock, int, int]] = []
        self.heading_at: dict[int, tuple[int, int]] = {}

    def _emit(self, text: str, page: int) -> int:
        if self.parts:
            self.parts.append("\n\n")
            self.length += 2
        if not self.runs or self.runs[-1][1] != page:
            self.runs.append((self.length, page))
        start = self.length
        self.parts.append(text)
        self.length += len(text)
        return start

    def heading(self, idx: int, title: str, page: int) -> None:
        start = self._emit(title, page)
        self.heading_at[idx] = (start, page)

    def block(self, b: _PendingBlock) -> None:
        first = b.pieces[0]
        start = self._emit(first.text, first.page)
        for piece in b.pieces[1:]:
            sep = "\n" if b.kind == PEOPLE else " "
            self.parts.append(sep)
            self.length += len(sep)
            if self.runs[-1][1] != piece.page:
                self.runs.append((self.length, piece.page))
            self.parts.append(piece.text)
            self.length += len(piece.text)
        self.blocks.append((b, start, self.length))

    @property
    def text(self) -> str:
        return "".join(self.parts)


def parse_report(raw: str, doc_id: str, source: str, title: str = "", meta: dict | None = None
                 ) -> Document:
    """Parse a paged report export into a Document (see the module doc)."""
    raw = unicodedata.normalize("NFC", raw.replace("\r\n", "\n").replace("\r", "\n"))
    header = find_running_header(raw)
    pages = split_pages(raw, header)
    toc_index, toc = parse_toc(pages)

    titles = [t for _, t in toc]
    title_keys = {_key(t): i for i, t in enumerate(titles)}
    first_toc_page = min((p for p, _ in toc), default=1)
    # Pages before the first listed section are the cover; the contents page
    # itself is navigation. Neither is ever returned as an answer.
    skip = {i for i in range(len(pages)) if i + 1 < first_toc_page}
    if toc_index is not None:
        skip.add(toc_index)
    # Trailing pages without a single sentence are the back cover.
    for i in range(len(pages) - 1, -1, -1):
        if any(_is_sentence_like(clean_inline(p)) for p in _paragraphs(pages[i])):
            break
        skip.add(i)

    out = _Builder()
    current = -1  # heading index; -1 until the first heading
    pending: _PendingBlock | None = None  # a block that may continue (split sentence, list)
    deferred: list[_PendingBlock] = []  # quotes and footnotes met while `pending` is open
    people: list[Person] = []
    expecting_people: str | None = None  # label awaiting its list

    def flush() -> None:
        nonlocal pending
        if pending is not None:
            out.block(pending)
            pending = None
        for d in deferred:
            out.block(d)
        deferred.clear()

    for pno, page in enumerate(pages, start=1):
        if pno - 1 in skip:
            continue
        for par in _paragraphs(page):
            key = _key(par)
            if "\n" not in par and key in title_keys and title_keys[key] > current:
                flush()
                expecting_people = None
                current = title_keys[key]
                out.heading(current, clean_inline(par), pno)
                continue
            if current < 0:
                continue  # text before the first heading is front matter
            if _FOOTNOTE.match(par):
                m = _FOOTNOTE.match(par)
                label = "".join(_SUP_TO_DIGIT[c] for c in m.group(1))
                note = _PendingBlock(FOOTNOTE, current, [_Piece(clean_inline(par), pno)], label)
                (deferred.append(note) if pending else out.block(note))
                continue
            if _is_quote(par):
                quote = _PendingBlock(QUOTE, current, [_Piece(_quote_text(par), pno)])
                (deferred.append(quote) if pending else out.block(quote))
                continue
            if _is_label(par) and key not in title_keys:
                flush()
                expecting_people = par
                continue
            persons = _person_lines(par)
            continuing = pending is not None and pending.kind == PEOPLE
            if persons and (expecting_people or continuing):
                if not continuing:
                    flush()
                    pending = _PendingBlock(PEOPLE, current, [_Piece(expecting_people, pno)],
                                            label=expecting_people)
                    expecting_people = None
                text = "\n".join(clean_inline(ln.strip()) for ln in par.splitlines())
                pending.pieces.append(_Piece(text, pno))
                role = pending.label
                people.extend(Person(n, a, titles[current], role) for n, a in persons)
                continue
            expecting_people = None
            text = clean_inline(par)
            is_item = text.startswith(("- ", "• "))
            # A paragraph that ends mid-sentence continues in the next prose
            # paragraph (after a page break or an interrupting pull quote).
            if (
                pending is not None
                and pending.kind == TEXT
                and not is_item
                and not _ends_sentence(pending.pieces[-1].text)
            ):
                pending.pieces.append(_Piece(text, pno))
            else:
                flush()
                pending = _PendingBlock(TEXT, current, [_Piece(text, pno)], list_item=is_item)
            if _ends_sentence(pending.pieces[-1].text):
                flush()
    flush()

    return _assemble(out, titles, toc, people, doc_id, source, title, meta or {}, header)


def _assemble(out: _Builder, titles: list[str], toc: list[tuple[int, str]],
              people: list[Person], doc_id: str, source: str, title: str, meta: dict,
              header: str | None) -> Document:
    text = out.text
    found = sorted(out.heading_at.items(), key=lambda kv: kv[1][0])

    # Parts: a heading immediately followed by another heading has no text of
    # its own; it groups the following sections that share the kind of its
    # first child (a member list labelled "... GROUP").
    has_blocks = {b.section for b, _, _ in out.blocks}
    group_sections = {b.section for b, _, _ in out.blocks
                      if b.kind == PEOPLE and b.label.upper().endswith("GROUP")}
    parent: dict[int, int] = {}
    for n, (idx, _) in enumerate(found):
        if idx in has_blocks:
            continue
        for child, _ in found[n + 1:]:
            if child not in group_sections:
                break
            parent[child] = idx

    sections: list[Section] = []
    section_ids: dict[int, str] = {}
    for n, (idx, (start, page)) in enumerate(found):
        end = found[n + 1][1][0] if n + 1 < len(found) else len(text)
        if idx in parent.values():
            # A part spans its children.
            kids = [k for k, p in parent.items() if p == idx]
            last = max(kids, key=lambda k: out.heading_at[k][0])
            later = [s for i2, (s, _) in found if s > out.heading_at[last][0]]
            end = later[0] if later else len(text)
        path = (titles[parent[idx]], titles[idx]) if idx in parent else (titles[idx],)
        path = tuple(_display_title(text, out.heading_at, t, i) for t, i in
                     zip(path, ([parent[idx]] if idx in parent else []) + [idx], strict=True))
        sid = f"s{idx + 1:02d}"
        section_ids[idx] = sid
        # The last page the section's text reaches: a footnote of an earlier
        # page may be printed after text that ran onto a later one.
        end_page = max(_pages_between(out.runs, start, end, len(text)))
        sections.append(Section(sid, path[-1], path, page, end_page, start, end))

    # People were filed under the contents' spelling of their section.
    shown = {titles[idx]: sections[n].title for n, (idx, _) in enumerate(found)}
    people = [replace(p, section=shown.get(p.section, p.section)) for p in people]

    blocks = []
    for b, start, end in out.blocks:
        notes = tuple(
            "".join(_SUP_TO_DIGIT[c] for c in m.group(0))
            for m in _NOTE_REF.finditer(text[start:end])
        ) if b.kind != FOOTNOTE else ()
        blocks.append(Block(text[start:end], b.kind, section_ids[b.section], start, end,
                            label=b.label, list_item=b.list_item, notes=notes))

    meta = dict(meta)
    meta["toc"] = [(p, t) for p, t in toc]
    meta["running_header"] = header
    return Document(
        id=doc_id, title=title or (header or source), source=source, text=text,
        sections=tuple(sections), blocks=tuple(blocks), page_starts=tuple(out.runs),
        people=tuple(people), meta=meta,
    )


def _display_title(text: str, heading_at: dict[int, tuple[int, int]], toc_title: str,
                   idx: int) -> str:
    """The heading as printed in the body (title case), falling back to the TOC's."""
    start = heading_at[idx][0]
    line = text[start:text.find("\n", start) if "\n" in text[start:] else len(text)]
    if line.isupper() and not toc_title.isupper():
        return toc_title
    if line.isupper():
        return line.title().replace("'S", "'s")
    return line


def _pages_between(runs: list[tuple[int, int]], start: int, end: int, length: int) -> set[int]:
    pages = set()
    for i, (offset, page) in enumerate(runs):
        nxt = runs[i + 1][0] if i + 1 < len(runs) else length + 1
        if offset < max(end, start + 1) and nxt > start:
            pages.add(page)
    return pages
