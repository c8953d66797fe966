"""The page in a real browser: Playwright driving Debian's Chromium against the running app.

The app runs as a real process (``python app.py``) on a free loopback port
with a copy of the session index and of the corpus (the upload tests add to
it). Each test opens a fresh page; every request the browser makes is
recorded, and the last test checks that none left the machine. Set
UPDATE_SCREENSHOTS=1 to refresh docs/screenshot-answer.png.
"""

from __future__ import annotations

import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from app_fixtures import ROOT, start_app

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(not CHROMIUM.exists(),
                       reason="Debian's chromium is not installed at /usr/bin/chromium "
                              "(apt-get install chromium)"),
]

USMCA = "What does the report say about USMCA?"
PAGE_CITE = re.compile(r", pp?\. \d+")
BOT = '#ra-chat [data-testid="bot"]'
USER = '#ra-chat [data-testid="user"]'
ANSWER_TIMEOUT = 60_000  # ms; the machine may be busy


def wait_text(pg, selector: str, *needles: str, timeout: float = ANSWER_TIMEOUT) -> None:
    """Wait until the element exists and its text holds every needle.

    The condition reads nothing from an element that has not rendered yet
    (``?.`` and ``|| ''``), so on a slow machine it keeps waiting instead of
    failing with "Cannot read properties of null".
    """
    pg.wait_for_function(
        "([sel, needles]) => { const t = document.querySelector(sel)?.innerText || '';"
        " return needles.every(n => t.includes(n)); }",
        arg=[selector, list(needles)], timeout=timeout)


@pytest.fixture(scope="module")
def app(assistant, engine_config, tmp_path_factory):
    folder = tmp_path_factory.mktemp("app-browser")
    shutil.copytree(engine_config.index_dir, folder / "index")
    # Same files, so the copied index is current for it.
    shutil.copytree(engine_config.corpus_dir, folder / "corpus")
    running = start_app(folder / "index", folder / "app.log",
                        REPORT_ASSISTANT_CORPUS_DIR=str(folder / "corpus"))
    yield running
    running.stop()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(
            executable_path=str(CHROMIUM), headless=True,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking",
                  "--disable-component-update", "--disable-sync", "--no-first-run"])
        yield b
        b.close()


@pytest.fixture(scope="module")
def requests_seen() -> list[str]:
    return []


@pytest.fixture(scope="module")
def context(browser, requests_seen):
    ctx = browser.new_context(viewport={"width": 1400, "height": 1000})
    ctx.on("request", lambda r: requests_seen.append(r.url))
    yield ctx
    ctx.close()


@pytest.fixture
def dialogs() -> list[str]:
    return []


@pytest.fixture
def page(app, context, dialogs):
    pg = context.new_page()
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.goto(app.url)
    pg.wait_for_selector("#ra-question textarea")
    # The section list is filled once the page has asked for the status.
    wait_text(pg, "#ra-status", "Ready")
    yield pg
    pg.close()


def ask(pg, question: str) -> str:
    """Type a question, press Ask, and return the text of the new answer."""
    before = pg.locator(BOT).count()
    pg.fill("#ra-question textarea", question)
    pg.click("#ra-ask")
    pg.wait_for_function(f"document.querySelectorAll('{BOT}').length > {before}",
                         timeout=ANSWER_TIMEOUT)
    return pg.locator(BOT).last.inner_text()


def open_tab(pg, tab_id: str) -> None:
    pg.click(f"#ra-tab-{tab_id}-button")
    pg.wait_for_selector(f"#ra-tab-{tab_id}", state="visible")


def test_first_screen_offers_examples_and_an_empty_state(page, assistant):
    from assistant.app.pagemap import page_count

    examples = page.locator("#ra-chat button.example")
    assert examples.count() >= 4
    assert "Ask the report a question" in page.inner_text("#ra-chat")
    assert "Ask a question" in page.inner_text("#ra-sources")
    pages = page_count(assistant.documents[0])
    page.wait_for_selector("#ra-answer-map svg")
    assert page.locator("#ra-answer-map rect.ra-page-cell").count() == pages
    assert page.locator("#ra-answer-map rect.ra-cited").count() == 0


