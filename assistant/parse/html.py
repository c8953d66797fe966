"""HTML: h1..h6 as nested sections, paragraphs, list items and table rows as blocks.

Parsed with BeautifulSoup over the standard library's ``html.parser`` (no
lxml needed), imported only when an HTML file is read. Scripts, styles,
navigation, forms and other non-text elements are dropped; the character set
is taken from the file (a ``<meta charset>``, a BOM) rather than assumed.
Text outside any ``<p>`` (a bare ``<div>`` of text) still becomes a block,
since each block-level element closes the text before it. A raised number
(``<sup>2</sup>``) becomes a superscript footnote reference. An HTML page has
no pages: everything is page 1.
"""

from __future__ import annotations

from assistant.parse.outline import OutlineBuilder, fallback_title, to_superscript
from assistant.types import QUOTE, TEXT, Document

DROP = frozenset({
    "script", "style", "noscript", "template", "svg", "canvas", "iframe", "object", "embed",
    "nav", "form", "button", "select", "input", "textarea", "head", "map", "audio", "video",
})
BLOCK = frozenset({
    "p", "div", "section", "article", "main", "aside", "header", "footer", "li", "ul", "ol",
    "dl", "dt", "dd", "blockquote", "pre", "table", "tr", "thead", "tbody", "tfoot",
    "figure", "figcaption", "address", "hr", "details", "summary", "caption", "body", "html",
    "h1", "h2", "h3", "h4", "h5", "h6", "center", "fieldset", "legend",
})
HEADINGS = {f"h{n}": n for n in range(1, 7)}


class _Walker:
    def __init__(self) -> None:
        self.out = OutlineBuilder()
        self.buffer: list[str] = []
        self.headings: list[tuple[int, str]] = []
        self.kind = TEXT
        self.list_item = False
        self.fresh_item = False

    def flush(self) -> None:
        text = " ".join("".join(self.buffer).split())
        self.buffer = []
        if not text:
            return
        if self.fresh_item:
            text = "- " + text
            self.fresh_item = False
        self.out.block([(text, 1)], kind=self.kind, list_item=self.list_item)

    def walk(self, node) -> None:
        from bs4 import Comment, NavigableString, Tag

        for child in node.children:
            if isinstance(child, Comment):
                continue
            if isinstance(child, NavigableString):
                if type(child) is NavigableString:  # not CData, Doctype, declarations
                    self.buffer.append(str(child))
                continue
            if not isinstance(child, Tag):
                continue
            name = child.name.lower()
            if name in DROP or child.has_attr("hidden"):
                continue
            if name in HEADINGS:
                self.flush()
                title = " ".join(child.get_text(" ").split())
                self.out.heading(HEADINGS[name], title, 1)
                if title:
                    self.headings.append((HEADINGS[name], title))
                continue
            if name == "br":
                self.buffer.append(" ")
                continue
            if name == "sup":
                raw = child.get_text().strip()
                self.buffer.append(to_superscript(raw) if raw.isdigit() else raw)
                continue
            if name in {"td", "th"}:
                if "".join(self.buffer).strip():
                    self.buffer.append(" | ")
                self.walk(child)
                continue
            if name == "pre":
                self.flush()
                text = child.get_text().strip("\n")
                if text.strip():
                    self.out.block([(text, 1)], kind=self.kind, sep="\n")
                continue
            if name not in BLOCK:
                self.walk(child)  # inline: its words join the running text
                continue
            self.flush()
            saved = (self.kind, self.list_item, self.fresh_item)
            if name == "blockquote":
                self.kind = QUOTE
            if name == "li":
                self.list_item, self.fresh_item = True, True
            self.walk(child)
            self.flush()
            self.kind, self.list_item = saved[0], saved[1]
            self.fresh_item = False if name == "li" else saved[2]


def parse_html(data: str | bytes, doc_id: str, source: str, meta: dict | None = None
               ) -> Document:
    from bs4 import BeautifulSoup

    meta = dict(meta or {})
    soup = BeautifulSoup(data, "html.parser")
    page_title = " ".join(soup.title.get_text().split()) if soup.title else ""
    walker = _Walker()
    walker.walk(soup)
    walker.flush()
    top = [t for level, t in walker.headings if level == 1]
    title = (meta.get("title") or page_title or (top[0] if len(top) == 1 else "")
             or fallback_title(source.rsplit(".", 1)[0]))
    meta.update({"format": "html", "pages": 1})
    return walker.out.build(doc_id, source, title, meta)
