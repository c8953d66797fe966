"""The running app through its API, as a script would use it: gradio_client over HTTP.

``python app.py`` is started once for the module as a real process on a free
loopback port, with an empty index folder: this is the first start a reader
sees after a clean clone, so it also checks that the index is built with
progress shown and that a question asked meanwhile waits for it. Its corpus
is a copy of corpus/, since the last tests add a document to it through the
API (and remove it again).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import time

import psutil
import pytest
from app_fixtures import ROOT, app_env, start_app, wait_ready
from docgen import write_pdf
from gradio_client import Client, handle_file
from gradio_client.exceptions import AuthenticationError

# gradio_client reports usage unless both this and analytics_enabled=False say no;
# the app itself gets GRADIO_ANALYTICS_ENABLED=False from app_env.
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

CITATION = re.compile(r"^.+, pp?\. \d+(-\d+)?$")
# Uploads above this are refused; small, so a refused upload is cheap to send.
UPLOAD_MB = "0.5"
DAMAGED = "damaged-annex.pdf"


def connect(url: str, **kwargs) -> Client:
    return Client(url, verbose=False, analytics_enabled=False, **kwargs)


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("app-client")
    corpus = folder / "corpus"
    shutil.copytree(ROOT / "corpus", corpus)
    # A damaged file beside the report: the build skips it and the app says so.
    (corpus / DAMAGED).write_bytes(b"%PDF-1.4 cut off in the middle")
    running = start_app(folder / "index", folder / "app.log",
                        REPORT_ASSISTANT_CORPUS_DIR=str(corpus),
                        REPORT_ASSISTANT_MAX_UPLOAD_MB=UPLOAD_MB,
                        GRADIO_ANALYTICS_ENABLED="False")
    running.corpus = corpus  # type: ignore[attr-defined]
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(app):
    return connect(app.url)


@pytest.fixture(scope="module")
def first_answer(client):
    """Asked as soon as the page answers, usually while the index is still being built."""
    status = client.predict(api_name="/status")
    t0 = time.monotonic()
    answer = client.predict("What does the report say about USMCA?", "", "", api_name="/ask")
    return status, answer, time.monotonic() - t0


def test_first_start_builds_the_index_with_progress(app, client, first_answer):
    status, answer, _ = first_answer
    assert set(status) >= {"ready", "stage", "fraction"}
    assert wait_ready(client)["ready"]
    log = app.output()
    # The terminal shows each stage with a percentage while the index is built.
    for stage in ("parsing documents", "ready"):
        assert stage in log
    # Embedding reports texts done of total as it goes.
    assert re.search(r"embedding [\d,]+ of [\d,]+ texts", log)
    assert re.search(r"\d+%", log)
    assert "Running on local URL:  http://127.0.0.1:" in log
    # The question asked while the index was being prepared waited and was answered.
    assert answer["citations"] and not answer["abstained"]


def test_ask_returns_an_answer_with_sections_and_pages(client, first_answer):
    r = client.predict("What does the report say about USMCA?", "", "", api_name="/ask")
    assert set(r) >= {"answer", "abstained", "citations", "sentences", "closest", "note"}
    assert not r["abstained"] and r["sentences"]
    for s in r["sentences"]:
        assert f"[{s['citation']}]" in r["answer"]
    quoted = [c for c in r["citations"] if c["quoted"]]
    assert quoted
    for c in r["citations"]:
        assert c["section_path"] and c["section"] == c["section_path"][-1]
        assert c["pages"] and all(isinstance(p, int) and p >= 1 for p in c["pages"])
        assert CITATION.match(c["citation"])
        assert c["text"].strip()
    assert any("usmca" in c["text"].lower() for c in quoted)


def test_ask_within_one_section(client, first_answer):
    toc = {s["title"]: s for s in client.predict(api_name="/sections")}
    assert {"Migration", "Energy and Sustainability", "Introduction"} <= set(toc)
    migration = toc["Migration"]
    r = client.predict("What should the two governments do?", "Migration", "",
                       api_name="/ask")
    cites = r["citations"] or r["closest"]
    assert cites and r["section"] == "Migration"
    for c in cites:
        assert "Migration" in c["section_path"]
        assert all(migration["start_page"] <= p <= migration["end_page"] for p in c["pages"])


def test_out_of_scope_question_abstains(client, first_answer):
    r = client.predict("What is the population of Monterrey?", "", "", api_name="/ask")
    assert r["abstained"] is True
    assert r["citations"] == [] and r["closest"], "closest passages are offered as such"
    assert r["reason"]


def test_follow_up_uses_the_previous_question(client, first_answer):
    r = client.predict("and what about energy?", "", "What does the report say about USMCA?",
                       api_name="/ask")
    assert r["follow_up"] is True
    assert "USMCA" in r["searched_as"] and "energy" in r["searched_as"]


def test_compare_returns_sections_side_by_side(client, first_answer):
    r = client.predict("energy", "", api_name="/compare")
    assert r["topic"] == "energy" and not r["abstained"] and r["rows"]
    assert [row["rank"] for row in r["rows"]] == list(range(1, len(r["rows"]) + 1))
    assert any(row["section"] == "Energy and Sustainability" for row in r["rows"])
    for row in r["rows"]:
        assert row["pages"] and row["page_label"].startswith("p")
        best = row["passages"][0]
        assert best["section_path"] == row["section_path"]
        assert set(best["pages"]) <= set(row["pages"])


def test_bad_input_gets_a_clear_message_and_the_app_keeps_answering(client, first_answer):
    with pytest.raises(Exception, match="empty"):
        client.predict("   ", "", "", api_name="/ask")
    with pytest.raises(Exception, match="no section named 'Atlantis'"):
        client.predict("What about energy?", "Atlantis", "", api_name="/ask")
    with pytest.raises(Exception, match="empty"):
        client.predict("", "", api_name="/compare")
    long = client.predict("Is nearshoring discussed? " * 4000, "", "", api_name="/ask")
    assert "characters, over the limit of" in long["note"] and "it was cut to" in long["note"]
    r = client.predict("What is nearshoring?", "", "", api_name="/ask")
    assert r["citations"] or r["closest"]


def test_app_listens_on_loopback_only(app, first_answer):
    proc = psutil.Process(app.proc.pid)
    addrs = {c.laddr.ip for c in proc.net_connections(kind="inet")
             if c.status == psutil.CONN_LISTEN}
    assert addrs == {"127.0.0.1"}


def test_public_host_is_refused_without_login(tmp_path):
    done = subprocess.run(
        [sys.executable, str(ROOT / "app.py"), "--host", "0.0.0.0", "--port", "1"],
        cwd=ROOT, env=app_env(tmp_path / "index"), capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert "refusing to serve on '0.0.0.0' without a login" in done.stderr


def test_login_from_the_environment_guards_the_app(app, first_answer, tmp_path):
    # Reuses the index the module's app built, so this second app starts quickly.
    guarded = start_app(app.log.parent / "index", tmp_path / "guarded.log",
                        REPORT_ASSISTANT_CORPUS_DIR=str(app.corpus),
                        REPORT_ASSISTANT_USER="reader", REPORT_ASSISTANT_PASSWORD="s3cret-pw")
    try:
        with pytest.raises(AuthenticationError):
            connect(guarded.url).predict(api_name="/status")
        # A wrong password is refused (Gradio answers 400, which the client reports as ValueError).
        with pytest.raises((AuthenticationError, ValueError), match="Could not login"):
            connect(guarded.url, auth=("reader", "wrong"))
        ok = connect(guarded.url, auth=("reader", "s3cret-pw"))
        assert wait_ready(ok)["ready"]
        r = ok.predict("What is nearshoring?", "", "", api_name="/ask")
        assert r["citations"] or r["closest"]
    finally:
        guarded.stop()


# --- documents added through the API -------------------------------------------------------
# These run last: they change the module app's library (and take it back at the end).

BRIEF = "Border Water Brief"
BRIEF_PAGES = [
    [("h", 1, "Shared Aquifers"),
     ("p", "The Hueco Bolson aquifer supplies El Paso and Ciudad Juarez with drinking water. "
           "Both cities pump water from the aquifer faster than rain can recharge it.")],
    [("h", 1, "The 1944 Water Treaty"),
     ("p", "The 1944 Water Treaty obliges Mexico to deliver water from six Rio Grande "
           "tributaries to the United States in five-year cycles. Long droughts have left "
           "Mexico behind on its treaty deliveries.")],
]


@pytest.fixture(scope="module")
def added(client, first_answer, tmp_path_factory):
    """A two-page PDF added through /add_document, and the library before and after."""
    assert wait_ready(client)["ready"]
    before = client.predict(api_name="/documents")
    folder = tmp_path_factory.mktemp("upload")
    pdf = write_pdf(folder / "border-water-brief.pdf", BRIEF_PAGES, title=BRIEF)
    t0 = time.monotonic()
    result = client.predict(handle_file(str(pdf)), api_name="/add_document")
    return {"result": result, "seconds": time.monotonic() - t0, "before": before,
            "after": client.predict(api_name="/documents")}


def test_an_added_pdf_is_indexed_and_listed(client, added):
    r = added["result"]
    assert r["status"] == "added" and r["title"] == BRIEF
    assert r["pages"] == 2 and r["passages"] >= 2
    assert added["seconds"] < 120, "only the new document's text is embedded"
    docs = {d["id"]: d for d in added["after"]}
    assert set(docs) == {d["id"] for d in added["before"]} | {r["doc_id"]}
    assert docs[r["doc_id"]]["removable"] and docs[r["doc_id"]]["title"] == BRIEF
    report = next(d for d in added["after"] if d["report"])
    assert not report["removable"]


def test_a_damaged_corpus_file_is_skipped_and_reported(client, first_answer):
    status = wait_ready(client)
    assert status["ready"] and [s["file"] for s in status["skipped"]] == [DAMAGED]
    reason = status["skipped"][0]["reason"]
    assert DAMAGED in reason and str(ROOT) not in reason and "/corpus/" not in reason
    assert DAMAGED not in {d["file"] for d in client.predict(api_name="/documents")}


def test_ask_within_the_added_document_cites_its_title_and_page(client, added):
    doc_id = added["result"]["doc_id"]
    for question, page in (("Which aquifer supplies El Paso and Ciudad Juarez?", 1),
                           ("What does the 1944 Water Treaty oblige Mexico to do?", 2)):
        r = client.predict(question, "", "", doc_id, api_name="/ask")
        assert not r["abstained"], r["reason"]
        assert r["doc"] == doc_id and r["doc_title"] == BRIEF
        quoted = [c for c in r["citations"] if c["quoted"]]
        assert quoted and all(c["doc_id"] == doc_id for c in r["citations"])
        best = quoted[0]
        assert best["pages"] == [page], (question, best)
        assert best["citation"].startswith(f"{BRIEF} — ") and best["citation"].endswith(
            f"p. {page}")
    # The document can be named by its title too, and the section filter combines with it.
    r = client.predict("Which aquifer supplies El Paso?", "Shared Aquifers", "", BRIEF,
                       api_name="/ask")
    assert r["citations"] and all(c["section"] == "Shared Aquifers" for c in r["citations"])
    with pytest.raises(Exception, match="no document 'Atlantis'"):
        client.predict("Which aquifer?", "", "", "Atlantis", api_name="/ask")
    with pytest.raises(Exception, match="has no section named 'Migration'"):
        client.predict("Which aquifer?", "Migration", "", doc_id, api_name="/ask")


def test_the_report_s_citations_stay_as_they_were(client, added):
    r = client.predict("What does the report say about USMCA?", "", "", api_name="/ask")
    report = next(d for d in added["after"] if d["report"])
    assert not r["abstained"]
    for c in r["citations"]:
        if c["doc_id"] == report["id"]:
            assert CITATION.match(c["citation"]) and not c["citation"].startswith(BRIEF)


def test_compare_by_document_gives_one_row_per_document(client, added):
    r = client.predict("water", "", "document", api_name="/compare")
    assert r["by"] == "document" and not r["abstained"]
    ids = [row["doc_id"] for row in r["rows"]]
    assert len(ids) == len(set(ids)) and added["result"]["doc_id"] in ids
    titles = {d["id"]: d["title"] for d in added["after"]}
    for row in r["rows"]:
        assert row["label"] == titles[row["doc_id"]] == row["document"]
        assert all(p["doc_id"] == row["doc_id"] for p in row["passages"])
    brief = next(row for row in r["rows"] if row["doc_id"] == added["result"]["doc_id"])
    assert set(brief["pages"]) <= {1, 2}
    # Old clients that pass (topic, section) still compare by section.
    assert client.predict("water", "", api_name="/compare")["by"] == "section"
    with pytest.raises(Exception, match="compare by 'section' or 'document'"):
        client.predict("water", "", "chapter", api_name="/compare")


def test_rejected_files_get_a_clear_message_and_change_nothing(app, client, added,
                                                               tmp_path):
    before = client.predict(api_name="/documents")
    files = {"tool.exe": b"MZ not a document", "broken.pdf": b"%PDF-1.7 not really a pdf",
             "empty.md": b"   \n"}
    messages = {"tool.exe": r"tool\.exe: type \.exe is not accepted; accepted: \.pdf",
                "broken.pdf": r"broken\.pdf: (not a readable PDF|could not be parsed)",
                "empty.md": r"empty\.md: no text found"}
    for name, data in files.items():
        path = tmp_path / name
        path.write_bytes(data)
        with pytest.raises(Exception, match=messages[name]) as err:
            client.predict(handle_file(str(path)), api_name="/add_document")
        assert ".staging-" not in str(err.value), "the server's folders are not shown"
    big = tmp_path / "big.md"
    big.write_text("Water. " * 120_000, encoding="utf-8")  # over the 0.5 MB limit
    with pytest.raises(Exception, match="maximum file size"):
        client.predict(handle_file(str(big)), api_name="/add_document")
    assert client.predict(api_name="/documents") == before
    names = sorted(p.name for p in app.corpus.iterdir() if not p.name.startswith("."))
    assert not any(n.startswith(("tool", "broken", "empty", "big")) for n in names), names
    r = client.predict("Which aquifer supplies El Paso?", "", "", added["result"]["doc_id"],
                       api_name="/ask")
    assert r["citations"]


def test_remove_takes_out_an_added_document_but_never_the_report(client, added):
    report = next(d for d in added["after"] if d["report"])
    with pytest.raises(Exception, match="cannot be removed from the page"):
        client.predict(report["id"], api_name="/remove_document")
    doc_id = added["result"]["doc_id"]
    gone = client.predict(doc_id, api_name="/remove_document")
    assert gone["doc_id"] == doc_id and gone["title"] == BRIEF
    assert client.predict(api_name="/documents") == added["before"]
    with pytest.raises(Exception, match=f"no document {doc_id!r}"):
        client.predict("Which aquifer?", "", "", doc_id, api_name="/ask")
    r = client.predict("What does the report say about USMCA?", "", "", api_name="/ask")
    assert r["citations"] and not r["abstained"]
