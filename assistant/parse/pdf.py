"""PDF: text with its real page numbers, headings, footnotes; running headers removed.

Read with PyMuPDF (imported only when a PDF is parsed). The layout carries the
structure, and this parser reads it so:

* pages are the PDF's own pages, the first being page 1, so a citation's page
  is the one a PDF viewer jumps to;
* lines repeated at the top or bottom of most pages (a running title, "Page 3
  of 9" with the number ignored) are running headers and footers, and a bare
  page number at the top or bottom of a page is a folio: all are dropped;
* headings come from the PDF outline (bookmarks) when it has one, matched to
  the heading's line on the page it points to; otherwise from type: lines set
  larger than the body text (or bold at body size, standing alone) are
  headings, the largest style being level 1;
* small-type lines at the foot of a page that open with a number are
  footnotes; raised digits in the text (superscript spans) are their
  references, kept as superscript digits like the report's;
* a paragraph that ends mid-sentence at the foot of a page continues on the
  next page, and its footnotes follow it.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass, field
from itertools import pairwise
from pathlib import Path

from assistant.errors import CorpusError
from assistant.parse.outline import OutlineBuilder, fallback_title, to_superscript
from assistant.types import FOOTNOTE, TABLE, Document

_LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl",
                            "\u00ad": "", "\u00a0": " "})
_FOLIO = re.compile(r"^(?:page\s+)?(?:\d{1,4}|[ivxlc]{1,6})(?:\s*(?:of|/)\s*\d{1,4})?$", re.I)
# A footnote opens with its number (never 0 or 007) or a symbol.
_NOTE_START = re.compile(
    r"^([1-9]\d{0,2}|[¹²³⁴⁵⁶⁷⁸⁹][⁰¹²³⁴⁵⁶⁷⁸⁹]{0,2}|[*†‡§])(?![0-9⁰¹²³⁴⁵⁶⁷⁸⁹])\.?\s*(?=\S)")
_BULLET = re.compile(r"^[•●▪◦‣∙·–—-]\s+")
_TERMINAL = tuple('.?!:;"”)')
_SUPERSCRIPT_FLAG = 1
_BOLD_FLAG = 16

# A line counts as the page's edge (header or footer zone) if it is among the
# first or last EDGE_LINES lines of the page.
EDGE_LINES = 2
HEADING_RATIO = 1.12  # at least this much larger than body text
NOTE_RATIO = 0.92  # footnotes are set at most this large relative to body text
MAX_HEADING_WORDS = 20
MAX_RUNNING_WORDS = 12


@dataclass
class Line:
    page: int  # 1-based page of the PDF
    text: str
    size: float  # font size of most of the line's characters (superscripts ignored)
    bold: bool
    y0: float
    y1: float
    block: int  # block number on the page, in reading order; a new block is a new paragraph
    x0: float = 0.0
    x1: float = 0.0


@dataclass
class Para:
    lines: list[Line] = field(default_factory=list)

    @property
    def text(self) -> str:
        return join_lines([ln.text for ln in self.lines])

    @property
    def page(self) -> int:
        return self.lines[0].page

    @property
    def size(self) -> float:
        return self.lines[0].size

    @property
    def bold(self) -> bool:
        return all(ln.bold for ln in self.lines)


def join_lines(lines: list[str]) -> str:
    """Join wrapped lines; a word hyphenated at a line end is joined again."""
    out = ""
    for ln in lines:
        ln = ln.strip()
        if not ln:
            continue
        if not out:
            out = ln
        elif re.search(r"[a-z]-$", out) and ln[:1].islower():
            out = out[:-1] + ln
        else:
            out += " " + ln
    return out


def _key(text: str) -> str:
    t = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", " ", t.lower()).strip()


def _edge_key(text: str) -> str:
    # "Page 3 of 9" and "Page 4 of 9" are one running footer.
    return re.sub(r"\d+", "#", " ".join(text.lower().split()))


def _round(size: float) -> float:
    return round(size * 2) / 2


def read_lines(pdf) -> tuple[list[list[Line]], list[float]]:
    """Lines of every page in reading order, and each page's height."""
    pages: list[list[Line]] = []
    heights: list[float] = []
    for page in pdf:
        heights.append(float(page.rect.height))
        data = page.get_text("dict", sort=True)
        blocks = [b for b in data.get("blocks", []) if b.get("type") == 0]
        lines: list[Line] = []
        for bno, block in enumerate(reading_order(blocks, float(page.rect.width))):
            for line in block.get("lines", []):
                ln = _line(line, page.number + 1, bno)
                if ln is not None:
                    lines.append(ln)
        pages.append(lines)
    return pages, heights


