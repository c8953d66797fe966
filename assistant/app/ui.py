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

import functools
import hashlib
import os
import re
import secrets
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")

import gradio as gr  # after the setting above, which it reads at import

from assistant.app import handlers, render, words
from assistant.app.engine import Engine
from assistant.config import Config
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

# The page's own words, in the browser's language (English or Spanish: words.py).
T = gr.I18n(**words.PAGE)
# Seconds between checks for a library change made in another browser tab;
# while the index is first prepared the page checks every second.
LIBRARY_POLL = 10.0
# Gradio's /upload route is open whatever the page does; with uploads off it
# takes no more than this.
CLOSED_UPLOAD_CAP = "1kb"
# The conversation is kept in the reader's browser (localStorage), never on the
# server; this many answers at most, the oldest dropped first.
KEEP_TURNS = 40
STORAGE_KEY = "report-assistant-conversation"
# The key BrowserState encrypts the kept conversation with. Gradio draws a new
# random one each start unless given one, and a conversation kept under the old
# key no longer decrypts: a restart would lose every reader's conversation.
# So one is drawn once and kept beside the index. It is sent to every browser
# in the page's config (the encryption happens there), so it guards nothing
# on the server; it only has to stay the same across restarts.
SECRET_FILE = "browser-state.key"
STATIC = Path(__file__).with_name("static")


def browser_secret(index_dir: Path) -> str | None:
    """The kept key for the browser's conversation store, drawn on first use.

    None (Gradio then draws its own, as before) when the index folder cannot
    be written: the page works, only a restart forgets kept conversations.
    """
    path = Path(index_dir) / SECRET_FILE
    try:
        key = path.read_text(encoding="ascii").strip()
        if len(key) >= 32:
            return key
    except (OSError, UnicodeDecodeError):
        pass
    key = secrets.token_urlsafe(32)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{SECRET_FILE}.{os.getpid()}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(key)
        # Two processes starting together: the first link wins and both read it.
        try:
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
        return path.read_text(encoding="ascii").strip()
    except OSError:
        return None


def _export_file(text: str, name: str, suffix: str = ".md") -> str:
    """Save an export where Gradio may serve it (the system temp folder)."""
    digest = hashlib.sha256(text.encode()).hexdigest()[:16]
    folder = Path(tempfile.gettempdir()) / "report-assistant-exports" / digest
    folder.mkdir(parents=True, exist_ok=True)
    slug = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:40] or "answer"
    path = folder / f"{slug}{suffix}"
    if not path.exists():
        path.write_text(text, encoding="utf-8")
    return str(path)


def _warn(text: str) -> str:
    return f"⚠ {render.md_text(text[:1].upper() + text[1:])}"


# -- the one shared engine, set by build() ----------------------------------------------
# Handlers are module functions (the Gradio demo shape); what they share is
# the engine and the server's upload settings, fixed when the page is built.
_PAGE: dict[str, Any] = {}


def _engine() -> Engine:
    return _PAGE["engine"]


def _assistant(progress: gr.Progress | None = None):
    engine = _engine()
    tick = None
    if progress is not None and not engine.ready:
        def tick(stage: str, fraction: float) -> None:
            progress(fraction, desc=f"Preparing the report index: {stage}")
    return engine.wait(WAIT_FOR_INDEX, tick)


# -- the one place library errors become what a reader sees ----------------------------------

def page_errors(outputs: int, message_at: int) -> Callable:
    """Wrap a page handler: an AssistantError becomes a warning in output ``message_at``
    (of ``outputs``), every other output left as it is, so nothing typed or shown is lost."""
    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def run(*args: Any, **kwargs: Any) -> Any:
            try:
                return fn(*args, **kwargs)
            except AssistantError as exc:
                out: list[Any] = [gr.skip()] * outputs
                out[message_at] = _warn(str(exc))
                return tuple(out) if outputs > 1 else out[0]
        return run
    return wrap


def api_errors(fn: Callable) -> Callable:
    """Wrap an API function: an AssistantError becomes a gr.Error with its message."""
    @functools.wraps(fn)
    def run(*args: Any, **kwargs: Any) -> Any:
        try:
            return fn(*args, **kwargs)
        except AssistantError as exc:
            raise gr.Error(str(exc), print_exception=False) from None
    return run


