"""The original page of a PDF, drawn with PyMuPDF, with the cited sentences marked on it.

A reader who added a PDF can see the page a passage came from, as a viewer
shows it, not only the cleaned text. The page is found only among the
documents already loaded: the file is the document's own ``source`` inside the
corpus folder, resolved and checked to stay there, so no path ever comes from
the browser.

Highlights are returned as rectangles (fractions of the page's width and
height) rather than painted into the picture, so the page can lay them over a
picture of any size and a test can check where they fall.
"""

from __future__ import annotations

import base64
import functools
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

# A page is drawn this many pixels wide: readable in the sources column and on
# a phone, small enough (tens of KB) to travel inside the page's HTML.
PAGE_PIXELS = 720
# When a sentence is not found whole (a footnote mark or a hyphen inside it,
# text the parser joined or cleaned), it is looked for in runs of this many
# words; shorter runs would match common phrases elsewhere on the page.
PIECE_WORDS = 5
# Pages drawn and kept (per process), so re-showing an answer costs nothing.
CACHE_PAGES = 64

_SPACE = re.compile(r"\s+")
# The parser writes a footnote reference as superscript digits; the page has
# them as small ordinary digits, so they are left out of what is searched.
_SUPERSCRIPTS = str.maketrans("", "", "⁰¹²³⁴⁵⁶⁷⁸⁹")


@dataclass(frozen=True)
class PageImage:
    """One drawn page: its number, a PNG, and the cited sentences' rectangles on it."""

    page: int  # 1-based place in the file: the number a PDF viewer's page box shows
    label: str  # the PDF's own label for the page (e.g. "iv"), or "" when it has none
    page_count: int
    png: bytes
    width: int  # pixels
    height: int
    boxes: tuple[tuple[float, float, float, float], ...]  # (x0, y0, x1, y1), 0..1 of the page

    def data_url(self) -> str:
        return "data:image/png;base64," + base64.b64encode(self.png).decode("ascii")


def source_pdf(corpus_dir: Path, source: str) -> Path | None:
    """The PDF file behind a document, or None when it is not a PDF inside the corpus folder.

    ``source`` is the document's file name as recorded at parse time; a name
    that resolves outside the folder (``..``, an absolute path, a link) is refused.
    """
    if not source or not source.lower().endswith(".pdf"):
        return None
    folder = Path(corpus_dir).resolve()
    path = (folder / source).resolve()
    if not path.is_relative_to(folder) or not path.is_file():
        return None
    return path


def _pieces(sentence: str, words: int = PIECE_WORDS) -> list[str]:
    """The sentence in runs of ``words`` words (the last run joined to the one before)."""
    ws = sentence.split()
    if len(ws) <= words:
        return [" ".join(ws)] if ws else []
    runs = [ws[i:i + words] for i in range(0, len(ws), words)]
    if len(runs) > 1 and len(runs[-1]) < words:
        last = runs.pop()
        runs[-1] = runs[-1] + last
    return [" ".join(r) for r in runs]


def find_rects(page, sentence: str) -> list:
    """Rectangles (PDF points) covering ``sentence`` on ``page``: whole if it is found
    whole, else each run of words of it that is found."""
    text = _SPACE.sub(" ", sentence.translate(_SUPERSCRIPTS)).strip()
    if not text:
        return []
    hits = page.search_for(text)
    if hits:
        return list(hits)
    out = []
    for piece in _pieces(text):
        out.extend(page.search_for(piece))
    return out


def _fractions(rects: Iterable, width: float, height: float
               ) -> tuple[tuple[float, float, float, float], ...]:
    boxes = {(round(r.x0 / width, 4), round(r.y0 / height, 4),
              round(r.x1 / width, 4), round(r.y1 / height, 4)) for r in rects}
    return tuple(sorted(boxes, key=lambda b: (b[1], b[0])))


@functools.lru_cache(maxsize=CACHE_PAGES)
def _draw(path: str, mtime_ns: int, page_no: int, sentences: tuple[str, ...]) -> PageImage | None:
    # mtime_ns is part of the key so a file replaced under the same name is drawn anew.
    import pymupdf

    with pymupdf.open(path) as pdf:
        if not 1 <= page_no <= pdf.page_count:
            return None
        page = pdf[page_no - 1]
        rect = page.rect
        zoom = PAGE_PIXELS / rect.width
        pix = page.get_pixmap(matrix=pymupdf.Matrix(zoom, zoom), alpha=False)
        rects = [r for s in sentences for r in find_rects(page, s)]
        return PageImage(page=page_no, label=page.get_label() or "", page_count=pdf.page_count,
                         png=pix.tobytes("png"), width=pix.width, height=pix.height,
                         boxes=_fractions(rects, rect.width, rect.height))


def page_image(path: Path, page_no: int, sentences: Iterable[str]) -> PageImage | None:
    """Page ``page_no`` (1-based) of the PDF at ``path`` with ``sentences`` highlighted.

    None when the page is not in the file or the file cannot be opened: the
    passage is still shown as text, so a damaged file costs only its picture.
    """
    try:
        mtime = path.stat().st_mtime_ns
        return _draw(str(path), mtime, int(page_no), tuple(s for s in sentences if s.strip()))
    except (OSError, RuntimeError, ValueError):  # pymupdf raises RuntimeError subclasses
        return None