def test_a_question_shows_its_answer_with_citations_and_pages(page, tmp_path):
    text = ask(page, USMCA)
    assert "[1]" in text and "Sources:" in text
    assert PAGE_CITE.search(text), text
    assert page.inner_text(USER) == USMCA
    cites = page.locator("#ra-sources details.ra-cite")
    assert cites.count() >= 1
    first = cites.first.locator(".ra-where").inner_text()
    assert PAGE_CITE.search(first) and first in text
    assert page.locator("#ra-sources .ra-quote mark.ra-hl").count() >= 1
    assert page.locator("#ra-answer-map rect.ra-cited").count() >= 1
    assert "Cited page" in page.inner_text("#ra-answer-map")
    page.click("#ra-export-box button, #ra-export-box .label-wrap")
    wait_text(page, "#ra-export", "What does the report say")
    assert page.locator("#ra-download button, #ra-download").first.is_enabled()

    shot = tmp_path / "screenshot-answer.png"
    page.click("#ra-export-box button, #ra-export-box .label-wrap")  # fold the export again
    page.screenshot(path=str(shot), full_page=True)
    assert shot.stat().st_size > 20_000
    target = ROOT / "docs" / "screenshot-answer.png"
    if os.environ.get("UPDATE_SCREENSHOTS") == "1" or not target.exists():
        target.parent.mkdir(exist_ok=True)
        shutil.copyfile(shot, target)


def words(locator) -> str:
    """Text of an element without its page markers, whitespace collapsed."""
    text = locator.evaluate(
        "e => { const c = e.cloneNode(true); c.querySelectorAll('.ra-page').forEach("
        "m => m.remove()); return c.textContent; }")
    return " ".join(text.split())


def test_a_citation_opens_in_its_context(page):
    ask(page, USMCA)
    cite = page.locator("#ra-sources details.ra-cite").first
    passage = words(cite.locator(".ra-quote"))
    context = cite.locator(".ra-context")
    assert not context.is_visible()
    cite.locator("summary").click()
    context.wait_for(state="visible")
    # The passage sits inside the longer text of its section, cited sentences marked.
    shown = words(context.locator(".ra-text"))
    in_context = " ".join(" ".join(t.split()) for t in context.locator(
        ".ra-passage").all_text_contents())
    assert passage.replace(" ", "") == in_context.replace(" ", "")
    assert passage in shown and len(shown) > len(passage)
    assert context.locator("mark.ra-hl").first.is_visible()
    assert context.locator(".ra-context-title").inner_text().startswith("In context:")


def test_a_follow_up_is_read_with_the_previous_question(page):
    ask(page, USMCA)
    text = ask(page, "and what about energy?")
    assert "Read as a follow-up" in text and "USMCA" in text and "energy" in text
    assert page.locator(USER).count() == 2


def test_an_example_question_is_answered_when_clicked(page):
    example = page.locator("#ra-chat button.example").first
    question = example.inner_text().strip()
    example.click()
    page.wait_for_selector(BOT, timeout=ANSWER_TIMEOUT)
    assert page.inner_text(USER).strip() == question
    assert page.locator("#ra-sources details.ra-cite").count() >= 1


def test_browse_reads_a_section_and_filters_questions_to_it(page):
    open_tab(page, "browse")
    page.click("#ra-browse-section input")
    page.get_by_role("option", name=re.compile(r"Working Groups › Migration")).click()
    wait_text(page, "#ra-reader", "Working Groups › Migration")
    reader = page.inner_text("#ra-reader")
    assert re.search(r"p\. 1[6-8]", reader)
    assert page.locator("#ra-reader-map rect.ra-band.ra-lit").count() == 1
    page.click("#ra-ask-in")
    page.wait_for_selector("#ra-tab-ask", state="visible")
    assert "Migration" in page.input_value("#ra-section input")
    text = ask(page, "What should the two governments do?")
    assert "Searched only in: Migration" in text
    wheres = page.locator("#ra-sources .ra-where").all_inner_texts()
    assert wheres and all(w.startswith("Working Groups › Migration") for w in wheres)


def test_compare_shows_sections_side_by_side(page):
    open_tab(page, "compare")
    page.fill("#ra-topic textarea", "energy")
    page.click("#ra-compare")
    wait_text(page, "#ra-compare-message", "speak to")
    table = page.inner_text("#ra-compare-table")
    assert "Energy and Sustainability" in table
    # Gradio draws the table's body as a grid of div rows.
    rows = page.locator('#ra-compare-table div[role="row"]')
    assert rows.count() >= 2
    for i in range(rows.count()):
        cells = rows.nth(i).locator('[role="gridcell"]').all_inner_texts()
        assert len(cells) == 3
        assert re.search(r"\(pp?\. \d+\)\s*$", cells[-1]), cells
    assert page.locator("#ra-compare-map rect.ra-band.ra-lit").count() == rows.count()


@pytest.mark.parametrize("payload", ["<img src=x onerror=alert(1)>",
                                     "<script>alert(1)</script> what about trade?"])
