"""PDF ingest: pages, headings, running headers, footnotes, checked against the layout.

Every PDF here is drawn by the test (tests/docgen.py, with fpdf2) into a
temporary folder, so what the parser must find is known from the drawing:
the page each heading and paragraph was put on, the running header and
page-number footer on every page, a footnote at the foot of pages 1 and 4,
and a sentence that runs from page 2 onto page 3. A second oracle is the
PDF's raw text per page as PyMuPDF extracts it, without this parser's logic.
"""

from __future__ import annotations

import itertools
import re
from pathlib import Path

import pymupdf
import pytest
from docgen import LOREM, expected, sample_pages, write_pdf

from assistant.chunk import ChunkSettings, chunk_document, tiktoken_counter
from assistant.errors import CorpusError
from assistant.parse import load_corpus, load_document
from assistant.parse.pdf import join_lines
from assistant.types import FOOTNOTE, TEXT, Document

HEADER = "ACME INSTITUTE WORKING PAPER"


def squash(text: str) -> str:
    return " ".join(text.split())


@pytest.fixture(scope="module", params=["outline", "font-size"])
def pdf_case(request, tmp_path_factory) -> tuple[Path, Document, dict]:
    """The sample paper with its outline (bookmarks), and without (headings from type size)."""
    folder = tmp_path_factory.mktemp(f"pdf-{request.param}")
    pages = sample_pages()
    path = write_pdf(folder / "water-paper.pdf", pages, header=HEADER,
                     outline=request.param == "outline")
    return path, load_document(path), expected(pages)


@pytest.fixture(scope="module")
def raw_pages(pdf_case) -> dict[int, str]:
    path = pdf_case[0]
    with pymupdf.open(path) as pdf:
        return {page.number + 1: squash(page.get_text()) for page in pdf}


def test_the_drawn_pdf_has_what_the_tests_rely_on(pdf_case, raw_pages):
    # Guards the fixture: a header and a page number really are on every page.
    path, doc, _ = pdf_case
    assert len(raw_pages) == 5
    for n, text in raw_pages.items():
        assert HEADER in text and f"Page {n}" in text
    with pymupdf.open(path) as pdf:
        has_outline = bool(pdf.get_toc())
    assert doc.meta["headings_from"] == ("outline" if has_outline else "font size")


def test_headings_become_nested_sections_on_their_pages(pdf_case):
    _, doc, want = pdf_case
    got = [(s.path, s.start_page) for s in doc.sections]
    assert got == want["headings"]
    for s in doc.sections:
        assert doc.text[s.start:s.start + len(s.title)] == s.title
        assert doc.pages_of(s.start, s.start + 1) == (s.start_page,)
        assert s.start_page <= s.end_page


def test_a_parent_section_spans_its_subsections(pdf_case):
    _, doc, _ = pdf_case
    by_path = {s.path: s for s in doc.sections}
    for s in doc.sections:
        if len(s.path) > 1:
            parent = by_path[s.path[:-1]]
            assert parent.start < s.start and s.end <= parent.end
            assert parent.end_page >= s.end_page
    storage = by_path[("Water Allocation in Dry Years", "Storage Banking")]
    assert (storage.start_page, storage.end_page) == (2, 3)


def test_every_paragraph_is_a_block_on_the_pages_it_was_drawn_on(pdf_case):
    _, doc, want = pdf_case
    text_blocks = [b for b in doc.blocks if b.kind == TEXT]
    assert [b.text for b in text_blocks] == [t for t, _, _ in want["paragraphs"]]
    sections = {s.id: s for s in doc.sections}
    for block, (_, pages, path) in zip(text_blocks, want["paragraphs"], strict=True):
        assert doc.pages_of(block.start, block.end) == pages, block.text[:60]
        assert sections[block.section_id].path == path


