"""The app's plain parts, without a browser or a server.

Handlers run against the real Assistant of the session (real model, real
FAISS and BM25 indexes, built once by conftest.py); the follow-up rule, the
escaping, the page map and the serving settings are checked as units.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from html.parser import HTMLParser

import pytest

from assistant.app import handlers, render
from assistant.app.engine import Engine, NotReady
from assistant.app.pagemap import page_count, page_map_html
from assistant.app.settings import Settings, SettingsError, check, is_loopback, resolve
from assistant.config import Config
from assistant.conversation import anchor_question, complete_follow_up, is_follow_up
from assistant.errors import QueryError
from assistant.types import Comparison, Document, Section

INJECTIONS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    '"><svg onload=alert(1)>',
    "[click](javascript:alert(1))",
]
USMCA = "What does the report say about USMCA?"
CITATION = re.compile(r"^.+, pp?\. \d+(-\d+)?$")
VOID = {"br", "img", "hr", "meta", "link", "input", "wbr", "area", "base", "col", "source"}


class _TagCheck(HTMLParser):
    """Collects start tags and checks that every element is closed in order."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[str] = []
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.errors: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        self.attrs.extend(attrs)
        if tag not in VOID:
            self.stack.append(tag)

    def handle_endtag(self, tag):
        if not self.stack or self.stack[-1] != tag:
            self.errors.append(f"unexpected </{tag}> with open {self.stack[-3:]}")
        else:
            self.stack.pop()


def parse_html(markup: str) -> _TagCheck:
    p = _TagCheck()
    p.feed(markup)
    p.close()
    assert not p.errors, p.errors
    assert not p.stack, f"unclosed: {p.stack}"
    return p


def assert_inert(markup: str) -> None:
    """No element or attribute a browser could run."""
    p = parse_html(markup)
    assert not {"script", "img", "iframe", "object", "embed"} & set(p.tags), p.tags
    assert not [a for a, _ in p.attrs if a.lower().startswith("on")], p.attrs
    assert "javascript:" not in " ".join(v or "" for _, v in p.attrs).lower()


# -- follow-ups -------------------------------------------------------------------------

def test_follow_up_is_completed_from_the_previous_question():
    q, done = complete_follow_up("and what about energy?", [USMCA])
    assert done
    assert "USMCA" in q and "energy" in q
    assert q == "What does the report say about USMCA, and what about energy?"


def test_pronoun_follow_up_takes_the_subject_from_the_previous_question():
    q, done = complete_follow_up("Who proposed it?", ["What is the RRLM?"])
    assert done and "RRLM" in q and q.endswith("who proposed it?")


def test_self_contained_questions_are_left_alone():
    history = [USMCA]
    for q in ["What does the report say about migration?",
              "What is this report about?",
              "And " + "what does the report say about the working groups " * 2]:
        assert complete_follow_up(q, history) == (" ".join(q.split()), False)
    # Without an earlier question there is nothing to complete from.
    assert complete_follow_up("and what about energy?", []) == ("and what about energy?", False)


def test_follow_ups_chain_to_the_question_that_opened_the_thread():
    history = [USMCA, "and what about energy?"]
    assert anchor_question(history) == USMCA
    q, done = complete_follow_up("and trade?", history)
    assert done and q == "What does the report say about USMCA, and trade?"
    assert is_follow_up("Who said that?") and not is_follow_up("Who wrote this report?")


# -- escaping ------------------------------------------------------------------------

@pytest.mark.parametrize("text", INJECTIONS)
def test_markdown_and_html_escaping_leave_nothing_runnable(text):
    md = render.md_text(text)
    assert "<" not in md and ">" not in md and "](" not in md
    assert_inert(f"<div>{render.esc(text)}</div>")
    assert_inert(render.question_markdown(text))


def test_a_very_long_question_is_shown_cut_with_its_length():
    shown = render.question_markdown("why " * 25_000)
    assert len(shown) < 1000
    assert "100,000 characters" in shown