# -- the conversation (kept in the browser) ------------------------------------------------

def _messages(turns: list[dict[str, Any]]) -> list[dict[str, str]]:
    msgs = []
    for i, payload in enumerate(turns):
        msgs.append({"role": "user", "content": render.question_markdown(payload["question"])})
        msgs.append({"role": "assistant", "content": render.answer_markdown(payload, i)})
    return msgs


def _valid_turns(turns: Any) -> list[dict[str, Any]]:
    """What the browser kept, as a list of answer payloads; anything else is dropped."""
    if not isinstance(turns, list):
        return []
    keys = {"question", "answer", "abstained", "sentences", "citations"}
    return [t for t in turns if isinstance(t, dict) and keys <= t.keys()][-KEEP_TURNS:]


def _turn_view(turns: list[dict[str, Any]], i: int) -> tuple:
    """Sources, map, export text, download and selection for answer ``i``."""
    try:
        view = handlers.chat_view(_engine().assistant, turns[i], i)
    except KeyError:
        # The answer cites a document removed since; its passages cannot be drawn.
        return (_removed_sources(), gr.skip(), gr.skip(),
                gr.DownloadButton(value=None, interactive=False), i)
    path = _export_file(view["export"], turns[i]["question"])
    return (view["sources"], view["map"], view["export"],
            gr.DownloadButton(value=path, interactive=True), i)


def _empty_view() -> tuple:
    empty_map = handlers.report_map(_engine().assistant) if _engine().ready else ""
    return (render.empty_sources_html(), empty_map, "",
            gr.DownloadButton(value=None, interactive=False), -1)


# ask outputs: chatbot, turns, question, sources, answer_map, export, download, selected, message
ASK_OUTPUTS = 9


def _speak(request: gr.Request | None) -> None:
    """Write this request's server-built text in the reader's language (Accept-Language)."""
    header = request.headers.get("accept-language", "") if request is not None else ""
    words.use(words.language_of(header))


def _answer(question: str, section_value: str, doc_value: str, turns: Any,
            progress: gr.Progress | None):
    turns = _valid_turns(turns)
    a = _assistant(progress)
    payload = handlers.ask(a, question, section_value, [t["question"] for t in turns],
                           doc=doc_value)
    turns = [*turns, payload][-KEEP_TURNS:]
    return (_messages(turns), turns, "", *_turn_view(turns, len(turns) - 1), "")


@page_errors(ASK_OUTPUTS, message_at=ASK_OUTPUTS - 1)
def on_ask(question: str, section_value: str, doc_value: str, turns: Any,
           request: gr.Request,
           progress: gr.Progress = gr.Progress()):  # noqa: B008 (Gradio's injection idiom)
    _speak(request)
    return _answer(question, section_value, doc_value, turns, progress)


@page_errors(ASK_OUTPUTS, message_at=ASK_OUTPUTS - 1)
def on_example(evt: gr.SelectData, section_value: str, doc_value: str, turns: Any,
               request: gr.Request,
               progress: gr.Progress = gr.Progress()):  # noqa: B008
    _speak(request)
    value = evt.value if isinstance(evt.value, dict) else {"text": str(evt.value)}
    return _answer(str(value.get("text", "")), section_value, doc_value, turns, progress)


def on_select(evt: gr.SelectData, turns: Any, request: gr.Request):
    """Clicking an earlier message shows that answer's sources, map and download."""
    _speak(request)
    turns = _valid_turns(turns)
    index = evt.index if isinstance(evt.index, int) else (evt.index or [0])[0]
    i = int(index) // 2
    if not _engine().ready or not 0 <= i < len(turns):
        return (gr.skip(),) * 5
    return _turn_view(turns, i)


def on_clear(request: gr.Request):
    """Forget the conversation, in this browser too."""
    _speak(request)
    return ([], [], "", *_empty_view(), "")


def on_restore(turns: Any, request: gr.Request):
    """On load: the conversation this browser kept, its latest answer's sources shown.

    Right after a restart the index may still be loading: the conversation is
    shown at once and its sources once the index is there.
    """
    _speak(request)
    turns = _valid_turns(turns)
    if not turns:
        yield (gr.skip(),) * 6
        return
    if not _engine().ready:
        yield (_messages(turns), *(gr.skip(),) * 5)
        try:
            _engine().wait(WAIT_FOR_INDEX)
        except AssistantError:
            return  # the status line says why; the conversation stays shown
    # Each step of a generator may run in another worker: the language again.
    _speak(request)
    yield (_messages(turns), *_turn_view(turns, len(turns) - 1))


