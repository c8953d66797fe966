"""The page in a real browser: Playwright driving Debian's Chromium against the running app.

The app runs as a real process (``python app.py``) on a free loopback port
with a copy of the session index and of the corpus (the upload tests add to
it). Each test opens a fresh page; every request the browser makes is
recorded, and the last test checks that none left the machine. Set
UPDATE_SCREENSHOTS=1 to refresh docs/screenshot-answer.png.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from app_fixtures import ROOT, start_app
from docgen import sample_pages, write_pdf

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


SHOTS = ROOT / "test-output" / "screenshots"
AXE = ROOT / ".cache" / "axe-core" / "axe.min.js"  # fetched from npm by scripts/test.sh
DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 420, "height": 900}


def new_context(browser, requests_seen, viewport=None, scheme="light", locale="en-US"):
    # A context of its own per test: the conversation kept in localStorage by
    # one test must not appear in the next.
    ctx = browser.new_context(viewport=viewport or DESKTOP, color_scheme=scheme, locale=locale)
    ctx.on("request", lambda r: requests_seen.append(r.url))
    return ctx


@pytest.fixture
def context(browser, requests_seen):
    ctx = new_context(browser, requests_seen)
    yield ctx
    ctx.close()


@pytest.fixture
def dialogs() -> list[str]:
    return []


def open_page(ctx, url: str, dialogs: list[str], ready: str = "Ready"):
    pg = ctx.new_page()
    pg.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    pg.goto(url)
    pg.wait_for_selector("#ra-question textarea")
    # The section list is filled once the page has asked for the status.
    wait_text(pg, "#ra-status", ready)
    return pg


@pytest.fixture
def shots(request):
    """Pages to photograph if the test fails: (page, name) pairs, written to SHOTS."""
    pages: list = []
    failed = request.session.testsfailed
    yield pages
    if request.session.testsfailed > failed:
        SHOTS.mkdir(parents=True, exist_ok=True)
        for pg, name in pages:
            # A page closed with its context has nothing left to show.
            with contextlib.suppress(Exception):
                pg.screenshot(path=str(SHOTS / f"FAILED-{request.node.name}-{name}.png"),
                              full_page=True)


@pytest.fixture
def page(app, context, dialogs, shots):
    pg = open_page(context, app.url, dialogs)
    shots.append((pg, "page"))
    yield pg  # closed with its context, after a failing test's screenshot


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
    # Every source, also those folded under "also retrieved" (text, not what is drawn).
    wheres = page.locator("#ra-sources .ra-where").all_text_contents()
    assert wheres and all(w.startswith("Working Groups › Migration") for w in wheres)


def compare(pg, topic: str) -> list:
    """Compare a topic on the Compare tab; the table's rows (locators), in order shown."""
    open_tab(pg, "compare")
    pg.fill("#ra-topic textarea", topic)
    pg.click("#ra-compare")
    wait_text(pg, "#ra-compare-message", topic)
    pg.wait_for_function(
        "() => !!document.querySelector('#ra-compare-table tr.ra-cmp-row') || "
        "(document.querySelector('#ra-compare-message')?.innerText || '').includes('No ')",
        timeout=ANSWER_TIMEOUT)
    return pg.locator("#ra-compare-table tr.ra-cmp-row").all()


def test_compare_states_each_sections_position(page):
    rows = compare(page, "energy")
    assert len(rows) >= 2
    assert "Energy and Sustainability" in page.inner_text("#ra-compare-table")
    for row in rows:
        where = row.locator("th.ra-cmp-where").inner_text()
        assert re.search(r"pp?\. \d+", where), where
        said = row.locator(".ra-position .ra-said").all_inner_texts()
        # One or two of the section's own sentences, each with its page.
        assert 1 <= len(said) <= 2
        assert all(re.search(r"pp?\. \d+\s*$", s) for s in said), said
        assert row.locator(".ra-meter").get_attribute("aria-label")
    # The passage in context, on demand, with the position sentences marked.
    context = rows[0].locator("details.ra-cmp-context")
    assert not context.locator(".ra-text").first.is_visible()
    context.locator("summary").click()
    context.locator(".ra-text").first.wait_for(state="visible")
    marked = " ".join(context.locator("mark.ra-hl").all_inner_texts())
    first_said = rows[0].locator(".ra-said").first.evaluate(
        "e => e.firstChild.textContent.trim()")
    assert first_said.split()[0] in marked
    assert page.locator("#ra-compare-map rect.ra-band.ra-lit").count() == len(rows)
    assert page.locator("#ra-compare-chart rect.ra-chart-bar").count() == len(rows)