def test_running_header_and_page_numbers_are_removed(pdf_case):
    _, doc, _ = pdf_case
    assert HEADER not in doc.text
    assert not re.search(r"\bPage \d\b", doc.text)
    assert "acme institute working paper" in doc.meta["running_lines"]


def test_a_sentence_across_a_page_break_is_one_block(pdf_case):
    _, doc, _ = pdf_case
    block = next(b for b in doc.blocks if b.text.startswith("Aquifer storage banking"))
    assert "the districts that bank water weathered the drought" in block.text
    assert doc.pages_of(block.start, block.end) == (2, 3)
    # The page break falls exactly where page 3's text starts.
    split = block.text.index("weathered")
    assert doc.pages_of(block.start, block.start + split - 1) == (2,)
    assert doc.pages_of(block.start + split, block.end) == (3,)


def test_footnotes_are_footnote_blocks_linked_to_their_reference(pdf_case, raw_pages):
    _, doc, want = pdf_case
    notes = [b for b in doc.blocks if b.kind == FOOTNOTE]
    assert [(b.label, doc.pages_of(b.start, b.end)) for b in notes] == [
        (label, (page,)) for label, _, page in want["footnotes"]]
    for b, (label, text, page) in zip(notes, want["footnotes"], strict=True):
        assert b.text.endswith(text)
        assert squash(text) in raw_pages[page]
        referring = [x for x in doc.blocks if label in x.notes]
        assert len(referring) == 1
        assert referring[0].section_id == b.section_id
        assert "¹²³⁴⁵⁶⁷⁸⁹"[int(label) - 1] in referring[0].text


def test_blocks_are_verbatim_spans_inside_their_sections(pdf_case):
    _, doc, _ = pdf_case
    sections = {s.id: s for s in doc.sections}
    last = -1
    for b in doc.blocks:
        assert doc.text[b.start:b.end] == b.text
        assert b.start > last
        last = b.end
        s = sections[b.section_id]
        assert s.start <= b.start and b.end <= s.end


def test_block_words_are_on_the_raw_pages_they_claim(pdf_case, raw_pages):
    # The independent oracle: every piece of a block, cut at its page runs,
    # is found in PyMuPDF's plain extraction of that page.
    _, doc, _ = pdf_case
    runs = [*doc.page_starts, (len(doc.text), None)]
    for b in doc.blocks:
        for (start, page), (nxt, _) in itertools.pairwise(runs):
            lo, hi = max(start, b.start), min(nxt, b.end)
            if lo >= hi:
                continue
            piece = squash(doc.text[lo:hi])
            piece = re.sub("[¹²³⁴⁵⁶⁷⁸⁹⁰]", "", piece).strip()
            if piece:
                words = piece.split()
                # Ends are compared by words, since line-end hyphens and
                # superscripts differ between the two extractions.
                assert " ".join(words[:3]) in raw_pages[page], (page, piece[:60])
                assert " ".join(words[-3:]).rstrip(".") in raw_pages[page], (page, piece[-60:])


def test_passages_carry_the_right_pages_and_sections(pdf_case, engine_config):
    _, doc, want = pdf_case
    settings = ChunkSettings(engine_config.chunk_target_tokens, engine_config.chunk_max_tokens)
    passages = chunk_document(doc, settings, tiktoken_counter(engine_config.encoding))
    assert passages
    paras = want["paragraphs"]
    for p in passages:
        assert doc.text[p.start:p.end] == p.text
        assert p.doc_title == "Water Allocation in Dry Years"
        if p.kind != TEXT:
            continue
        owners = [(pages, path) for text, pages, path in paras if p.text in text
                  or text in p.text]
        assert owners, p.text[:60]
        assert set(p.pages) <= {pg for pages, _ in owners for pg in pages}
        assert p.section_path == owners[0][1]
    banking = [p for p in passages if "bank water weathered" in p.text]
    assert len(banking) == 1 and banking[0].pages == (2, 3)
    notes = [p for p in passages if p.kind == FOOTNOTE]
    assert {n.pages for n in notes} == {(1,), (4,)}
    # A note is indexed with the sentence that carries its marker.
    first = next(n for n in notes if n.pages == (1,))
    assert "districts without metering" in first.context


