"""Markdown and HTML for the page, built from the handlers' plain dicts.

Every piece of text that comes from the report or from a reader goes through
``esc`` (HTML) or ``md_text`` (Markdown) before it reaches the page: a
question such as ``<img src=x onerror=alert(1)>`` must be shown as the
characters the reader typed and never become an element. Only the fixed
markup written in this module is left unescaped.
"""

from __future__ import annotations

import html
import itertools
import re
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from assistant.app.pdfpage import PageImage
from assistant.app.words import say
from assistant.types import Document, Section

# Characters that Markdown (CommonMark + GFM, as rendered by the chat) could
# read as syntax. Backslash-escaping any ASCII punctuation is always literal.
_MD_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|~>$:])")

KIND_LABEL = {
    "text": "",
    "quote": "pull quote",
    "people": "list of participants",
    "footnote": "footnote",
}

# How much of the section to show on each side of a passage in its context.
CONTEXT_CHARS = 700


def esc(text: object) -> str:
    """HTML-escape any value for element content or a quoted attribute."""
    return html.escape(str(text), quote=True)


def md_text(text: str) -> str:
    """Text to place in Markdown so that it shows literally: no HTML, no formatting."""
    t = html.escape(text, quote=False)
    return _MD_SPECIAL.sub(r"\\\1", t)