def _line(line: dict, page: int, bno: int) -> Line | None:
    _, dir_y = line.get("dir", (1, 0))
    if abs(dir_y) > 0.2:  # rotated margin text (arXiv stamps, watermarks)
        return None
    parts: list[str] = []
    sizes: Counter[float] = Counter()
    bold = True
    for span in line.get("spans", []):
        raw = span.get("text", "").translate(_LIGATURES)
        if not raw:
            continue
        sup = span.get("flags", 0) & _SUPERSCRIPT_FLAG
        if sup and raw.strip().isdigit() and parts and parts[-1].strip():
            # A raised number after text is a footnote reference.
            parts.append(to_superscript(raw.strip()))
            continue
        parts.append(raw)
        if raw.strip():
            sizes[_round(span.get("size", 0.0))] += len(raw.strip())
            bold = bold and bool(span.get("flags", 0) & _BOLD_FLAG
                                 or "bold" in span.get("font", "").lower())
    text = " ".join("".join(parts).split())
    if not text or not sizes:
        return None
    x0, y0, x1, y1 = (float(v) for v in line["bbox"])
    return Line(page, unicodedata.normalize("NFC", text), sizes.most_common(1)[0][0], bold,
                y0, y1, bno, x0, x1)


def reading_order(blocks: list[dict], width: float) -> list[dict]:
    """Text blocks in reading order, two-column pages read column by column.

    Blocks that span the middle of the page (titles, full-width paragraphs,
    a centred page number) cut the page into bands; within a band the left
    column is read before the right. A page without two columns keeps
    PyMuPDF's top-to-bottom order.
    """
    mid, slack = width / 2, width * 0.02

    def column(b: dict) -> int:
        x0, _, x1, _ = b["bbox"]
        if x1 <= mid + slack:
            return 0
        if x0 >= mid - slack:
            return 1
        return -1

    cols = [column(b) for b in blocks]
    if cols.count(0) < 2 or cols.count(1) < 2:
        return blocks
    out: list[dict] = []
    band: list[dict] = []
    for b in sorted(blocks, key=lambda b: (b["bbox"][1], b["bbox"][0])):
        if column(b) < 0:
            out.extend(sorted(band, key=lambda x: (column(x), x["bbox"][1])))
            band = []
            out.append(b)
        else:
            band.append(b)
    out.extend(sorted(band, key=lambda x: (column(x), x["bbox"][1])))
    return out


def by_height(lines: list[Line]) -> list[Line]:
    """Lines top to bottom as drawn, whatever the reading order."""
    return sorted(lines, key=lambda ln: (round(ln.y0), ln.x0))