# --- headers and footers in other shapes ---------------------------------------------

def test_a_line_repeated_once_is_not_taken_for_a_header(tmp_path):
    pages = [
        [("h", 1, "Alpha"), ("p", "Shared opening line."), ("p", LOREM)],
        [("h", 1, "Beta"), ("p", "Shared opening line."), ("p", LOREM)],
        [("h", 1, "Gamma"), ("p", "A different first line."), ("p", LOREM)],
        [("h", 1, "Delta"), ("p", "Yet another first line."), ("p", LOREM)],
        [("h", 1, "Epsilon"), ("p", "The fifth opening."), ("p", LOREM)],
        [("h", 1, "Zeta"), ("p", "The sixth opening."), ("p", LOREM)],
    ]
    doc = load_document(write_pdf(tmp_path / "six.pdf", pages, header="", footer=""))
    assert doc.text.count("Shared opening line.") == 2
    assert [s.title for s in doc.sections] == ["Alpha", "Beta", "Gamma", "Delta", "Epsilon",
                                               "Zeta"]


def test_page_of_total_footers_and_bare_numbers_are_removed(tmp_path):
    pages = [[("h", 1, f"Part {n}"), ("p", f"Body text of part number {n}. " + LOREM)]
             for n in range(1, 5)]
    for footer in ("Page {n} of 4", "{n}", "- {n} -"):
        path = write_pdf(tmp_path / "f.pdf", pages, header="Quarterly Review", footer=footer)
        doc = load_document(path)
        assert "Quarterly Review" not in doc.text
        for n in range(1, 5):
            assert f"Body text of part number {n}." in doc.text
        assert not re.search(r"(Page \d of 4|^- ?\d ?-$)", doc.text, re.M)
        assert [s.start_page for s in doc.sections] == [1, 2, 3, 4]


def test_a_pdf_without_an_outline_or_larger_type_is_one_section(tmp_path):
    pages = [[("p", "Plain memo text on the first page. " + LOREM)],
             [("p", "More memo text on the second page. " + LOREM)]]
    path = write_pdf(tmp_path / "memo-2023.pdf", pages, header="", footer="")
    doc = load_document(path)
    assert [s.path for s in doc.sections] == [(doc.title,)]
    assert doc.title == "memo 2023"
    assert [doc.pages_of(b.start, b.end) for b in doc.blocks] == [(1,), (2,)]


def test_two_columns_are_read_left_column_first(tmp_path):
    left = ["Left column opens the argument about reservoir releases in spring.",
            "Operators release water early when snowpack is deep, and the reservoirs"]
    right = ["then refill from the late melt without flooding the valley.",
             "Right column closes with the rule that releases follow forecasts."]
    pages = [
        [("h", 1, "Reservoir Operations"), ("p", "A full-width opening paragraph. " + LOREM),
         ("cols", left, right),
         ("p", "A full-width closing paragraph after the columns. " + LOREM)],
        [("h", 1, "Second Page"), ("cols", ["Only one short column here."], []),
         ("p", "Closing words.")],
    ]
    doc = load_document(write_pdf(tmp_path / "cols.pdf", pages))
    want = expected(pages)
    assert [b.text for b in doc.blocks] == [t for t, _, _ in want["paragraphs"]]
    joined = next(b for b in doc.blocks if "and the reservoirs then refill" in b.text)
    assert doc.pages_of(joined.start, joined.end) == (1,)


def test_title_comes_from_metadata_when_the_pdf_has_one(tmp_path):
    path = write_pdf(tmp_path / "x.pdf", sample_pages(), title="Drought Water Sharing")
    assert load_document(path).title == "Drought Water Sharing"