def test_compare_has_no_row_that_does_not_name_the_topic(page):
    """USMCA was padded with sections that never mention it; each row now names it."""
    rows = compare(page, "USMCA")
    assert rows
    for row in rows:
        said = row.locator(".ra-position").inner_text()
        assert "USMCA" in said or "United States-Mexico-Canada Agreement" in said, said


def test_compare_rows_reorder_and_export(page, tmp_path):
    rows = compare(page, "migration")
    by_strength = [r.locator("th.ra-cmp-where").inner_text() for r in rows]
    page.get_by_label("Report order").check()
    page.wait_for_function(
        "first => (document.querySelector('#ra-compare-table th.ra-cmp-where')?.innerText "
        "?? first) !== first", arg=by_strength[0], timeout=ANSWER_TIMEOUT)
    in_report = [r.inner_text() for r in page.locator("#ra-compare-table th.ra-cmp-where").all()]
    assert sorted(in_report) == sorted(by_strength) and in_report != by_strength
    with page.expect_download() as md:
        page.click("#ra-compare-md")
    text = Path(md.value.path()).read_text(encoding="utf-8")
    assert text.startswith("## Compare: migration") and text.count("\n| ") == len(rows) + 1
    with page.expect_download() as csv_file:
        page.click("#ra-compare-csv")
    import csv
    with open(csv_file.value.path(), encoding="utf-8", newline="") as f:
        table = list(csv.reader(f))
    assert table[0][:3] == ["Rank", "Section", "Pages"] and len(table) == len(rows) + 1
    # Exported in the order shown.
    assert [r[1] for r in table[1:]] == [re.sub(r"^\d+\s+|\s+pp?\..*$", "", t).strip()
                                         for t in in_report]


# --- citations, the kept conversation, browse --------------------------------------------

def open_cards(pg) -> list[str]:
    return pg.evaluate("[...document.querySelectorAll('#ra-sources details.ra-cite')]"
                       ".filter(d => d.open).map(d => d.id)")


def test_a_citation_marker_shows_its_sentence_and_opens_its_source(page):
    ask(page, USMCA)
    # The last marker (in the message's source list): the chat keeps its
    # bottom in view, so in a long answer the first one is scrolled away.
    link = page.locator(f"{BOT} a.ra-cite-link").last
    n = link.inner_text().strip("[]")
    # Hover: the cited sentence with its section and page.
    link.hover()
    tip = page.locator("#ra-tip")
    tip.wait_for(state="visible")
    card = page.locator(f"#ra-src-0-{n}")
    where = card.locator(".ra-where").inner_text()
    assert where in tip.inner_text() and PAGE_CITE.search(tip.inner_text())
    marked = " ".join(card.locator(".ra-quote mark.ra-hl").all_inner_texts())
    assert " ".join(marked.split())[:40] in " ".join(tip.inner_text().split())
    # Click: the source opens in context and is scrolled to.
    link.click()
    page.wait_for_function("id => document.getElementById(id)?.open === true",
                           arg=f"ra-src-0-{n}")
    card.locator(".ra-context").wait_for(state="visible")
    # The scroll is smooth: wait for the card to arrive in view.
    page.wait_for_function("id => { const r = document.getElementById(id)"
                           "?.getBoundingClientRect();"
                           " return !!r && r.top >= 0 && r.top < window.innerHeight; }",
                           arg=f"ra-src-0-{n}")


