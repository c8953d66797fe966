"""The app's safety: escaping everywhere report or reader text is shown, binding, uploads.

What test_app_handlers.py and test_app_browser.py already check is not repeated
(the escaping helpers on a handful of strings, injected questions and a hostile
document in the browser's chat, sources and reader, loopback binding, the
refusal of a public host without login). This file adds:

* every render path of the app, fed by a real index of a corpus whose text and
  title are hostile, with the Markdown rendered by a real CommonMark renderer
  that allows raw HTML and every link scheme: nothing active comes out, and the
  hostile text is still shown, character for character;
* the Markdown export file: its name and folder cannot be steered by a question;
* serving settings: addresses that only look like loopback are refused;
* a document added through the engine with a hostile file name and title: the
  library message, the documents list, the status line, citations naming it and
  compare by document are inert and show its name as text;
* the running app: ``GRADIO_SERVER_NAME``/``GRADIO_SHARE`` in the environment do
  not widen it, Gradio's always-open upload route is capped at the library's
  size limit (1 KB when uploads are off, and off by default on an open host),
  /add_document takes only files uploaded through it, and the file route
  serves neither the index nor the source nor system files;
* in Chromium: the compare table (a Dataframe) and the section lists (Dropdowns)
  show hostile report text as text.
"""

from __future__ import annotations

import html
import json
import os
import re
import shutil
import tempfile
import threading
import urllib.error
import urllib.request
import uuid
from dataclasses import replace
from html.parser import HTMLParser
from pathlib import Path

import psutil
import pytest
from app_fixtures import start_app

from assistant.api import Assistant
from assistant.app import handlers, render
from assistant.app.engine import Engine
from assistant.app.settings import SettingsError, is_loopback, resolve
from assistant.config import Config
from assistant.errors import QueryError
from assistant.index import load_index
from assistant.library import Limits

HOSTILE = [
    "<img src=x onerror=alert('img')>",
    "<script>alert('script')</script>",
    "\"><svg onload=alert('svg')>",
    "[a link](javascript:alert('link'))",
    "<a href=\"javascript:alert('a')\">click</a>",
    "<iframe src=\"javascript:alert('iframe')\"></iframe>",
    "<style>body{display:none}</style>",
    "&lt;b&gt;entity&lt;/b&gt;",
    "<javascript:alert('autolink')>",
    "![pic](x\" onerror=\"alert('mdimg'))",
    "</textarea><script>alert('ta')</script>",
    "$\\href{javascript:alert('tex')}{x}$",
]
TITLE = "Notes <img src=x onerror=alert('title')> & <b>co</b>"
TOPICS = ["nearshoring", "energy", "water", "ports", "trade", "labor"]

_ACTIVE_TAGS = {"script", "img", "iframe", "object", "embed", "style", "link", "meta", "base",
                "form", "input", "textarea", "math", "video", "audio", "source", "frame"}
_URL_ATTRS = {"href", "src", "xlink:href", "action", "formaction", "data", "srcset"}
_BAD_SCHEMES = ("javascript:", "data:", "vbscript:")


class _Inert(HTMLParser):
    """Collects what a browser could run, and the text a reader would see."""

    def __init__(self, allowed: frozenset[str]) -> None:
        super().__init__(convert_charrefs=True)
        self.allowed = allowed
        self.active: list[str] = []
        self.text: list[str] = []

    def handle_starttag(self, tag, attrs):
        if tag in _ACTIVE_TAGS - self.allowed or (tag == "svg" and "svg" not in self.allowed):
            self.active.append(f"<{tag}>")
        for name, value in attrs:
            if name.startswith("on"):
                self.active.append(f"{tag}[{name}]")
            v = re.sub(r"[\s\x00-\x1f]", "", value or "").lower()
            if name in _URL_ATTRS and v.startswith(_BAD_SCHEMES):
                self.active.append(f"{tag}[{name}={value}]")

    handle_startendtag = handle_starttag

    def handle_data(self, data):
        self.text.append(data)


def inert(markup: str, allowed: frozenset[str] = frozenset()) -> str:
    """Assert nothing in ``markup`` can run; return its visible text (whitespace folded)."""
    p = _Inert(allowed)
    p.feed(markup)
    p.close()
    assert not p.active, f"active content {p.active} in {markup[:500]!r}"
    return " ".join("".join(p.text).split())