# -- lists drawn from the documents -------------------------------------------------------

def _lists(a, doc_value: str, section_value: str, browse_value: str) -> tuple:
    """Every list that depends on which documents are loaded, keeping valid choices.

    In LIST_OUTPUTS order: section, doc, compare_by, browse_section, docs_list,
    contents, status, seen (and remove_doc with uploads).
    """
    engine = _engine()
    docs = handlers.doc_choices(a)
    several = len(docs) > 1
    doc_value = doc_value if doc_value in {v for _, v in docs} else ""
    sections = handlers.section_choices(a, doc_value or None)
    section_value = section_value if section_value in {v for _, v in sections} else ""
    browse = handlers.browse_choices(a)
    if browse_value not in {v for _, v in browse}:
        browse_value = browse[0][1] if browse else None
    rows = handlers.document_list(a)
    out = [
        gr.Dropdown(choices=[_everything(doc_value, several), *sections], value=section_value),
        gr.Dropdown(choices=[(words.say("all_documents"), ""), *docs], value=doc_value,
                    visible=several),
        gr.Radio(visible=several),
        gr.Dropdown(choices=browse, value=browse_value),
        render.documents_html(rows),
        handlers.contents_html(a),
        handlers.status_markdown(engine),
        engine.generation,
    ]
    if _PAGE["uploads"]:
        removable = [(r["title"], r["id"]) for r in rows if r["removable"]]
        out.append(gr.Dropdown(choices=removable, value=None, interactive=bool(removable)))
    return tuple(out)


def _list_count() -> int:
    return 9 if _PAGE["uploads"] else 8


def refresh(turns: Any, seen_generation: int, doc_value: str, section_value: str,
            browse_value: str, request: gr.Request):
    """Poll: the status while loading, then the lists whenever the library changed."""
    _speak(request)
    engine = _engine()
    n = _list_count()
    skip_lists = (gr.skip(),) * n
    if not engine.ready:
        # Keep polling while loading; stop once it has failed (the status says why).
        lists = list(skip_lists)
        lists[6] = handlers.status_markdown(engine)
        return (*lists, gr.skip(), gr.Timer(active=not engine.finished))
    # Once loaded, only a library change (from any tab) redraws the lists;
    # without uploads nothing can change, so polling stops.
    slow = gr.Timer(LIBRARY_POLL, active=_PAGE["uploads"])
    if seen_generation == engine.generation:
        return (*skip_lists, gr.skip(), slow)
    a = engine.assistant
    # The documents' map is the empty state; an answer already shown keeps its own.
    empty_map = gr.skip() if _valid_turns(turns) else handlers.report_map(a)
    return (*_lists(a, doc_value, section_value, browse_value), empty_map, slow)


def on_doc_change(doc_value: str, section_value: str, request: gr.Request):
    """Choosing a document narrows the section list to that document's sections."""
    _speak(request)
    engine = _engine()
    if not engine.ready:
        return gr.skip()
    sections = handlers.section_choices(engine.assistant, doc_value or None)
    keep = section_value if section_value in {v for _, v in sections} else ""
    several = len(engine.assistant.documents) > 1
    return gr.Dropdown(choices=[_everything(doc_value, several), *sections], value=keep)


# -- compare -------------------------------------------------------------------------------

def _compare_outputs(payload: dict[str, Any], order: str) -> tuple:
    """Table, Markdown and CSV downloads for a comparison in the reader's order."""
    a = _engine().assistant
    view = handlers.compare_view(a, payload, order)
    if payload["abstained"] or not payload["rows"]:
        off = gr.DownloadButton(value=None, interactive=False)
        return view["html"], off, off
    name = f"compare-{payload['topic']}"
    md = _export_file(render.compare_export_markdown(payload, order), name)
    csv = _export_file(render.compare_csv(payload, order), name, ".csv")
    return (view["html"], gr.DownloadButton(value=md, interactive=True),
            gr.DownloadButton(value=csv, interactive=True))


