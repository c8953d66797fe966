"""What a filing is made of: a printed contents page, numbered items, folios, tables.

The PDF is drawn by tests/docgen.py the way filings are laid out (every table
cell its own text on a shared baseline, a contents page of item, title and
page number, folios numbered from after the contents), so what is checked
comes from the layout, not from the parser under test.
"""

from __future__ import annotations

import pytest

from assistant.chunk import ChunkSettings, chunk_document, tiktoken_counter
from assistant.parse import load_document
from assistant.types import TABLE
from tests import docgen

PROSE = docgen.LOREM
CONTENTS = [("Item 1.", "Business", 1), ("Item 1A.", "Risk Factors", 2),
            ("Item 2.", "Properties", 2), ("Item 3.", "Legal Proceedings", 3),
            ("Item 5.", "Market for Common Equity", 3), ("Item 7.", "Results of Operations", 4),
            ("Item 8.", "Financial Statements", 4), ("Item 9.", "Changes in Accountants", 5),
            ("Item 15.", "Exhibits", 5)]
ROWS = [["Net sales", "$ 34,229", "$ 35,355", "$ 32,184"],
        ["Cost of sales", "19,232", "18,795", "16,605"],
        ["Research expenses", "1,862", "1,994", "1,878"],
        ["Operating income", "6,539", "7,369", "7,161"]]


def _filing() -> list[list[tuple]]:
    # Page 1 is the cover; page 2 the contents; the folio of page 3 reads 1.
    cover = [("h", 1, "Annual Report on Form 10-K"), ("p", "Acme Adhesives Company. " + PROSE)]
    contents = [("p", "Table of Contents"), ("toc", CONTENTS)]
    body = [[("h", 1, f"{n} {t}"), ("p", f"This part is {t.lower()}. " + PROSE)]
            for n, t, _ in CONTENTS[:8]]
    pages = [cover, contents, body[0], body[1] + body[2], body[3] + body[4],
             body[5] + [("table", "Consolidated Statement of Income", ["2022", "2021", "2020"],
                         ROWS)] + body[6],
             body[7] + [("h", 1, "Item 15. Exhibits"), ("p", "Exhibit 21. Subsidiaries.")]]
    return pages


@pytest.fixture(scope="module")
def filing(tmp_path_factory):
    path = tmp_path_factory.mktemp("filing") / "acme-10k.pdf"
    docgen.write_pdf(path, _filing(), outline=False, footer="{n}", folio_offset=-2)
    return load_document(path)


def test_the_contents_page_is_recognised_and_not_text(filing):
    assert filing.meta["contents_pages"] == [2]
    assert len(filing.meta["contents"]) == len(CONTENTS)
    assert "Legal Proceedings 3" not in filing.text
    assert all(2 not in filing.pages_of(b.start, b.end) for b in filing.blocks)


def test_items_found_on_the_pages_the_contents_gives_form_the_section_path(filing):
    assert filing.meta["headings_from"] == "contents"
    by_title = {s.title: s for s in filing.sections}
    risk = by_title["Item 1A. Risk Factors"]
    # Printed page 2 of the contents is the PDF's 4th page.
    assert risk.start_page == 4
    assert by_title["Item 8. Financial Statements"].start_page == 6


def test_citations_give_the_physical_and_the_printed_page(filing):
    passages = chunk_document(filing, ChunkSettings(), tiktoken_counter())
    p = next(p for p in passages if "risk factors" in p.text.lower())
    assert p.pages == (4,)
    assert p.printed_pages == ("2",)
    assert p.page_label == "p. 4 (printed 2)"


def test_a_table_keeps_its_rows_as_rows_with_title_and_headers(filing):
    passages = chunk_document(filing, ChunkSettings(), tiktoken_counter())
    tables = [p for p in passages if p.kind == TABLE]
    assert tables
    lines = [ln for p in tables for ln in p.text.splitlines()]
    assert "Net sales $ 34,229 $ 35,355 $ 32,184" in lines
    row = next(p for p in tables if "Research expenses 1,862" in p.text)
    assert "Consolidated Statement of Income" in row.context
    assert "2022" in row.context and "2020" in row.context
    assert row.pages == (6,)
    for p in tables:
        assert filing.text[p.start:p.end] == p.text


def test_exhibits_are_marked_as_such(filing):
    marked = {s.title for s in filing.sections if s.id in filing.meta["appendices"]}
    assert marked == {"Item 15. Exhibits"}
