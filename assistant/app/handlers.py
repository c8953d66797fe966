"""What the page and the API do, as plain functions of an Assistant.

Each function takes the loaded ``Assistant`` and plain values and returns
plain, JSON-ready dicts (the API's answer) or the Markdown/HTML the page shows
(built by ``render`` and ``pagemap``, escaped there). They raise
``AssistantError`` subclasses for bad input; the Gradio layer turns those into
messages. Nothing here imports gradio, so all of it is testable without a
browser or a server.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from assistant.api import Assistant, clean_question
from assistant.app import render
from assistant.app.engine import Engine
from assistant.app.pagemap import page_count, page_map_html
from assistant.conversation import complete_follow_up
from assistant.errors import QueryError
from assistant.types import Answer, Comparison, Document, Hit, Section

# The question kept in a payload (and shown back) is cut to this many characters.
QUESTION_ECHO_CHARS = 500


# -- payloads: the structured answers returned by the API ----------------------------------

def cite_dict(hit: Hit, n: int, quoted: bool = False,
              highlights: Sequence[tuple[int, int]] = ()) -> dict[str, Any]:
    """One passage as cited: where it is and the report's own words.

    ``start``/``end`` are offsets in the document's cleaned text;
    ``highlights`` are offsets inside ``text`` of the sentences the answer quotes.
    """
    p = hit.passage
    return {
        "n": n,
        "passage_id": p.id,
        "doc_id": p.doc_id,
        "section": p.section,
        "section_path": list(p.section_path),
        "pages": list(p.pages),
        "page_label": p.page_label,
        "citation": p.citation,
        "kind": p.kind,
        "text": p.text,
        "start": p.start,
        "end": p.end,
        "score": round(float(hit.score), 6),
        "quoted": quoted,
        "highlights": [list(h) for h in highlights],
    }


def resolve_section(a: Assistant, section: str | None) -> str | None:
    """'' or None means the whole report; otherwise a section title the engine knows."""
    if section is None:
        return None
    if not isinstance(section, str):
        raise QueryError("the section must be given as its title")
    section = " ".join(section.split())
    if not section:
        return None
    a.retriever.mask_for(section)  # raises QueryError naming the sections there are
    return section


def answer_payload(answer: Answer, question: str, searched_as: str, follow_up: bool,
                   section: str | None, note: str) -> dict[str, Any]:
    """The API's view of an Answer."""
    quoted_offsets: dict[int, list[tuple[int, int]]] = {}
    for s in answer.sentences:
        text = answer.citations[s.citation - 1].passage.text
        at = text.find(s.text)
        if at >= 0:
            quoted_offsets.setdefault(s.citation, []).append((at, at + len(s.text)))
    cites = [cite_dict(h, n, n in quoted_offsets, quoted_offsets.get(n, ()))
             for n, h in enumerate(answer.citations, start=1)]
    reason = answer.reason
    if note and reason.endswith(note):
        reason = reason[: -len(note)].rstrip("; ")
    return {
        "question": question,
        "searched_as": searched_as,
        "follow_up": follow_up,
        "section": section or "",
        "answer": answer.text,
        "abstained": answer.abstained,
        "reason": reason,
        "note": note,
        "sentences": [{"text": s.text, "citation": s.citation} for s in answer.sentences],
        # An abstention cites nothing: its passages are only the closest matches.
        "citations": [] if answer.abstained else cites,
        "closest": cites if answer.abstained else [],
    }


def ask(a: Assistant, question: str, section: str | None = "",
        history: Sequence[str] = ()) -> dict[str, Any]:
    """Answer a question (completed from ``history`` when it is a short follow-up).

    ``history`` holds the reader's earlier questions, oldest first.
    Raises QueryError for an empty question or an unknown section.
    """
    q, note = clean_question(question, a.cfg.max_question_chars)
    sec = resolve_section(a, section)
    searched, follow_up = complete_follow_up(q, history)
    answer = a.ask(searched, section=sec)
    return answer_payload(answer, q[:QUESTION_ECHO_CHARS], searched, follow_up, sec, note)