def test_citations_work_from_the_keyboard(page):
    ask(page, USMCA)
    links = page.locator(f"{BOT} a.ra-cite-link")
    last = links.count()
    assert last >= 1
    links.nth(last - 1).focus()
    page.locator("#ra-tip").wait_for(state="visible")
    n = links.nth(last - 1).inner_text().strip("[]")
    page.keyboard.press("Enter")
    page.wait_for_function("id => document.getElementById(id)?.open === true",
                           arg=f"ra-src-0-{n}")
    # Focus moves to the opened source, so the reader can read on from there.
    assert page.evaluate("document.activeElement.closest('details')?.id") == f"ra-src-0-{n}"
    page.keyboard.press("Escape")


def test_an_earlier_answers_citation_brings_back_its_sources(page):
    ask(page, USMCA)
    ask(page, "What is consular diplomacy?")
    assert page.locator("#ra-sources .ra-sources").get_attribute("data-turn") == "1"
    first = page.locator(BOT).first.locator("a.ra-cite-link").first
    n = first.inner_text().strip("[]")
    first.click()
    page.wait_for_function("id => document.getElementById(id)?.open === true",
                           arg=f"ra-src-0-{n}", timeout=ANSWER_TIMEOUT)
    assert page.locator("#ra-sources .ra-sources").get_attribute("data-turn") == "0"


def test_the_conversation_survives_a_reload_and_clear_forgets_it(page, app):
    ask(page, USMCA)
    ask(page, "and what about energy?")
    page.reload()
    page.wait_for_function(f"document.querySelectorAll('{BOT}').length === 2",
                           timeout=ANSWER_TIMEOUT)
    assert page.locator(USER).first.inner_text() == USMCA
    wait_text(page, "#ra-sources", "Sources")
    # Kept in this browser's storage (encrypted there by Gradio), not on the server.
    from assistant.app.ui import STORAGE_KEY
    assert page.evaluate("k => !!localStorage.getItem(k)", STORAGE_KEY)
    page.click("#ra-clear")
    page.wait_for_function(f"document.querySelectorAll('{BOT}').length === 0")
    page.reload()
    wait_text(page, "#ra-status", "Ready")
    page.wait_for_selector("#ra-chat button.example")
    assert page.locator(BOT).count() == 0


def test_the_other_browser_does_not_see_the_conversation(app, browser, requests_seen, page,
                                                         dialogs):
    ask(page, USMCA)
    other = new_context(browser, requests_seen)
    try:
        pg = open_page(other, app.url, dialogs)
        pg.wait_for_selector("#ra-chat button.example")
        assert pg.locator(BOT).count() == 0
    finally:
        other.close()


def test_the_conversation_survives_a_server_restart(assistant, engine_config, browser,
                                                    requests_seen, dialogs, shots,
                                                    tmp_path_factory):
    # BrowserState encrypts what it keeps with a key; Gradio's own is new each
    # start, so without a kept one a restart would lose every conversation.
    folder = tmp_path_factory.mktemp("app-restart")
    shutil.copytree(engine_config.index_dir, folder / "index")
    shutil.copytree(engine_config.corpus_dir, folder / "corpus")
    env = {"REPORT_ASSISTANT_CORPUS_DIR": str(folder / "corpus")}
    first = start_app(folder / "index", folder / "first.log", **env)
    ctx = new_context(browser, requests_seen)
    try:
        pg = open_page(ctx, first.url, dialogs)
        shots.append((pg, "restart"))
        answer = ask(pg, USMCA)
        first.stop()
        again = start_app(folder / "index", folder / "again.log", port=first.port, **env)
        try:
            pg.reload()
            wait_text(pg, "#ra-status", "Ready")
            pg.wait_for_function(f"document.querySelectorAll('{BOT}').length === 1",
                                 timeout=ANSWER_TIMEOUT)
            assert pg.locator(USER).first.inner_text() == USMCA
            assert pg.locator(BOT).first.inner_text() == answer
            wait_text(pg, "#ra-sources", "Sources")
        finally:
            again.stop()
    finally:
        ctx.close()
        first.stop()


def test_download_saves_the_selected_answer(page):
    ask(page, USMCA)
    ask(page, "What is consular diplomacy?")
    page.locator(BOT).first.click()
    page.wait_for_function(
        "() => document.querySelector('#ra-sources .ra-sources')?.dataset.turn === '0'",
        timeout=ANSWER_TIMEOUT)
    page.click("#ra-export-box button, #ra-export-box .label-wrap")
    with page.expect_download() as saved:
        page.click("#ra-download")
    text = Path(saved.value.path()).read_text(encoding="utf-8")
    assert text.startswith(f"## {USMCA}"), text[:200]


