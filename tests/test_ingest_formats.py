"""Markdown, HTML and plain text ingest, and a corpus mixing every format.

The documents are written by the tests (tests/docgen.py) into temporary
folders; what each parser must find is read off the source text.
"""

from __future__ import annotations

import shutil

import pytest
from docgen import sample_html, sample_markdown, sample_pages, write_pdf

from assistant.chunk import ChunkSettings, chunk_document, tiktoken_counter
from assistant.errors import CorpusError
from assistant.parse import PARSERS, load_corpus, load_document, supported
from assistant.types import FOOTNOTE, QUOTE, TEXT, Document


def check_model(doc: Document) -> None:
    """The document-model rules every parser keeps."""
    sections = {s.id: s for s in doc.sections}
    assert len(sections) == len(doc.sections)
    last = -1
    for b in doc.blocks:
        assert doc.text[b.start:b.end] == b.text and b.text == b.text.strip() and b.text
        assert b.start > last
        last = b.end
        s = sections[b.section_id]
        assert s.start <= b.start and b.end <= s.end
    for s in doc.sections:
        assert s.path[-1] == s.title
        assert 0 <= s.start <= s.end <= len(doc.text)
    assert doc.page_starts[0][0] == 0


@pytest.fixture
def md_doc(tmp_path) -> Document:
    path = tmp_path / "field-notes.md"
    path.write_text(sample_markdown(), encoding="utf-8")
    return load_document(path)


@pytest.fixture
def html_doc(tmp_path) -> Document:
    path = tmp_path / "desal.html"
    path.write_text(sample_html(), encoding="utf-8")
    return load_document(path)


# --- Markdown ------------------------------------------------------------------------

def test_markdown_headings_become_nested_sections(md_doc):
    check_model(md_doc)
    assert [s.path for s in md_doc.sections] == [
        ("Field Notes on Irrigation",),
        ("Field Notes on Irrigation", "Visits"),
        ("Field Notes on Irrigation", "Visits", "District A"),
        ("Field Notes on Irrigation", "Visits", "District B"),
        ("Field Notes on Irrigation", "Data"),
    ]
    visits = md_doc.sections[1]
    district_b = md_doc.sections[3]
    assert visits.start < district_b.start and district_b.end == visits.end


def test_markdown_title_comes_from_front_matter_which_is_not_text(md_doc):
    assert md_doc.title == "Field Notes on Irrigation"
    assert "title:" not in md_doc.text and "---" not in md_doc.text


def test_markdown_links_and_marks_are_reduced_to_text(md_doc):
    text = md_doc.text
    assert "in the Central Valley." in text
    assert "https://example.org" not in text and "](" not in text
    assert "its conveyance losses fell" in text and "**" not in text
    assert "blamed seepage for" in text and "`" not in text


def test_markdown_lists_quotes_tables_and_code(md_doc):
    by_text = {b.text: b for b in md_doc.blocks}
    items = [b for b in md_doc.blocks if b.list_item]
    assert [b.text for b in items] == ["- Pipe costs were shared with the state.",
                                       "- Farmers paid for the turnouts.",
                                       "- Some turnouts were automated."]
    quote = next(b for b in md_doc.blocks if b.kind == QUOTE)
    assert quote.text == "We lose a fifth of what we divert before it reaches a farm."
    assert "District | Loss\nA | 10%\nB | 21%" in by_text
    assert "loss = diverted - delivered" in by_text
    sections = {s.id: s.title for s in md_doc.sections}
    assert sections[quote.section_id] == "District B"


def test_markdown_passages_name_their_section_and_page_one(md_doc, engine_config):
    settings = ChunkSettings(engine_config.chunk_target_tokens, engine_config.chunk_max_tokens)
    passages = chunk_document(md_doc, settings, tiktoken_counter(engine_config.encoding))
    assert passages and all(p.pages == (1,) for p in passages)
    pipe = next(p for p in passages if "buried pipe" in p.text)
    assert pipe.section_path[-1] == "District A"
    assert pipe.doc_title == "Field Notes on Irrigation"
    for p in passages:
        assert md_doc.text[p.start:p.end] == p.text


def test_markdown_without_headings_is_one_section_named_after_the_file(tmp_path):
    path = tmp_path / "meeting_notes-2024.markdown"
    path.write_text("We agreed to meet monthly.\n\nThe budget stays flat.\n", encoding="utf-8")
    doc = load_document(path)
    check_model(doc)
    assert doc.title == "meeting notes 2024"
    assert [s.path for s in doc.sections] == [("meeting notes 2024",)]
    assert [b.text for b in doc.blocks] == ["We agreed to meet monthly.", "The budget stays flat."]


def test_markdown_raw_html_is_reduced_to_text(tmp_path):
    path = tmp_path / "x.md"
    path.write_text("# T\n\n<div onclick=\"x()\">Raw <b>block</b> &amp; text</div>\n\n"
                    "<script>alert('no')</script>\n", encoding="utf-8")
    doc = load_document(path)
    assert "Raw block & text" in doc.text
    assert "alert" not in doc.text and "<" not in doc.text


