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
from assistant.app import pdfpage, render, words
from assistant.app.engine import Engine, is_removable, scrub
from assistant.app.pagemap import page_count, page_map_html, strength_chart_html
from assistant.conversation import complete_follow_up
from assistant.errors import QueryError
from assistant.types import Answer, CompareRow, Comparison, Document, Hit, Section, Statement

# The question kept in a payload (and shown back) is cut to this many characters.
QUESTION_ECHO_CHARS = 500


# -- which document is "the report" ----------------------------------------------------------

def primary_document(a: Assistant) -> Document | None:
    """The report the app is about: the first document not added through the library.

    Documents a reader adds carry the library's ``added`` stamp; the bundled
    report does not. None when every document was added.
    """
    return next((d for d in a.documents if not is_removable(d)), None)


def named_documents(a: Assistant) -> frozenset[str]:
    """Ids of the documents whose citations name the document as well as section and pages.

    With one document there is nothing to tell apart; with several, every
    document but the report itself is named.
    """
    docs = a.documents
    if len(docs) < 2:
        return frozenset()
    primary = primary_document(a)
    return frozenset(d.id for d in docs if primary is None or d.id != primary.id)


# -- payloads: the structured answers returned by the API ----------------------------------

def cite_dict(hit: Hit, n: int, quoted: bool = False,
              highlights: Sequence[tuple[int, int]] = (),
              name_doc: bool = False) -> dict[str, Any]:
    """One passage as cited: where it is and the report's own words.

    ``start``/``end`` are offsets in the document's cleaned text;
    ``highlights`` are offsets inside ``text`` of the sentences the answer quotes.
    With ``name_doc`` the citation opens with the document's title.
    """
    p = hit.passage
    return {
        "n": n,
        "passage_id": p.id,
        "doc_id": p.doc_id,
        "doc_title": p.doc_title,
        "section": p.section,
        "section_path": list(p.section_path),
        "pages": list(p.pages),
        "page_label": p.page_label,
        "citation": p.document_citation if name_doc else p.citation,
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


def resolve_doc(a: Assistant, doc: str | None) -> Document | None:
    """'' or None means every document; otherwise a document by its id or its title."""
    if doc is None:
        return None
    if not isinstance(doc, str):
        raise QueryError("the document must be given as its id or title")
    wanted = " ".join(doc.split()).casefold()
    if not wanted:
        return None
    for d in a.documents:
        if wanted in (d.id.casefold(), " ".join(d.title.split()).casefold()):
            return d
    have = "; ".join(f"{d.id} ({d.title})" for d in a.documents)
    raise QueryError(f"no document {doc!r}; choose one of: {have}")


def resolve_filters(a: Assistant, section: str | None, doc: str | None
                    ) -> tuple[str | None, Document | None]:
    """The section and document to search in, checked together."""
    sec = resolve_section(a, section)
    d = resolve_doc(a, doc)
    if sec and d is not None and not a.retriever.mask_for(sec, d.id).any():
        raise QueryError(f"{d.title!r} has no section named {sec!r}; choose one of its "
                         f"sections or search the whole document")
    return sec, d


def answer_payload(answer: Answer, question: str, searched_as: str, follow_up: bool,
                   section: str | None, note: str, named: frozenset[str] = frozenset(),
                   doc: Document | None = None) -> dict[str, Any]:
    """The API's view of an Answer."""
    quoted_offsets: dict[int, list[tuple[int, int]]] = {}
    for s in answer.sentences:
        text = answer.citations[s.citation - 1].passage.text
        at = text.find(s.text)
        if at >= 0:
            quoted_offsets.setdefault(s.citation, []).append((at, at + len(s.text)))
    cites = [cite_dict(h, n, n in quoted_offsets, quoted_offsets.get(n, ()),
                       h.passage.doc_id in named)
             for n, h in enumerate(answer.citations, start=1)]
    reason = answer.reason
    if note and reason.endswith(note):
        reason = reason[: -len(note)].rstrip("; ")
    if reason and not answer.abstained:
        # An answer's reason holds only notes on it (say, that a Spanish
        # question is answered with the report's English sentences): the page
        # shows those as a note, and "Why" only for a refusal.
        note, reason = "; ".join(x for x in (note, reason) if x), ""
    return {
        "question": question,
        "searched_as": searched_as,
        "follow_up": follow_up,
        "section": section or "",
        "doc": doc.id if doc is not None else "",
        "doc_title": doc.title if doc is not None else "",
        "answer": answer.text,
        "abstained": answer.abstained,
        "reason": reason,
        "note": note,
        "sentences": [{"text": s.text, "citation": s.citation, "item": s.item}
                      for s in answer.sentences],
        # The sentences by section (one group when they come from one section).
        "groups": [{"section": g.section, "pages": list(g.pages), "more": g.more,
                    "sentences": [{"text": s.text, "citation": s.citation, "item": s.item}
                                  for s in g.sentences]} for g in answer.groups],
        # An abstention cites nothing: its passages are only the closest matches.
        "citations": [] if answer.abstained else cites,
        "closest": cites if answer.abstained else [],
    }


def ask(a: Assistant, question: str, section: str | None = "",
        history: Sequence[str] = (), doc: str | None = "") -> dict[str, Any]:
    """Answer a question (completed from ``history`` when it is a short follow-up).

    ``history`` holds the reader's earlier questions, oldest first; ``doc``
    limits the search to one document (its id or title).
    Raises QueryError for an empty question or an unknown section or document.
    """
    q, note = clean_question(question, a.cfg.max_question_chars)
    sec, d = resolve_filters(a, section, doc)
    searched, follow_up = complete_follow_up(q, history)
    answer = a.ask(searched, section=sec, doc=d.id if d is not None else None)
    return answer_payload(answer, q[:QUESTION_ECHO_CHARS], searched, follow_up, sec, note,
                          named_documents(a), d)


def _statement(row: CompareRow, st: Statement, first_n: int,
               docs: Mapping[str, Document]) -> dict[str, Any]:
    """One sentence of a row's position: its words, the passage it is from, and its page."""
    p = row.hits[st.hit].passage
    doc = docs.get(p.doc_id)
    pages = list(doc.pages_of(p.start + st.start, p.start + st.end)) if doc else list(p.pages)
    return {"text": p.text[st.start:st.end], "n": first_n + st.hit, "pages": pages,
            "page_label": _pages_label(pages), "names_topic": st.names}


def comparison_payload(c: Comparison, named: frozenset[str] = frozenset(),
                       titles: Mapping[str, str] | None = None,
                       by: str = "section",
                       docs: Sequence[Document] = ()) -> dict[str, Any]:
    """The API's view of a Comparison; ``titles`` maps document ids to titles.

    Each row carries its ``position`` (its own one or two sentences on the
    topic, each with its page), a ``strength`` relative to the strongest row
    (1.0) and its ``order`` in the documents' reading order (``docs``, in
    library order), so the page can sort rows either way.
    """
    titles = titles or {}
    by_id = {d.id: d for d in docs}
    reading = {(d.id, s.path): i for i, (d, s) in
               enumerate((d, s) for d in docs for s in d.sections)}
    doc_order = {d.id: i for i, d in enumerate(docs)}
    top = max((row.score for row in c.rows), default=0.0) or 1.0
    rows = []
    n = 0
    for rank, row in enumerate(c.rows, start=1):
        passages = []
        first_n = n + 1
        for i, h in enumerate(row.hits):
            n += 1
            marks = [(st.start, st.end) for st in row.position if st.hit == i]
            passages.append(cite_dict(h, n, bool(marks), marks,
                                      name_doc=h.passage.doc_id in named))
        pages = list(row.pages)
        document = titles.get(row.doc_id, "")
        if by == "document":
            label = document or row.section
        else:
            where = " › ".join(row.section_path) or row.section
            # Named like a citation: the document first, unless its path already opens with it.
            named_here = row.doc_id in named and document and row.section_path[:1] != (document,)
            label = f"{document} — {where}" if named_here else where
        rows.append({
            "rank": rank,
            "label": label,
            "section": row.section,
            "section_path": list(row.section_path),
            "doc_id": row.doc_id,
            "document": document,
            "pages": pages,
            "page_label": _pages_label(pages),
            "score": round(float(row.score), 6),
            "strength": round(float(row.score) / top, 4),
            "order": (reading.get((row.doc_id, row.section_path))
                      if by == "section" else doc_order.get(row.doc_id)),
            "position": [_statement(row, st, first_n, by_id) for st in row.position],
            "passages": passages,
        })
    return {"topic": c.topic, "by": by, "abstained": c.abstained, "reason": c.reason,
            "rows": rows}


COMPARE_BY = ("section", "document")


def compare(a: Assistant, topic: str, section: str | None = "", by: str | None = "section",
            doc: str | None = "") -> dict[str, Any]:
    """What each section (or each document, ``by="document"``) says about a topic, best first."""
    t, _ = clean_question(topic, a.cfg.max_question_chars)
    if by is None or (isinstance(by, str) and not by.strip()):
        by = "section"  # what callers got before there was a choice
    by = by.strip().lower() if isinstance(by, str) else by
    if by not in COMPARE_BY:
        raise QueryError(f"compare by 'section' or 'document' (got {by!r})")
    sec, d = resolve_filters(a, section, doc)
    doc_id = d.id if d is not None else None
    if by == "document":
        c = a.compare(t, section=sec, doc=doc_id, by="document")
    else:
        c = a.compare(t, section=sec, doc=doc_id)
    titles = {x.id: x.title for x in a.documents}
    return comparison_payload(c, named_documents(a), titles, by, a.documents)


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


def _section_label(doc: Document, item: Mapping[str, Any], name_doc: bool) -> str:
    indent = "    " if len(item["path"]) > 1 else ""
    where = " › ".join(item["path"])
    # A Markdown or HTML document's top heading is often its title: not named twice.
    if name_doc and (not item["path"] or item["path"][0] != doc.title):
        where = f"{doc.title} › {where}"
    return f"{indent}{where} ({item['pages']})"


def section_choices(a: Assistant, doc: str | None = None) -> list[tuple[str, str]]:
    """(label, value) pairs for a dropdown; the value is the title the engine filters by.

    With ``doc`` (an id) only that document's sections; otherwise all, those
    of documents other than the report labelled with their document's title.
    """
    named = frozenset() if doc else named_documents(a)
    docs = _docs(a)
    return [(_section_label(docs[item["doc_id"]], item, item["doc_id"] in named), item["title"])
            for item in section_list(a) if not doc or item["doc_id"] == doc]


BROWSE_SEP = "#"


def browse_choices(a: Assistant) -> list[tuple[str, str]]:
    """(label, value) pairs for the Browse list; values name document and section exactly.

    Two documents may both have an "Introduction", so the value is
    ``doc_id#section_id`` rather than the title.
    """
    named = named_documents(a)
    docs = _docs(a)
    return [(_section_label(docs[item["doc_id"]], item, item["doc_id"] in named),
             f"{item['doc_id']}{BROWSE_SEP}{item['id']}") for item in section_list(a)]


def find_section(a: Assistant, title: str) -> tuple[Document, Section]:
    """A section by ``doc_id#section_id`` (the Browse list's values) or by title or path."""
    title = " ".join((title or "").split())
    if not title:
        raise QueryError("choose a section of the report first")
    for doc, s in a.sections():
        if title == f"{doc.id}{BROWSE_SEP}{s.id}":
            return doc, s
    for doc, s in a.sections():
        if s.title.casefold() == title.casefold() or " › ".join(s.path).casefold() == \
                title.casefold():
            return doc, s
    names = "; ".join(s.title for _, s in a.sections())
    raise QueryError(f"no section named {title!r}; choose one of: {names}")


def doc_choices(a: Assistant) -> list[tuple[str, str]]:
    """(label, value) pairs for the document dropdown: every document by title, value its id."""
    return [(f"{d.title} ({page_count(d)} page{'s' if page_count(d) != 1 else ''})", d.id)
            for d in a.documents]


def document_list(a: Assistant) -> list[dict[str, Any]]:
    """The documents being searched, with their size in the index and whether the page may
    remove them (only documents added through the library; see engine.is_removable)."""
    counts: dict[str, int] = {}
    for p in a.passages:
        counts[p.doc_id] = counts.get(p.doc_id, 0) + 1
    primary = primary_document(a)
    out = []
    for d in a.documents:
        meta = d.meta if isinstance(d.meta, dict) else {}
        out.append({
            "id": d.id,
            "title": d.title,
            "file": d.source,
            "original_name": str(meta.get("original_name", "")),
            "added": str(meta.get("added", "")),
            "pages": page_count(d),
            "sections": len(d.sections),
            "passages": counts.get(d.id, 0),
            "report": primary is not None and d.id == primary.id,
            "removable": is_removable(d) and len(a.documents) > 1,
        })
    return out


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


def _shown_document(a: Assistant, doc_id: str = "") -> Document:
    """The document whose map stands in when nothing is cited: the one searched, or the report."""
    return _docs(a).get(doc_id) or primary_document(a) or a.documents[0]


def answer_map(a: Assistant, payload: Mapping[str, Any]) -> str:
    """The page map for an answer: cited pages numbered, their sections coloured."""
    docs = _docs(a)
    cites = [c for c in payload["citations"] if c["quoted"]]
    by_doc: dict[str, list[Mapping[str, Any]]] = {}
    for c in cites:
        by_doc.setdefault(c["doc_id"], []).append(c)
    if not by_doc:
        first = _shown_document(a, payload.get("doc", ""))
        caption = words.say("map_abstained" if payload["abstained"] else "map_none")
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
        caption = words.say("map_cited_one" if len(pages) == 1 else "map_cited_many",
                            pages=", ".join(map(str, pages)), total=page_count(doc),
                            sections=words.count(len(where), "section"), where="; ".join(where))
        if len(docs) > 1:
            caption = f"{doc.title}: {caption[:1].lower()}{caption[1:]}"
        out.append(page_map_html(doc, marks, lit, caption))
    return "".join(out)


def report_map(a: Assistant) -> str:
    """The empty state of the map: the report's pages and sections, nothing cited yet."""
    docs = a.documents
    if len(docs) == 1:
        d = docs[0]
        return page_map_html(d, {}, {}, words.say("map_report", total=page_count(d),
                                                  n=len(d.sections)))
    return "".join(
        page_map_html(d, {}, {}, words.say("map_doc", title=d.title,
                                           pages=words.count(page_count(d), "page"),
                                           sections=words.count(len(d.sections), "section")))
        for d in docs)


def chat_view(a: Assistant, payload: Mapping[str, Any], turn: int | None = None
              ) -> dict[str, str]:
    """Everything the chat tab shows for one answer.

    ``turn`` is the answer's place in the conversation: its [n] markers link
    to its source cards (see render.source_id). Raises KeyError when the
    answer cites a document removed since.
    """
    docs = _docs(a)
    title = docs[payload["citations"][0]["doc_id"]].title if payload["citations"] else (
        _shown_document(a, payload.get("doc", "")).title)
    return {
        "message": render.answer_markdown(payload, turn),
        "sources": render.sources_html(docs, payload, turn, original_pages(a, payload)),
        "map": answer_map(a, payload),
        "export": render.export_markdown(payload, title),
    }


# A passage spans one page or two; more than this many pictures per card
# would bury the text they illustrate.
ORIGINAL_PAGES_PER_CITE = 2


def original_pages(a: Assistant, payload: Mapping[str, Any]
                   ) -> dict[int, list[pdfpage.PageImage]]:
    """For each shown citation of a PDF document: its pages as drawn, cited sentences marked.

    Only the cards shown first (the quoted citations, or an abstention's
    closest passages) get pictures; the sentences marked are the ones the
    answer quotes, or the whole passage when it quotes none.
    """
    docs = _docs(a)
    shown = payload.get("closest", []) if payload["abstained"] else [
        c for c in payload["citations"] if c["quoted"]]
    out: dict[int, list[pdfpage.PageImage]] = {}
    for c in shown:
        doc = docs.get(c["doc_id"])
        path = pdfpage.source_pdf(a.cfg.corpus_dir, doc.source) if doc else None
        if path is None:
            continue
        text = c["text"]
        said = [text[s:e] for s, e in c.get("highlights", [])] or [text]
        images = [pdfpage.page_image(path, p, said)
                  for p in c["pages"][:ORIGINAL_PAGES_PER_CITE]]
        images = [im for im in images if im is not None]
        if images:
            out[c["n"]] = images
    return out


def compare_view(a: Assistant, payload: Mapping[str, Any], order: str = "strength"
                 ) -> dict[str, Any]:
    """Everything the compare tab shows: a summary line, the page map, the table.

    ``order`` is "strength" (strongest first) or "report" (reading order).
    """
    docs = _docs(a)
    by_doc: dict[str, tuple[dict[int, list[str]], dict[tuple[str, ...], str]]] = {}
    for row in payload["rows"]:
        marks, lit = by_doc.setdefault(row["doc_id"], ({}, {}))
        rank = str(row["rank"])
        # The sections the row's passages come from: the row's own section, or
        # (compared by document) the sections of that document that speak to it.
        for path in [row["section_path"], *(c["section_path"] for c in row["passages"])]:
            if tuple(path) in {s.path for s in docs[row["doc_id"]].sections}:
                lit.setdefault(tuple(path), rank)
        for p in row["pages"]:
            marks.setdefault(p, [])
            if rank not in marks[p]:
                marks[p].append(rank)
    what = "Documents" if payload.get("by") == "document" else "Sections"
    if by_doc:
        maps = []
        for doc_id, (marks, lit) in by_doc.items():
            names = [f"{row['rank']}. {row.get('label') or ' › '.join(row['section_path'])} "
                     f"({row['page_label']})"
                     for row in payload["rows"] if row["doc_id"] == doc_id]
            maps.append(page_map_html(docs[doc_id], marks, lit,
                                      f"{what} that speak to the topic: " + "; ".join(names)))
        map_html = "".join(maps)
    else:
        map_html = page_map_html(_shown_document(a), {}, {},
                                 "No document speaks to this topic." if what == "Documents"
                                 else "No section of the report speaks to this topic.")
    return {
        "message": render.compare_markdown(payload),
        "map": map_html,
        "chart": strength_chart_html(payload),
        "table": render.compare_table(payload),
        "html": render.compare_html(docs, payload, order),
    }


def contents_html(a: Assistant) -> str:
    """Browse: every document's Table of Contents as links with pages; each opens in place."""
    named = named_documents(a)
    return "".join(render.contents_html(d, d.id in named or len(a.documents) > 1)
                   for d in a.documents)


def overview(a: Assistant) -> dict[str, Any]:
    """What is loaded: for the status line and the API."""
    docs = a.documents
    return {
        "documents": [{"id": d.id, "title": d.title, "pages": page_count(d),
                       "sections": len(d.sections)} for d in docs],
        "passages": len(a.passages),
        "skipped": [{"file": s.path, "reason": scrub(s.reason, a.cfg.corpus_dir)}
                    for s in a.data.skipped],
    }


def skipped_markdown(skipped: Sequence[Mapping[str, str]]) -> str:
    """A warning naming the corpus files the index build could not read, and why."""
    if not skipped:
        return ""
    n = len(skipped)
    items = "; ".join(f"{s['file']} ({s['reason']})" for s in skipped)
    return (f"⚠ {n} file{'s' if n != 1 else ''} in the corpus folder could not be read "
            f"and {'are' if n != 1 else 'is'} not searched: " + render.md_text(items))


def status_markdown(engine: Engine) -> str:
    """The line at the top of the page: ready, still preparing (with progress), or failed."""
    if engine.ready and engine.assistant is not None:
        info = overview(engine.assistant)
        docs = "; ".join(f"*{render.md_text(d['title'])}*, {words.count(d['pages'], 'page')}, "
                         f"{words.count(d['sections'], 'section')}" for d in info["documents"])
        took = (f" ({words.say('ready_in', s=f'{engine.ready_after:.0f}')})"
                if engine.ready_after else "")
        line = (f"{words.say('ready')} {docs}; "
                f"{words.say('passages_indexed', n=info['passages'])}{took}.")
        # Anything the engine wants a reader to know about the index it serves
        # (say, a stale one kept because a rebuild failed), then skipped files.
        notes = [f"⚠ {render.md_text(str(w))}"
                 for w in getattr(engine.assistant, "warnings", None) or ()]
        warning = skipped_markdown(info["skipped"])
        return "\n\n".join([line, *notes, *([warning] if warning else [])])
    if engine.error:
        return "⚠ " + render.md_text(f"The report index could not be loaded: {engine.error}")
    return (f"**Preparing the report index:** {render.md_text(engine.stage)} "
            f"({engine.fraction:.0%}). Questions asked now are answered as soon as it is ready.")