def shorten(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# -- the chat ----------------------------------------------------------------------

def question_markdown(question: str, limit: int = 400) -> str:
    """The reader's question as a chat bubble: literal text, cut if very long."""
    shown = shorten(question, limit)
    out = md_text(shown)
    if len(" ".join(question.split())) > limit:
        out += f"\n\n*\\[question of {len(question):,} characters, shown cut\\]*"
    return out


def searched_in(payload: Mapping[str, Any]) -> str:
    """The filters an answer was searched with, as words: document › section, or ''."""
    return " › ".join(x for x in (payload.get("doc_title", ""), payload.get("section", "")) if x)


def source_id(turn: int | None, n: int) -> str:
    """The element id of citation ``n`` of the ``turn``-th answer in the sources panel."""
    return f"ra-src-{turn if turn is not None else 0}-{int(n)}"


def cite_tip(payload: Mapping[str, Any], n: int) -> str:
    """What hovering [n] shows: the sentences it supports, then its section and page."""
    said = " ".join(s["text"] for s in payload.get("sentences", []) if s["citation"] == n)
    cite = next((c for c in payload.get("citations", []) if c["n"] == n), None)
    where = cite["citation"] if cite else ""
    return shorten(f"“{said}” — {where}" if said else where, 400)


def cite_marker(payload: Mapping[str, Any], n: int, turn: int | None) -> str:
    """[n] in the chat: bold text, or (with ``turn``) a link to its source card.

    The link is plain markup the chat's sanitiser keeps (href, class, title);
    the page's script (CITE_JS) turns the title into a tooltip shown on hover
    and on keyboard focus, and a click opens the source in context.
    """
    if turn is None:
        return f"**\\[{n}\\]**"
    tip = esc(cite_tip(payload, n))
    return (f'<a class="ra-cite-link" href="#{source_id(turn, n)}" title="{tip}">'
            f"[{int(n)}]</a>")


def answer_markdown(payload: Mapping[str, Any], turn: int | None = None) -> str:
    """The assistant's chat message: answer sentences with [n], then where they come from.

    With ``turn`` (the answer's place in the conversation) each [n] links to
    its source card, whose id is ``source_id(turn, n)``.
    """
    parts: list[str] = []
    if payload.get("follow_up"):
        parts.append(f"*{say('follow_up')} “{md_text(payload['searched_as'])}”*")
    where = searched_in(payload)
    if where:
        parts.append(f"*{say('searched_only')} {md_text(where)}*")
    if payload["abstained"]:
        parts.append(f"**{md_text(payload['answer'])}**")
        if payload.get("reason"):
            parts.append(f"{say('why')} {md_text(payload['reason'])}.")
        closest = payload.get("closest", [])
        if closest:
            lines = [say("closest")]
            lines += [f"- {md_text(c['citation'])}" for c in closest]
            parts.append("\n".join(lines))
    else:
        body = _grouped(payload, lambda t: md_text(t),
                        lambda n: f" {cite_marker(payload, n, turn)}",
                        lambda h: f"**{md_text(h)}**")
        parts.append(body or md_text(payload["answer"]))
        quoted = [c for c in payload["citations"] if c["quoted"]]
        if quoted:
            lines = [say("sources")]
            lines += [f"- {cite_marker(payload, c['n'], turn)} {md_text(c['citation'])}"
                      for c in quoted]
            parts.append("\n".join(lines))
    if payload.get("note"):
        parts.append(f"*{say('note')} {md_text(payload['note'])}.*")
    return "\n\n".join(parts)


def _grouped(payload: Mapping[str, Any], text, mark, heading) -> str:
    """The answer's sentences as Markdown: list items as bullets, and a heading per
    section when the answer draws on several (payload "groups"; else one paragraph)."""
    groups = payload.get("groups") or [{"section": "", "pages": [], "more": "",
                                        "sentences": payload["sentences"]}]
    blocks = []
    for g in groups:
        lines: list[str] = []
        for s in g["sentences"]:
            piece = f"{text(s['text'])}{mark(s['citation'])}"
            if s.get("item"):
                lines.append(f"- {piece}")
            elif lines and not lines[-1].startswith("- "):
                lines[-1] += f" {piece}"
            else:
                lines.append(piece)
        if g.get("more"):
            lines.append(f"({text(g['more'])})")
        if len(groups) > 1:
            pages = ", ".join(map(str, g["pages"]))
            lines.insert(0, heading(f"{g['section']} (p. {pages})"))
        # A blank line before a bullet list, so Markdown renders it as one.
        blocks.append("\n".join(lines).replace("\n- ", "\n\n- ", 1) if any(
            ln.startswith("- ") for ln in lines) else "\n".join(lines))
    return "\n\n".join(blocks)


def export_markdown(payload: Mapping[str, Any], doc_title: str = "") -> str:
    """The answer with its citations as plain Markdown, for copying or saving.

    This text is shown in a code box and saved as a file, never rendered by
    the page, so it keeps the report's words exactly as printed.
    """
    q = " ".join(str(payload["question"]).split())
    lines = [f"## {q}", ""]
    if payload.get("follow_up"):
        lines += [f"*Read as: {payload['searched_as']}*", ""]
    where = searched_in(payload)
    if where:
        lines += [f"*Searched only in: {where}*", ""]
    if payload["abstained"]:
        lines += [payload["answer"], ""]
        if payload.get("reason"):
            lines += [f"Why: {payload['reason']}.", ""]
        cites = payload.get("closest", [])
        heading = "Closest passages (not an answer)"
    else:
        lines += [_grouped(payload, str, lambda n: f" [{n}]", str) or payload["answer"], ""]
        cites = [c for c in payload["citations"] if c["quoted"]]
        heading = "Sources"
    if cites:
        lines += [f"**{heading}**" + (f" — *{doc_title}*" if doc_title else ""), ""]
        for c in cites:
            lines.append(f"{c['n']}. {c['citation']}")
            lines += [f"   > {line}" if line.strip() else "   >"
                      for line in c["text"].splitlines()]
    if payload.get("note"):
        lines += ["", f"*Note: {payload['note']}.*"]
    return "\n".join(lines).rstrip() + "\n"


# -- the report's text with pages and highlights ---------------------------------------

def _page_marks(doc: Document, start: int, end: int) -> list[tuple[int, int]]:
    """(offset, page) where a new page begins strictly inside [start, end)."""
    marks = []
    prev = None
    for offset, page in doc.page_starts:
        if offset <= start:
            prev = page
            continue
        if offset >= end:
            break
        if page != prev:
            marks.append((offset, page))
        prev = page
    return marks


def render_text(doc: Document, start: int, end: int,
                passage: tuple[int, int] | None = None,
                highlights: Iterable[tuple[int, int]] = (),
                first_page_mark: bool = False) -> str:
    """Escaped HTML of doc.text[start:end] with page markers and highlights.

    ``passage`` and ``highlights`` are document offsets. The text is cut into
    flat segments at every boundary so the spans never need to nest across
    each other; newlines are kept by CSS (white-space: pre-wrap).
    """
    hl = [(max(s, start), min(e, end)) for s, e in highlights if e > start and s < end]
    cuts = {start, end}
    if passage:
        cuts.update(x for x in passage if start < x < end)
    for s, e in hl:
        cuts.update((s, e))
    pages = dict(_page_marks(doc, start, end))
    cuts.update(pages)
    bounds = sorted(cuts)
    out: list[str] = []
    if first_page_mark:
        first = doc.pages_of(start, start + 1)
        if first:
            out.append(f'<span class="ra-page">p. {first[0]}</span>')
    for a, b in itertools.pairwise(bounds):
        if a in pages:
            out.append(f'<span class="ra-page">p. {pages[a]}</span>')
        piece = esc(doc.text[a:b])
        if not piece:
            continue
        if any(s <= a and b <= e for s, e in hl):
            piece = f'<mark class="ra-hl">{piece}</mark>'
        if passage and passage[0] <= a and b <= passage[1]:
            piece = f'<span class="ra-passage">{piece}</span>'
        out.append(piece)
    return "".join(out)


def context_window(doc: Document, section: Section, start: int, end: int,
                   chars: int = CONTEXT_CHARS) -> tuple[int, int]:
    """Offsets around [start, end) inside the section, snapped to line or sentence ends."""
    text = doc.text
    lo = max(section.start, start - chars)
    if lo > section.start:
        nl = text.find("\n", lo, start)
        if nl != -1:
            lo = nl + 1
        else:
            dot = text.find(". ", lo, start)
            lo = dot + 2 if dot != -1 else lo
    hi = min(section.end, end + chars)
    if hi < section.end:
        nl = text.rfind("\n", end, hi)
        if nl != -1:
            hi = nl
        else:
            dot = text.rfind(". ", end, hi)
            hi = dot + 1 if dot != -1 else hi
    while lo < start and text[lo].isspace():
        lo += 1
    while hi > end and text[hi - 1].isspace():
        hi -= 1
    return lo, hi


def section_of(doc: Document, path: Sequence[str]) -> Section:
    path = tuple(path)
    for s in doc.sections:
        if s.path == path:
            return s
    raise KeyError(path)


def original_page_html(image: PageImage, source: str) -> str:
    """A PDF page as drawn, the cited sentences' rectangles laid over it, and its number.

    The picture is a data: URL (so the page needs ``img-src data:``); each
    rectangle is a box placed in percent of the page, so it stays on its
    words whatever width the picture is shown at.
    """
    where = say("original_where", page=image.page, count=image.page_count)
    if image.label and image.label != str(image.page):
        where += say("original_printed", label=image.label)
    boxes = "".join(
        f'<span class="ra-pdf-hl" style="left:{x0 * 100:.2f}%;top:{y0 * 100:.2f}%;'
        f'width:{(x1 - x0) * 100:.2f}%;height:{(y1 - y0) * 100:.2f}%"></span>'
        for x0, y0, x1, y1 in image.boxes)
    return (
        f'<figure class="ra-original" data-page="{esc(image.page)}" '
        f'data-boxes="{len(image.boxes)}">'
        f'<figcaption class="ra-original-title">'
        f'{esc(say("original_title", where=where, source=source))}</figcaption>'
        f'<div class="ra-page-img"><img src="{image.data_url()}" width="{image.width}" '
        f'height="{image.height}" '
        f'alt="{esc(say("original_alt", where=where[:1].upper() + where[1:], source=source))}">'
        f"{boxes}</div></figure>")


def citation_html(doc: Document, cite: Mapping[str, Any], open_: bool = False,
                  turn: int | None = None, originals: Sequence[PageImage] = ()) -> str:
    """One citation: where it is, the passage (quoted sentences marked), and its context.

    A native <details> element: the summary shows the passage; opening it
    shows the passage inside the surrounding text of its section, and for a
    PDF the ``originals``: its pages as drawn (see pdfpage).
    """
    start, end = cite["start"], cite["end"]
    marks = [(start + s, start + e) for s, e in cite.get("highlights", [])]
    kind = KIND_LABEL.get(cite.get("kind", "text"), "")
    kind_html = f' <span class="ra-kind">{esc(kind)}</span>' if kind else ""
    passage_html = render_text(doc, start, end, None, marks)
    section = section_of(doc, cite["section_path"])
    lo, hi = context_window(doc, section, start, end)
    context_html = render_text(doc, lo, hi, (start, end), marks, first_page_mark=True)
    more_before = "… " if lo > section.start else ""
    more_after = " …" if hi < section.end else ""
    return (
        f'<details class="ra-cite" id="{source_id(turn, cite["n"])}" data-n="{esc(cite["n"])}"'
        f'{" open" if open_ else ""}>'
        f'<summary><span class="ra-n">[{esc(cite["n"])}]</span> '
        f'<span class="ra-where">{esc(cite["citation"])}</span>{kind_html}'
        f'<span class="ra-quote">{passage_html}</span>'
        f'<span class="ra-more">{esc(say("show_in_context"))}</span></summary>'
        f'<div class="ra-context"><div class="ra-context-title">{esc(say("in_context"))} '
        f'{esc(" › ".join(section.path))}</div>'
        f'<div class="ra-text">{esc(more_before)}{context_html}{esc(more_after)}</div>'
        + "".join(original_page_html(im, doc.source) for im in originals)
        + "</div></details>"
    )


def sources_html(docs: Mapping[str, Document], payload: Mapping[str, Any],
                 turn: int | None = None,
                 originals: Mapping[int, Sequence[PageImage]] | None = None) -> str:
    """The panel of cited passages beside the chat; ``turn`` numbers their ids (source_id);
    ``originals`` are the drawn PDF pages of citations, by their number."""
    originals = originals or {}
    if payload["abstained"]:
        cites = payload.get("closest", [])
        head = f'<div class="ra-panel-head ra-abstain">{esc(say("abstain_head"))}</div>'
        rest: list[dict] = []
    else:
        cites = [c for c in payload["citations"] if c["quoted"]]
        rest = [c for c in payload["citations"] if not c["quoted"]]
        head = f'<div class="ra-panel-head">{esc(say("sources_head"))}</div>'
    if not cites and not rest:
        return f'<div class="ra-empty">{esc(say("no_passages"))}</div>'
    body = "".join(citation_html(docs[c["doc_id"]], c, turn=turn,
                                 originals=originals.get(c["n"], ())) for c in cites)
    if rest:
        # Kept out of the way: they were retrieved but the answer does not rest on them.
        body += (f'<details class="ra-also"><summary>{esc(say("also", n=len(rest)))}'
                 "</summary>"
                 + "".join(citation_html(docs[c["doc_id"]], c, turn=turn) for c in rest)
                 + "</details>")
    shown = turn if turn is not None else 0
    return f'<div class="ra-sources" data-turn="{esc(shown)}">{head}{body}</div>'


def section_reader_html(doc: Document, section: Section) -> str:
    """A section read whole, with its page breaks marked."""
    pages = (f"p. {section.start_page}" if section.start_page == section.end_page
             else f"pp. {section.start_page}–{section.end_page}")
    text = render_text(doc, section.start, section.end, first_page_mark=True)
    return (f'<div class="ra-reader"><div class="ra-reader-title">'
            f'{esc(" › ".join(section.path))} <span class="ra-pages">{esc(pages)}</span></div>'
            f'<div class="ra-text">{text}</div></div>')


def compare_markdown(payload: Mapping[str, Any]) -> str:
    """One line above the compare table: what was compared, or why nothing was."""
    topic = md_text(payload["topic"])
    by_doc = payload.get("by") == "document"
    if payload["abstained"]:
        why = md_text(payload.get("reason") or "no section addresses it")
        if by_doc:
            return f"**No document addresses “{topic}”.** ({why})"
        return f"**No section of the report addresses “{topic}”.** ({why})"
    n = len(payload["rows"])
    if by_doc:
        return (f"**{n} document{'s' if n != 1 else ''}** speak to “{topic}”, most relevant "
                "first. Each passage is quoted from its document with its page.")
    return (f"**{n} section{'s' if n != 1 else ''}** of the report speak to “{topic}”, "
            "most relevant first. Each passage is quoted from the report with its page.")


def _position_text(row: Mapping[str, Any]) -> str:
    """A row's position as plain text: its own sentences, each with its page."""
    said = [f"{' '.join(st['text'].split())} ({st['page_label']})" for st in row["position"]]
    if said:
        return " ".join(said)
    best = row["passages"][0]  # a payload from before rows carried a position
    return f"{' '.join(best['text'].split())} ({best['page_label']})"


def _row_label(payload: Mapping[str, Any], row: Mapping[str, Any]) -> str:
    return row.get("label") or " › ".join(row["section_path"])


def ordered_rows(payload: Mapping[str, Any], order: str = "strength") -> list[Mapping[str, Any]]:
    """The rows strongest first (as ranked), or in the documents' reading order."""
    rows = list(payload["rows"])
    if order == "report":
        rows.sort(key=lambda r: (r.get("order") is None, r.get("order") or 0, r["rank"]))
    return rows


def compare_table(payload: Mapping[str, Any], order: str = "strength") -> list[list[str]]:
    """Rows for export: section (or document), pages, the row's position with its pages."""
    rows = []
    for row in ordered_rows(payload, order):
        text = _position_text(row)
        if payload.get("by") == "document":
            # The passage's own section, so a document's row still says where it is.
            text = f"{' › '.join(row['passages'][0]['section_path'])}: {text}"
        rows.append([_row_label(payload, row), row["page_label"], text])
    return rows


COMPARE_EXPORT_HEADERS = ("Rank", "Section", "Pages", "Strength", "Position (the report's words)")


def compare_csv(payload: Mapping[str, Any], order: str = "strength") -> str:
    """The compare table as CSV (RFC 4180 quoting), the report's words unchanged."""
    import csv
    import io

    out = io.StringIO()
    w = csv.writer(out, lineterminator="\r\n")
    head = list(COMPARE_EXPORT_HEADERS)
    if payload.get("by") == "document":
        head[1] = "Document"
    w.writerow(head)
    for row, cells in zip(ordered_rows(payload, order), compare_table(payload, order),
                          strict=True):
        w.writerow([row["rank"], cells[0], cells[1], f"{row.get('strength', 0):.2f}",
                    cells[2]])
    return out.getvalue()


def compare_export_markdown(payload: Mapping[str, Any], order: str = "strength") -> str:
    """The compare table as a Markdown table; cell text keeps its words, pipes escaped."""
    def cell(text: object) -> str:
        return " ".join(str(text).split()).replace("\\", "\\\\").replace("|", "\\|")

    head = list(COMPARE_EXPORT_HEADERS)
    if payload.get("by") == "document":
        head[1] = "Document"
    lines = [f"## Compare: {cell(payload['topic'])}", ""]
    if payload["abstained"] or not payload["rows"]:
        return "\n".join([*lines, payload.get("reason") or "Nothing addresses this topic.", ""])
    lines += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for row, cells in zip(ordered_rows(payload, order), compare_table(payload, order),
                          strict=True):
        lines.append("| " + " | ".join(cell(x) for x in (
            row["rank"], cells[0], cells[1], f"{row.get('strength', 0):.2f}", cells[2])) + " |")
    return "\n".join(lines) + "\n"


def _strength_word(strength: float) -> str:
    # Relative to the strongest row: the reader compares rows, not raw scores.
    return "strongest" if strength >= 0.999 else (
        "strong" if strength >= 0.75 else "moderate" if strength >= 0.5 else "passing")


def compare_html(docs: Mapping[str, Document], payload: Mapping[str, Any],
                 order: str = "strength") -> str:
    """The compare table: per row the section, its position in its own words, its strength,
    and (folded) each passage in the context of its section, position sentences marked.

    A plain <table>; at phone widths CSS lays each row out as a card.
    """
    if payload["abstained"] or not payload["rows"]:
        return ""
    by_doc = payload.get("by") == "document"
    head = "Document" if by_doc else "Section"
    body = []
    for row in ordered_rows(payload, order):
        said = "".join(
            f'<span class="ra-said">{esc(" ".join(st["text"].split()))} '
            f'<span class="ra-page">{esc(st["page_label"])}</span></span> '
            for st in row["position"])
        contexts = []
        for c in row["passages"]:
            doc = docs.get(c["doc_id"])
            if doc is None:
                continue
            start, end = c["start"], c["end"]
            marks = [(start + a, start + b) for a, b in c.get("highlights", [])]
            section = section_of(doc, c["section_path"])
            lo, hi = context_window(doc, section, start, end)
            where = " › ".join(section.path)
            contexts.append(
                f'<div class="ra-context-title">{esc(where)}, {esc(c["page_label"])}</div>'
                f'<div class="ra-text">{"… " if lo > section.start else ""}'
                f"{render_text(doc, lo, hi, (start, end), marks, first_page_mark=True)}"
                f'{" …" if hi < section.end else ""}</div>')
        strength = float(row.get("strength", 0.0))
        pct = round(100 * strength)
        word = _strength_word(strength)
        body.append(
            f'<tr class="ra-cmp-row" data-rank="{esc(row["rank"])}">'
            f'<th scope="row" class="ra-cmp-where"><span class="ra-rank">{esc(row["rank"])}'
            f'</span> {esc(_row_label(payload, row))} '
            f'<span class="ra-pages">{esc(row["page_label"])}</span></th>'
            f'<td class="ra-cmp-position"><div class="ra-position">{said}</div>'
            f'<details class="ra-cmp-context"><summary>Read the passage in context</summary>'
            f'{"".join(contexts)}</details></td>'
            f'<td class="ra-cmp-strength"><span class="ra-meter" role="img" '
            f'aria-label="{esc(word)}: {pct}% of the strongest">'
            f'<span class="ra-meter-fill" style="width:{pct}%"></span></span>'
            f'<span class="ra-meter-word">{esc(word)}</span></td></tr>')
    return (f'<table class="ra-cmp"><thead><tr><th scope="col">{head}</th>'
            f'<th scope="col">Position, in its own words</th><th scope="col">Strength</th>'
            f'</tr></thead><tbody>{"".join(body)}</tbody></table>')


# -- browse ----------------------------------------------------------------------------

def _own_end(doc: Document, s: Section) -> int:
    """Where a section's own text ends: at its first subsection, if it has any."""
    inner = [c.start for c in doc.sections
             if c.level > s.level and c.path[:s.level] == s.path and c.start >= s.start]
    return min([s.end, *inner])


def contents_html(doc: Document, name_doc: bool = False) -> str:
    """A document's Table of Contents as a list: each title with its pages opens the
    section's text in place (a native <details>, so keyboard and screen readers work)."""
    items = []
    for s in doc.sections:
        pages = (f"p. {s.start_page}" if s.start_page == s.end_page
                 else f"pp. {s.start_page}–{s.end_page}")
        end = _own_end(doc, s)
        text = (render_text(doc, s.start, end, first_page_mark=True) if end > s.start
                else "")
        inner = (f'<div class="ra-text">{text}</div>' if text.strip() else
                 '<div class="ra-empty">Its text is in the sections below.</div>')
        items.append(
            f'<li class="ra-toc-item ra-level-{s.level}">'
            f'<details class="ra-toc-section" id="ra-sec-{esc(doc.id)}-{esc(s.id)}" '
            f'data-key="{esc(doc.id)}#{esc(s.id)}"><summary><span class="ra-toc-link">'
            f'{esc(s.title)}</span> <span class="ra-pages">{esc(pages)}</span></summary>'
            f"{inner}</details></li>")
    title = (f'<div class="ra-toc-doc">{esc(doc.title)}</div>' if name_doc else "")
    return (f'<nav class="ra-contents" aria-label="Contents of {esc(doc.title)}">{title}'
            f'<ul class="ra-toc">{"".join(items)}</ul></nav>')


# -- the document library --------------------------------------------------------------

def documents_html(rows: Sequence[Mapping[str, Any]]) -> str:
    """The documents being searched, one table row each; every value is escaped."""
    if not rows:
        return '<div class="ra-empty">No documents.</div>'
    body = []
    for r in rows:
        if r.get("report"):
            note = "the report (protected)"
        elif r.get("removable"):
            note = "added" + (f" {r['added'][:10]}" if r.get("added") else "")
        else:
            note = "protected"
        source = r.get("original_name") or r.get("file", "")
        body.append(
            f'<tr data-doc="{esc(r["id"])}"><td class="ra-doc-title">{esc(r["title"])}'
            f'<div class="ra-doc-file">{esc(source)}</div></td>'
            f'<td>{esc(r["pages"])}</td><td>{esc(r["passages"])}</td><td>{esc(note)}</td></tr>')
    return ('<table class="ra-docs"><thead><tr><th>Document</th><th>Pages</th>'
            f'<th>Passages</th><th></th></tr></thead><tbody>{"".join(body)}</tbody></table>')


def library_markdown(results: Sequence[Mapping[str, Any]]) -> str:
    """What became of each file a reader added: added (with its size), already there, or why not.

    File names come from the reader's computer and titles from the files, so
    both are escaped like any other text.
    """
    lines = []
    for r in results:
        name = md_text(str(r.get("name", "")))
        title = md_text(str(r.get("title", "")))
        if r["status"] == "added":
            pages, passages = r.get("pages", 0), r.get("passages", 0)
            lines.append(f"- **Added** *{title}* (from {name}): {pages} "
                         f"page{'s' if pages != 1 else ''}, {passages} "
                         f"passage{'s' if passages != 1 else ''}; it can be searched now.")
        elif r["status"] == "unchanged":
            lines.append(f"- **Already in the library:** {name} is *{title}*; nothing changed.")
        else:
            lines.append(f"- ⚠ **Not added:** {md_text(str(r.get('message', '')))}")
    return "\n".join(lines)


def empty_sources_html() -> str:
    return f'<div class="ra-empty">{esc(say("empty_sources"))}</div>'


CSS = """
.ra-sources, .ra-reader, .ra-empty, .ra-map { font-size: 0.95rem; line-height: 1.45; }
.ra-panel-head { font-weight: 600; margin: 0.2rem 0 0.5rem; }
.ra-panel-head.ra-abstain { color: #9a3412; }
.ra-empty { color: var(--body-text-color-subdued); padding: 0.5rem 0; }
details.ra-cite { border: 1px solid var(--border-color-primary); border-radius: 8px;
  padding: 0.5rem 0.7rem; margin-bottom: 0.6rem; background: var(--block-background-fill); }
details.ra-cite > summary { cursor: pointer; list-style: none; }
details.ra-cite > summary::-webkit-details-marker { display: none; }
.ra-n { font-weight: 700; color: #1d4ed8; }
.ra-where { font-weight: 600; }
.ra-kind { font-size: 0.8rem; border: 1px solid var(--border-color-primary);
  border-radius: 4px; padding: 0 0.3rem; margin-left: 0.3rem; }
.ra-quote { display: block; margin: 0.35rem 0 0.2rem; padding-left: 0.6rem;
  border-left: 3px solid #93c5fd; white-space: pre-wrap; }
.ra-more { display: block; font-size: 0.8rem; color: #1d4ed8; }
details[open] > summary .ra-more, details[open] > summary .ra-quote { display: none; }
details.ra-also > summary { cursor: pointer; font-weight: 600; margin: 0.8rem 0 0.5rem;
  color: var(--body-text-color-subdued); }
#ra-compare-table table, #ra-compare-table td, #ra-compare-table th,
#ra-compare-table [role="gridcell"], #ra-compare-table [role="gridcell"] * {
  font-family: var(--font); }
.ra-context { margin-top: 0.5rem; border-top: 1px dashed var(--border-color-primary);
  padding-top: 0.5rem; }
.ra-context-title, .ra-reader-title { font-size: 0.85rem; font-weight: 600;
  color: var(--body-text-color-subdued); margin-bottom: 0.3rem; }
.ra-text { white-space: pre-wrap; }
.ra-passage { background: rgba(147, 197, 253, 0.25); }
mark.ra-hl { background: #fde68a; color: inherit; padding: 0 1px; }
/* The original PDF page: the picture at the column's width, highlights laid over it. */
.ra-original { margin: 0.6rem 0 0; }
.ra-original-title { font-size: 0.85rem; font-weight: 600; margin-bottom: 0.3rem; }
.ra-page-img { position: relative; max-width: 100%; border: 1px solid var(--border-color-primary);
  line-height: 0; }
.ra-page-img img { display: block; width: 100%; height: auto; background: white; }
.ra-pdf-hl { position: absolute; background: rgba(250, 204, 21, 0.38);
  outline: 1px solid rgba(202, 138, 4, 0.8); pointer-events: none; }
.ra-page { display: inline-block; font-size: 0.75rem; color: var(--body-text-color-subdued);
  border: 1px solid var(--border-color-primary); border-radius: 4px; padding: 0 0.3rem;
  margin: 0 0.3rem; white-space: nowrap; }
.ra-reader-title { font-size: 1.05rem; color: inherit; }
.ra-pages { font-weight: 400; color: var(--body-text-color-subdued); }
.ra-map svg { width: 100%; height: auto; display: block; }
/* A short document's map would otherwise be scaled up to the column's width. */
.ra-map svg { max-height: 140px; }
.ra-map figcaption { font-size: 0.85rem; color: var(--body-text-color-subdued); }
table.ra-docs { width: 100%; border-collapse: collapse; font-size: 0.95rem; }
table.ra-docs th, table.ra-docs td { text-align: left; padding: 0.3rem 0.5rem;
  border-bottom: 1px solid var(--border-color-primary); vertical-align: top; }
.ra-doc-file { font-size: 0.8rem; color: var(--body-text-color-subdued); }
/* Citations in the chat: links to their source card, with a tooltip (page.js). */
a.ra-cite-link { color: #1e40af; font-weight: 700; text-decoration: underline;
  text-underline-offset: 2px; padding: 0 1px; border-radius: 3px; }
a.ra-cite-link:focus-visible { outline: 2px solid #1d4ed8; outline-offset: 1px; }
#ra-tip { position: fixed; z-index: 1000; background: #111827; color: #f9fafb;
  border-radius: 6px; padding: 0.45rem 0.6rem; font-size: 0.85rem; line-height: 1.35;
  box-shadow: 0 4px 14px rgba(0, 0, 0, 0.3); pointer-events: none; }
details.ra-cite.ra-flash { outline: 3px solid #2563eb; outline-offset: 2px; }
details.ra-cite { scroll-margin-top: 12px; }
/* Compare: position sentences side by side, strength as a bar. */
table.ra-cmp { width: 100%; border-collapse: collapse; font-size: 0.95rem; line-height: 1.45; }
table.ra-cmp th, table.ra-cmp td { text-align: left; vertical-align: top;
  padding: 0.45rem 0.5rem; border-bottom: 1px solid var(--border-color-primary); }
table.ra-cmp thead th { font-size: 0.85rem; }
.ra-cmp-where { width: 24%; font-weight: 600; }
.ra-cmp-strength { width: 14%; }
.ra-rank { display: inline-block; min-width: 1.4em; font-weight: 700; }
.ra-said { display: block; margin-bottom: 0.25rem; }
.ra-position { border-left: 3px solid #93c5fd; padding-left: 0.5rem; }
details.ra-cmp-context > summary { cursor: pointer; font-size: 0.85rem; color: #1d4ed8;
  margin-top: 0.3rem; }
details.ra-cmp-context .ra-text { margin: 0.3rem 0 0.6rem; }
.ra-meter { display: inline-block; width: 100%; max-width: 90px; height: 10px;
  border-radius: 5px; background: #e2e8f0; vertical-align: middle; overflow: hidden; }
.ra-meter-fill { display: block; height: 100%; background: #2563eb; }
.ra-meter-word { display: block; font-size: 0.8rem; }
.ra-chart svg { width: 100%; height: auto; display: block; max-width: 480px; }
.ra-chart-track { fill: #e2e8f0; }
.ra-chart-bar { fill: #2563eb; }
.ra-chart-axis { stroke: #94a3b8; stroke-width: 1; }
.ra-chart-page { fill: #1e3a8a; }
.ra-chart figcaption { font-size: 0.85rem; }
/* Browse: the contents as a list of links with pages. */
ul.ra-toc { list-style: none; padding: 0; margin: 0; }
li.ra-toc-item { margin: 0.15rem 0; }
li.ra-level-2 { margin-left: 1.2rem; }
li.ra-level-3 { margin-left: 2.4rem; }
details.ra-toc-section > summary { cursor: pointer; padding: 0.2rem 0; }
.ra-toc-link { color: #1d4ed8; text-decoration: underline; text-underline-offset: 2px; }
details.ra-toc-section[open] > summary .ra-toc-link { font-weight: 700; }
details.ra-toc-section > .ra-text { border-left: 3px solid #93c5fd; padding: 0.3rem 0.7rem;
  margin: 0.3rem 0 0.8rem; }
.ra-toc-doc { font-weight: 700; margin: 0.6rem 0 0.3rem; }
#ra-jump { font-size: 0.9rem; }
/* The selected tab's label: Gradio's accent (#3b82f6) is 3.7:1 on white. */
button[role="tab"][aria-selected="true"] { color: #1d4ed8; }
/* Dark mode: every colour the page sets itself, with AA contrast on dark grounds. */
/* One selector per rule: Gradio scopes a '.dark' rule's first selector only. */
.dark a.ra-cite-link { color: #93c5fd; }
.dark button[role="tab"][aria-selected="true"] { color: #60a5fa; }
.dark .ra-n { color: #93c5fd; }
.dark .ra-more { color: #93c5fd; }
.dark .ra-toc-link { color: #93c5fd; }
.dark details.ra-cmp-context > summary { color: #93c5fd; }
.dark a.ra-cite-link:focus-visible { outline-color: #93c5fd; }
.dark mark.ra-hl { background: #854d0e; color: #fefce8; }
.dark .ra-passage { background: rgba(59, 130, 246, 0.22); }
.dark .ra-panel-head.ra-abstain { color: #fdba74; }
.dark .ra-quote { border-left-color: #3b82f6; }
.dark .ra-position { border-left-color: #3b82f6; }
.dark details.ra-toc-section > .ra-text { border-left-color: #3b82f6; }
.dark .ra-meter { background: #334155; fill: #334155; }
.dark .ra-chart-track { background: #334155; fill: #334155; }
.dark .ra-meter-fill { background: #60a5fa; }
.dark .ra-chart-bar { fill: #60a5fa; }
.dark .ra-chart-page { fill: #bfdbfe; }
.dark .ra-map svg text { fill: #e2e8f0; }
.dark .ra-map .ra-page-cell { fill: #334155; }
.dark .ra-map .ra-page-cell.ra-cited { fill: #3b82f6; }
.dark .ra-map .ra-band { fill: #475569; }
.dark .ra-map .ra-band.ra-lit { fill: #1d4ed8; }
/* Phone: the map keeps a readable size and scrolls sideways; compare rows become cards. */
@media (max-width: 640px) {
  .ra-map { overflow-x: auto; }
  .ra-map svg { min-width: 600px; max-height: none; }
  table.ra-cmp thead { display: none; }
  table.ra-cmp, table.ra-cmp tbody, table.ra-cmp tr, table.ra-cmp th, table.ra-cmp td {
    display: block; width: auto; }
  table.ra-cmp tr { border: 1px solid var(--border-color-primary); border-radius: 8px;
    padding: 0.4rem 0.6rem; margin-bottom: 0.6rem; }
  table.ra-cmp th, table.ra-cmp td { border-bottom: 0; padding: 0.2rem 0; }
  .ra-meter { max-width: 160px; }
  .ra-meter-word { display: inline; margin-left: 0.4rem; }
}
"""