@page_errors(7, message_at=0)
def on_compare(topic_text: str, by: str, order: str,
               progress: gr.Progress = gr.Progress()):  # noqa: B008
    a = _assistant(progress)
    payload = handlers.compare(a, topic_text, by=by or "section")
    view = handlers.compare_view(a, payload, order)
    return (view["message"], view["map"], view["chart"], payload,
            *_compare_outputs(payload, order))


def on_order(order: str, payload: dict[str, Any] | None):
    """Re-sort the table already shown: by strength or in report order."""
    if not payload or not _engine().ready:
        return (gr.skip(),) * 3
    try:
        return _compare_outputs(payload, order)
    except KeyError:  # a document of the comparison was removed since
        return (gr.skip(),) * 3


# -- browse --------------------------------------------------------------------------------

@page_errors(2, message_at=0)
def on_read(key: str):
    view = handlers.read_section(_assistant(), key)
    return view["html"], view["map"]


@page_errors(4, message_at=3)
def on_ask_in(key: str, request: gr.Request):
    _speak(request)
    a = _assistant()
    d, s = handlers.find_section(a, key)
    doc_value = d.id if len(a.documents) > 1 else ""
    sections = handlers.section_choices(a, doc_value or None)
    return (gr.Dropdown(choices=[_everything(doc_value, len(a.documents) > 1), *sections],
                        value=s.title),
            gr.Dropdown(value=doc_value), gr.Tabs(selected="ask"), "")


# -- the document library --------------------------------------------------------------------

def _library_tick(progress: gr.Progress, what: str):
    def tick(stage: str, fraction: float) -> None:
        progress(fraction, desc=f"{what}: {stage}")
    return tick


def _after_library_change(doc_value: str, section_value: str, browse_value: str,
                          turns: Any, message: str) -> tuple:
    a = _engine().assistant
    empty_map = gr.skip() if _valid_turns(turns) else handlers.report_map(a)
    return (*_lists(a, doc_value, section_value, browse_value), message, empty_map)


def on_add(files: list[str] | None, doc_value: str, section_value: str, browse_value: str,
           turns: Any, request: gr.Request,
           progress: gr.Progress = gr.Progress()):  # noqa: B008
    _speak(request)
    n = _list_count() + 3  # lists, message, map, upload
    skip = [gr.skip()] * n
    if not files:
        skip[-3] = _warn("choose a file to add first")
        return tuple(skip)
    try:
        _assistant(progress)
        results = _engine().add_documents([str(f) for f in files], _PAGE["limits"],
                                          _library_tick(progress, "Adding to the library"))
    except AssistantError as exc:
        skip[-3] = _warn(str(exc))
        return tuple(skip)
    return (*_after_library_change(doc_value, section_value, browse_value, turns,
                                   render.library_markdown(results)), None)


def on_remove(doc_id: str, doc_value: str, section_value: str, browse_value: str,
              turns: Any, request: gr.Request,
              progress: gr.Progress = gr.Progress()):  # noqa: B008
    _speak(request)
    try:
        _assistant(progress)
        gone = _engine().remove_document(doc_id, _library_tick(progress, "Removing"))
    except AssistantError as exc:
        skip = [gr.skip()] * (_list_count() + 2)
        skip[-2] = _warn(str(exc))
        return tuple(skip)
    return _after_library_change(
        doc_value, section_value, browse_value, turns,
        f"**Removed** *{render.md_text(str(gone['title']))}*; it is no longer searched.")


# -- the API -----------------------------------------------------------------------------------

@api_errors
def api_ask(question: str, section: str = "", previous: str = "", doc: str = "") -> dict:
    """Answer a question about the report, with cited passages (section and pages).

    ``section`` limits the search to one section (its title, as listed by
    /sections); ``previous`` is an earlier question, so that a short
    follow-up such as "and what about energy?" is read against it;
    ``doc`` limits it to one document (its id or title, as listed by /documents).
    """
    history = [previous] if previous else []
    return handlers.ask(_assistant(), question, section, history, doc=doc)


@api_errors
def api_compare(topic: str, section: str = "", by: str = "section", doc: str = "") -> dict:
    """What each section of the report (``by="document"``: each document) says about a
    topic, most relevant first; ``doc`` limits it to one document. Each row gives its
    ``position`` in its own sentences, its ``strength`` and its reading ``order``."""
    return handlers.compare(_assistant(), topic, section, by=by, doc=doc)