# --- HTML ------------------------------------------------------------------------------

def test_html_headings_become_nested_sections(html_doc):
    check_model(html_doc)
    assert [s.path for s in html_doc.sections] == [
        ("Desalination Costs Explained",),
        ("Desalination Costs Explained", "Energy"),
        ("Desalination Costs Explained", "Energy", "Energy recovery"),
        ("Desalination Costs Explained", "Brine disposal"),
    ]
    assert html_doc.title == "Desalination Costs Explained"


def test_html_scripts_styles_and_navigation_are_dropped(html_doc):
    text = html_doc.text
    for gone in ("secret", "color: red", "About us", "Enable JavaScript", "<", "&amp;"):
        assert gone not in text
    assert "marine life & fisheries" in text


def test_html_paragraphs_list_items_and_bare_text_are_blocks(html_doc):
    texts = [b.text for b in html_doc.blocks]
    assert "- Reverse osmosis needs high pressure." in texts
    assert "- Thermal plants need heat." in texts
    assert "Pressure exchangers recover most of the energy in the brine stream." in texts
    first = texts[0]
    assert first.startswith("Seawater desalination costs have fallen")
    assert first.endswith("each cubic metre.¹")
    assert html_doc.blocks[0].notes == ("1",)


def test_html_in_another_charset_is_decoded_from_its_declaration(tmp_path):
    page = ('<html><head><meta charset="windows-1252"><title>Año</title></head>'
            "<body><h1>Energía</h1><p>Precio del agua en México: 3 €/m³.</p></body></html>")
    path = tmp_path / "es.htm"
    path.write_bytes(page.encode("cp1252"))
    doc = load_document(path)
    assert doc.title == "Año"
    assert doc.blocks[0].text == "Precio del agua en México: 3 €/m³."
    assert doc.sections[0].title == "Energía"


def test_html_injection_in_text_stays_text(tmp_path):
    path = tmp_path / "evil.html"
    path.write_text("<h1>Notes</h1><p>Type &lt;script&gt;alert(1)&lt;/script&gt; to test."
                    "</p><p><img src=x onerror=alert(2)>Image above.</p>", encoding="utf-8")
    doc = load_document(path)
    # The words a reader wrote are kept as text (the page escapes them);
    # markup never becomes text, and nothing the browser would run survives.
    assert doc.blocks[0].text == "Type <script>alert(1)</script> to test."
    assert doc.blocks[1].text == "Image above."
    assert "onerror" not in doc.text


# --- a corpus of every kind -----------------------------------------------------------------

def test_a_mixed_corpus_loads_every_format(tmp_path, report_path):
    shutil.copy(report_path, tmp_path / report_path.name)
    meta = report_path.with_suffix(".meta.json")
    if meta.exists():
        shutil.copy(meta, tmp_path / meta.name)
    write_pdf(tmp_path / "water-paper.pdf", sample_pages())
    (tmp_path / "field-notes.md").write_text(sample_markdown(), encoding="utf-8")
    (tmp_path / "desal.html").write_text(sample_html(), encoding="utf-8")
    (tmp_path / "memo.txt").write_text("A short memo.\n\nSecond paragraph.\n", encoding="utf-8")
    (tmp_path / "slides.pptx").write_bytes(b"PK\x03\x04")  # not a supported type
    (tmp_path / "broken.md").write_bytes(b"\xff\xfe\x00bad")
    docs, skipped = load_corpus(tmp_path)
    by_id = {d.id: d for d in docs}
    assert set(by_id) == {report_path.stem, "water-paper", "field-notes", "desal", "memo"}
    assert [s.path for s in skipped] == ["broken.md"]
    assert "UTF-8" in skipped[0].reason
    assert by_id[report_path.stem].title == "U.S.-Mexico Forum 2025: Report 2022"
    for doc in docs:
        check_model(doc)
    assert {d.meta.get("format") for d in docs} >= {"pdf", "markdown", "html"}


def test_every_registered_suffix_is_supported_and_others_are_not(tmp_path):
    for suffix in (".pdf", ".md", ".markdown", ".html", ".htm", ".txt"):
        assert suffix in PARSERS
        assert supported(tmp_path / f"a{suffix.upper()}")
    assert not supported(tmp_path / "a.docx")
    assert not supported(tmp_path / "a.pdf.meta.json")
    with pytest.raises(CorpusError, match="unsupported"):
        load_document(tmp_path / "a.docx")


def test_parsers_import_their_libraries_only_when_used():
    import subprocess
    import sys

    code = ("import sys, assistant.parse, assistant.library; "
            "print(sorted(m for m in ('pymupdf', 'fitz', 'bs4', 'markdown_it', 'torch') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.strip() == "[]"


def test_kinds_are_only_the_known_ones(md_doc, html_doc):
    for doc in (md_doc, html_doc):
        assert {b.kind for b in doc.blocks} <= {TEXT, QUOTE, FOOTNOTE}