def _hostile_document() -> Document:
    text = "Intro <b>bold</b> text.\nSecond line <script>alert(1)</script> here.\n"
    title = "<img src=x onerror=alert(1)>"
    sections = (Section("s1", title, (title,), 1, 2, 0, len(text)),)
    return Document("d", "<script>t</script>", "d.txt", text, sections, (),
                    ((0, 1), (24, 2)))


def test_page_map_escapes_titles_and_is_well_formed_svg():
    doc = _hostile_document()
    out = page_map_html(doc, {2: ["1"]}, {doc.sections[0].path: "1"}, caption=doc.title)
    assert_inert(out)
    svg = re.search(r"<svg.*</svg>", out, re.S).group(0)
    root = ET.fromstring(svg)  # well-formed XML, titles escaped
    cells = [e for e in root.iter() if e.get("class", "").startswith("ra-page-cell")]
    assert len(cells) == page_count(doc) == 2
    assert [c.get("data-page") for c in cells if "ra-cited" in c.get("class")] == ["2"]


def test_report_text_is_escaped_with_page_marks_and_highlights():
    doc = _hostile_document()
    s = doc.sections[0]
    out = render.render_text(doc, 0, len(doc.text), passage=(6, 30), highlights=[(6, 16)],
                             first_page_mark=True)
    assert_inert(out)
    assert "&lt;script&gt;" in out
    assert '<span class="ra-page">p. 1</span>' in out and '<span class="ra-page">p. 2</span>' in out
    assert '<mark class="ra-hl">&lt;b&gt;bold' in out
    assert_inert(render.section_reader_html(doc, s))


# -- serving settings -----------------------------------------------------------------------

def test_settings_default_to_loopback_and_read_the_environment():
    assert resolve([], {}) == Settings()
    s = resolve(["--port", "9001"], {"REPORT_ASSISTANT_PORT": "9000",
                                     "REPORT_ASSISTANT_CONCURRENCY": "2"})
    assert (s.host, s.port, s.concurrency, s.auth) == ("127.0.0.1", 9001, 2, None)


def test_a_public_host_needs_a_login_or_an_explicit_override():
    with pytest.raises(SettingsError, match="refusing"):
        resolve(["--host", "0.0.0.0"], {})
    with pytest.raises(SettingsError, match="refusing"):
        resolve([], {"REPORT_ASSISTANT_HOST": "192.168.1.20"})
    login = {"REPORT_ASSISTANT_USER": "reader", "REPORT_ASSISTANT_PASSWORD": "s3cret"}
    assert resolve(["--host", "0.0.0.0"], login).auth == ("reader", "s3cret")
    assert resolve(["--host", "0.0.0.0", "--allow-open-host"], {}).allow_open_host
    assert resolve([], {"REPORT_ASSISTANT_HOST": "0.0.0.0",
                        "REPORT_ASSISTANT_ALLOW_OPEN_HOST": "1"}).host == "0.0.0.0"
    with pytest.raises(SettingsError, match="both"):
        check(Settings(user="reader"))
    with pytest.raises(SettingsError, match="port"):
        resolve(["--port", "http"], {})


def test_loopback_addresses():
    assert all(map(is_loopback, ["127.0.0.1", "127.0.0.2", "::1", "[::1]", "localhost"]))
    assert not any(map(is_loopback, ["0.0.0.0", "::", "192.168.1.1", "example.org", ""]))


def test_app_refuses_a_public_host_without_login(monkeypatch, capsys):
    import app

    for var in ("REPORT_ASSISTANT_USER", "REPORT_ASSISTANT_PASSWORD",
                "REPORT_ASSISTANT_ALLOW_OPEN_HOST"):
        monkeypatch.delenv(var, raising=False)
    assert app.main(["--host", "0.0.0.0"]) == 2
    assert "refusing to serve on '0.0.0.0'" in capsys.readouterr().err


# -- the engine holder -----------------------------------------------------------------------