@api_errors
def api_sections() -> list:
    """The report's sections (Table of Contents) with their pages."""
    return handlers.section_list(_assistant())


@api_errors
def api_documents() -> list:
    """The documents searched: id, title, pages, passages, and whether they can be removed."""
    return handlers.document_list(_assistant())


def api_status() -> dict:
    """Whether the index is ready, or how far its preparation has come."""
    return _engine().status()


@api_errors
def api_add(file: str | None) -> dict:
    """Add one document (PDF, Markdown, plain text or HTML) and index it.

    Returns its id, title, pages and passages; a rejected file (type,
    size, unreadable) is an error saying why, and nothing is changed.
    """
    if not file:
        raise gr.Error("no file was given", print_exception=False)
    _assistant()
    result = _engine().add_documents([str(file)], _PAGE["limits"])[0]
    if result["status"] == "error":
        raise gr.Error(str(result["message"]), print_exception=False)
    return result


@api_errors
def api_remove(doc_id: str) -> dict:
    """Remove a document that was added through the library (by its id)."""
    _assistant()
    return _engine().remove_document(doc_id)


def build(engine: Engine, uploads: bool = False, limits: Limits | None = None) -> gr.Blocks:
    """The page, wired to ``engine`` (which may still be loading).

    With ``uploads`` the Documents tab can add and remove documents, and the
    API gets /add_document and /remove_document; ``limits`` are the
    library's size and type limits (from the environment by default).
    """
    _PAGE.update(engine=engine, uploads=uploads, limits=limits or Limits.from_env())
    return layout()