def test_browse_lists_the_contents_and_opens_a_section_in_place(page, assistant):
    open_tab(page, "browse")
    page.wait_for_selector("#ra-contents details.ra-toc-section")
    items = page.locator("#ra-contents details.ra-toc-section")
    doc = assistant.documents[0]
    assert items.count() == len(doc.sections)
    for label in items.locator("summary").all_inner_texts():
        assert re.search(r"pp?\. \d+", label), label
    migration = page.locator("#ra-contents summary", has_text="Migration").first
    item = migration.locator("xpath=..")
    assert not item.locator(".ra-text").is_visible()
    migration.focus()
    page.keyboard.press("Enter")
    item.locator(".ra-text").wait_for(state="visible")
    assert re.search(r"p\. 1[6-8]", item.inner_text())


# --- phone, dark mode, accessibility ---------------------------------------------------------

# Every visible text node's colour against the background it is drawn on
# (ancestors' backgrounds composited, opacity applied), as WCAG computes it.
CONTRAST_JS = """
() => {
  const parse = c => { const m = (c || '').match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const over = (t, b) => [0, 1, 2].map(i => t[i] * t[3] + b[i] * (1 - t[3])).concat([1]);
  const lum = c => { const f = v => { v /= 255;
      return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const background = el => { const layers = [];
    for (let e = el; e; e = e.parentElement) {
      const c = parse(getComputedStyle(e).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; } }
    let bg = [255, 255, 255, 1];
    for (const l of layers.reverse()) bg = over(l, bg);
    return bg; };
  const opacity = el => { let o = 1;
    for (let e = el; e; e = e.parentElement) o *= Number(getComputedStyle(e).opacity);
    return o; };
  const bad = []; let checked = 0;
  const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
  for (let n = walker.nextNode(); n; n = walker.nextNode()) {
    const el = n.parentElement;
    if (!el || !n.textContent.trim() || el.closest('svg, script, style, [aria-hidden=true]'))
      continue;
    const st = getComputedStyle(el);
    if (st.visibility === 'hidden' || !el.getClientRects().length) continue;
    if (el.closest('[disabled], [aria-disabled=true]')) continue;  // WCAG exempts inactive controls
    const o = opacity(el); if (o === 0) continue;
    const bg = background(el);
    const fg = parse(st.color); fg[3] *= o;
    const text = over(fg, bg);
    const [a, b] = [lum(text), lum(bg)].sort((x, y) => y - x);
    const ratio = (a + 0.05) / (b + 0.05);
    checked++;
    if (ratio < 4.5) bad.push({text: n.textContent.trim().slice(0, 60), ratio: +ratio.toFixed(2),
      color: st.color, bg: 'rgb(' + bg.slice(0, 3).map(Math.round).join(',') + ')',
      where: el.tagName + '.' + [...el.classList].join('.') + ' #' +
        (el.closest('[id]') || {}).id});
  }
  return {checked, bad};
}
"""


def photograph(pg, name: str) -> None:
    """Screenshots of each state, to judge the page as a reader sees it."""
    SHOTS.mkdir(parents=True, exist_ok=True)
    pg.screenshot(path=str(SHOTS / f"{name}.png"), full_page=True)


def every_tab(pg):
    """Each tab with something in it; yields the tab's name once it is drawn."""
    ask(pg, USMCA)
    pg.locator("#ra-sources details.ra-cite > summary").first.click()
    yield "ask"
    compare(pg, "migration")
    pg.locator("#ra-compare-table details.ra-cmp-context > summary").first.click()
    yield "compare"
    open_tab(pg, "browse")
    pg.locator("#ra-contents details.ra-toc-section > summary").nth(1).click()
    yield "browse"
    open_tab(pg, "docs")
    pg.wait_for_selector("#ra-docs table")
    yield "docs"


