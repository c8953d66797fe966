"""Markdown: headings as nested sections, paragraphs and list items as blocks.

Parsed with markdown-it-py (CommonMark, plus tables and strikethrough) and
imported only when a Markdown file is read. Inline markup is reduced to its
words: a link to its text, an image to its alt text, emphasis and code marks
dropped, so passages read as prose. List items keep a "- " or "1. " lead so
they still read as list lines; a blockquote is a quote block; code and tables
are kept as text lines. A Markdown file has no pages: everything is page 1.

A YAML front-matter block is not text; its ``title:`` names the document.
"""

from __future__ import annotations

import html
import re

from assistant.parse.outline import OutlineBuilder, fallback_title
from assistant.types import QUOTE, TEXT, Document

_FRONT = re.compile(r"\A---[ \t]*\n(.*?)\n(?:---|\.\.\.)[ \t]*(?:\n|\Z)", re.S)
_TAG = re.compile(r"<[^>]*>")
_SCRIPT = re.compile(r"<(script|style)\b.*?</\1\s*>", re.S | re.I)


def front_matter(raw: str) -> tuple[dict[str, str], str]:
    """Simple ``key: value`` pairs of a leading YAML block, and the text after it."""
    m = _FRONT.match(raw)
    if not m:
        return {}, raw
    fields = {}
    for line in m.group(1).splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() and not key.startswith((" ", "\t", "-")):
            fields[key.strip().lower()] = value.strip().strip("'\"")
    return fields, raw[m.end():]


def inline_text(token) -> str:
    """The words of an inline token: links to their text, images to alt text."""
    out: list[str] = []
    for child in token.children or []:
        if child.type in {"text", "code_inline"}:
            out.append(child.content)
        elif child.type in {"softbreak", "hardbreak"}:
            out.append(" ")
        elif child.type == "image":
            out.append(child.content or "".join(c.content for c in child.children or []))
        elif child.type == "html_inline":
            continue
    return " ".join("".join(out).split())


def html_text(fragment: str) -> str:
    return " ".join(html.unescape(_TAG.sub(" ", _SCRIPT.sub(" ", fragment))).split())


def parse_markdown(raw: str, doc_id: str, source: str, meta: dict | None = None) -> Document:
    from markdown_it import MarkdownIt

    meta = dict(meta or {})
    raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    fields, body = front_matter(raw)
    tokens = MarkdownIt("commonmark").enable(["table", "strikethrough"]).parse(body)

    out = OutlineBuilder()
    headings: list[tuple[int, str]] = []
    lists: list[dict] = []  # open lists: {"ordered": bool, "next": int}
    item_fresh = False  # the current list item has not yet shown its first paragraph
    quote_depth = 0
    row: list[str] = []
    table: list[str] = []

    i = 0
    while i < len(tokens):
        t = tokens[i]
        kind = QUOTE if quote_depth else TEXT
        if t.type == "heading_open":
            title = inline_text(tokens[i + 1])
            level = int(t.tag[1])
            out.heading(level, title, 1)
            headings.append((level, title))
            i += 3
            continue
        if t.type in {"bullet_list_open", "ordered_list_open"}:
            start = int(t.attrs.get("start", 1) or 1) if t.attrs else 1
            lists.append({"ordered": t.type == "ordered_list_open", "next": start})
        elif t.type in {"bullet_list_close", "ordered_list_close"}:
            lists.pop()
        elif t.type == "list_item_open":
            item_fresh = True
        elif t.type == "blockquote_open":
            quote_depth += 1
        elif t.type == "blockquote_close":
            quote_depth -= 1
        elif t.type == "inline" and tokens[i - 1].type == "paragraph_open":
            text = inline_text(t)
            in_list = bool(lists)
            if in_list and item_fresh:
                cur = lists[-1]
                lead = f"{cur['next']}. " if cur["ordered"] else "- "
                cur["next"] += 1
                text = lead + text
                item_fresh = False
            out.block([(text, 1)], kind=kind, list_item=in_list)
        elif t.type in {"fence", "code_block"}:
            out.block([(t.content.rstrip("\n"), 1)], kind=kind, sep="\n")
        elif t.type == "html_block":
            out.block([(html_text(t.content), 1)], kind=kind)
        elif t.type == "tr_open":
            row = []
        elif t.type == "inline" and tokens[i - 1].type in {"th_open", "td_open"}:
            row.append(inline_text(t))
        elif t.type == "tr_close":
            if any(row):
                table.append(" | ".join(row))
        elif t.type == "table_close":
            # One block per table, a line per row: a row reads as one statement.
            out.block([("\n".join(table), 1)], kind=kind)
            table = []
        i += 1

    top = [t for level, t in headings if level == 1]
    title = (meta.get("title") or fields.get("title")
             or (top[0] if len(top) == 1 else "") or fallback_title(source.rsplit(".", 1)[0]))
    meta.update({"format": "markdown", "pages": 1})
    return out.build(doc_id, source, title, meta)