def layout() -> gr.Blocks:
    """The page's components and their events, in one place."""
    engine, uploads, limits = _engine(), _PAGE["uploads"], _PAGE["limits"]
    with gr.Blocks(title="Report assistant: U.S.-Mexico Forum 2025", analytics_enabled=False,
                   delete_cache=(3600, 86400)) as demo:
        gr.Markdown(T("title"), elem_id="ra-title")
        status = gr.Markdown(handlers.status_markdown(engine), elem_id="ra-status")
        timer = gr.Timer(1.0, active=not engine.finished or uploads)
        # The conversation lives in this browser's localStorage, not on the server.
        turns = gr.BrowserState([], storage_key=STORAGE_KEY,
                                secret=browser_secret((engine.cfg or Config.from_env()).index_dir))
        selected = gr.State(-1)  # the answer whose sources and download are shown
        # The engine generation the page's lists were drawn from.
        seen = gr.State(0)
        compared = gr.State(None)  # the comparison shown, for re-sorting and export

        with gr.Tabs(selected="ask") as tabs:
            with gr.Tab(T("tab_ask"), id="ask", elem_id="ra-tab-ask"), gr.Row(equal_height=False):
                with gr.Column(scale=1, min_width=300):
                    chatbot = gr.Chatbot(
                        label=T("conversation"), height=560, elem_id="ra-chat",
                        placeholder=T("chat_placeholder"), latex_delimiters=[],
                        examples=[{"text": q} for q in EXAMPLE_QUESTIONS],
                        feedback_options=None, buttons=["copy"])
                    with gr.Row():
                        question = gr.Textbox(
                            placeholder=T("question_placeholder"),
                            show_label=False, scale=5, lines=1, max_lines=6,
                            elem_id="ra-question")
                        ask_btn = gr.Button(T("ask"), variant="primary", scale=1,
                                            elem_id="ra-ask")
                    message = gr.Markdown(elem_id="ra-message")
                    with gr.Row():
                        doc = gr.Dropdown(
                            choices=[(words.say("all_documents"), "")], value="",
                            label=T("document"),
                            info=T("document_info"), scale=3, visible=False,
                            elem_id="ra-doc")
                        section = gr.Dropdown(
                            choices=[(words.say("whole_report"), "")], value="",
                            label=T("search_in"),
                            info=T("search_in_info"),
                            scale=4, elem_id="ra-section")
                        clear_btn = gr.Button(T("clear"), scale=1, size="md",
                                              elem_id="ra-clear")
                with gr.Column(scale=1, min_width=300):
                    sources = gr.HTML(render.empty_sources_html(), elem_id="ra-sources")
                    with gr.Accordion(T("where"), open=True,
                                      elem_id="ra-map-box"):
                        answer_map = gr.HTML("", elem_id="ra-answer-map")
                    with gr.Accordion(T("export_box"), open=False,
                                      elem_id="ra-export-box"):
                        export = gr.Code("", language="markdown", interactive=False,
                                         label=T("export_label"), wrap_lines=True,
                                         show_line_numbers=False, buttons=["copy"],
                                         elem_id="ra-export")
                        download = gr.DownloadButton(T("download"),
                                                     interactive=False, size="sm",
                                                     elem_id="ra-download")

            with gr.Tab(T("tab_compare"), id="compare", elem_id="ra-tab-compare"):
                gr.Markdown(T("compare_intro"))
                with gr.Row():
                    topic = gr.Textbox(placeholder=T("topic_placeholder"), show_label=False,
                                       scale=5, elem_id="ra-topic")
                    compare_btn = gr.Button(T("compare"), variant="primary", scale=1,
                                            elem_id="ra-compare")
                with gr.Row():
                    compare_by = gr.Radio([("Sections", "section"), ("Documents", "document")],
                                          value="section", label=T("compare_by"), visible=False,
                                          elem_id="ra-compare-by")
                    order = gr.Radio([("Strongest first", "strength"),
                                      ("Report order", "report")],
                                     value="strength", label=T("order_rows"),
                                     elem_id="ra-compare-order")
                gr.Examples([[t] for t in EXAMPLE_TOPICS], inputs=topic, label=T("example_topics"))
                compare_msg = gr.Markdown(elem_id="ra-compare-message")
                with gr.Row(equal_height=False):
                    with gr.Column(scale=3, min_width=300):
                        table = gr.HTML("", elem_id="ra-compare-table")
                        with gr.Row():
                            cmp_md = gr.DownloadButton(T("export_md"), interactive=False,
                                                       size="sm", elem_id="ra-compare-md")
                            cmp_csv = gr.DownloadButton(T("export_csv"), interactive=False,
                                                        size="sm", elem_id="ra-compare-csv")
                    with gr.Column(scale=2, min_width=280):
                        compare_chart = gr.HTML("", elem_id="ra-compare-chart")
                        compare_map = gr.HTML("", elem_id="ra-compare-map")

            with gr.Tab(T("tab_browse"), id="browse", elem_id="ra-tab-browse"):
                gr.Markdown(T("browse_intro"))
                contents = gr.HTML("", elem_id="ra-contents")
                with gr.Row():
                    browse_section = gr.Dropdown(choices=[], label=T("section"), scale=4,
                                                 elem_id="ra-browse-section")
                    ask_in_btn = gr.Button(T("ask_in"), scale=1,
                                           elem_id="ra-ask-in")
                reader_map = gr.HTML("", elem_id="ra-reader-map")
                reader = gr.HTML("", elem_id="ra-reader")

            with gr.Tab(T("tab_docs"), id="docs", elem_id="ra-tab-docs"):
                gr.Markdown(T("docs_intro"))
                docs_list = gr.HTML("", elem_id="ra-docs")
                if uploads:
                    upload = gr.File(
                        label=(f"Add documents ({', '.join(limits.allowed())}; up to "
                               f"{_size(limits.max_bytes)} and {limits.max_pages} pages each)"),
                        file_count="multiple", file_types=list(limits.allowed()),
                        elem_id="ra-upload")
                    add_btn = gr.Button(T("add"), variant="primary",
                                        elem_id="ra-add")
                    library_msg = gr.Markdown(elem_id="ra-library-message")
                    with gr.Row():
                        remove_doc = gr.Dropdown(
                            choices=[], value=None, label=T("remove_doc"),
                            info=T("remove_info"),
                            scale=4, elem_id="ra-remove-doc")
                        remove_btn = gr.Button(T("remove"), variant="stop", scale=1,
                                               elem_id="ra-remove")
                    # The API's way in: a file component and a result no one sees.
                    api_file = gr.File(visible=False, file_count="single")
                    api_result = gr.JSON(visible=False)
                    api_add_btn = gr.Button(visible=False)
                else:
                    gr.Markdown(T("uploads_off"), elem_id="ra-uploads-off")

        # -- events ---------------------------------------------------------------------
        ask_outputs = [chatbot, turns, question, sources, answer_map, export, download,
                       selected, message]
        view_outputs = [sources, answer_map, export, download, selected]
        for trigger in (question.submit, ask_btn.click):
            trigger(on_ask, [question, section, doc, turns], ask_outputs,
                    api_visibility="private", show_progress_on=[chatbot])
        chatbot.example_select(on_example, [section, doc, turns], ask_outputs,
                               api_visibility="private", show_progress_on=[chatbot])
        chatbot.select(on_select, [turns], view_outputs, api_visibility="private")
        clear_btn.click(on_clear, None, ask_outputs, api_visibility="private")
        # The chat's own bin icon clears the conversation the same way.
        chatbot.clear(on_clear, None, ask_outputs, api_visibility="private")
        doc.change(on_doc_change, [doc, section], [section], api_visibility="private",
                   show_progress="hidden")
        for trigger in (topic.submit, compare_btn.click):
            trigger(on_compare, [topic, compare_by, order],
                    [compare_msg, compare_map, compare_chart, compared, table, cmp_md, cmp_csv],
                    api_visibility="private", show_progress_on=[table])
        order.change(on_order, [order, compared], [table, cmp_md, cmp_csv],
                     api_visibility="private", show_progress="hidden")
        browse_section.change(on_read, [browse_section], [reader, reader_map],
                              api_visibility="private")
        ask_in_btn.click(on_ask_in, [browse_section], [section, doc, tabs, message],
                         api_visibility="private")
        list_outputs = [section, doc, compare_by, browse_section, docs_list, contents, status,
                        seen]
        if uploads:
            list_outputs.append(remove_doc)
        refresh_outputs = [*list_outputs, answer_map, timer]
        refresh_inputs = [turns, seen, doc, section, browse_section]
        timer.tick(refresh, refresh_inputs, refresh_outputs, api_visibility="private",
                   show_progress="hidden")
        demo.load(refresh, refresh_inputs, refresh_outputs, api_visibility="private",
                  show_progress="hidden")
        demo.load(on_restore, [turns], [chatbot, *view_outputs], api_visibility="private",
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
        return (words.say("whole_document"), "")
    return (words.say("all_sections" if several else "whole_report"), "")


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:g} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"


