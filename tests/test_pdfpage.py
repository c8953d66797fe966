"""The original page of a PDF: drawn by PyMuPDF, the cited sentences' rectangles on their words.

The PDF is generated (docgen), so where each sentence was drawn is known from
the file's own words (PyMuPDF's word boxes), independently of the search
that places the highlights.
"""

from __future__ import annotations

import struct

import pymupdf
import pytest
from docgen import plain, sample_pages, write_pdf

from assistant.app import pdfpage, render
from assistant.app.pdfpage import page_image, source_pdf

TIERED = ("Tiered prices made the heaviest users cut first, while small farms kept "
          "their base allocation at the old price.")
# Drawn with a footnote reference inside it (the parser gives it as a superscript).
PUMPING = plain("Groundwater pumping rose by a third in the last drought.[^1] The increase "
                "was largest in districts without metering.")


@pytest.fixture(scope="module")
def pdf(tmp_path_factory):
    folder = tmp_path_factory.mktemp("pdfpage")
    return write_pdf(folder / "water-paper.pdf", sample_pages())


def word_boxes(path, page_no: int, sentence: str) -> list[tuple[float, float, float, float]]:
    """The page's own boxes of the words of ``sentence`` (as fractions of the page)."""
    with pymupdf.open(path) as doc:
        page = doc[page_no - 1]
        w, h = page.rect.width, page.rect.height
        words = page.get_text("words")
    wanted = [x.translate(pdfpage._SUPERSCRIPTS) for x in sentence.split()]
    texts = [wd[4] for wd in words]
    for i in range(len(texts) - len(wanted) + 1):
        if all(texts[i + k].startswith(wanted[k]) for k in range(len(wanted))):
            return [(wd[0] / w, wd[1] / h, wd[2] / w, wd[3] / h)
                    for wd in words[i:i + len(wanted)]]
    raise AssertionError(f"{sentence!r} is not on page {page_no}")


def covered(word, boxes) -> bool:
    cx, cy = (word[0] + word[2]) / 2, (word[1] + word[3]) / 2
    return any(x0 <= cx <= x1 and y0 <= cy <= y1 for x0, y0, x1, y1 in boxes)


def test_the_page_is_drawn_with_its_number_and_the_sentence_marked_on_its_words(pdf):
    im = page_image(pdf, 2, [TIERED])
    assert im is not None and im.page == 2 and im.page_count == 5
    assert im.png[:8] == b"\x89PNG\r\n\x1a\n"
    assert struct.unpack(">II", im.png[16:24]) == (im.width, im.height)
    assert im.width == pdfpage.PAGE_PIXELS and im.height > im.width  # A4, portrait
    words = word_boxes(pdf, 2, TIERED)
    assert im.boxes and all(covered(w, im.boxes) for w in words)
    # Nothing else is marked: every box lies on the sentence's own lines.
    top = min(w[1] for w in words) - 0.005
    bottom = max(w[3] for w in words) + 0.005
    assert all(top <= y0 and y1 <= bottom for _, y0, _, y1 in im.boxes), im.boxes


def test_a_sentence_with_a_footnote_mark_is_found_by_its_pieces(pdf):
    im = page_image(pdf, 1, [PUMPING])
    assert im is not None
    words = word_boxes(pdf, 1, PUMPING)
    assert all(covered(w, im.boxes) for w in words)


def test_a_sentence_of_another_page_marks_nothing(pdf):
    im = page_image(pdf, 1, [TIERED])
    assert im is not None and im.boxes == ()


def test_a_page_not_in_the_file_has_no_picture(pdf):
    assert page_image(pdf, 6, [TIERED]) is None
    assert page_image(pdf, 0, [TIERED]) is None


def test_only_a_pdf_inside_the_corpus_folder_is_opened(pdf, tmp_path):
    corpus = pdf.parent
    assert source_pdf(corpus, pdf.name) == pdf.resolve()
    outside = write_pdf(tmp_path / "outside.pdf", sample_pages()[:1])
    for name in ("../" + tmp_path.name + "/outside.pdf", str(outside), "missing.pdf",
                 "notes.md", ""):
        assert source_pdf(corpus, name) is None, name
    link = corpus / "link.pdf"
    link.symlink_to(outside)
    assert source_pdf(corpus, "link.pdf") is None


def test_the_card_shows_the_page_number_and_lays_the_boxes_over_the_picture(pdf):
    im = page_image(pdf, 2, [TIERED])
    html = render.original_page_html(im, "water-paper.pdf")
    assert "Original page: page 2 of 5 in water-paper.pdf" in html
    assert 'src="data:image/png;base64,' in html
    assert html.count('class="ra-pdf-hl"') == len(im.boxes)
    hostile = render.original_page_html(im, '<img src=x onerror="alert(1)">.pdf')
    assert "<img src=x" not in hostile and "&lt;img src=x" in hostile
