"""Plain text: paragraphs under one section; form feeds, where present, break pages."""

from __future__ import annotations

import re

from assistant.types import TEXT, Block, Document, Section


def parse_plain(raw: str, doc_id: str, source: str, title: str, meta: dict | None = None
                ) -> Document:
    raw = raw.replace("\r\n", "\n").replace("\r", "\n")
    parts: list[str] = []
    runs: list[tuple[int, int]] = []
    spans: list[tuple[int, int]] = []
    length = 0
    for page_no, page in enumerate(raw.split("\f"), start=1):
        for par in re.split(r"\n[ \t]*\n", page):
            par = par.strip()
            if not par:
                continue
            if parts:
                parts.append("\n\n")
                length += 2
            if not runs or runs[-1][1] != page_no:
                runs.append((length, page_no))
            spans.append((length, length + len(par)))
            parts.append(par)
            length += len(par)
    text = "".join(parts)
    last_page = runs[-1][1] if runs else 1
    section = Section("s01", title, (title,), 1, last_page, 0, len(text))
    blocks = tuple(Block(text[s:e], TEXT, "s01", s, e) for s, e in spans)
    return Document(doc_id, title, source, text, (section,), blocks, tuple(runs) or ((0, 1),),
                    meta=dict(meta or {}))
