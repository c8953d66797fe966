"""The running app and its library over HTTP: another process's change, and memory across changes.

A real ``python app.py`` (uploads on, loopback) on copies of the session
index and corpus, driven with gradio_client; the other process is the real
command line. Before: after ``python -m assistant remove ID`` the page went on
listing and citing the removed document; 60 add+remove cycles on the page
took the app's RSS from 957 to 1,155 MB.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from app_fixtures import ROOT, start_app, wait_ready
from docgen import sample_markdown
from gradio_client import Client, handle_file

CYCLES = int(os.environ.get("SOAK_CYCLES", "120"))
WARM_UP = 3


@pytest.fixture(scope="module")
def app(assistant, engine_config, tmp_path_factory):
    folder = tmp_path_factory.mktemp("app-sync")
    shutil.copytree(engine_config.index_dir, folder / "index")
    shutil.copytree(engine_config.corpus_dir, folder / "corpus")
    notes = folder / "irrigation-notes.md"
    notes.write_text(sample_markdown(), encoding="utf-8")
    running = start_app(folder / "index", folder / "app.log",
                        REPORT_ASSISTANT_CORPUS_DIR=str(folder / "corpus"))
    running.folder = folder
    running.notes = notes
    yield running
    running.stop()


@pytest.fixture(scope="module")
def client(app):
    c = Client(app.url, verbose=False)
    assert wait_ready(c)["ready"]
    return c


def cli(app, *args: str) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPORT_ASSISTANT_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1")
    return subprocess.run(
        [sys.executable, "-m", "assistant", *args, "--corpus", str(app.folder / "corpus"),
         "--index", str(app.folder / "index")],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)


def doc_ids(client) -> set[str]:
    return {d["id"] for d in client.predict(api_name="/documents")}


def wait_for(check, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.5)
    return False


def test_a_document_added_and_removed_by_another_process_is_seen(app, client):
    before = doc_ids(client)
    added = cli(app, "add", str(app.notes))
    assert added.returncode == 0, added.stderr
    assert wait_for(lambda: "irrigation-notes" in doc_ids(client)), doc_ids(client)
    r = client.predict("What does the document say about irrigation?", "", "",
                       "irrigation-notes", api_name="/ask")
    assert {c["doc_id"] for c in r["citations"] or r["closest"]} == {"irrigation-notes"}

    removed = cli(app, "remove", "irrigation-notes")
    assert removed.returncode == 0, removed.stderr
    assert wait_for(lambda: doc_ids(client) == before), doc_ids(client)
    r = client.predict("What does the document say about irrigation?", "", "", "",
                       api_name="/ask")
    assert "irrigation-notes" not in {c["doc_id"] for c in r["citations"] or r["closest"]}


def _cycle(client, notes: Path) -> None:
    added = client.predict(handle_file(str(notes)), api_name="/add_document")
    assert added["status"] == "added", added
    client.predict(added["doc_id"], api_name="/remove_document")


@pytest.mark.slow
def test_memory_stays_flat_across_library_changes(app, client):
    proc = psutil.Process(app.proc.pid)
    for _ in range(WARM_UP):  # the first builds allocate what every later one reuses
        _cycle(client, app.notes)
    start = proc.memory_info().rss / 2**20
    marks = []
    for n in range(1, CYCLES + 1):
        _cycle(client, app.notes)
        if n % 20 == 0:
            marks.append((n, round(proc.memory_info().rss / 2**20 - start)))
    end = proc.memory_info().rss / 2**20
    print(f"RSS start {start:.0f} MB, after {CYCLES} add+remove cycles {end:.0f} MB; "
          f"growth by cycle: {marks}")
    assert end - start <= 50, marks
    assert "Traceback" not in app.output()
