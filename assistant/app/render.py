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


def answer_markdown(payload: Mapping[str, Any]) -> str:
    """The assistant's chat message: answer sentences with [n], then where they come from."""
    parts: list[str] = []
    if payload.get("follow_up"):
        parts.append(f"*Read as a follow-up: “{md_text(payload['searched_as'])}”*")
    where = searched_in(payload)
    if where:
        parts.append(f"*Searched only in: {md_text(where)}*")
    if payload["abstained"]:
        parts.append(f"**{md_text(payload['answer'])}**")
        if payload.get("reason"):
            parts.append(f"Why: {md_text(payload['reason'])}.")
        closest = payload.get("closest", [])
        if closest:
            lines = ["Closest passages (near matches, **not** an answer):"]
            lines += [f"- {md_text(c['citation'])}" for c in closest]
            parts.append("\n".join(lines))
    else:
        body = _grouped(payload, lambda t: md_text(t), lambda n: f" **\\[{n}\\]**",
                        lambda h: f"**{md_text(h)}**")
        parts.append(body or md_text(payload["answer"]))
        quoted = [c for c in payload["citations"] if c["quoted"]]
        if quoted:
            lines = ["Sources:"]
            lines += [f"- **\\[{c['n']}\\]** {md_text(c['citation'])}" for c in quoted]
            parts.append("\n".join(lines))
    if payload.get("note"):
        parts.append(f"*Note: {md_text(payload['note'])}.*")
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


def citation_html(doc: Document, cite: Mapping[str, Any], open_: bool = False) -> str:
    """One citation: where it is, the passage (quoted sentences marked), and its context.

    A native <details> element: the summary shows the passage; opening it
    shows the passage inside the surrounding text of its section.
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
        f'<details class="ra-cite" data-n="{esc(cite["n"])}"{" open" if open_ else ""}>'
        f'<summary><span class="ra-n">[{esc(cite["n"])}]</span> '
        f'<span class="ra-where">{esc(cite["citation"])}</span>{kind_html}'
        f'<span class="ra-quote">{passage_html}</span>'
        f'<span class="ra-more">Show in context</span></summary>'
        f'<div class="ra-context"><div class="ra-context-title">In context: '
        f'{esc(" › ".join(section.path))}</div>'
        f'<div class="ra-text">{esc(more_before)}{context_html}{esc(more_after)}</div></div>'
        f"</details>"
    )


def sources_html(docs: Mapping[str, Document], payload: Mapping[str, Any]) -> str:
    """The panel of cited passages beside the chat."""
    if payload["abstained"]:
        cites = payload.get("closest", [])
        head = ('<div class="ra-panel-head ra-abstain">Not answered by the report. '
                "Closest passages, shown as near matches only:</div>")
        rest: list[dict] = []
    else:
        cites = [c for c in payload["citations"] if c["quoted"]]
        rest = [c for c in payload["citations"] if not c["quoted"]]
        head = ('<div class="ra-panel-head">Sources: the cited passages, in the report\'s own '
                "words</div>")
    if not cites and not rest:
        return '<div class="ra-empty">No passages.</div>'
    body = "".join(citation_html(docs[c["doc_id"]], c) for c in cites)
    if rest:
        # Kept out of the way: they were retrieved but the answer does not rest on them.
        body += (f'<details class="ra-also"><summary>Also retrieved, not quoted in the answer '
                 f"({len(rest)})</summary>"
                 + "".join(citation_html(docs[c["doc_id"]], c) for c in rest) + "</details>")
    return f'<div class="ra-sources">{head}{body}</div>'


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


def compare_table(payload: Mapping[str, Any]) -> list[list[str]]:
    """Rows for the compare table: section (or document), pages, and the best passage."""
    rows = []
    for row in payload["rows"]:
        best = row["passages"][0]
        text = " ".join(best["text"].split())
        label = row.get("label") or " › ".join(row["section_path"])
        if payload.get("by") == "document":
            # The passage's own section, so a document's row still says where it is.
            text = f"{' › '.join(best['section_path'])}: {text}"
        rows.append([label, row["page_label"], f"{text} ({best['page_label']})"])
    return rows


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
    return ('<div class="ra-empty">Ask a question: the passages that answer it appear here, '
            "each with its section and page. Open one to read it in context.</div>")


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
"""