def comparison_payload(c: Comparison) -> dict[str, Any]:
    rows = []
    n = 0
    for rank, row in enumerate(c.rows, start=1):
        passages = []
        for h in row.hits:
            n += 1
            passages.append(cite_dict(h, n))
        pages = list(row.pages)
        rows.append({
            "rank": rank,
            "section": row.section,
            "section_path": list(row.section_path),
            "doc_id": row.doc_id,
            "pages": pages,
            "page_label": _pages_label(pages),
            "score": round(float(row.score), 6),
            "passages": passages,
        })
    return {"topic": c.topic, "abstained": c.abstained, "reason": c.reason, "rows": rows}


def compare(a: Assistant, topic: str, section: str | None = "") -> dict[str, Any]:
    """What each section says about a topic, most relevant section first."""
    t, _ = clean_question(topic, a.cfg.max_question_chars)
    return comparison_payload(a.compare(t, section=resolve_section(a, section)))


def _pages_label(pages: Sequence[int]) -> str:
    if not pages:
        return ""
    if len(pages) == 1:
        return f"p. {pages[0]}"
    if list(pages) == list(range(pages[0], pages[-1] + 1)):
        return f"pp. {pages[0]}-{pages[-1]}"
    return "pp. " + ", ".join(str(p) for p in pages)


# -- the report's structure -------------------------------------------------------------

def section_list(a: Assistant) -> list[dict[str, Any]]:
    """The Table of Contents: every section with its pages, in reading order."""
    out = []
    for doc, s in a.sections():
        out.append({
            "doc_id": doc.id,
            "id": s.id,
            "title": s.title,
            "path": list(s.path),
            "start_page": s.start_page,
            "end_page": s.end_page,
            "pages": _pages_label(list(range(s.start_page, s.end_page + 1))),
        })
    return out


def section_choices(a: Assistant) -> list[tuple[str, str]]:
    """(label, value) pairs for a dropdown; the value is the title the engine filters by."""
    choices = []
    for item in section_list(a):
        indent = "    " if len(item["path"]) > 1 else ""
        choices.append((f"{indent}{' › '.join(item['path'])} ({item['pages']})", item["title"]))
    return choices


def find_section(a: Assistant, title: str) -> tuple[Document, Section]:
    title = " ".join((title or "").split())
    if not title:
        raise QueryError("choose a section of the report first")
    for doc, s in a.sections():
        if s.title.casefold() == title.casefold() or " › ".join(s.path).casefold() == \
                title.casefold():
            return doc, s
    names = "; ".join(s.title for _, s in a.sections())
    raise QueryError(f"no section named {title!r}; choose one of: {names}")


def read_section(a: Assistant, title: str) -> dict[str, str]:
    """A section to read whole, and the page map with it coloured."""
    doc, s = find_section(a, title)
    caption = (f"{' › '.join(s.path)}: pages {s.start_page}–{s.end_page} of "
               f"{page_count(doc)}" if s.start_page != s.end_page else
               f"{' › '.join(s.path)}: page {s.start_page} of {page_count(doc)}")
    marks = {p: [] for p in range(s.start_page, s.end_page + 1)}
    return {
        "html": render.section_reader_html(doc, s),
        "map": page_map_html(doc, marks, {s.path: ""}, caption),
    }


# -- what the page shows for an answer or a comparison -----------------------------------

def _docs(a: Assistant) -> dict[str, Document]:
    return {d.id: d for d in a.documents}