def test_join_lines_rejoins_hyphenated_words():
    assert join_lines(["the irri-", "gation district"]) == "the irrigation district"
    assert join_lines(["U.S.-", "Mexico"]) == "U.S.- Mexico"
    assert join_lines(["one", "", "two"]) == "one two"


# --- files that cannot be used -------------------------------------------------------

def test_damaged_pdf_is_reported_and_skipped_with_the_others_loaded(tmp_path):
    good = write_pdf(tmp_path / "good.pdf", sample_pages())
    data = good.read_bytes()
    (tmp_path / "truncated.pdf").write_bytes(data[: len(data) // 3])
    (tmp_path / "not-a-pdf.pdf").write_bytes(b"hello, I am text")
    docs, skipped = load_corpus(tmp_path)
    reasons = {s.path: s.reason for s in skipped}
    assert reasons.get("not-a-pdf.pdf")
    loaded = {d.id: d for d in docs}
    assert "good" in loaded and not loaded["good"].meta["repaired"]
    # MuPDF may rebuild a truncated file; then what it recovered is marked so.
    if "truncated" in loaded:
        assert loaded["truncated"].meta["repaired"]
        # Recovered words only, though a rebuilt file may lose their order.
        words = set(re.findall(r"[a-z]+", loaded["good"].text.lower()))
        assert set(re.findall(r"[a-z]+", loaded["truncated"].text.lower())) <= words
    else:
        assert reasons["truncated.pdf"]


def test_a_pdf_with_no_text_says_so(tmp_path):
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.rect(20, 20, 100, 100, style="F")  # a scan would be an image: no text either
    path = tmp_path / "scan.pdf"
    pdf.output(str(path))
    with pytest.raises(CorpusError, match="no text"):
        load_document(path)


def test_a_password_protected_pdf_says_so(tmp_path):
    src = write_pdf(tmp_path / "open.pdf", sample_pages())
    locked = tmp_path / "locked.pdf"
    with pymupdf.open(src) as pdf:
        pdf.save(str(locked), encryption=pymupdf.PDF_ENCRYPT_AES_256, user_pw="secret",
                 owner_pw="owner")
    with pytest.raises(CorpusError, match="password"):
        load_document(locked)


# --- end to end: a real index over the PDF ----------------------------------------------

@pytest.fixture(scope="module")
def pdf_assistant(tmp_path_factory, embedder):
    from assistant.api import Assistant
    from assistant.config import Config
    from assistant.index import build_index

    corpus = tmp_path_factory.mktemp("pdf-corpus")
    write_pdf(corpus / "water-paper.pdf", sample_pages())
    cfg = Config.from_env(corpus_dir=corpus, index_dir=tmp_path_factory.mktemp("pdf-index"))
    data = build_index(cfg, embedder)
    return Assistant(data, embedder, cfg)


@pytest.mark.parametrize(("query", "path", "pages"), [
    ("aquifer storage banking lets districts recharge groundwater in wet years",
     ("Water Allocation in Dry Years", "Storage Banking"), (2, 3)),
    ("acoustic sensors find leaks in water mains",
     ("Urban Conservation", "Leak Detection"), (4,)),
    ("tiered prices for the heaviest users", ("Water Allocation in Dry Years",
                                              "Metering and Pricing"), (2,)),
])
def test_search_returns_pdf_passages_with_section_and_page(pdf_assistant, query, path, pages):
    top = pdf_assistant.search(query, k=3)[0].passage
    assert top.doc_id == "water-paper"
    assert top.section_path == path
    assert top.pages == pages
    assert f"p{'p' if len(pages) > 1 else ''}. {pages[0]}" in top.citation


def test_the_footnote_is_found_with_its_page(pdf_assistant):
    hits = pdf_assistant.search("survey of district managers figures rounded", k=3)
    note = next(h.passage for h in hits if h.passage.kind == FOOTNOTE)
    assert note.pages == (1,) and note.notes == ()
    assert "Survey of district managers" in note.text
