"""The running app through its API, as a script would use it: gradio_client over HTTP.

``python app.py`` is started once for the module as a real process on a free
loopback port, with an empty index folder: this is the first start a reader
sees after a clean clone, so it also checks that the index is built with
progress shown and that a question asked meanwhile waits for it.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time

import psutil
import pytest
from app_fixtures import ROOT, app_env, start_app, wait_ready
from gradio_client import Client
from gradio_client.exceptions import AuthenticationError

CITATION = re.compile(r"^.+, pp?\. \d+(-\d+)?$")


@pytest.fixture(scope="module")
def app(tmp_path_factory):
    folder = tmp_path_factory.mktemp("app-client")
    running = start_app(folder / "index", folder / "app.log")
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(app):
    return Client(app.url, verbose=False)


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
    for stage in ("parsing documents", "embedding passages", "ready"):
        assert stage in log
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
                        REPORT_ASSISTANT_USER="reader", REPORT_ASSISTANT_PASSWORD="s3cret-pw")
    try:
        with pytest.raises(AuthenticationError):
            Client(guarded.url, verbose=False).predict(api_name="/status")
        # A wrong password is refused (Gradio answers 400, which the client reports as ValueError).
        with pytest.raises((AuthenticationError, ValueError), match="Could not login"):
            Client(guarded.url, auth=("reader", "wrong"), verbose=False)
        ok = Client(guarded.url, auth=("reader", "s3cret-pw"), verbose=False)
        assert wait_ready(ok)["ready"]
        r = ok.predict("What is nearshoring?", "", "", api_name="/ask")
        assert r["citations"] or r["closest"]
    finally:
        guarded.stop()