@pytest.mark.parametrize("scheme", ["dark", "light"])
def test_every_text_meets_wcag_aa_contrast(app, browser, requests_seen, dialogs, shots, scheme):
    ctx = new_context(browser, requests_seen, scheme=scheme)
    try:
        pg = open_page(ctx, app.url, dialogs)
        shots.append((pg, scheme))
        assert pg.evaluate("document.body.classList.contains('dark')") == (scheme == "dark")
        for tab in every_tab(pg):
            photograph(pg, f"desktop-{scheme}-{tab}")
            result = pg.evaluate(CONTRAST_JS)
            assert result["checked"] > 20
            assert not result["bad"], "\n".join(
                [tab] + [f"{b['ratio']} {b['color']} on {b['bg']} {b['where']}: {b['text']}"
                         for b in result["bad"][:15]])
    finally:
        ctx.close()


def test_on_a_phone_sources_are_one_tap_away_and_nothing_overflows(app, browser, requests_seen,
                                                                   dialogs, shots):
    ctx = new_context(browser, requests_seen, viewport=PHONE)
    try:
        pg = open_page(ctx, app.url, dialogs)
        shots.append((pg, "phone"))
        ask(pg, USMCA)
        photograph(pg, "phone-light-ask")
        width = pg.evaluate("document.scrollingElement.scrollWidth")
        assert width <= PHONE["width"] + 1, width
        link = pg.locator(f"{BOT} a.ra-cite-link").first
        n = link.inner_text().strip("[]")
        link.click()
        pg.wait_for_function("id => document.getElementById(id)?.open === true",
                             arg=f"ra-src-0-{n}")
        pg.wait_for_function(
            "id => { const r = document.getElementById(id).getBoundingClientRect();"
            " return r.top >= -1 && r.top < window.innerHeight; }", arg=f"ra-src-0-{n}")
        # The page map keeps a readable size (it scrolls sideways) and can be folded away.
        svg = pg.locator("#ra-answer-map svg").first
        assert svg.evaluate("e => e.getBoundingClientRect().width") >= 560
        pg.locator("#ra-map-box button, #ra-map-box .label-wrap").first.click()
        svg.wait_for(state="hidden")
        rows = compare(pg, "energy")
        photograph(pg, "phone-light-compare")
        assert rows
        assert pg.evaluate("document.scrollingElement.scrollWidth") <= PHONE["width"] + 1
        for row in rows:
            # Each row is a card: section, position and strength stacked, none cut.
            assert row.evaluate("e => getComputedStyle(e).display") == "block"
            assert row.evaluate("e => e.scrollWidth <= e.clientWidth + 1")
    finally:
        ctx.close()


# Gradio's own file drop zone: its aria-label ("Click to upload or drop files")
# is not the text it shows; named exactly, so any other violation still fails.
GRADIO_OWN = [{"id": "label-content-name-mismatch", "impact": "serious",
               "nodes": [[".upload-container"]]}]


@pytest.mark.skipif(not AXE.exists(), reason="axe-core is fetched by scripts/test.sh (npm)")
@pytest.mark.parametrize("scheme", ["light", "dark"])
def test_axe_finds_no_serious_violation_on_any_tab(app, browser, requests_seen, dialogs, shots,
                                                   scheme):
    ctx = new_context(browser, requests_seen, scheme=scheme)
    try:
        pg = open_page(ctx, app.url, dialogs)
        shots.append((pg, scheme))
        for tab in every_tab(pg):
            if not pg.evaluate("typeof window.axe !== 'undefined'"):
                pg.add_script_tag(path=str(AXE))
            result = pg.evaluate("async () => (await axe.run(document, {resultTypes: "
                                 "['violations']})).violations.map(v => ({id: v.id, impact: "
                                 "v.impact, nodes: v.nodes.slice(0, 3).map(n => n.target)}))")
            serious = [v for v in result if v["impact"] in ("serious", "critical")
                       and v not in GRADIO_OWN]
            assert not serious, (tab, serious)
    finally:
        ctx.close()