def test_injected_markup_in_a_question_is_shown_as_text(page, dialogs, payload):
    ask(page, payload)
    page.wait_for_timeout(500)  # room for an onerror handler to fire, were there one
    assert dialogs == []
    assert page.inner_text(USER).strip() == payload
    assert page.locator('img[src="x"]').count() == 0
    injected = page.evaluate(
        "[...document.querySelectorAll('script')].filter(s => s.textContent.includes('alert(1)'))"
        ".length")
    assert injected == 0
    assert page.locator("#ra-chat [onerror], #ra-sources [onerror]").count() == 0


def test_bad_input_gets_a_message_and_the_next_question_works(page):
    page.fill("#ra-question textarea", "   ")
    page.click("#ra-ask")
    wait_text(page, "#ra-message", "empty")
    assert page.locator(BOT).count() == 0
    # No question mark, so no question is picked out of it: the whole head and
    # tail are searched and the bubble shows the long question cut.
    long = "Is nearshoring discussed " * 4000
    text = ask(page, long)
    assert re.search(r"Note: the question was [\d,]+ characters, over the limit of [\d,]+; "
                     r"it was cut to", text)
    assert "shown cut" in page.locator(USER).last.inner_text()
    text = ask(page, USMCA)
    assert "[1]" in text
    assert page.inner_text("#ra-message").strip() == ""


def test_clear_returns_to_the_empty_state(page):
    ask(page, USMCA)
    page.click("#ra-clear")
    page.wait_for_function(f"document.querySelectorAll('{BOT}').length === 0")
    assert page.locator("#ra-chat button.example").count() >= 4
    assert "Ask a question" in page.inner_text("#ra-sources")
    # A question after clearing is not read as a follow-up of the old conversation.
    assert "Read as a follow-up" not in ask(page, "and what about energy?")


# --- adding documents in the page ----------------------------------------------------------
# These change the module app's library, so they come after the tests of the report alone.

def add_file(pg, path: Path) -> str:
    """Upload a file on the Documents tab, add it, and return the library's message."""
    open_tab(pg, "docs")
    pg.set_input_files("#ra-upload input[type=file]", str(path))
    # The file is listed once its upload has finished; only then is it sent on.
    pg.wait_for_selector("#ra-upload td.filename", timeout=ANSWER_TIMEOUT)
    pg.click("#ra-add")
    pg.wait_for_function(
        "/Added|Not added|Already/.test(document.querySelector('#ra-library-message')"
        "?.innerText || '')", timeout=ANSWER_TIMEOUT)
    return pg.inner_text("#ra-library-message")


def choose(pg, dropdown: str, name: str) -> None:
    pg.click(f"{dropdown} input")
    pg.get_by_role("option", name=name, exact=False).first.click()


WATER_NOTES = """# Border Water Notes

## Aquifers

The Hueco Bolson aquifer supplies El Paso and Ciudad Juarez with drinking water. Both cities
pump water from the aquifer faster than rain can recharge it.

## Treaties

The 1944 Water Treaty obliges Mexico to deliver water from six Rio Grande tributaries to the
United States in five-year cycles.
"""


def test_an_uploaded_document_is_listed_and_answers_with_its_citation(page, tmp_path):
    path = tmp_path / "border-water-notes.md"
    path.write_text(WATER_NOTES, encoding="utf-8")
    message = add_file(page, path)
    assert re.search(r"Added Border Water Notes \(from border-water-notes\.md\): 1 page, "
                     r"\d+ passages", message), message
    assert "Border Water Notes" in page.inner_text("#ra-docs")
    assert "Border Water Notes" in page.inner_text("#ra-status")
    assert page.locator("#ra-upload td.filename").count() == 0  # emptied for the next one
    open_tab(page, "ask")
    choose(page, "#ra-doc", "Border Water Notes")
    text = ask(page, "Which aquifer supplies El Paso?")
    assert "Searched only in: Border Water Notes" in text and "[1]" in text
    # Every passage, quoted or only retrieved (folded away, so read as text content).
    wheres = page.locator("#ra-sources .ra-where").all_text_contents()
    assert wheres and all(w.startswith("Border Water Notes › ") for w in wheres), wheres
    assert "Border Water Notes › Aquifers, p. 1" in wheres
    assert "Hueco Bolson" in page.inner_text("#ra-sources")
    # Compare by document puts the new document beside the report.
    open_tab(page, "compare")
    page.get_by_label("Documents").check()
    page.fill("#ra-topic textarea", "water")
    page.click("#ra-compare")
    wait_text(page, "#ra-compare-message", "documents speak")
    firsts = [row.locator('[role="gridcell"]').first.inner_text() for row in
              page.locator('#ra-compare-table div[role="row"]').all()]
    assert "Border Water Notes" in firsts, firsts


