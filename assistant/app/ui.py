"""The Gradio page: one gr.Blocks with Ask, Compare and Browse tabs, and the API.

The event functions here only adapt: they fetch the shared Assistant from the
Engine, call ``handlers``, and turn an ``AssistantError`` into an inline
message (page) or a ``gr.Error`` (API), so a reader never sees a stack trace.

API endpoints (for ``gradio_client``), all returning JSON:

* ``/ask``      (question, section="", previous="") -> the answer, ``abstained``,
  ``citations`` (each with section, section_path, pages, page_label, citation,
  text), or ``closest`` passages when the report does not answer;
* ``/compare``  (topic, section="") -> ``rows``: section, pages and passages;
* ``/sections`` () -> the Table of Contents with pages;
* ``/status``   () -> whether the index is ready, and the build's progress.
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
ALL_SECTIONS = ("Whole report", "")


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


def build(engine: Engine) -> gr.Blocks:
    """The page, wired to ``engine`` (which may still be loading)."""

    def assistant(progress: gr.Progress | None = None):
        tick = None
        if progress is not None and not engine.ready:
            def tick(stage: str, fraction: float) -> None:
                progress(fraction, desc=f"Preparing the report index: {stage}")
        return engine.wait(WAIT_FOR_INDEX, tick)

    # -- status and section lists ----------------------------------------------------
    def refresh(turns: list[dict[str, Any]]):
        status = handlers.status_markdown(engine)
        if not engine.ready:
            # Keep polling while loading; stop once it has failed (the status says why).
            keep = gr.Timer(active=not engine.finished)
            return status, gr.skip(), gr.skip(), gr.skip(), keep
        a = engine.assistant
        choices = handlers.section_choices(a)
        # The whole report's map is the empty state; an answer already shown keeps its own.
        overview_map = gr.skip() if turns else handlers.report_map(a)
        return (status,
                gr.Dropdown(choices=[ALL_SECTIONS, *choices]),
                gr.Dropdown(choices=choices, value=choices[0][1] if choices else None),
                overview_map,
                gr.Timer(active=False))

    # -- ask --------------------------------------------------------------------
    def _answer(question: str, section: str, turns: list[dict[str, Any]],
                progress: gr.Progress | None):
        try:
            a = assistant(progress)
            payload = handlers.ask(a, question, section, [t["asked"] for t in turns])
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

    def on_ask(question: str, section: str, turns: list[dict[str, Any]],
               progress: gr.Progress = gr.Progress()):  # noqa: B008 (Gradio's injection idiom)
        return _answer(question, section, turns, progress)

    def on_example(evt: gr.SelectData, section: str, turns: list[dict[str, Any]],
                   progress: gr.Progress = gr.Progress()):  # noqa: B008
        value = evt.value if isinstance(evt.value, dict) else {"text": str(evt.value)}
        return _answer(str(value.get("text", "")), section, turns, progress)

    def on_select(evt: gr.SelectData, turns: list[dict[str, Any]]):
        """Clicking an earlier message shows that answer's sources again."""
        index = evt.index if isinstance(evt.index, int) else (evt.index or [0])[0]
        i = int(index) // 2
        if not engine.ready or not 0 <= i < len(turns):
            return gr.skip(), gr.skip(), gr.skip()
        view = handlers.chat_view(engine.assistant, turns[i]["payload"])
        return view["sources"], view["map"], view["export"]

    def on_clear():
        empty_map = handlers.report_map(engine.assistant) if engine.ready else ""
        return ([], [], "", render.empty_sources_html(), empty_map, "",
                gr.DownloadButton(value=None, interactive=False), "")

    # -- compare and browse -------------------------------------------------------------
    def on_compare(topic: str, progress: gr.Progress = gr.Progress()):  # noqa: B008
        try:
            a = assistant(progress)
            payload = handlers.compare(a, topic)
        except AssistantError as exc:
            return _warn(str(exc)), gr.skip(), gr.skip()
        view = handlers.compare_view(a, payload)
        return view["message"], view["map"], view["table"]

    def on_read(title: str):
        try:
            view = handlers.read_section(assistant(), title)
        except AssistantError as exc:
            return _warn(str(exc)), ""
        return view["html"], view["map"]

    def on_ask_in(title: str):
        return gr.Dropdown(value=title or ""), gr.Tabs(selected="ask")

    # -- the API ------------------------------------------------------------------
    def api_ask(question: str, section: str = "", previous: str = "") -> dict:
        """Answer a question about the report, with cited passages (section and pages).

        ``section`` limits the search to one section (its title, as listed by
        /sections); ``previous`` is an earlier question, so that a short
        follow-up such as "and what about energy?" is read against it.
        """
        try:
            history = [previous] if previous else []
            return handlers.ask(assistant(), question, section, history)
        except AssistantError as exc:
            raise gr.Error(str(exc)) from None

    def api_compare(topic: str, section: str = "") -> dict:
        """What each section of the report says about a topic, most relevant first."""
        try:
            return handlers.compare(assistant(), topic, section)
        except AssistantError as exc:
            raise gr.Error(str(exc)) from None

    def api_sections() -> list:
        """The report's sections (Table of Contents) with their pages."""
        try:
            return handlers.section_list(assistant())
        except AssistantError as exc:
            raise gr.Error(str(exc)) from None

    def api_status() -> dict:
        """Whether the index is ready, or how far its preparation has come."""
        return engine.status()

    # -- layout -------------------------------------------------------------------
    with gr.Blocks(title="Report assistant: U.S.-Mexico Forum 2025", analytics_enabled=False,
                   delete_cache=(3600, 86400)) as demo:
        gr.Markdown(
            "# Ask the report: *U.S.-Mexico Forum 2025: Report 2022*\n"
            "Answers quote the report's own sentences and cite each by section and page.",
            elem_id="ra-title")
        status = gr.Markdown(handlers.status_markdown(engine), elem_id="ra-status")
        timer = gr.Timer(1.0, active=not engine.finished)
        turns = gr.State([])

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
                            "side by side, each with its most relevant passage and page.")
                with gr.Row():
                    topic = gr.Textbox(placeholder="A topic, e.g. energy", show_label=False,
                                       scale=5, elem_id="ra-topic")
                    compare_btn = gr.Button("Compare", variant="primary", scale=1,
                                            elem_id="ra-compare")
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

        # -- wiring ------------------------------------------------------------------
        ask_outputs = [chatbot, turns, question, sources, answer_map, export, download, message]
        for trigger in (question.submit, ask_btn.click):
            trigger(on_ask, [question, section, turns], ask_outputs,
                    api_visibility="private", show_progress_on=[chatbot])
        chatbot.example_select(on_example, [section, turns], ask_outputs,
                               api_visibility="private", show_progress_on=[chatbot])
        chatbot.select(on_select, [turns], [sources, answer_map, export],
                       api_visibility="private")
        clear_btn.click(on_clear, None, ask_outputs, api_visibility="private")
        # The chat's own bin icon clears the conversation the same way.
        chatbot.clear(on_clear, None, ask_outputs, api_visibility="private")
        for trigger in (topic.submit, compare_btn.click):
            trigger(on_compare, [topic], [compare_msg, compare_map, table],
                    api_visibility="private", show_progress_on=[table])
        browse_section.change(on_read, [browse_section], [reader, reader_map],
                              api_visibility="private")
        ask_in_btn.click(on_ask_in, [browse_section], [section, tabs],
                         api_visibility="private")
        refresh_outputs = [status, section, browse_section, answer_map, timer]
        timer.tick(refresh, [turns], refresh_outputs, api_visibility="private",
                   show_progress="hidden")
        demo.load(refresh, [turns], refresh_outputs, api_visibility="private",
                  show_progress="hidden")

        gr.api(api_ask, api_name="ask")
        gr.api(api_compare, api_name="compare")
        gr.api(api_sections, api_name="sections")
        gr.api(api_status, api_name="status", queue=False)
    return demo


def launch_options() -> dict[str, Any]:
    """Options for ``Blocks.launch`` that keep the page offline and free of analytics."""
    return {
        "css": render.CSS,
        "theme": gr.themes.Default(primary_hue="blue"),
        "share": False,
        "ssr_mode": False,
        "mcp_server": False,
        "show_error": False,
        "footer_links": ["api"],
        # The page takes no files, but Gradio's /upload route is open all the
        # same (it stored a 5 MB upload before this cap); keep it to a trickle.
        "max_file_size": "1kb",
    }