@pytest.mark.parametrize("locale,words", [
    ("es-ES", {"ready": "Listo", "ask": "Preguntar", "tab": "Comparar",
               "placeholder": "Haga una pregunta sobre el informe…",
               "head": "Fuentes: los pasajes citados", "more": "Ver en contexto",
               "map": "citada", "everywhere": "Todo el informe"}),
    ("en-US", {"ready": "Ready", "ask": "Ask", "tab": "Compare",
               "placeholder": "Ask a question about the report…",
               "head": "Sources: the cited passages", "more": "Show in context",
               "map": "Cited page", "everywhere": "Whole report"}),
])
def test_the_page_speaks_the_browsers_language_and_keeps_the_reports_words(
        app, assistant, browser, requests_seen, dialogs, shots, locale, words):
    ctx = new_context(browser, requests_seen, locale=locale)
    try:
        # The status line is written on the server, from the request's Accept-Language.
        pg = open_page(ctx, app.url, dialogs, ready=words["ready"])
        shots.append((pg, locale))
        # Labels drawn by Gradio follow navigator.language (gr.I18n).
        wait_text(pg, "#ra-ask", words["ask"])
        assert pg.inner_text("#ra-ask").strip() == words["ask"]
        assert pg.inner_text("#ra-tab-compare-button").strip() == words["tab"]
        assert pg.get_attribute("#ra-question textarea", "placeholder") == words["placeholder"]
        ask(pg, USMCA)
        wait_text(pg, "#ra-sources", words["head"])
        assert pg.locator("#ra-sources .ra-more").first.inner_text() == words["more"]
        wait_text(pg, "#ra-answer-map", words["map"])
        assert pg.input_value("#ra-section input") == words["everywhere"]
        # The report's words are never translated: the passages are the library's own.
        from assistant.app import handlers
        cited = [c["text"] for c in handlers.ask(assistant, USMCA)["citations"] if c["quoted"]]
        photograph(pg, f"language-{locale}")
        # The card's text without the page markers the page adds inside a passage.
        quotes = pg.eval_on_selector_all(
            "#ra-sources .ra-sources > details.ra-cite .ra-quote",
            "els => els.map(e => { const c = e.cloneNode(true);"
            " c.querySelectorAll('.ra-page').forEach(x => x.remove()); return c.textContent; })")
        assert [" ".join(q.split()) for q in quotes] == [" ".join(t.split()) for t in cited], (
            quotes, cited)
    finally:
        ctx.close()


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
    firsts = page.locator("#ra-compare-table th.ra-cmp-where").all_inner_texts()
    assert any("Border Water Notes" in f for f in firsts), firsts


def test_an_added_pdfs_source_shows_its_original_page_with_the_sentences_marked(page,
                                                                              tmp_path):
    pdf = write_pdf(tmp_path / "dry-years-paper.pdf", sample_pages(), title="Dry Years Paper")
    assert "Added" in add_file(page, pdf)
    open_tab(page, "ask")
    choose(page, "#ra-doc", "Dry Years Paper")
    ask(page, "How did tiered prices change what the heaviest users pumped?")
    card = page.locator("#ra-sources details.ra-cite").first
    label = card.locator(".ra-where").inner_text()
    cited = int(re.search(r"pp?\. (\d+)", label).group(1))
    figure = card.locator("figure.ra-original").first
    assert not figure.is_visible()  # folded with the context until the reader opens it
    card.locator("summary").click()
    figure.wait_for(state="visible")
    caption = figure.locator("figcaption").inner_text()
    assert f"page {cited} of 5 in dry-years-paper.pdf" in caption, (label, caption)
    img = figure.locator("img")
    page.wait_for_function("el => el.complete && el.naturalWidth > 0", arg=img.element_handle())
    assert img.get_attribute("alt").startswith(f"Page {cited} of 5")
    # The cited sentences are marked on the picture, inside it.
    boxes = figure.locator(".ra-pdf-hl")
    assert boxes.count() >= 1
    frame = figure.locator(".ra-page-img").bounding_box()
    for i in range(boxes.count()):
        b = boxes.nth(i).bounding_box()
        assert b["width"] > 0 and b["height"] > 0
        assert frame["x"] <= b["x"] and b["x"] + b["width"] <= frame["x"] + frame["width"] + 1
        assert frame["y"] <= b["y"] and b["y"] + b["height"] <= frame["y"] + frame["height"] + 1
    photograph(page, "pdf-original-page")


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