def test_a_hostile_file_name_and_title_show_as_text_and_run_nothing(page, dialogs, tmp_path):
    name = "<img src=x onerror=alert(1)>.md"
    title = "Bird notes <img src=x onerror=alert('title')>"
    path = tmp_path / name
    path.write_text(f"# {title}\n\nPelican flocks reach the Gulf of California in March and "
                    "nest on the islands of the gulf.\n", encoding="utf-8")
    message = add_file(page, path)
    # Gradio keeps the name's text (without its angle brackets); the page shows it as text.
    assert "Added " + title in message and "onerror=alert(1)" in message, message
    assert title in page.inner_text("#ra-docs")
    assert title in page.inner_text("#ra-status")
    open_tab(page, "ask")
    ask(page, "Where do pelican flocks nest?")
    assert title in page.inner_text("#ra-sources")
    open_tab(page, "docs")
    choose(page, "#ra-remove-doc", "Bird notes")
    page.click("#ra-remove")
    wait_text(page, "#ra-library-message", "Removed")
    assert title in page.inner_text("#ra-library-message")
    assert title not in page.inner_text("#ra-docs")
    page.wait_for_timeout(500)  # room for an onerror handler to fire, were there one
    assert dialogs == []
    assert page.locator('img[src="x"], [onerror], [onload]').count() == 0


HOSTILE = [
    "<img src=x onerror=alert('img')>",
    "<script>alert('script')</script>",
    '"><svg onload=alert(\'svg\')>',
    "[a link](javascript:alert('link'))",
]


@pytest.fixture(scope="module")
def hostile_app(tmp_path_factory):
    """The app over a corpus whose text and title carry markup, built on first start."""
    folder = tmp_path_factory.mktemp("app-hostile")
    corpus = folder / "corpus"
    corpus.mkdir()
    pages = [
        "Nearshoring policy notes. " + HOSTILE[0] + " Nearshoring brings factories closer "
        "to the market and shortens supply chains.\n\n"
        "Energy policy notes. " + HOSTILE[1] + " Energy cooperation lowers costs.",
        "Nearshoring needs roads and ports. " + HOSTILE[2] + " Ports must grow.\n\n"
        "Water policy notes. " + HOSTILE[3] + " Water treaties set shared quotas.",
    ]
    (corpus / "notes.txt").write_text("\f".join(pages), encoding="utf-8")
    (corpus / "notes.txt.meta.json").write_text(
        '{"title": "Notes <img src=x onerror=alert(\'title\')>"}', encoding="utf-8")
    running = start_app(folder / "index", folder / "app.log",
                        REPORT_ASSISTANT_CORPUS_DIR=str(corpus))
    yield running
    running.stop()


def test_markup_in_the_report_text_is_shown_as_text(hostile_app, context, dialogs):
    pg = context.new_page()
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        pg.goto(hostile_app.url)
        wait_text(pg, "#ra-status", "Ready", timeout=180_000)
        assert "Notes <img src=x onerror=alert('title')>" in pg.inner_text("#ra-status")
        ask(pg, "What does nearshoring need?")
        # Open everything: the passages not quoted too, then each passage's context.
        for also in pg.locator("#ra-sources details.ra-also > summary").all():
            also.click()
        for summary in pg.locator("#ra-sources details.ra-cite > summary").all():
            summary.click()
        sources = pg.inner_text("#ra-sources")
        assert any(h in sources for h in HOSTILE), sources
        open_tab(pg, "compare")
        pg.fill("#ra-topic textarea", "nearshoring")
        pg.click("#ra-compare")
        pg.wait_for_selector("#ra-compare-map svg", timeout=ANSWER_TIMEOUT)
        open_tab(pg, "browse")
        wait_text(pg, "#ra-reader", "Water treaties")
        reader = pg.inner_text("#ra-reader")
        assert all(h in reader for h in HOSTILE), reader
        pg.wait_for_timeout(500)
        assert dialogs == []
        assert pg.locator('img[src="x"]').count() == 0
        assert pg.locator("[onerror], [onload]").count() == 0
        assert pg.locator('a[href^="javascript"]').count() == 0
        assert pg.evaluate("[...document.querySelectorAll('script')]"
                           ".filter(s => s.textContent.includes('alert(')).length") == 0
    finally:
        pg.close()


def test_the_page_never_reaches_beyond_the_machine(app, requests_seen):
    assert requests_seen, "no request was recorded"
    hosts = {urlsplit(u).hostname for u in requests_seen
             if urlsplit(u).scheme in ("http", "https", "ws", "wss")}
    assert hosts == {"127.0.0.1"}, hosts
    assert any(f"127.0.0.1:{app.port}" in u for u in requests_seen)