def _removed_sources() -> str:
    return f'<div class="ra-empty">{render.esc(words.say("removed"))}</div>'


def upload_cap(uploads: bool, limits: Limits | None = None) -> int | str:
    """The largest file Gradio's /upload route takes: the library's limit, or a trickle."""
    if not uploads:
        return CLOSED_UPLOAD_CAP
    return (limits or Limits.from_env()).max_bytes


def theme() -> gr.themes.Base:
    """Gradio's default theme with its light-mode greys and blues darkened to WCAG AA (4.5:1):
    its subdued text (#bbbbc2 on white, 1.9:1) and the primary button (#3b82f6, 3.7:1)
    were below it (the selected tab: render.CSS). Dark mode keeps Gradio's own values."""
    return gr.themes.Default(primary_hue="blue").set(
        body_text_color_subdued="*neutral_600",
        button_primary_background_fill="*primary_700",
        button_primary_background_fill_hover="*primary_800",
        button_primary_text_color="white",
        button_cancel_background_fill="#b91c1c",  # "Remove": #ef4444 was 3.8:1 with white
        button_cancel_background_fill_hover="#991b1b",
        button_cancel_text_color="white",
    )


def page_head() -> str:
    """The page's own script (citation links and tooltips), inlined in <head>."""
    return f"<script>{(STATIC / 'page.js').read_text(encoding='utf-8')}</script>"


def launch_options(uploads: bool = False, limits: Limits | None = None) -> dict[str, Any]:
    """Options for ``Blocks.launch`` that keep the page offline and free of analytics."""
    return {
        "css": render.CSS,
        "head": page_head(),
        "theme": theme(),
        "share": False,
        "ssr_mode": False,
        "mcp_server": False,
        "show_error": False,
        "footer_links": ["api"],
        "i18n": T,
        # Gradio's /upload route is open whether or not the page takes files
        # (it stored a 5 MB upload before a cap was set): capped at the
        # library's own size limit when documents may be added, else 1 KB.
        "max_file_size": upload_cap(uploads, limits),
    }