def markdown_html(text: str) -> str:
    """CommonMark as a permissive renderer would do it: raw HTML kept, any link allowed."""
    from markdown_it import MarkdownIt

    md = MarkdownIt("commonmark")
    md.validateLink = lambda url: True  # the app must not rely on the renderer's filter
    return md.render(text)


def shown(markdown: str) -> str:
    return inert(markdown_html(markdown))


def folded(text: str) -> str:
    return " ".join(text.split())


# --- a real index of a hostile corpus ------------------------------------------------------

def write_hostile_corpus(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    paragraphs = []
    for i, h in enumerate(HOSTILE):
        topic = TOPICS[i % len(TOPICS)]
        paragraphs.append(f"{topic.capitalize()} policy note {i}. The {topic} group wrote "
                          f"{h} in its minutes. {topic.capitalize()} cooperation needs "
                          f"roads, ports and people on both sides of the border.")
    pages = ["\n\n".join(paragraphs[i:i + 4]) for i in range(0, len(paragraphs), 4)]
    (folder / "notes.txt").write_text("\f".join(pages), encoding="utf-8")
    (folder / "notes.txt.meta.json").write_text(
        json.dumps({"title": TITLE}), encoding="utf-8")
    return folder


@pytest.fixture(scope="module")
def hostile_cfg(tmp_path_factory) -> Config:
    root = tmp_path_factory.mktemp("hostile")
    return Config.from_env(corpus_dir=write_hostile_corpus(root / "corpus"),
                           index_dir=root / "index")


@pytest.fixture(scope="module")
def hostile(hostile_cfg) -> Assistant:
    return Assistant.build(hostile_cfg, progress=lambda s, f: None)


def test_the_hostile_corpus_is_indexed_verbatim(hostile):
    text = hostile.documents[0].text
    assert all(h in text for h in HOSTILE)
    assert hostile.documents[0].title == TITLE


@pytest.mark.parametrize("topic", TOPICS)
def test_every_answer_view_is_inert_and_shows_the_report_text(hostile, topic):
    payload = handlers.ask(hostile, f"What did the {topic} group write in its minutes?")
    cites = payload["citations"] or payload["closest"]
    assert cites
    view = handlers.chat_view(hostile, payload)
    message = shown(view["message"])
    sources = inert(view["sources"])
    inert(view["map"], allowed=frozenset({"svg"}))
    # The hostile passages are shown as the characters the report holds.
    for c in cites:
        assert folded(c["text"]) in sources
    for s in payload["sentences"]:
        assert folded(s["text"]) in message
    assert TITLE in sources  # the section title, in each citation


def test_abstention_follow_up_section_and_note_views_are_inert(hostile):
    question = "What does the report say about " + HOSTILE[0] + " lunar mining?"
    views = [
        handlers.ask(hostile, question),  # likely an abstention with closest passages
        handlers.ask(hostile, "and what about " + HOSTILE[1], history=[question]),
        handlers.ask(hostile, "Who wrote about ports?", section=TITLE),
        handlers.ask(hostile, HOSTILE[2] + " nearshoring " * 400),  # cut, with a note
    ]
    for payload in views:
        view = handlers.chat_view(hostile, payload)
        text = shown(view["message"])
        inert(view["sources"])
        inert(view["map"], allowed=frozenset({"svg"}))
        if payload["follow_up"]:
            assert folded(payload["searched_as"]) in text
        if payload["section"]:
            assert f"Searched only in: {TITLE}" in text
        if payload["note"]:
            assert folded(payload["note"]) in text
    assert views[1]["follow_up"] and views[2]["section"] == TITLE and views[3]["note"]


@pytest.mark.parametrize("text", HOSTILE)
def test_the_reader_s_own_question_bubble_is_inert(text):
    assert shown(render.question_markdown(text)) == folded(text)


@pytest.mark.parametrize("topic", ["nearshoring", *HOSTILE[:3]])
def test_compare_views_are_inert(hostile, topic):
    payload = handlers.compare(hostile, topic)
    view = handlers.compare_view(hostile, payload)
    assert folded(topic) in shown(view["message"])
    inert(view["map"], allowed=frozenset({"svg"}))
    # The table's cells are plain strings for a gr.Dataframe of datatype "str"; the
    # browser test below checks Gradio shows them as text.
    for row in view["table"]:
        assert all(isinstance(cell, str) for cell in row)


def test_browse_status_and_error_messages_are_inert(hostile, hostile_cfg):
    from assistant.app.ui import _warn

    reader = handlers.read_section(hostile, TITLE)
    assert TITLE in inert(reader["html"])
    assert all(folded(h) in inert(reader["html"]) for h in HOSTILE)
    inert(reader["map"], allowed=frozenset({"svg"}))
    labels = [label for label, _ in handlers.section_choices(hostile)]
    assert any(TITLE in label for label in labels)
    engine = Engine(hostile_cfg)
    engine.assistant = hostile
    assert TITLE in shown(handlers.status_markdown(engine))
    engine = Engine(hostile_cfg)
    engine.error = HOSTILE[0] + HOSTILE[1]
    engine._done.set()
    assert folded(HOSTILE[0] + HOSTILE[1]) in shown(handlers.status_markdown(engine))
    # An unknown section is named back to the reader inside a warning.
    for value in HOSTILE[:4]:
        with pytest.raises(QueryError) as err:
            handlers.ask(hostile, "ports?", section=value)
        assert folded(repr(value)) in shown(_warn(str(err.value)))  # named as the engine quotes it


def test_skipped_files_on_the_status_line_are_inert(hostile, hostile_cfg):
    from assistant.parse import Skipped

    data = replace(hostile.data, skipped=[Skipped(HOSTILE[0] + ".pdf", HOSTILE[1]),
                                          Skipped("b.md", HOSTILE[2])])
    engine = Engine(hostile_cfg)
    engine.assistant = Assistant(data, hostile.embedder, hostile_cfg)
    text = shown(handlers.status_markdown(engine))
    assert "2 files in the corpus folder could not be read" in text
    for h in (HOSTILE[0], HOSTILE[1], HOSTILE[2]):
        assert folded(h) in text
    assert engine.status()["skipped"][0]["file"] == HOSTILE[0] + ".pdf"


def test_export_keeps_the_report_words_exactly(hostile):
    # The export is shown in a gr.Code box and saved as a .md file, never rendered by
    # the page, so it holds the report's own characters, unescaped.
    payload = handlers.ask(hostile, "What did the nearshoring group write in its minutes?")
    export = handlers.chat_view(hostile, payload)["export"]
    quoted = [c for c in payload["citations"] if c["quoted"]] or payload["closest"]
    assert any(h in export for h in HOSTILE for c in quoted if h in c["text"])


ADDED_NAME = "<img src=x onerror=alert('file')>.md"
ADDED_TITLE = "Birds <svg onload=alert('added')> & co"


def test_an_added_document_with_a_hostile_name_and_title_is_inert(hostile, hostile_cfg,
                                                                   tmp_path):
    """Added through the engine as the page does it, while questions are being answered."""
    # A private copy of the hostile corpus and index: the module's stay as they are.
    cfg = replace(hostile_cfg, corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index")
    shutil.copytree(hostile_cfg.corpus_dir, cfg.corpus_dir)
    shutil.copytree(hostile_cfg.index_dir, cfg.index_dir)
    engine = Engine(cfg)
    engine.assistant = Assistant(load_index(cfg), hostile.embedder, cfg)  # the loaded model
    engine._done.set()
    upload = tmp_path / "upload"
    upload.mkdir()
    src = upload / ADDED_NAME
    src.write_text(f"# {ADDED_TITLE}\n\n## Pelicans {HOSTILE[0]}\n\nPelican flocks reach the "
                   f"Gulf of California in March. {HOSTILE[1]} Pelicans nest on the islands "
                   "of the gulf.\n", encoding="utf-8")
    # Questions keep being answered while the library changes, by whichever
    # Assistant each one picked up; the model is the one already loaded.
    old = engine.assistant
    model = hostile.embedder.model
    answered: list[bool] = []
    errors: list[BaseException] = []
    stop = threading.Event()

    def keep_asking() -> None:
        while not stop.is_set():
            try:
                answered.append(bool(handlers.ask(engine.wait(1), "What about ports?")))
            except BaseException as exc:  # any failure at all fails the test
                errors.append(exc)

    asker = threading.Thread(target=keep_asking)
    asker.start()
    try:
        results = engine.add_documents([src])
    finally:
        stop.set()
        asker.join(60)
    assert not errors and answered
    assert engine.assistant is not old and engine.assistant.embedder.model is model
    # The old version is kept as the previous one (its embedding cache is the
    # fallback); the next change prunes it. Gone from disk, its Assistant still answers.
    assert old.data.path.exists()
    shutil.rmtree(old.data.path)
    assert handlers.ask(old, "What about ports?")["citations"]
    assert results[0]["status"] == "added" and results[0]["title"] == ADDED_TITLE
    message = shown(render.library_markdown(results))
    assert folded(ADDED_NAME) in message and folded(ADDED_TITLE) in message
    a = engine.assistant
    doc_id = str(results[0]["doc_id"])
    assert ADDED_TITLE in inert(render.documents_html(handlers.document_list(a)))
    assert folded(ADDED_TITLE) in shown(handlers.status_markdown(engine))
    assert any(ADDED_TITLE in label for label, _ in handlers.doc_choices(a))
    payload = handlers.ask(a, "When do pelican flocks reach the gulf?", doc=doc_id)
    cites = payload["citations"] or payload["closest"]
    assert cites and all(c["doc_id"] == doc_id for c in cites)
    view = handlers.chat_view(a, payload)
    assert ADDED_TITLE in inert(view["sources"])
    text = shown(view["message"])
    assert all(folded(c["citation"]) in text for c in cites if c["quoted"] or
               payload["abstained"])
    inert(view["map"], allowed=frozenset({"svg"}))
    compared = handlers.compare(a, "pelicans nesting", by="document")
    cview = handlers.compare_view(a, compared)
    shown(cview["message"])
    inert(cview["map"], allowed=frozenset({"svg"}))
    assert all(isinstance(cell, str) for row in cview["table"] for cell in row)
    # A rejected file's message names it; the warning shows the name as text.
    bad = upload / "<b onmouseover=alert('bad')>.exe"
    bad.write_bytes(b"MZ")
    rejected = engine.add_documents([bad])
    assert rejected[0]["status"] == "error"
    assert "<b onmouseover=alert('bad')>.exe" in shown(render.library_markdown(rejected))
    engine.remove_document(doc_id)
    assert [d.id for d in engine.assistant.documents] == [d.id for d in hostile.documents]


@pytest.mark.parametrize("question", ["../../../../etc/cron.d/evil", "/etc/passwd",
                                      "..\\..\\windows\\win.ini", "x" * 5000, "🙂🙂",
                                      "<script>.html", "a\x00b/../../c"])
def test_export_file_stays_in_its_folder(question):
    from assistant.app.ui import _export_file

    folder = Path(tempfile.gettempdir()) / "report-assistant-exports"
    text = f"## {question}\n\nexport {uuid.uuid4()}\n"
    path = Path(_export_file(text, question)).resolve()
    assert path.suffix == ".md" and re.fullmatch(r"[a-z0-9-]{1,40}\.md", path.name)
    assert path.parent.parent == folder.resolve()
    assert path.read_text(encoding="utf-8") == text
    shutil.rmtree(path.parent)


# --- serving settings ----------------------------------------------------------------------

@pytest.mark.parametrize("host", ["127.0.0.1.nip.io", "localhost.example.org", "0", "0x7f.1",
                                  "2130706433", "[::]", "::", "0.0.0.0", "127.0.0.1:80",
                                  "::ffff:8.8.8.8", "evil.com#127.0.0.1"])
def test_hosts_that_only_look_local_are_refused_without_login(host):
    assert not is_loopback(host)
    with pytest.raises(SettingsError, match="refusing"):
        resolve(["--host", host], {})


@pytest.mark.parametrize("value", ["0", "false", "no", "off", "", "maybe"])
def test_only_a_clear_yes_overrides_the_refusal(value):
    with pytest.raises(SettingsError, match="refusing"):
        resolve([], {"REPORT_ASSISTANT_HOST": "0.0.0.0",
                     "REPORT_ASSISTANT_ALLOW_OPEN_HOST": value})


def test_an_empty_password_is_no_login():
    with pytest.raises(SettingsError):
        resolve(["--host", "0.0.0.0"], {"REPORT_ASSISTANT_USER": "reader",
                                        "REPORT_ASSISTANT_PASSWORD": ""})


def test_uploads_are_off_on_an_open_host_unless_asked_for():
    assert resolve([], {}).uploads  # loopback
    login = {"REPORT_ASSISTANT_USER": "reader", "REPORT_ASSISTANT_PASSWORD": "pw"}
    assert resolve(["--host", "0.0.0.0"], login).uploads
    assert not resolve(["--host", "0.0.0.0", "--allow-open-host"], {}).uploads
    assert resolve(["--host", "0.0.0.0", "--allow-open-host"],
                   {"REPORT_ASSISTANT_UPLOADS": "1"}).uploads
    assert not resolve([], {"REPORT_ASSISTANT_UPLOADS": "0"}).uploads
    assert not resolve(["--no-uploads"], {}).uploads
    with pytest.raises(SettingsError, match="UPLOADS must be 1 or 0"):
        resolve([], {"REPORT_ASSISTANT_UPLOADS": "maybe"})


def test_the_upload_route_cap_follows_the_library_limit():
    from assistant.app.ui import launch_options

    assert launch_options(uploads=False)["max_file_size"] == "1kb"
    assert launch_options(uploads=True, limits=Limits(max_bytes=12_345))["max_file_size"] == \
        12_345


# --- the running app -------------------------------------------------------------------------

# The library's size limit for the app below (the default is 25 MB); Gradio's
# open /upload route is capped at the same size.
UPLOAD_CAP = 40 * 1024


@pytest.fixture(scope="module")
def hostile_app(hostile, hostile_cfg, tmp_path_factory):
    """The app over the hostile index, with environment variables that try to widen it."""
    folder = tmp_path_factory.mktemp("app-security")
    shutil.copytree(hostile_cfg.index_dir, folder / "index")
    uploads = folder / "gradio-tmp"
    uploads.mkdir()
    running = start_app(folder / "index", folder / "app.log",
                        REPORT_ASSISTANT_CORPUS_DIR=str(hostile_cfg.corpus_dir),
                        REPORT_ASSISTANT_MAX_UPLOAD_MB=str(UPLOAD_CAP / 1024 / 1024),
                        GRADIO_SERVER_NAME="0.0.0.0", GRADIO_SHARE="True",
                        GRADIO_TEMP_DIR=str(uploads))
    running.uploads = uploads  # type: ignore[attr-defined]
    yield running
    running.stop()


def _ready(app) -> None:
    from app_fixtures import wait_ready
    from gradio_client import Client

    os.environ.setdefault("GRADIO_ANALYTICS_ENABLED", "False")
    client = Client(app.url, verbose=False, analytics_enabled=False, ssl_verify=False)
    assert wait_ready(client)["ready"]


def test_environment_cannot_widen_the_binding(hostile_app):
    _ready(hostile_app)
    proc = psutil.Process(hostile_app.proc.pid)
    listening = {c.laddr.ip for c in proc.net_connections(kind="inet")
                 if c.status == psutil.CONN_LISTEN}
    assert listening == {"127.0.0.1"}
    log = hostile_app.output()
    assert "public URL" not in log and "gradio.live" not in log


def _upload(app, name: str, data: bytes) -> tuple[int, str]:
    boundary = uuid.uuid4().hex
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; "
            f"filename=\"{name}\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            ).encode() + data + f"\r\n--{boundary}--\r\n".encode()
    req = urllib.request.Request(app.url + "gradio_api/upload", data=body, method="POST",
                                 headers={"Content-Type": f"multipart/form-data; "
                                                          f"boundary={boundary}"})
    try:
        with urllib.request.urlopen(req, timeout=60) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()
    except (urllib.error.URLError, ConnectionError) as exc:
        # A large body may be cut off by the server's early refusal while it is sent.
        return 0, str(exc)


def test_uploads_are_capped_and_stay_in_their_folder(hostile_app):
    # Gradio's upload route is always there; it takes files up to the library's limit.
    _ready(hostile_app)
    for size in (5_000_000, UPLOAD_CAP + 10_000):
        status, body = _upload(hostile_app, "big.md", os.urandom(size))
        assert status == 413 or (status == 0 and "reset" in body), (size, status, body)
    status, body = _upload(hostile_app, "small.md", b"# Small\n\nA small note.\n")
    assert status == 200, body
    stored = [p for p in hostile_app.uploads.rglob("*") if p.is_file()]
    assert stored and all(p.stat().st_size <= UPLOAD_CAP for p in stored), stored
    escape = hostile_app.log.parent / "escaped.html"
    status, body = _upload(hostile_app, f"../../../../../{escape}", b"<p>hi</p>")
    assert status == 200
    stored = Path(json.loads(body)[0]).resolve()
    assert hostile_app.uploads.resolve() in stored.parents
    assert not escape.exists()


def test_add_document_takes_only_files_uploaded_through_it(hostile_app, hostile_cfg, tmp_path):
    # A caller may name any path in the request; only the upload folder is read.
    _ready(hostile_app)
    local = tmp_path / "server-only.md"
    local.write_text("# Server only\n\nThis file was never uploaded.\n", encoding="utf-8")
    before = sorted(p.name for p in hostile_cfg.corpus_dir.iterdir())
    url = hostile_app.url + "gradio_api/call/add_document"
    for path in (str(local), "/etc/passwd"):
        body = json.dumps({"data": [{"path": path, "meta": {"_type": "gradio.FileData"}}]})
        req = urllib.request.Request(url, data=body.encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=30) as r:
            event = json.loads(r.read())["event_id"]
        with urllib.request.urlopen(f"{url}/{event}", timeout=60) as r:
            stream = r.read().decode()
        assert "event: error" in stream and "event: complete" not in stream, stream
    assert sorted(p.name for p in hostile_cfg.corpus_dir.iterdir()) == before


@pytest.mark.parametrize("target", ["/etc/passwd", "app.py", "{root}/app.py",
                                    "{index}/CURRENT", "../../../../etc/passwd"])
def test_the_file_route_serves_no_local_files(hostile_app, target):
    _ready(hostile_app)
    root = Path(__file__).resolve().parents[1]
    path = target.format(root=root, index=hostile_app.log.parent / "index")
    try:
        with urllib.request.urlopen(hostile_app.url + "gradio_api/file=" + path,
                                    timeout=30) as r:
            status = r.status
    except urllib.error.HTTPError as exc:
        status = exc.code
    assert status in (403, 404), (path, status)


# --- in the browser: the components that show report text without the app's escaping ----------

CHROMIUM = Path("/usr/bin/chromium")


@pytest.mark.browser
@pytest.mark.skipif(not CHROMIUM.exists(), reason="Debian's chromium is not installed")
def test_compare_table_and_section_lists_show_hostile_text_as_text(hostile_app):
    from playwright.sync_api import sync_playwright

    _ready(hostile_app)
    dialogs: list[str] = []
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        try:
            pg = browser.new_page(viewport={"width": 1400, "height": 1000})
            pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
            pg.goto(hostile_app.url)
            pg.wait_for_function(
                "document.querySelector('#ra-status')?.innerText.includes('Ready')",
                timeout=120_000)
            # Compare: each cell of the Dataframe carries a hostile passage.
            pg.click("#ra-tab-compare-button")
            pg.fill("#ra-topic textarea", "nearshoring ports")
            pg.click("#ra-compare")
            pg.wait_for_function(
                "document.querySelector('#ra-compare-message').innerText.includes('speak to')",
                timeout=60_000)
            # Each row's passage in context is folded: open them to read it as shown.
            for summary in pg.locator("#ra-compare-table details.ra-cmp-context > summary").all():
                summary.click()
            table = folded(pg.inner_text("#ra-compare-table"))
            assert TITLE in table
            assert any(folded(h) in table for h in HOSTILE), table
            assert pg.locator("#ra-compare-table img, #ra-compare-table iframe, "
                              "#ra-compare-table [onerror], #ra-compare-table a").count() == 0
            # Section lists: the Dropdown's options carry the hostile title.
            pg.click("#ra-tab-ask-button")
            pg.click("#ra-section input")
            option = pg.get_by_role("option", name=re.compile(re.escape("Notes <img")))
            option.first.wait_for(timeout=30_000)
            assert TITLE in option.first.inner_text()
            option.first.click()
            assert TITLE in pg.input_value("#ra-section input")
            pg.click("#ra-tab-browse-button")
            pg.click("#ra-browse-section input")
            pg.get_by_role("option", name=re.compile(re.escape("Notes <img"))).first.click()
            pg.wait_for_function(
                "document.querySelector('#ra-reader')?.innerText.includes('policy note')")
            pg.wait_for_timeout(500)  # room for an onerror handler to fire, were there one
            assert dialogs == []
            assert pg.locator('img[src="x"], [onerror], [onload], iframe[src^="javascript"], '
                              'a[href^="javascript"]').count() == 0
            assert pg.evaluate("[...document.querySelectorAll('script')]"
                               ".filter(s => s.textContent.includes('alert(')).length") == 0
        finally:
            browser.close()


def test_hostile_text_reaches_api_clients_unchanged(hostile_app):
    # JSON carries the report's characters as data; escaping is for HTML, not for the API.
    from gradio_client import Client

    _ready(hostile_app)
    client = Client(hostile_app.url, verbose=False, analytics_enabled=False, ssl_verify=False)
    r = client.predict("What did the energy group write in its minutes?", "", "",
                       api_name="/ask")
    cites = r["citations"] or r["closest"]
    assert any(h in c["text"] for c in cites for h in HOSTILE)
    assert all(html.escape(h) not in c["text"] for c in cites for h in HOSTILE if "<" in h)
    assert r["question"] == "What did the energy group write in its minutes?"