def answer_map(a: Assistant, payload: Mapping[str, Any]) -> str:
    """The page map for an answer: cited pages numbered, their sections coloured."""
    docs = _docs(a)
    cites = [c for c in payload["citations"] if c["quoted"]]
    by_doc: dict[str, list[Mapping[str, Any]]] = {}
    for c in cites:
        by_doc.setdefault(c["doc_id"], []).append(c)
    if not by_doc:
        first = a.documents[0]
        caption = ("The report does not answer this, so no page is cited."
                   if payload["abstained"] else "No page is cited.")
        return page_map_html(first, {}, {}, caption)
    out = []
    for doc_id, group in by_doc.items():
        doc = docs[doc_id]
        marks: dict[int, list[str]] = {}
        lit: dict[tuple[str, ...], str] = {}
        for c in group:
            for p in c["pages"]:
                marks.setdefault(p, [])
                if str(c["n"]) not in marks[p]:
                    marks[p].append(str(c["n"]))
            path = tuple(c["section_path"])
            for i in range(1, len(path) + 1):
                lit[path[:i]] = ""
        pages = sorted(marks)
        where = sorted({" › ".join(c["section_path"]) for c in group})
        caption = (f"Cited {'page' if len(pages) == 1 else 'pages'} "
                   f"{', '.join(map(str, pages))} of {page_count(doc)}, in "
                   f"{len(where)} section{'s' if len(where) != 1 else ''}: {'; '.join(where)}")
        out.append(page_map_html(doc, marks, lit, caption))
    return "".join(out)


def report_map(a: Assistant) -> str:
    """The empty state of the map: the report's pages and sections, nothing cited yet."""
    return "".join(
        page_map_html(d, {}, {}, f"The report's {page_count(d)} pages and its "
                                 f"{len(d.sections)} sections; the pages an answer cites "
                                 "are marked here.")
        for d in a.documents)


def chat_view(a: Assistant, payload: Mapping[str, Any]) -> dict[str, str]:
    """Everything the chat tab shows for one answer."""
    docs = _docs(a)
    title = docs[payload["citations"][0]["doc_id"]].title if payload["citations"] else (
        a.documents[0].title if a.documents else "")
    return {
        "message": render.answer_markdown(payload),
        "sources": render.sources_html(docs, payload),
        "map": answer_map(a, payload),
        "export": render.export_markdown(payload, title),
    }


def compare_view(a: Assistant, payload: Mapping[str, Any]) -> dict[str, Any]:
    """Everything the compare tab shows: a summary line, the page map, the table."""
    docs = _docs(a)
    by_doc: dict[str, tuple[dict[int, list[str]], dict[tuple[str, ...], str]]] = {}
    for row in payload["rows"]:
        marks, lit = by_doc.setdefault(row["doc_id"], ({}, {}))
        lit[tuple(row["section_path"])] = str(row["rank"])
        for p in row["pages"]:
            marks.setdefault(p, [])
            if str(row["rank"]) not in marks[p]:
                marks[p].append(str(row["rank"]))
    if by_doc:
        maps = []
        for doc_id, (marks, lit) in by_doc.items():
            names = [f"{row['rank']}. {' › '.join(row['section_path'])} ({row['page_label']})"
                     for row in payload["rows"] if row["doc_id"] == doc_id]
            maps.append(page_map_html(docs[doc_id], marks, lit,
                                      "Sections that speak to the topic: " + "; ".join(names)))
        map_html = "".join(maps)
    else:
        map_html = page_map_html(a.documents[0], {}, {},
                                 "No section of the report speaks to this topic.")
    return {
        "message": render.compare_markdown(payload),
        "map": map_html,
        "table": render.compare_table(payload),
    }


def overview(a: Assistant) -> dict[str, Any]:
    """What is loaded: for the status line and the API."""
    docs = a.documents
    return {
        "documents": [{"id": d.id, "title": d.title, "pages": page_count(d),
                       "sections": len(d.sections)} for d in docs],
        "passages": len(a.passages),
    }


def status_markdown(engine: Engine) -> str:
    """The line at the top of the page: ready, still preparing (with progress), or failed."""
    if engine.ready and engine.assistant is not None:
        info = overview(engine.assistant)
        docs = "; ".join(f"*{render.md_text(d['title'])}*, {d['pages']} pages, "
                         f"{d['sections']} sections" for d in info["documents"])
        took = f" (ready in {engine.ready_after:.0f} s)" if engine.ready_after else ""
        return f"Ready: {docs}; {info['passages']} passages indexed{took}."
    if engine.error:
        return "⚠ " + render.md_text(f"The report index could not be loaded: {engine.error}")
    return (f"**Preparing the report index:** {render.md_text(engine.stage)} "
            f"({engine.fraction:.0%}). Questions asked now are answered as soon as it is ready.")
