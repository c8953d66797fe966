""""Where in the report": a small inline SVG of the report's pages and sections.

Pages 1..N sit in a row; under them, a band for each section of the Table of
Contents (a second row for subsections such as the working groups). Cited
pages are filled and carry the citation numbers; the sections they fall in
are coloured. A reader sees at a glance whether an answer draws on one part
of the report or many. In the compare view the sections that speak to the
topic are coloured and numbered by rank.

The picture is plain SVG built from fixed markup; the only report text in it
(section titles in labels and tooltips, the caption) is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from assistant.app.render import esc, shorten
from assistant.types import Document, Section

CELL = 20  # horizontal space per page, in SVG units
PAGE_W, PAGE_H = 15, 22
TOP = 16  # room above the pages for citation numbers
BAND_H = 16
MARGIN = 4

CITED = "#2563eb"
PAGE = "#e2e8f0"
BLANK = "#f8fafc"
BAND = "#cbd5e1"
BAND_LIT = "#93c5fd"
TEXT = "#334155"


def page_count(doc: Document) -> int:
    """Pages of the report: the largest page any text or section is on."""
    last = max((p for _, p in doc.page_starts), default=1)
    last = max(last, *(s.end_page for s in doc.sections)) if doc.sections else last
    meta_pages = doc.meta.get("pages") if isinstance(doc.meta, dict) else None
    return max(last, int(meta_pages)) if isinstance(meta_pages, int) else last


def _bands(sections: Sequence[Section], level: int) -> list[tuple[Section, float, float]]:
    """x extents of the sections of one level; a page shared by two is split between them."""
    rows = sorted((s for s in sections if s.level == level), key=lambda s: (s.start_page, s.start))
    out: list[tuple[Section, float, float]] = []
    for s in rows:
        x0 = (s.start_page - 1) * CELL
        x1 = s.end_page * CELL
        if out and out[-1][2] > x0:
            prev, px0, _ = out[-1]
            mid = x0 + CELL / 2
            out[-1] = (prev, px0, mid)
            x0 = mid
        out.append((s, x0, x1))
    return out


def page_map_html(doc: Document, marks: Mapping[int, Sequence[str]] | None = None,
                  lit: Mapping[tuple[str, ...], str] | None = None, caption: str = "",
                  label: str = "Where in the report") -> str:
    """A <figure> with the SVG and a text caption.

    ``marks``: page -> labels to print above it (citation numbers); those
    pages are filled. ``lit``: section path -> short label (a rank, or "")
    for the sections to colour.
    """
    marks = marks or {}
    lit = lit or {}
    n = page_count(doc)
    text_pages = {p for _, p in doc.page_starts}
    levels = sorted({s.level for s in doc.sections}) or [1]
    width = n * CELL + 2 * MARGIN
    bands_top = TOP + PAGE_H + 14
    height = bands_top + len(levels) * (BAND_H + 3) + 2
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
        f'role="img" aria-label="{esc(label)}" class="ra-map-svg">',
        f"<title>{esc(label)}</title>",
        f'<g transform="translate({MARGIN},0)" font-family="sans-serif">',
    ]
    for page in range(1, n + 1):
        x = (page - 1) * CELL + (CELL - PAGE_W) / 2
        cited = page in marks
        fill = CITED if cited else (PAGE if page in text_pages else BLANK)
        tip = f"page {page}" + (f": cited {', '.join(marks[page])}" if cited else "")
        parts.append(
            f'<rect class="ra-page-cell{" ra-cited" if cited else ""}" data-page="{page}" '
            f'x="{x:.1f}" y="{TOP}" width="{PAGE_W}" height="{PAGE_H}" rx="2" fill="{fill}" '
            f'stroke="#94a3b8" stroke-width="0.5"><title>{esc(tip)}</title></rect>')
        parts.append(
            f'<text x="{x + PAGE_W / 2:.1f}" y="{TOP + PAGE_H + 10}" font-size="8" '
            f'text-anchor="middle" fill="{TEXT}">{page}</text>')
        if cited:
            parts.append(
                f'<text x="{x + PAGE_W / 2:.1f}" y="{TOP - 4}" font-size="10" font-weight="bold" '
                f'text-anchor="middle" fill="{CITED}">{esc(shorten(",".join(marks[page]), 8))}'
                "</text>")
    for row, level in enumerate(levels):
        y = bands_top + row * (BAND_H + 3)
        for s, x0, x1 in _bands(doc.sections, level):
            is_lit = s.path in lit
            w = max(x1 - x0 - 1, 1)
            tip = " › ".join(s.path) + (f" (p. {s.start_page})" if s.start_page == s.end_page
                                        else f" (pp. {s.start_page}–{s.end_page})")
            parts.append(
                f'<rect class="ra-band{" ra-lit" if is_lit else ""}" x="{x0:.1f}" y="{y}" '
                f'width="{w:.1f}" height="{BAND_H}" rx="3" fill="{BAND_LIT if is_lit else BAND}">'
                f"<title>{esc(tip)}</title></rect>")
            rank = lit.get(s.path, "")
            text = f"{rank} {s.title}" if rank else s.title
            room = int(w / 5.2)
            if room >= 4:
                parts.append(
                    f'<text x="{x0 + 3:.1f}" y="{y + BAND_H - 4}" font-size="9" '
                    f'font-weight="{"bold" if is_lit else "normal"}" fill="{TEXT}">'
                    f"{esc(shorten(text, room))}</text>")
    parts.append("</g></svg>")
    cap = f"<figcaption>{esc(caption)}</figcaption>" if caption else ""
    return f'<figure class="ra-map">{"".join(parts)}{cap}</figure>'


def strength_chart_html(payload: Mapping[str, object]) -> str:
    """Compare at a glance: one line per row, a bar for how strongly it addresses the topic
    (relative to the strongest) and ticks on the pages its passages are on.

    Text is drawn in ``currentColor`` so it has the page's own (light or
    dark) text colour; the pages track spans the pages the rows cite.
    """
    rows = list(payload.get("rows") or [])  # type: ignore[call-overload]
    if not rows:
        return ""
    last = max((p for r in rows for p in r["pages"]), default=1)
    first = min((p for r in rows for p in r["pages"]), default=1)
    span = max(last - first + 1, 1)
    label_w, bar_w, gap, track_w, line_h = 150, 70, 10, 180, 22
    width = label_w + bar_w + gap + track_w
    height = line_h * len(rows) + 18
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'role="img" aria-labelledby="ra-chart-title" class="ra-chart-svg">'
             f'<title id="ra-chart-title">How strongly each row addresses the topic, '
             f'and on which pages</title>'
             f'<g font-family="sans-serif" font-size="11" fill="currentColor">']
    for i, r in enumerate(rows):
        y = 14 + i * line_h
        label = f"{r['rank']}. {r.get('label') or ' › '.join(r['section_path'])}"
        strength = float(r.get("strength", 0.0))
        parts.append(f'<text x="0" y="{y + 4}">{esc(shorten(label, 26))}'
                     f"<title>{esc(label)} ({esc(r['page_label'])})</title></text>")
        parts.append(f'<rect x="{label_w}" y="{y - 6}" width="{bar_w}" height="12" rx="2" '
                     f'class="ra-chart-track"/>')
        parts.append(f'<rect x="{label_w}" y="{y - 6}" width="{bar_w * strength:.1f}" '
                     f'height="12" rx="2" class="ra-chart-bar"><title>{round(100 * strength)}% '
                     f"of the strongest</title></rect>")
        x0 = label_w + bar_w + gap
        parts.append(f'<line x1="{x0}" y1="{y}" x2="{x0 + track_w}" y2="{y}" '
                     f'class="ra-chart-axis"/>')
        for p in r["pages"]:
            x = x0 + (p - first + 0.5) * track_w / span
            parts.append(f'<rect x="{x - 3:.1f}" y="{y - 6}" width="6" height="12" '
                         f'class="ra-chart-page" data-page="{p}"><title>page {p}</title></rect>')
    x0 = label_w + bar_w + gap
    parts.append(f'<text x="{x0}" y="{height - 2}" font-size="10">p. {first}</text>'
                 f'<text x="{x0 + track_w}" y="{height - 2}" font-size="10" '
                 f'text-anchor="end">p. {last}</text>')
    parts.append("</g></svg>")
    return (f'<figure class="ra-chart">{"".join(parts)}<figcaption>Bars: strength relative '
            f"to the strongest row. Ticks: the pages of each row's passages, pp. {first}–"
            f"{last}.</figcaption></figure>")