def test_engine_reports_progress_then_a_load_failure(tmp_path):
    empty = tmp_path / "corpus"
    empty.mkdir()
    engine = Engine(Config.from_env(corpus_dir=empty, index_dir=tmp_path / "index"))
    engine._progress("embedding passages", 0.45)
    assert "Preparing the report index:** embedding passages (45%)" in \
        handlers.status_markdown(engine).replace("\\", "")
    with pytest.raises(NotReady, match="still being prepared"):
        engine.wait(timeout=0)
    engine.load()
    assert engine.finished and not engine.ready and "nothing to index" in engine.error
    with pytest.raises(NotReady, match="could not be loaded"):
        engine.wait(timeout=1)
    assert "could not be loaded" in handlers.status_markdown(engine)


# -- handlers on the real report -------------------------------------------------------------

def _doc(assistant, cite) -> Document:
    return assistant.document(cite["doc_id"])


def _assert_cited_right(assistant, cite):
    """A citation is the report's own words, in the section and on the pages it names."""
    doc = _doc(assistant, cite)
    assert doc.text[cite["start"]:cite["end"]] == cite["text"]
    assert tuple(cite["pages"]) == doc.pages_of(cite["start"], cite["end"])
    section = next(s for s in doc.sections if list(s.path) == cite["section_path"])
    assert section.start <= cite["start"] and cite["end"] <= section.end
    assert all(section.start_page <= p <= section.end_page for p in cite["pages"])
    assert CITATION.match(cite["citation"]), cite["citation"]
    assert cite["citation"].startswith(" › ".join(cite["section_path"]))


def test_ask_returns_quoted_sentences_with_their_citations(assistant):
    p = handlers.ask(assistant, USMCA)
    assert not p["abstained"] and p["sentences"]
    quoted = [c for c in p["citations"] if c["quoted"]]
    assert quoted and p["closest"] == []
    for c in p["citations"]:
        _assert_cited_right(assistant, c)
    for s in p["sentences"]:
        cite = p["citations"][s["citation"] - 1]
        assert cite["quoted"] and s["text"] in cite["text"]
        assert [s["text"]] == [cite["text"][a:b] for a, b in cite["highlights"]
                               if cite["text"][a:b] == s["text"]]
        assert f"{s['text']} [{s['citation']}]" in p["answer"]
    assert any("usmca" in c["text"].lower() for c in quoted)


def test_chat_view_shows_answer_sources_context_map_and_export(assistant):
    p = handlers.ask(assistant, USMCA)
    view = handlers.chat_view(assistant, p)
    quoted = [c for c in p["citations"] if c["quoted"]]
    for c in quoted:
        assert render.md_text(c["citation"]) in view["message"]
        assert f"{c['n']}. {c['citation']}" in view["export"]
        assert render.esc(c["citation"]) in view["sources"]
    assert "**\\[1\\]**" in view["message"]
    sources = parse_html(view["sources"])
    assert sources.tags.count("details") == len(p["citations"]) + 1  # + "also retrieved"
    assert view["sources"].count('<mark class="ra-hl">') >= 2 * len(quoted)  # passage + context
    assert_inert(view["sources"])
    assert_inert(view["map"])
    for page in {pg for c in quoted for pg in c["pages"]}:
        assert f'data-page="{page}"' in view["map"]
        assert re.search(rf'ra-cited" data-page="{page}"', view["map"])
    assert view["export"].startswith(f"## {USMCA}\n")


def test_out_of_scope_question_abstains_and_labels_closest_passages(assistant):
    p = handlers.ask(assistant, "What is the population of Monterrey?")
    assert p["abstained"] and p["citations"] == [] and p["closest"]
    assert p["reason"]
    view = handlers.chat_view(assistant, p)
    assert "**not** an answer" in view["message"]
    assert "Closest passages, shown as near matches only" in view["sources"]
    assert "ra-cited" not in view["map"] and "no page is cited" in view["map"]
    assert "Closest passages (not an answer)" in view["export"]


def test_section_filter_keeps_answers_in_that_section(assistant):
    p = handlers.ask(assistant, "What are the main challenges?", section="Migration")
    cites = p["citations"] or p["closest"]
    assert cites and all("Migration" in c["section_path"] for c in cites)
    assert p["section"] == "Migration"
    assert "Searched only in: Migration" in handlers.chat_view(assistant, p)["message"]