def running_lines(pages: list[list[Line]]) -> set[str]:
    """Edge keys of lines repeated at the top or bottom of several pages.

    Half the pages is enough, and so are three pages even in a long document,
    since chapter headers ("Chapter 2: Methods") change every few pages; a
    chapter of two pages still shows its header as the very first (or last)
    line of both. A running line is short, not a sentence, and sits at the
    same height on each page it repeats on; text that happens to repeat in
    the body fails one of those.
    """
    if len(pages) < 2:
        return set()
    # Headings set large at the same place on every page ("Part 1", "Part 2")
    # are not running text, though their keys repeat.
    large = body_size(pages) * HEADING_RATIO
    seen: dict[str, list[tuple[int, float, bool]]] = {}
    for n, lines in enumerate(pages):
        lines = by_height(lines)
        for i, ln in enumerate(lines[:EDGE_LINES] + lines[-EDGE_LINES:]):
            if ln.size >= large:
                continue
            extreme = i == 0 or i == min(len(lines), 2 * EDGE_LINES) - 1
            seen.setdefault(_edge_key(ln.text), []).append((n, ln.y0, extreme))
    need = min(3, max(2, math.ceil(0.5 * len(pages))))
    running = set()
    for key, places in seen.items():
        if len(key.split()) > MAX_RUNNING_WORDS or key.endswith("."):
            continue
        for _, y, _ in places:
            pages_here = {n for n, y2, _ in places if abs(y2 - y) <= 2.0}
            extreme = {n for n, y2, ex in places if ex and abs(y2 - y) <= 2.0}
            if len(pages_here) >= need or len(extreme) >= 2:
                running.add(key)
                break
    return running


_PRINTED = re.compile(r"(?:page\s+)?(\d{1,4}|[ivxlc]{1,6})(?:\s*(?:of|/)\s*\d{1,4})?", re.I)


def _roman(label: str) -> int | None:
    values = {"i": 1, "v": 5, "x": 10, "l": 50, "c": 100}
    total, prev = 0, 0
    for ch in reversed(label.lower()):
        v = values.get(ch)
        if v is None:
            return None
        total, prev = (total - v, prev) if v < prev else (total + v, v)
    return total


def printed_folios(pages: list[list[Line]]) -> dict[int, str]:
    """The number each page prints as its folio, where it differs from its place.

    A filing numbers its pages from after the cover and contents ("20" on
    the 26th page), so a citation needs both: the physical page a viewer
    jumps to, and the number the reader sees. A folio is a bare number (or
    "Page 3 of 9", or roman) among the top or bottom lines; it counts only
    when it is in a run of three pages whose folios keep the same distance
    from their place, which page numbers in a table of contents do not.
    """
    found: dict[int, list[tuple[str, int]]] = {}
    for n, lines in enumerate(pages, start=1):
        geo = by_height(lines)
        for ln in geo[:EDGE_LINES] + geo[-EDGE_LINES:]:
            m = _PRINTED.fullmatch(ln.text.strip())
            if not m:
                continue
            label = m.group(1)
            value = int(label) if label.isdigit() else _roman(label)
            if value is not None:
                found.setdefault(n, []).append((label, value - n))
    offsets = {n: {off for _, off in cands} for n, cands in found.items()}

    def has(n: int, off: int) -> bool:
        return off in offsets.get(n, ())

    out: dict[int, str] = {}
    for n, cands in found.items():
        for label, off in cands:
            # in a run of three pages or more: two contents pages can agree by chance
            run = any(has(n + a, off) and has(n + b, off) for a, b in ((-1, 1), (-2, -1), (1, 2)))
            if run and label != str(n):
                out[n] = label
                break
    return out


def strip_edges(pages: list[list[Line]], running: set[str]) -> list[list[Line]]:
    """Each page without its running header, footer and page number."""
    out = []
    for lines in pages:
        geo = by_height(lines)
        drop: set[int] = set()
        # Peel lines off both edges while they are running text or folios, so
        # a header line followed by a page-number line both go.
        for seq in (geo, geo[::-1]):
            for ln in seq:
                if id(ln) in drop:
                    break
                # A number on the same baseline as other text is a table's or
                # a contents page's last column, not the page's folio.
                key = _edge_key(ln.text)
                number = bool(_FOLIO.match(ln.text)) or not re.search(r"[a-z]", key)
                beside = [o for o in lines if o is not ln and abs(o.y0 - ln.y0) <= 2.5]
                if (key in running and not number) or (number and (key in running or _FOLIO.match(
                        ln.text)) and all(_edge_key(o.text) in running for o in beside)):
                    drop.add(id(ln))
                else:
                    break
        out.append([ln for ln in lines if id(ln) not in drop])
    return out


