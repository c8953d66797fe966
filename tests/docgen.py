"""Generate test documents (PDF, Markdown, HTML) in temporary folders.

No binary fixture is committed: each test writes the PDF it reads, so what it
checks against (the pages each heading and paragraph were drawn on) comes from
the layout itself, not from the parser under test.

A PDF is described page by page. Each page is a list of items:

* ``("h", level, title)``: a heading, 18 pt for level 1 and 14 pt for level 2
  (body text is 11 pt), listed in the PDF outline when ``outline=True``;
* ``("p", text)``: a paragraph; ``[^n]`` in it is drawn as a raised ``n``
  (a footnote reference);
* ``("fn", n, text)``: footnote ``n``, drawn in 8 pt at the bottom of the page;
* ``("cols", left, right)``: two columns side by side, each a list of
  paragraphs; a reader reads the left column, then the right.

Every page also gets a running header (``header``) and a page-number footer.
"""

from __future__ import annotations

import re
from pathlib import Path

HEADING_SIZES = {1: 18, 2: 14}
BODY_SIZE = 11
NOTE_SIZE = 8
_REF = re.compile(r"\[\^(\d+)\]")

Item = tuple


def write_pdf(path: Path, pages: list[list[Item]], header: str = "ACME INSTITUTE WORKING PAPER",
              outline: bool = True, title: str | None = None,
              footer: str = "Page {n}", folio_offset: int = 0) -> Path:
    """Draw ``pages`` into a PDF at ``path``; returns the path.

    The footer prints the page's number plus ``folio_offset`` (a filing
    numbers its pages from after its cover and contents).
    """
    from fpdf import FPDF

    class _PDF(FPDF):
        def header(self) -> None:
            if header:
                self.set_font("Helvetica", size=9)
                self.set_y(8)
                self.cell(0, 5, header, align="C")

        def footer(self) -> None:
            if footer:
                self.set_font("Helvetica", size=9)
                self.set_y(-12)
                self.cell(0, 5, footer.format(n=self.page_no() + folio_offset), align="C")

    pdf = _PDF(format="A4")
    pdf.set_auto_page_break(False)
    pdf.set_margins(20, 22, 20)
    if title:
        pdf.set_title(title)
    for n, items in enumerate(pages, start=1):
        pdf.add_page()
        pdf.set_y(24)
        notes = [it for it in items if it[0] == "fn"]
        for item in items:
            if item[0] == "h":
                _, level, text = item
                if outline:
                    pdf.start_section(text, level=level - 1)
                size = HEADING_SIZES.get(level, 12)
                pdf.set_font("Helvetica", "B", size)
                pdf.ln(2)
                pdf.multi_cell(0, size * 0.5, text, align="L",
                               new_x="LMARGIN", new_y="NEXT")
                pdf.ln(2)
            elif item[0] == "p":
                _write_paragraph(pdf, item[1])
            elif item[0] == "cols":
                _write_columns(pdf, item[1], item[2])
            elif item[0] == "toc":
                _write_contents(pdf, item[1])
            elif item[0] == "table":
                _write_table(pdf, item[1], item[2], item[3])
        bottom = pdf.get_y()
        if notes:
            top = pdf.h - 20 - 4.5 * sum(1 + len(t) // 95 for _, _, t in notes)
            if bottom > top:
                raise ValueError(f"page {n}: text runs into the footnotes")
            pdf.line(20, top - 2, 80, top - 2)
            pdf.set_y(top)
            for _, label, text in notes:
                pdf.set_font("Helvetica", size=NOTE_SIZE)
                pdf.multi_cell(0, 4, f"{label} {text}", align="L",
                               new_x="LMARGIN", new_y="NEXT")
        elif bottom > pdf.h - 20:
            raise ValueError(f"page {n}: text runs into the footer")
        if pdf.page_no() != n:
            raise ValueError(f"page {n} overflowed")
    pdf.output(str(path))
    return path


def _write_paragraph(pdf, text: str) -> None:
    pdf.set_font("Helvetica", size=BODY_SIZE)
    pos = 0
    for m in _REF.finditer(text):
        pdf.write(5.5, text[pos:m.start()])
        pdf.char_vpos = "SUP"
        pdf.write(5.5, m.group(1))
        pdf.char_vpos = "LINE"
        pos = m.end()
    pdf.write(5.5, text[pos:])
    pdf.ln(5.5)
    pdf.ln(3)


def _write_columns(pdf, left: list[str], right: list[str]) -> None:
    top = pdf.get_y()
    bottoms = []
    for x, paras in ((20, left), (110, right)):
        pdf.set_xy(x, top)
        pdf.set_font("Helvetica", size=BODY_SIZE)
        for text in paras:
            pdf.set_x(x)
            pdf.multi_cell(80, 5.5, plain_ascii(text), align="L", new_x="LEFT", new_y="NEXT")
            pdf.ln(3)
        bottoms.append(pdf.get_y())
    pdf.set_xy(20, max(bottoms))


def _write_contents(pdf, entries: list[tuple[str, str, int]]) -> None:
    """A printed table of contents: item number, title and page on one baseline each."""
    pdf.set_font("Helvetica", size=BODY_SIZE)
    for number, title, page in entries:
        y = pdf.get_y()
        pdf.set_xy(20, y)
        pdf.cell(25, 6, number)
        pdf.set_xy(45, y)
        pdf.cell(120, 6, title)
        pdf.set_xy(175, y)
        pdf.cell(15, 6, str(page), align="R")
        pdf.set_xy(20, y + 7)
    pdf.ln(3)


def _write_table(pdf, title: str, header: list[str], rows: list[list[str]]) -> None:
    """A financial table as filings draw it: every cell its own text, on a shared baseline."""
    pdf.set_font("Helvetica", "B", BODY_SIZE)
    pdf.cell(0, 6, title, new_x="LMARGIN", new_y="NEXT")
    pdf.set_font("Helvetica", size=BODY_SIZE)
    width = 170 / (len(header) + 2)
    for cells, bold in [(["", *header], True)] + [(r, False) for r in rows]:
        y = pdf.get_y()
        for n, cell in enumerate(cells):
            x = 20 if n == 0 else 20 + width * (n + 1)
            pdf.set_xy(x, y)
            pdf.set_font("Helvetica", "B" if bold else "", BODY_SIZE)
            pdf.cell(width * 3 if n == 0 else width, 6, cell, align="L" if n == 0 else "R")
        pdf.set_xy(20, y + 7)
    pdf.ln(3)


def plain_ascii(text: str) -> str:
    return _REF.sub("", text)


def plain(text: str) -> str:
    """A paragraph's words as the parser should give them: references as superscripts."""
    sup = "⁰¹²³⁴⁵⁶⁷⁸⁹"
    return _REF.sub(lambda m: "".join(sup[int(c)] for c in m.group(1)), text)


LOREM = (
    "Regional water boards publish their allocation rules every spring, and farmers plan "
    "their planting around them. When the rules change late, growers lose a season of "
    "planning and the boards lose trust that took years to build."
)


def sample_pages() -> list[list[Item]]:
    """A five-page working paper: headings at two levels, a footnote, a sentence across a page."""
    return [
        [
            ("h", 1, "Water Allocation in Dry Years"),
            ("p", "This paper studies how irrigation districts share scarce water between "
                  "farms and cities during droughts. " + LOREM),
            ("p", "Groundwater pumping rose by a third in the last drought.[^1] The increase "
                  "was largest in districts without metering."),
            ("fn", 1, "Survey of district managers, 2021; figures rounded."),
        ],
        [
            ("h", 2, "Metering and Pricing"),
            ("p", "Districts that meter every well charge by volume, and their pumping fell "
                  "even as rainfall dropped. " + LOREM),
            ("p", "Tiered prices made the heaviest users cut first, while small farms kept "
                  "their base allocation at the old price."),
            ("h", 2, "Storage Banking"),
            ("p", "Aquifer storage banking lets a district recharge groundwater in wet years "
                  "and draw on the credit in dry years, and the districts that bank water"),
        ],
        [
            ("p", "weathered the drought with far fewer emergency cuts than their neighbours."),
            ("p", "Banking requires accurate accounting of what each member put in. " + LOREM),
            ("h", 1, "Urban Conservation"),
            ("p", "Cities cut outdoor watering first; lawn replacement rebates paid for "
                  "themselves within four years in most utilities."),
        ],
        [
            ("h", 2, "Leak Detection"),
            ("p", "Acoustic sensors on mains found leaks that had run unnoticed for years. "
                  + LOREM),
            ("p", "Utilities that fixed leaks within a week saved more water than the "
                  "rebate programmes did.[^2]"),
            ("fn", 2, "Comparison over 2019 to 2022 across twelve utilities."),
        ],
        [
            ("h", 1, "Recommendations"),
            ("p", "Meter every well, price by volume, and bank water in wet years. " + LOREM),
            ("p", "Publish allocation rules before planting decisions are made."),
        ],
    ]


def expected(pages: list[list[Item]]) -> dict[str, list]:
    """What a correct parser finds, read off the page spec (the layout, not the parser).

    ``headings``: (path, page); ``paragraphs``: (text, pages, path), a paragraph
    left unfinished at the foot of a page joined with the first of the next;
    ``footnotes``: (label, text, page).
    """
    headings, paras, notes = [], [], []
    stack: list[tuple[int, str]] = []
    for n, items in enumerate(pages, start=1):
        for item in items:
            if item[0] == "h":
                _, level, title = item
                stack = [s for s in stack if s[0] < level] + [(level, title)]
                headings.append((tuple(t for _, t in stack), n))
            elif item[0] == "p":
                text = plain(item[1])
                path = tuple(t for _, t in stack)
                last = paras[-1] if paras else None
                if last and last[1][-1] == n - 1 and not last[0].endswith((".", "?", "!")) \
                        and items.index(item) == 0:
                    paras[-1] = (last[0] + " " + text, (*last[1], n), last[2])
                else:
                    paras.append((text, (n,), path))
            elif item[0] == "fn":
                notes.append((str(item[1]), item[2], n))
            elif item[0] == "cols":
                path = tuple(t for _, t in stack)
                for text in [*item[1], *item[2]]:
                    last = paras[-1] if paras else None
                    if last and not last[0].endswith((".", "?", "!")):
                        paras[-1] = (last[0] + " " + text, last[1], last[2])
                    else:
                        paras.append((text, (n,), path))
    return {"headings": headings, "paragraphs": paras, "footnotes": notes}


def sample_markdown() -> str:
    """Field notes in Markdown: a title, nested headings, a list, links, a table, code."""
    return """---
title: Field Notes on Irrigation
---
# Field Notes on Irrigation

Notes from visits to three irrigation districts in the [Central Valley](https://example.org/cv).

## Visits

### District A

District A replaced open canals with buried pipe, and its **conveyance losses** fell by
half within two seasons.

- Pipe costs were shared with the state.
- Farmers paid for the turnouts.
  - Some turnouts were automated.

### District B

District B still runs open canals; its manager blamed `seepage` for most losses.

> We lose a fifth of what we divert before it reaches a farm.

## Data

| District | Loss |
|----------|------|
| A | 10% |
| B | 21% |

```
loss = diverted - delivered
```
"""


def sample_html() -> str:
    """A web article: scripts, navigation and styles around the text, nested headings."""
    return """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>Desalination Costs Explained</title>
<style>body { color: red }</style>
<script>var secret = "do not index this script";</script></head>
<body>
<nav><a href="/">Home</a> | <a href="/about">About us</a></nav>
<h1>Desalination Costs Explained</h1>
<p>Seawater desalination costs have fallen as membranes improved, but energy still
makes up about a third of the cost of each cubic metre.<sup>1</sup></p>
<h2>Energy</h2>
<p>Plants that run on cheap night-time power can cut costs further.</p>
<ul><li>Reverse osmosis needs high pressure.</li><li>Thermal plants need heat.</li></ul>
<h3>Energy recovery</h3>
<div>Pressure exchangers recover most of the energy in the brine stream.</div>
<h2>Brine disposal</h2>
<p>Brine returned to the sea must be diluted to protect marine life &amp; fisheries.</p>
<noscript>Enable JavaScript</noscript>
<footer><p>Footnote 1: figures for plants built after 2015.</p></footer>
</body></html>
"""


# --- hostile documents ------------------------------------------------------------
# What real filings throw at a parser and a chunker, pushed to the extreme:
# each generator draws its words from a seeded random source, so a property
# test can run it over several seeds.

def _words(rng, n: int) -> list[str]:
    stems = ["revenue", "segment", "liability", "accrued", "impairment", "goodwill", "lease",
             "deferred", "derivative", "pension", "litigation", "subsidiary", "amortization",
             "consolidated", "fiscal", "operating", "tax", "net", "equity", "cash"]
    out = []
    for _ in range(n):
        w = rng.choice(stems)
        r = rng.random()
        if r < 0.15:
            w = f"{rng.randint(1, 99_999):,}"
        elif r < 0.2:
            w = f"({rng.randint(1, 999)}.{rng.randint(0, 9)})%"
        elif r < 0.25:
            w = w.upper()
        out.append(w)
    return out


def hostile_run_on(rng, words: int = 5000) -> str:
    """Markdown: one paragraph of ``words`` words with no full stop anywhere."""
    return "# Risk Factors\n\n" + " ".join(_words(rng, words)) + "\n"


def hostile_toc(rng, entries: int = 300) -> str:
    """Markdown: a printed table of contents of ``entries`` lines as one paragraph."""
    lines = [f"Item {n // 10 + 1}{'ABCDEFGHIJ'[n % 10]}. {' '.join(_words(rng, 6)).title()} "
             f"{rng.randint(1, 190)}" for n in range(entries)]
    return "# Table of Contents\n\n" + "\n".join(lines) + "\n\n# Business\n\nWe make " \
        "adhesives. Sales rose in every region.\n"


def hostile_table(rng, columns: int = 60, rows: int = 12) -> str:
    """Markdown: a table of ``columns`` columns of figures, with a long header row."""
    head = ["Line item"] + [f"Q{c % 4 + 1} {2000 + c // 4} restated" for c in range(columns - 1)]
    out = ["# Selected Financial Data", "", "| " + " | ".join(head) + " |",
           "|" + "---|" * columns]
    for _ in range(rows):
        cells = [" ".join(_words(rng, 3))] + [f"{rng.randint(-99_999, 999_999):,}"
                                              for _ in range(columns - 1)]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out) + "\n"


def hostile_deep_pages(rng, depth: int = 40, per_page: int = 10) -> list[list[Item]]:
    """PDF pages with headings nested ``depth`` levels deep, each level a long title,
    and a paragraph under the deepest."""
    pages: list[list[Item]] = []
    for level in range(1, depth + 1):
        if (level - 1) % per_page == 0:
            pages.append([])
        title = f"{level}. " + " ".join(_words(rng, 5)).title()
        pages[-1].append(("h", level, title))
    pages[-1].append(("p", "The deepest section has one sentence of its own. " +
                      " ".join(_words(rng, 40)) + "."))
    return pages