def test_follow_up_is_searched_with_the_earlier_question(assistant):
    p = handlers.ask(assistant, "and what about energy?", history=[USMCA])
    assert p["follow_up"] and p["searched_as"].startswith("What does the report say about USMCA")
    cites = p["citations"] or p["closest"]
    assert any("energy" in c["text"].lower() for c in cites)
    assert "Read as a follow-up" in handlers.chat_view(assistant, p)["message"]


def test_bad_input_gets_clear_errors_and_the_next_question_still_works(assistant):
    with pytest.raises(QueryError, match="empty"):
        handlers.ask(assistant, "   \n\t ")
    with pytest.raises(QueryError, match="no section named"):
        handlers.ask(assistant, USMCA, section="Atlantis")
    with pytest.raises(QueryError, match="no section named"):
        handlers.read_section(assistant, "Atlantis")
    question = "What does the report say about energy? " * 2600
    size = f"{len(question.strip()):,} characters"
    long = handlers.ask(assistant, question)
    assert size in long["note"] and len(long["question"]) <= 500
    assert f"Note: the question was {size}" in \
        handlers.chat_view(assistant, long)["message"].replace("\\", "")
    nul = handlers.ask(assistant, "What is\x00 nearshoring?\x07")
    assert nul["citations"] or nul["closest"]
    assert handlers.ask(assistant, USMCA)["citations"]


@pytest.mark.parametrize("text", INJECTIONS)
def test_hostile_questions_render_as_text(assistant, text):
    p = handlers.ask(assistant, f"What about {text}")
    view = handlers.chat_view(assistant, p)
    assert "<" not in view["message"] and "](" not in view["message"]
    assert_inert(view["sources"])


def test_compare_lists_sections_with_their_pages(assistant):
    p = handlers.compare(assistant, "energy")
    assert not p["abstained"] and p["rows"]
    assert any(r["section"] == "Energy and Sustainability" for r in p["rows"])
    for r in p["rows"]:
        assert r["passages"]
        for c in r["passages"]:
            _assert_cited_right(assistant, c)
            assert c["section_path"] == r["section_path"]
            assert set(c["pages"]) <= set(r["pages"])
    view = handlers.compare_view(assistant, p)
    assert len(view["table"]) == len(p["rows"])
    for row, cells in zip(p["rows"], view["table"], strict=True):
        assert cells[0] == " › ".join(row["section_path"]) and cells[1] == row["page_label"]
        # The row's position: its own sentences, verbatim from its passages, each with its page.
        assert row["position"] and cells[2].endswith(f"({row['position'][-1]['page_label']})")
        for st in row["position"]:
            assert " ".join(st["text"].split()) in cells[2]
            assert any(st["text"] in c["text"] for c in row["passages"])
            assert set(st["pages"]) <= set(row["pages"])
    assert_inert(view["map"])
    assert view["map"].count('class="ra-band ra-lit"') == len(p["rows"])


def test_compare_that_finds_no_section_says_so(assistant):
    empty = handlers.comparison_payload(
        Comparison("Bitcoin", (), True, "no section of the report addresses this topic"))
    view = handlers.compare_view(assistant, empty)
    assert view["table"] == []
    assert "No section of the report addresses “Bitcoin”" in view["message"]
    assert "ra-lit" not in view["map"]


def test_browse_lists_the_table_of_contents_and_reads_a_section(assistant):
    toc = handlers.section_list(assistant)
    titles = [s["title"] for s in toc]
    assert "Migration" in titles and "Introduction" in titles
    assert all(s["start_page"] <= s["end_page"] for s in toc)
    choices = dict((v, k) for k, v in handlers.section_choices(assistant))
    assert "Working Groups › Migration (pp." in choices["Migration"]
    view = handlers.read_section(assistant, "Migration")
    _, section = handlers.find_section(assistant, "Migration")
    parse_html(view["html"])
    for page in range(section.start_page, section.end_page + 1):
        assert f'<span class="ra-page">p. {page}</span>' in view["html"]
    assert 'class="ra-band ra-lit"' in view["map"]