def body_size(pages: list[list[Line]]) -> float:
    sizes: Counter[float] = Counter()
    for lines in pages:
        for ln in lines:
            sizes[ln.size] += len(ln.text)
    return sizes.most_common(1)[0][0] if sizes else 10.0


def split_footnotes(lines: list[Line], body: float, height: float, refs: str
                    ) -> tuple[list[Line], list[tuple[str, list[Line]]]]:
    """(body lines, [(label, lines of the note)]) for one page.

    Footnotes are the small-type lines at the foot of the page, opening with a
    number. Small code or captions can look the same, so the first note must
    also be referenced (its superscript number is in ``refs``, the text the
    note can belong to) or be set apart from the text above by a gap.
    """
    geo = by_height(lines)
    i = len(geo)
    while i > 0 and geo[i - 1].size <= body * NOTE_RATIO and geo[i - 1].y0 > height * 0.5:
        i -= 1
    zone = geo[i:]
    first = _NOTE_START.match(zone[0].text) if zone else None
    if first is None:
        return lines, []
    label = _label(first.group(1))
    referenced = label.isdigit() and to_superscript(label) in refs
    gap = zone[0].y0 - geo[i - 1].y1 if i > 0 else height
    if not referenced and gap < 1.5 * (zone[0].y1 - zone[0].y0):
        return lines, []
    notes: list[tuple[str, list[Line]]] = []
    for ln in zone:
        m = _NOTE_START.match(ln.text)
        label = _label(m.group(1)) if m else ""
        # A wrapped note line may open with a number ("2021 figures ..."):
        # only the next number in sequence, or a symbol, starts a new note.
        if m and (not notes or not label.isdigit() or not notes[-1][0].isdigit()
                  or int(label) == int(notes[-1][0]) + 1):
            notes.append((label, [ln]))
        else:
            notes[-1][1].append(ln)
    in_zone = {id(ln) for ln in zone}
    return [ln for ln in lines if id(ln) not in in_zone], notes


def _label(marker: str) -> str:
    digits = "".join(str("⁰¹²³⁴⁵⁶⁷⁸⁹".index(c)) if c in "⁰¹²³⁴⁵⁶⁷⁸⁹" else c for c in marker)
    return digits


def paragraphs(lines: list[Line]) -> list[Para]:
    """Group a page's lines into paragraphs: by PyMuPDF block, type size and bullets."""
    paras: list[Para] = []
    for ln in lines:
        prev = paras[-1].lines[-1] if paras else None
        if (
            prev is None
            or ln.block != prev.block
            or ln.size != prev.size
            or ln.bold != prev.bold
            or _BULLET.match(ln.text)
            or ln.y0 - prev.y1 > 0.8 * (prev.y1 - prev.y0)
        ):
            paras.append(Para([ln]))
        else:
            paras[-1].lines.append(ln)
    return paras


def _ends_sentence(text: str) -> bool:
    return text.rstrip().rstrip("⁰¹²³⁴⁵⁶⁷⁸⁹").endswith(_TERMINAL)


# --- headings -------------------------------------------------------------------

