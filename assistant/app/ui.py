"""The Gradio page: one gr.Blocks with Ask, Compare, Browse and Documents tabs, and the API.

The event functions here only adapt: they fetch the shared Assistant from the
Engine, call ``handlers``, and turn an ``AssistantError`` into an inline
message (page) or a ``gr.Error`` (API), so a reader never sees a stack trace.

API endpoints (for ``gradio_client``), all returning JSON:

* ``/ask``      (question, section="", previous="", doc="") -> the answer,
  ``abstained``, ``citations`` (each with section, section_path, pages,
  page_label, citation, doc_id, doc_title, text), or ``closest`` passages when
  the report does not answer; ``doc`` limits it to one document (id or title);
* ``/compare``  (topic, section="", by="section", doc="") -> ``rows``: section
  (or, with ``by="document"``, document), pages and passages;
* ``/sections`` () -> the Table of Contents with pages;
* ``/documents`` () -> the documents searched, with pages and passages;
* ``/status``   () -> whether the index is ready, the build's progress, and the
  corpus files the build skipped;
* ``/add_document`` (file) and ``/remove_document`` (doc_id) -> what changed;
  only when uploads are on (see settings.py).
"""

from __future__ import annotations

import hashlib
import os
import re
import tempfile
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # after the setting above, which it reads at import

from assistant.app import handlers, render
from assistant.app.engine import Engine
from assistant.errors import AssistantError
from assistant.library import Limits

# Seconds a request waits for the index on first start before giving up.
WAIT_FOR_INDEX = 600.0

EXAMPLE_QUESTIONS = [
    "What does the report say about USMCA?",
    "How can the U.S. and Mexico cooperate on renewable energy?",
    "What did the security working group say about fentanyl?",
    "What role do women play in the U.S.-Mexico relationship?",
    "What is consular diplomacy?",
    "What is nearshoring?",
]
EXAMPLE_TOPICS = ["USMCA", "migration", "energy", "security", "democracy", "nearshoring"]

CHAT_PLACEHOLDER = (
    "### Ask the report a question\n"
    "Answers are the report's own sentences, each marked [1], [2]… and cited by section "
    "and page. When the report does not answer, the assistant says so.\n\n"
    "Try one of the examples below, or type your own question."
)
COMPARE_HEADERS = ["Section", "Pages", "Most relevant passage (the report's words, with its page)"]
COMPARE_BY_DOC_HEADERS = ["Document", "Pages",
                          "Most relevant passage (the document's words, with its section and page)"]
ALL_SECTIONS = ("Whole report", "")
ALL_DOCUMENTS = ("All documents", "")
# Seconds between checks for a library change made in another browser tab;
# while the index is first prepared the page checks every second.
LIBRARY_POLL = 10.0
# Gradio's /upload route is open whatever the page does; with uploads off it
# takes no more than this.
CLOSED_UPLOAD_CAP = "1kb"