def outline_headings(toc: list, paras: list[list[Para]]) -> dict[tuple[int, int], tuple[int, str]]:
    """Match outline entries to paragraphs: {(page index, para index): (level, title)}."""
    found: dict[tuple[int, int], tuple[int, str]] = {}
    cursor = (0, -1)
    for entry in toc:
        level, title, page = int(entry[0]), str(entry[1]), int(entry[2])
        key = _key(title)
        if page < 1 or page > len(paras) or not key:
            continue
        pi = page - 1
        start = cursor[1] + 1 if cursor[0] == pi else 0
        if cursor[0] > pi:
            continue
        for j in range(start, len(paras[pi])):
            k = _key(paras[pi][j].text)
            # "1. Introduction" in the text may be "Introduction" in the outline.
            if k == key or (k.endswith(key) and len(k) - len(key) <= 6):
                found[(pi, j)] = (level, title.strip())
                cursor = (pi, j)
                break
        else:
            # The outline points at a page whose heading is drawn as an image or
            # worded differently: open the section at the page's first paragraph.
            j = start if start < len(paras[pi]) else None
            if j is not None and (pi, j) not in found:
                found[(pi, j)] = (level, title.strip())
                cursor = (pi, j)
    return found


def _is_heading_candidate(p: Para, body: float) -> bool:
    text = p.text
    words = len(text.split())
    if words == 0 or words > MAX_HEADING_WORDS or len(p.lines) > 3:
        return False
    if not re.search(r"[A-Za-z]", text):
        return False
    if p.size >= body * HEADING_RATIO:
        return True
    # Bold at body size, alone on its lines and not a sentence: a run-in heading.
    return p.bold and p.size >= body and not text.endswith((".", ",", ";", ":")) and words <= 12


def font_headings(paras: list[list[Para]], body: float
                  ) -> dict[tuple[int, int], tuple[int, str]]:
    cands = {(pi, j): p for pi, page in enumerate(paras) for j, p in enumerate(page)
             if _is_heading_candidate(p, body)}
    styles = sorted({(p.size, p.bold) for p in cands.values()}, key=lambda s: (-s[0], not s[1]))
    level = {s: n + 1 for n, s in enumerate(styles)}
    return {pos: (level[(p.size, p.bold)], p.text) for pos, p in cands.items()}


# --- tables ------------------------------------------------------------------------

_FIGURE = re.compile(r"[\s$€£()\d,.\-–—%*]*\d[\s$€£()\d,.\-–—%*]*")


@dataclass
class TablePara(Para):
    """A table found on a page: its rows as lines, with its column headers and title."""

    rows: list[str] = field(default_factory=list)
    header: str = ""  # the column headers, joined
    title: str = ""  # the line above the headers that names the table


def _cells(row: list[Line]) -> list[str]:
    return [ln.text.strip() for ln in row if ln.text.strip()]


def _figure_row(cells: list[str]) -> bool:
    """A row of a financial table: a label, then figures ("Net sales | $ | 34,229 $ | 35,355")."""
    return (len(cells) >= 2 and bool(re.search(r"[A-Za-z]", cells[0]))
            and any(_FIGURE.fullmatch(c) for c in cells[1:]))


def _header_row(cells: list[str]) -> bool:
    return (bool(cells) and all(len(c.split()) <= 8 for c in cells)
            and not cells[-1].endswith((".", ";")) and len(" ".join(cells)) <= 120)


def split_tables(lines: list[Line]) -> tuple[list[Line], list[TablePara]]:
    """(the page's other lines, its tables).

    PyMuPDF gives each cell of a table as its own line, so read as prose a
    table is a run of numbers with its row labels and column headers far
    apart. Lines drawn on one baseline are a row; three or more rows of a
    label and figures in a run are a table, with up to three short rows
    above them as its column headers and the line above those as its title.
    Each row becomes one line ("Net sales $ 34,229 $ 35,355"), so it can be
    found, cited and shown as a row.
    """
    rows = _rows(lines)
    kinds = []
    for r in rows:
        cells = _cells(r)
        kinds.append("f" if _figure_row(cells) else
                     "n" if cells and all(_FIGURE.fullmatch(c) for c in cells) else
                     "l" if len(cells) == 1 and _header_row(cells) else "")
    taken: set[int] = set()
    tables: list[TablePara] = []
    i = 0
    while i < len(rows):
        if kinds[i] != "f":
            i += 1
            continue
        j = i
        # Label rows ("Operating expenses") and rows of figures only (totals)
        # continue a table; a label row at its end is the next heading.
        while j + 1 < len(rows) and kinds[j + 1]:
            j += 1
        while kinds[j] == "l":
            j -= 1
        if sum(1 for k in kinds[i:j + 1] if k == "f") >= 3:
            top = i
            while (top > 0 and i - top < 4 and top - 1 not in taken and kinds[top - 1] != "f"
                   and _header_row(_cells(rows[top - 1]))):
                top -= 1
            above = [" ".join(_cells(r)) for r in rows[top:i]]
            title = above[0] if above and len(_cells(rows[top])) == 1 else ""
            header = " | ".join(above[1:] if title else above)
            members = [ln for r in rows[top:j + 1] for ln in r]
            tables.append(TablePara(lines=members,
                                    rows=above + [" ".join(_cells(r)) for r in rows[i:j + 1]],
                                    header=header, title=title))
            taken.update(range(top, j + 1))
        i = j + 1
    if not tables:
        return lines, []
    inside = {id(ln) for t in tables for ln in t.lines}
    return [ln for ln in lines if id(ln) not in inside], tables


def with_tables(paras: list[Para], tables: list[TablePara]) -> list[Para]:
    """Paragraphs and tables in one list, top to bottom (a table where its first row is)."""
    if not tables:
        return paras
    return sorted([*paras, *tables], key=lambda p: (p.lines[0].y0, p.lines[0].x0))


# --- a printed table of contents -------------------------------------------------

@dataclass(frozen=True)
class ContentsEntry:
    level: int  # 1 for a PART, 2 for an Item, 3 for what is listed under one
    title: str
    printed_page: int


_ITEM_NUMBER = re.compile(r"^(?:item\s+)?(\d{1,2}[a-c]?)\.?$", re.I)
_PART = re.compile(r"^part\s+[ivx]+\b", re.I)
_ITEM = re.compile(r"^item\s+\d{1,2}[a-c]?\b", re.I)


def _rows(lines: list[Line]) -> list[list[Line]]:
    """Lines drawn on one baseline, left to right: a table's or a contents page's row."""
    rows: list[list[Line]] = []
    for ln in by_height(lines):
        if rows and abs(ln.y0 - rows[-1][0].y0) <= 2.5:
            rows[-1].append(ln)
        else:
            rows.append([ln])
    return [sorted(r, key=lambda ln: ln.x0) for r in rows]


def contents_entries(lines: list[Line]) -> list[ContentsEntry] | None:
    """The entries of a page that is a printed table of contents, else None.

    A contents page is mostly rows whose last cell is a page number and whose
    other cells hold a title ("ITEM 1A | Risk Factors | 10"). Such a page is
    never text to cite: its rows would become headings, lead sentences and
    answers that only point elsewhere.
    """
    rows = [r for r in _rows(lines) if any(re.search(r"[A-Za-z]", ln.text) for ln in r)]
    entries = []
    for r in rows:
        *cells, last = [ln.text.strip() for ln in r]
        m = re.fullmatch(r"(?:(.*\S)\s+)?(\d{1,3})", last)
        if not m:
            continue
        if m.group(1):
            cells.append(m.group(1))
        # Title cells are words: a row with figures in it is a table's.
        if not cells or any(re.fullmatch(r"[\d,.()$%\s-]+", c) for c in cells[1:]) or (
                re.fullmatch(r"[\d,.()$%\s-]+", cells[0]) and not _ITEM_NUMBER.match(cells[0])):
            continue
        number = _ITEM_NUMBER.match(cells[0])
        if number and len(cells) > 1:
            title, level = f"Item {number.group(1).upper()}. {' '.join(cells[1:])}", 2
        else:
            title = " ".join(cells)
            level = 1 if _PART.match(title) else 2 if _ITEM.match(title) else 3
        entries.append(ContentsEntry(level, " ".join(title.split()), int(m.group(2))))
    # Its page numbers run forward; a table's last column does not.
    steps = [b.printed_page >= a.printed_page for a, b in pairwise(entries)]
    if (len(entries) >= 8 and len(entries) >= 0.5 * len(rows)
            and sum(steps) >= 0.8 * len(steps)):
        return entries
    return None