def _export_file(markdown: str, question: str) -> str:
    """Save the Markdown export where Gradio may serve it (the system temp folder)."""
    digest = hashlib.sha256(markdown.encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / "report-assistant-exports" / digest
    folder.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", question.lower()).strip("-")[:40] or "answer"
    path = folder / f"{slug}.md"
    if not path.exists():
        path.write_text(markdown, encoding="utf-8")
    return str(path)


def _messages(turns: list[dict[str, Any]]) -> list[dict[str, str]]:
    msgs = []
    for t in turns:
        msgs.append({"role": "user", "content": render.question_markdown(t["question"])})
        msgs.append({"role": "assistant", "content": t["message"]})
    return msgs


def _warn(text: str) -> str:
    return f"⚠ {render.md_text(text[:1].upper() + text[1:])}"


def build(engine: Engine, uploads: bool = False, limits: Limits | None = None) -> gr.Blocks:
    """The page, wired to ``engine`` (which may still be loading).

    With ``uploads`` the Documents tab can add and remove documents, and the
    API gets /add_document and /remove_document; ``limits`` are the
    library's size and type limits (from the environment by default).
    """
    limits = limits or Limits.from_env()

    def assistant(progress: gr.Progress | None = None):
        tick = None
        if progress is not None and not engine.ready:
            def tick(stage: str, fraction: float) -> None:
                progress(fraction, desc=f"Preparing the report index: {stage}")
        return engine.wait(WAIT_FOR_INDEX, tick)

    # -- status and the lists drawn from the documents --------------------------------
    def lists(a, doc_value: str, section_value: str, browse_value: str) -> dict:
        """Every list that depends on which documents are loaded, keeping valid choices."""
        docs = handlers.doc_choices(a)
        several = len(docs) > 1
        doc_value = doc_value if doc_value in {v for _, v in docs} else ""
        sections = handlers.section_choices(a, doc_value or None)
        section_value = section_value if section_value in {v for _, v in sections} else ""
        browse = handlers.browse_choices(a)
        if browse_value not in {v for _, v in browse}:
            browse_value = browse[0][1] if browse else None
        rows = handlers.document_list(a)
        out = {
            section: gr.Dropdown(choices=[_everything(doc_value, several), *sections],
                                 value=section_value),
            doc: gr.Dropdown(choices=[ALL_DOCUMENTS, *docs], value=doc_value, visible=several),
            compare_by: gr.Radio(visible=several),
            browse_section: gr.Dropdown(choices=browse, value=browse_value),
            docs_list: render.documents_html(rows),
            status: handlers.status_markdown(engine),
            seen: engine.generation,
        }
        if uploads:
            removable = [(r["title"], r["id"]) for r in rows if r["removable"]]
            out[remove_doc] = gr.Dropdown(choices=removable, value=None,
                                          interactive=bool(removable))
        return out

    def refresh(turns: list[dict[str, Any]], seen_generation: int, doc_value: str,
                section_value: str, browse_value: str):
        if not engine.ready:
            # Keep polling while loading; stop once it has failed (the status says why).
            return {status: handlers.status_markdown(engine),
                    timer: gr.Timer(active=not engine.finished)}
        # Once loaded, only a library change (from any tab) redraws the lists;
        # without uploads nothing can change, so polling stops.
        slow = gr.Timer(LIBRARY_POLL, active=uploads)
        if seen_generation == engine.generation:
            return {timer: slow}
        a = engine.assistant
        out = lists(a, doc_value, section_value, browse_value)
        out[timer] = slow
        if not turns:
            # The documents' map is the empty state; an answer already shown keeps its own.
            out[answer_map] = handlers.report_map(a)
        return out

    def on_doc_change(doc_value: str, section_value: str):
        """Choosing a document narrows the section list to that document's sections."""
        if not engine.ready:
            return gr.skip()
        sections = handlers.section_choices(engine.assistant, doc_value or None)
        keep = section_value if section_value in {v for _, v in sections} else ""
        several = len(engine.assistant.documents) > 1
        return gr.Dropdown(choices=[_everything(doc_value, several), *sections], value=keep)

    # -- ask --------------------------------------------------------------------
    def _answer(question: str, section_value: str, doc_value: str,
                turns: list[dict[str, Any]], progress: gr.Progress | None):
        try:
            a = assistant(progress)
            payload = handlers.ask(a, question, section_value, [t["asked"] for t in turns],
                                   doc=doc_value)
        except AssistantError as exc:
            return (gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(), gr.skip(),
                    gr.skip(), _warn(str(exc)))
        view = handlers.chat_view(a, payload)
        turn = {"question": payload["question"], "asked": payload["question"],
                "message": view["message"], "payload": payload}
        turns = [*turns, turn]
        return (_messages(turns), turns, "", view["sources"], view["map"], view["export"],
                gr.DownloadButton(value=_export_file(view["export"], payload["question"]),
                                  interactive=True),
                "")

    def on_ask(question: str, section_value: str, doc_value: str,
               turns: list[dict[str, Any]],
               progress: gr.Progress = gr.Progress()):  # noqa: B008 (Gradio's injection idiom)
        return _answer(question, section_value, doc_value, turns, progress)

    def on_example(evt: gr.SelectData, section_value: str, doc_value: str,
                   turns: list[dict[str, Any]],
                   progress: gr.Progress = gr.Progress()):  # noqa: B008
        value = evt.value if isinstance(evt.value, dict) else {"text": str(evt.value)}
        return _answer(str(value.get("text", "")), section_value, doc_value, turns, progress)

    def on_select(evt: gr.SelectData, turns: list[dict[str, Any]]):
        """Clicking an earlier message shows that answer's sources again."""
        index = evt.index if isinstance(evt.index, int) else (evt.index or [0])[0]
        i = int(index) // 2
        if not engine.ready or not 0 <= i < len(turns):
            return gr.skip(), gr.skip(), gr.skip()
        try:
            view = handlers.chat_view(engine.assistant, turns[i]["payload"])
        except KeyError:
            # The answer cites a document removed since; its sources cannot be drawn.
            return _removed_sources(), gr.skip(), gr.skip()
        return view["sources"], view["map"], view["export"]

    def on_clear():
        empty_map = handlers.report_map(engine.assistant) if engine.ready else ""
        return ([], [], "", render.empty_sources_html(), empty_map, "",
                gr.DownloadButton(value=None, interactive=False), "")

    # -- compare and browse -------------------------------------------------------------
    def on_compare(topic_text: str, by: str,
                   progress: gr.Progress = gr.Progress()):  # noqa: B008
        try:
            a = assistant(progress)
            payload = handlers.compare(a, topic_text, by=by or "section")
        except AssistantError as exc:
            return _warn(str(exc)), gr.skip(), gr.skip()
        view = handlers.compare_view(a, payload)
        headers = COMPARE_BY_DOC_HEADERS if payload["by"] == "document" else COMPARE_HEADERS
        return view["message"], view["map"], gr.Dataframe(value=view["table"], headers=headers)

    def on_read(key: str):
        try:
            view = handlers.read_section(assistant(), key)
        except AssistantError as exc:
            return _warn(str(exc)), ""
        return view["html"], view["map"]

    def on_ask_in(key: str):
        try:
            a = assistant()
            d, s = handlers.find_section(a, key)
        except AssistantError as exc:
            return gr.skip(), gr.skip(), gr.skip(), _warn(str(exc))
        doc_value = d.id if len(a.documents) > 1 else ""
        sections = handlers.section_choices(a, doc_value or None)
        return (gr.Dropdown(choices=[_everything(doc_value, len(a.documents) > 1), *sections],
                            value=s.title),
                gr.Dropdown(value=doc_value), gr.Tabs(selected="ask"), "")

    # -- the document library -------------------------------------------------------------
    def _library_tick(progress: gr.Progress, what: str):
        def tick(stage: str, fraction: float) -> None:
            progress(fraction, desc=f"{what}: {stage}")
        return tick

    def on_add(files: list[str] | None, doc_value: str, section_value: str, browse_value: str,
               turns: list[dict[str, Any]],
               progress: gr.Progress = gr.Progress()):  # noqa: B008
        if not files:
            return {library_msg: _warn("choose a file to add first")}
        try:
            assistant(progress)
            results = engine.add_documents([str(f) for f in files], limits,
                                           _library_tick(progress, "Adding to the library"))
        except AssistantError as exc:
            return {library_msg: _warn(str(exc))}
        out = lists(engine.assistant, doc_value, section_value, browse_value)
        out[library_msg] = render.library_markdown(results)
        out[upload] = None
        if not turns:
            out[answer_map] = handlers.report_map(engine.assistant)
        return out

    def on_remove(doc_id: str, doc_value: str, section_value: str, browse_value: str,
                  turns: list[dict[str, Any]],
                  progress: gr.Progress = gr.Progress()):  # noqa: B008
        try:
            assistant(progress)
            gone = engine.remove_document(doc_id, _library_tick(progress, "Removing"))
        except AssistantError as exc:
            return {library_msg: _warn(str(exc))}
        out = lists(engine.assistant, doc_value, section_value, browse_value)
        out[library_msg] = (f"**Removed** *{render.md_text(str(gone['title']))}*; it is no "
                            "longer searched.")
        if not turns:
            out[answer_map] = handlers.report_map(engine.assistant)
        return out

    # -- the API ------------------------------------------------------------------
    def api_ask(question: str, section: str = "", previous: str = "", doc: str = "") -> dict:
        """Answer a question about the report, with cited passages (section and pages).

        ``section`` limits the search to one section (its title, as listed by
        /sections); ``previous`` is an earlier question, so that a short
        follow-up such as "and what about energy?" is read against it;
        ``doc`` limits it to one document (its id or title, as listed by /documents).
        """
        try:
            history = [previous] if previous else []
            return handlers.ask(assistant(), question, section, history, doc=doc)
        except AssistantError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    def api_compare(topic: str, section: str = "", by: str = "section", doc: str = "") -> dict:
        """What each section of the report (``by="document"``: each document) says about a
        topic, most relevant first; ``doc`` limits it to one document."""
        try:
            return handlers.compare(assistant(), topic, section, by=by, doc=doc)
        except AssistantError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    def api_sections() -> list:
        """The report's sections (Table of Contents) with their pages."""
        try:
            return handlers.section_list(assistant())
        except AssistantError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    def api_documents() -> list:
        """The documents searched: id, title, pages, passages, and whether they can be removed."""
        try:
            return handlers.document_list(assistant())
        except AssistantError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    def api_status() -> dict:
        """Whether the index is ready, or how far its preparation has come."""
        return engine.status()

    def api_add(file: str | None) -> dict:
        """Add one document (PDF, Markdown, plain text or HTML) and index it.

        Returns its id, title, pages and passages; a rejected file (type,
        size, unreadable) is an error saying why, and nothing is changed.
        """
        if not file:
            raise gr.Error("no file was given", print_exception=False)
        try:
            assistant()
            result = engine.add_documents([str(file)], limits)[0]
        except AssistantError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
        if result["status"] == "error":
            raise gr.Error(str(result["message"]), print_exception=False)
        return result

    def api_remove(doc_id: str) -> dict:
        """Remove a document that was added through the library (by its id)."""
        try:
            assistant()
            return engine.remove_document(doc_id)
        except AssistantError as exc:
            raise gr.Error(str(exc), print_exception=False) from None

    # -- layout -------------------------------------------------------------------
    with gr.Blocks(title="Report assistant: U.S.-Mexico Forum 2025", analytics_enabled=False,
                   delete_cache=(3600, 86400)) as demo:
        gr.Markdown(
            "# Ask the report: *U.S.-Mexico Forum 2025: Report 2022*\n"
            "Answers quote the report's own sentences and cite each by section and page.",
            elem_id="ra-title")
        status = gr.Markdown(handlers.status_markdown(engine), elem_id="ra-status")
        timer = gr.Timer(1.0, active=not engine.finished or uploads)
        turns = gr.State([])
        # The engine generation the page's lists were drawn from.
        seen = gr.State(0)

        with gr.Tabs(selected="ask") as tabs:
            with gr.Tab("Ask", id="ask", elem_id="ra-tab-ask"), gr.Row(equal_height=False):
                with gr.Column(scale=1):
                    chatbot = gr.Chatbot(
                        label="Conversation", height=560, elem_id="ra-chat",
                        placeholder=CHAT_PLACEHOLDER, latex_delimiters=[],
                        examples=[{"text": q} for q in EXAMPLE_QUESTIONS],
                        feedback_options=None, buttons=["copy"])
                    with gr.Row():
                        question = gr.Textbox(
                            placeholder="Ask a question about the report…",
                            show_label=False, scale=5, lines=1, max_lines=6,
                            elem_id="ra-question")
                        ask_btn = gr.Button("Ask", variant="primary", scale=1,
                                            elem_id="ra-ask")
                    message = gr.Markdown(elem_id="ra-message")
                    with gr.Row():
                        doc = gr.Dropdown(
                            choices=[ALL_DOCUMENTS], value="", label="Document",
                            info="Limit answers to one document", scale=3, visible=False,
                            elem_id="ra-doc")
                        section = gr.Dropdown(
                            choices=[ALL_SECTIONS], value="", label="Search in",
                            info="Limit answers to one section of the report",
                            scale=4, elem_id="ra-section")
                        clear_btn = gr.Button("Clear chat", scale=1, size="md",
                                              elem_id="ra-clear")
                with gr.Column(scale=1):
                    gr.Markdown("### Where in the report")
                    answer_map = gr.HTML("", elem_id="ra-answer-map")
                    sources = gr.HTML(render.empty_sources_html(), elem_id="ra-sources")
                    with gr.Accordion("Copy or save this answer as Markdown", open=False,
                                      elem_id="ra-export-box"):
                        export = gr.Code("", language="markdown", interactive=False,
                                         label="Answer with citations", wrap_lines=True,
                                         show_line_numbers=False, buttons=["copy"],
                                         elem_id="ra-export")
                        download = gr.DownloadButton("Download answer (.md)",
                                                     interactive=False, size="sm",
                                                     elem_id="ra-download")

            with gr.Tab("Compare", id="compare", elem_id="ra-tab-compare"):
                gr.Markdown("Enter a topic to see which sections of the report speak to it, "
                            "side by side, each with its most relevant passage and page. "
                            "With documents added, compare them by document as well.")
                with gr.Row():
                    topic = gr.Textbox(placeholder="A topic, e.g. energy", show_label=False,
                                       scale=5, elem_id="ra-topic")
                    compare_btn = gr.Button("Compare", variant="primary", scale=1,
                                            elem_id="ra-compare")
                compare_by = gr.Radio([("Sections", "section"), ("Documents", "document")],
                                      value="section", label="Compare by", visible=False,
                                      elem_id="ra-compare-by")
                gr.Examples([[t] for t in EXAMPLE_TOPICS], inputs=topic, label="Example topics")
                compare_msg = gr.Markdown(elem_id="ra-compare-message")
                compare_map = gr.HTML("", elem_id="ra-compare-map")
                table = gr.Dataframe(headers=COMPARE_HEADERS, datatype="str", wrap=True,
                                     interactive=False, column_widths=["22%", "10%", "68%"],
                                     max_height=700, elem_id="ra-compare-table")

            with gr.Tab("Browse", id="browse", elem_id="ra-tab-browse"):
                gr.Markdown("The report's sections, from its Table of Contents. Read one "
                            "whole, or ask questions about it alone.")
                with gr.Row():
                    browse_section = gr.Dropdown(choices=[], label="Section", scale=4,
                                                 elem_id="ra-browse-section")
                    ask_in_btn = gr.Button("Ask about this section", scale=1,
                                           elem_id="ra-ask-in")
                reader_map = gr.HTML("", elem_id="ra-reader-map")
                reader = gr.HTML("", elem_id="ra-reader")

            with gr.Tab("Documents", id="docs", elem_id="ra-tab-docs"):
                gr.Markdown("The documents the assistant searches. Answers from a document "
                            "other than the report name it in their citations.")
                docs_list = gr.HTML("", elem_id="ra-docs")
                if uploads:
                    upload = gr.File(
                        label=(f"Add documents ({', '.join(limits.allowed())}; up to "
                               f"{_size(limits.max_bytes)} and {limits.max_pages} pages each)"),
                        file_count="multiple", file_types=list(limits.allowed()),
                        elem_id="ra-upload")
                    add_btn = gr.Button("Add to the library", variant="primary",
                                        elem_id="ra-add")
                    library_msg = gr.Markdown(elem_id="ra-library-message")
                    with gr.Row():
                        remove_doc = gr.Dropdown(
                            choices=[], value=None, label="Remove a document",
                            info="Only documents added here (or with `add`) can be removed; "
                                 "the report is kept.",
                            scale=4, elem_id="ra-remove-doc")
                        remove_btn = gr.Button("Remove", variant="stop", scale=1,
                                               elem_id="ra-remove")
                    # The API's way in: a file component and a result no one sees.
                    api_file = gr.File(visible=False, file_count="single")
                    api_result = gr.JSON(visible=False)
                    api_add_btn = gr.Button(visible=False)
                else:
                    gr.Markdown("Adding documents is turned off on this server "
                                "(REPORT_ASSISTANT_UPLOADS).", elem_id="ra-uploads-off")

        # -- wiring ------------------------------------------------------------------
        ask_outputs = [chatbot, turns, question, sources, answer_map, export, download, message]
        for trigger in (question.submit, ask_btn.click):
            trigger(on_ask, [question, section, doc, turns], ask_outputs,
                    api_visibility="private", show_progress_on=[chatbot])
        chatbot.example_select(on_example, [section, doc, turns], ask_outputs,
                               api_visibility="private", show_progress_on=[chatbot])
        chatbot.select(on_select, [turns], [sources, answer_map, export],
                       api_visibility="private")
        clear_btn.click(on_clear, None, ask_outputs, api_visibility="private")
        # The chat's own bin icon clears the conversation the same way.
        chatbot.clear(on_clear, None, ask_outputs, api_visibility="private")
        doc.change(on_doc_change, [doc, section], [section], api_visibility="private",
                   show_progress="hidden")
        for trigger in (topic.submit, compare_btn.click):
            trigger(on_compare, [topic, compare_by], [compare_msg, compare_map, table],
                    api_visibility="private", show_progress_on=[table])
        browse_section.change(on_read, [browse_section], [reader, reader_map],
                              api_visibility="private")
        ask_in_btn.click(on_ask_in, [browse_section], [section, doc, tabs, message],
                         api_visibility="private")
        list_outputs = [section, doc, compare_by, browse_section, docs_list, status, seen]
        if uploads:
            list_outputs.append(remove_doc)
        refresh_outputs = [*list_outputs, answer_map, timer]
        refresh_inputs = [turns, seen, doc, section, browse_section]
        timer.tick(refresh, refresh_inputs, refresh_outputs, api_visibility="private",
                   show_progress="hidden")
        demo.load(refresh, refresh_inputs, refresh_outputs, api_visibility="private",
                  show_progress="hidden")

        if uploads:
            library_inputs = [doc, section, browse_section, turns]
            library_outputs = [*list_outputs, library_msg, answer_map]
            # One library change at a time (the engine serialises them too), so
            # a burst of uploads cannot take every worker from the questions.
            add_btn.click(on_add, [upload, *library_inputs], [*library_outputs, upload],
                          api_visibility="private", show_progress_on=[library_msg],
                          concurrency_limit=1, concurrency_id="library")
            remove_btn.click(on_remove, [remove_doc, *library_inputs], library_outputs,
                             api_visibility="private", show_progress_on=[library_msg],
                             concurrency_limit=1, concurrency_id="library")
            api_add_btn.click(api_add, [api_file], [api_result], api_name="add_document",
                              concurrency_limit=1, concurrency_id="library")
            gr.api(api_remove, api_name="remove_document", concurrency_limit=1,
                   concurrency_id="library")

        gr.api(api_ask, api_name="ask")
        gr.api(api_compare, api_name="compare")
        gr.api(api_sections, api_name="sections")
        gr.api(api_documents, api_name="documents")
        gr.api(api_status, api_name="status", queue=False)
    return demo


def _everything(doc_value: str, several: bool) -> tuple[str, str]:
    """The first choice of the section list: the whole report, the chosen document, or all."""
    if doc_value:
        return ("Whole document", "")
    return ("All sections", "") if several else ALL_SECTIONS


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:g} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"


def _removed_sources() -> str:
    return ('<div class="ra-empty">This answer cites a document that has since been removed, '
            "so its passages cannot be shown.</div>")


def upload_cap(uploads: bool, limits: Limits | None = None) -> int | str:
    """The largest file Gradio's /upload route takes: the library's limit, or a trickle."""
    if not uploads:
        return CLOSED_UPLOAD_CAP
    return (limits or Limits.from_env()).max_bytes


def launch_options(uploads: bool = False, limits: Limits | None = None) -> dict[str, Any]:
    """Options for ``Blocks.launch`` that keep the page offline and free of analytics."""
    return {
        "css": render.CSS,
        "theme": gr.themes.Default(primary_hue="blue"),
        "share": False,
        "ssr_mode": False,
        "mcp_server": False,
        "show_error": False,
        "footer_links": ["api"],
        # Gradio's /upload route is open whether or not the page takes files
        # (it stored a 5 MB upload before a cap was set): capped at the
        # library's own size limit when documents may be added, else 1 KB.
        "max_file_size": upload_cap(uploads, limits),
    }