def contents_headings(entries: list[ContentsEntry], paras: list[list[Para]],
                      folios: dict[int, str]) -> dict[tuple[int, int], tuple[int, str]]:
    """Headings the contents lists, found on the page it gives for them.

    The printed page is turned into the physical one through the folios
    (a filing's page 20 is its 26th); a title counts only where a paragraph
    on that page (or the next, for a heading at a page's foot) reads as it,
    so a contents entry never opens a section at the wrong place.
    """
    physical = {int(v): n for n, v in folios.items() if v.isdigit()}
    found: dict[tuple[int, int], tuple[int, str]] = {}
    for e in entries:
        page = physical.get(e.printed_page, e.printed_page)
        names = {_key(e.title)}
        item = re.match(r"(item \d{1,2}[a-c]?)\s*(.*)", _key(e.title))
        if item:
            names |= {item.group(1), item.group(2)}
        names.discard("")
        for pi in (page - 1, page):
            if not 0 <= pi < len(paras):
                continue
            hit = next((j for j, para in enumerate(paras[pi])
                        if len(para.text.split()) <= MAX_HEADING_WORDS
                        and (k := _key(para.text)) and (k in names or (
                            item and k.startswith(item.group(1) + " ")
                            and k.endswith(item.group(2)[:20])))
                        and (pi, j) not in found), None)
            if hit is not None:
                found[(pi, hit)] = (e.level, e.title)
                break
    return found


# --- the parser -------------------------------------------------------------------

def parse_pdf(path: Path, doc_id: str, meta: dict) -> Document:
    import pymupdf

    try:
        pdf = pymupdf.open(path)
    except Exception as exc:
        raise CorpusError(f"{path.name}: not a readable PDF ({exc}); re-export it") from exc
    with pdf:
        if pdf.needs_pass:
            raise CorpusError(f"{path.name}: the PDF is password-protected; save an "
                              "unprotected copy and add that")
        pages, heights = read_lines(pdf)
        toc = pdf.get_toc(simple=True)
        pdf_title = (pdf.metadata or {}).get("title", "") or ""
        page_count = pdf.page_count
        repaired = bool(getattr(pdf, "is_repaired", False))

    cover_title = _cover_title(pages[0] if pages else [])
    folios = printed_folios(pages)
    running = running_lines(pages)
    pages = strip_edges(pages, running)
    body = body_size(pages)
    # A printed table of contents sits in the first pages; its pages are
    # recorded as entries and not read as text.
    contents: list[ContentsEntry] = []
    contents_pages = []
    for n, lines in enumerate(pages[:max(3, len(pages) // 5)]):
        entries = contents_entries(lines)
        if entries:
            contents.extend(entries)
            contents_pages.append(n + 1)
            pages[n] = []
    page_paras: list[list[Para]] = []
    page_notes: list[list[tuple[str, list[Line]]]] = []
    for n, (lines, height) in enumerate(zip(pages, heights, strict=True)):
        # A note may be referenced on its page or, for a paragraph running
        # over the page break, on the page before.
        near = lines + (pages[n - 1] if n else [])
        refs = " ".join(ln.text for ln in near)
        text_lines, notes = split_footnotes(lines, body, height, refs)
        text_lines, tables = split_tables(text_lines)
        page_paras.append(with_tables(paragraphs(text_lines), tables))
        page_notes.append(notes)

    heads = outline_headings(toc, page_paras) if toc else {}
    source_of_headings = "outline" if heads else "font size"
    if not heads and contents:
        heads = contents_headings(contents, page_paras, folios)
        # Too few found means the contents did not match this layout.
        source_of_headings = "contents" if len(heads) >= 5 else "font size"
        heads = heads if len(heads) >= 5 else {}
    if not heads:
        heads = font_headings(page_paras, body)

    title = (meta.get("title") or _clean_title(pdf_title)
             or (cover_title[0] if cover_title[1] >= body * HEADING_RATIO else "")
             or fallback_title(path.stem))

    out = OutlineBuilder()
    pending: list[tuple[str, int]] | None = None
    pending_item = False
    deferred: list[tuple[str, int, str]] = []  # footnotes waiting for their paragraph

    def flush() -> None:
        nonlocal pending
        if pending:
            out.block(pending, list_item=pending_item)
        pending = None
        for text, page, label in deferred:
            out.block([(text, page)], kind=FOOTNOTE, label=label)
        deferred.clear()

    for pi, paras in enumerate(page_paras):
        for j, para in enumerate(paras):
            if isinstance(para, TablePara):
                flush()
                # The block's label carries what each row is read with.
                label = ". ".join(x for x in (para.title, para.header) if x)
                out.block([("\n".join(para.rows), para.page)], kind=TABLE, label=label)
                continue
            if (pi, j) in heads:
                flush()
                level, htitle = heads[(pi, j)]
                out.heading(level, htitle, para.page)
                continue
            text = para.text
            is_item = bool(_BULLET.match(text))
            if is_item:
                text = "• " + text[_BULLET.match(text).end():]
            if pending and not is_item and not _ends_sentence(pending[-1][0]):
                pending.append((text, para.page))
            else:
                flush()
                pending, pending_item = [(text, para.page)], is_item
        for label, lines in page_notes[pi]:
            body_text = join_lines([ln.text for ln in lines])
            body_text = _NOTE_START.sub("", body_text, count=1)
            marker = to_superscript(label) if label.isdigit() else label
            note = (f"{marker} {body_text}", lines[0].page, label)
            if pending:
                deferred.append(note)
            else:
                out.block([note[:2]], kind=FOOTNOTE, label=label)
    flush()

    info = dict(meta)
    info.update({"format": "pdf", "pages": page_count, "headings_from": source_of_headings,
                 "running_lines": sorted(running), "body_size": body,
                 # physical page -> the number printed on it, where they differ
                 "printed_pages": {str(n): label for n, label in sorted(folios.items())},
                 "contents_pages": contents_pages,
                 "contents": [[e.level, e.title, e.printed_page] for e in contents],
                 # MuPDF rebuilt a damaged file: its text may be incomplete.
                 "repaired": repaired})
    doc = out.build(doc_id, path.name, title, info)
    # Exhibits and appendices are material attached to the report, not its
    # body: their sections are listed so a reader (and a ranking) can tell.
    doc.meta["appendices"] = [sec.id for sec in doc.sections
                              if any(_APPENDIX.match(t) for t in sec.path)]
    return doc


_APPENDIX = re.compile(r"(?:item\s+\d{1,2}[a-c]?\.?\s+)?(?:exhibits?|appendix|appendices|annex|"
                       r"schedules?)\b", re.I)


def _clean_title(title: str) -> str:
    title = " ".join(title.split())
    # Word's export names the file, not the document.
    if not title or title.lower().startswith(("microsoft word", "untitled")) or \
            re.search(r"\.(docx?|pdf|indd)$", title, re.I):
        return ""
    return title


def _cover_title(lines: list[Line]) -> tuple[str, float]:
    """The largest type on the first page (lines of one block joined) and its size."""
    if not lines:
        return "", 0.0
    top = max(ln.size for ln in lines)
    first = next(ln for ln in lines if ln.size == top)
    same = [ln for ln in lines if ln.size == top and ln.block == first.block]
    text = join_lines([ln.text for ln in same])
    return (text, top) if len(text.split()) <= MAX_HEADING_WORDS else ("", 0.0)
