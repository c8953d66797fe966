"""`python -m assistant add / remove / list` as a user runs them.

Each test gets its own corpus (a copy of the report) and index (a copy of the
session index, embedding cache included), and drives the real command line
in a subprocess: real parsing, real model, real FAISS and BM25. Files to add
are generated (tests/docgen.py), so the pages each sentence sits on are known.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from docgen import sample_markdown, sample_pages, write_pdf

from assistant.config import Config
from assistant.library import add_document

ROOT = Path(__file__).resolve().parents[1]
PDF_TITLE = "Water Allocation in Dry Years"  # the first heading of sample_pages()
MD_TITLE = "Field Notes on Irrigation"


def run(ws: dict[str, Path], *args: str) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "assistant", *args,
           "--corpus", str(ws["corpus"]), "--index", str(ws["index"])]
    return subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=600)


def no_trace(proc: subprocess.CompletedProcess) -> None:
    assert "Traceback" not in proc.stderr, proc.stderr


@pytest.fixture
def ws(assistant, engine_config, tmp_path, report_path) -> dict[str, Path]:
    """A corpus holding the report, its current index, and files to add from outside it."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for p in report_path.parent.iterdir():
        if p.name.startswith(report_path.stem):  # the report and its .meta.json
            shutil.copy(p, corpus / p.name)
    shutil.copytree(engine_config.index_dir, tmp_path / "index")
    src = tmp_path / "incoming"
    src.mkdir()
    pdf = write_pdf(src / "Water Paper.pdf", sample_pages())
    md = src / "field notes.md"
    md.write_text(sample_markdown(), encoding="utf-8")
    broken = src / "broken.pdf"
    broken.write_bytes(b"%PDF-1.7\n" + b"\x00not really a pdf\n" * 50)
    return {"corpus": corpus, "index": tmp_path / "index", "pdf": pdf, "md": md,
            "broken": broken}


def index_numbers(line: str) -> tuple[int, int]:
    m = re.fullmatch(r"index updated in [\d.]+ s: (\d+) texts embedded, (\d+) reused; "
                     r"\d+ passages from \d+ document\(s\)", line)
    assert m, line
    return int(m[1]), int(m[2])


def test_added_documents_are_searchable_at_once_with_their_pages(ws):
    proc = run(ws, "add", str(ws["pdf"]), str(ws["md"]))
    no_trace(proc)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    assert re.fullmatch(rf"added water-paper “{PDF_TITLE}”, 5 pages, \d+ passages", lines[0])
    assert re.fullmatch(rf"added field-notes “{MD_TITLE}”, 1 page, \d+ passages", lines[1])
    embedded, reused = index_numbers(lines[2])
    # Only the two new documents were embedded; the report's texts came from the cache.
    assert 0 < embedded < reused

    proc = run(ws, "search", "acoustic sensors on mains found leaks", "--doc", "water-paper",
               "-k", "3", "--json")
    no_trace(proc)
    hits = json.loads(proc.stdout)
    assert hits and all(h["document"] == "water-paper" for h in hits)
    assert "Acoustic sensors on mains" in hits[0]["text"]
    assert hits[0]["pages"] == [4]  # drawn on the fourth page of the PDF

    proc = run(ws, "ask", "How much did conveyance losses fall in District A?",
               "--doc", "field-notes", "--json")
    no_trace(proc)
    answer = json.loads(proc.stdout)
    assert not answer["abstained"], answer["reason"]
    cited = answer["citations"][0]
    assert cited["document"] == "field-notes" and cited["pages"] == [1]
    assert "conveyance losses" in cited["text"]


def test_a_broken_file_is_one_line_and_the_others_are_still_added(ws):
    proc = run(ws, "add", str(ws["broken"]), str(ws["md"]), "--json")
    no_trace(proc)
    assert proc.returncode == 1
    out = json.loads(proc.stdout)
    broken, md = out["documents"]
    assert broken["status"] == "error" and "broken.pdf" in broken["message"]
    assert broken["id"] is None
    assert md["status"] == "added" and md["id"] == "field-notes" and md["title"] == MD_TITLE
    assert md["pages"] == 1 and md["passages"] >= 1
    assert out["failed"] == 1
    assert out["index"]["embedded"] > 0 and out["index"]["documents"] == 2

    # The same in text: the refused file is one line on stderr, the good one on stdout.
    proc = run(ws, "add", str(ws["broken"]), str(ws["md"]))
    no_trace(proc)
    assert proc.returncode == 1
    errors = [line for line in proc.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "broken.pdf" in errors[0]
    assert proc.stdout.startswith(f"already in the corpus: field-notes “{MD_TITLE}”")
    assert "the index was left as it was" not in proc.stdout  # something failed: not "nothing new"

    proc = run(ws, "list", "--json")
    no_trace(proc)
    docs = {d["id"]: d for d in json.loads(proc.stdout)}
    assert set(docs) == {"us-mexico-forum-2025-report-2022", "field-notes"}
    assert all(d["indexed"] for d in docs.values())
    assert not any(p.name.startswith(".staging-") for p in ws["corpus"].iterdir())


def test_an_unsupported_type_is_refused_without_touching_the_index(ws):
    odd = ws["md"].with_suffix(".docx")
    odd.write_bytes(b"PK\x03\x04")
    before = (ws["index"] / "CURRENT").read_text()
    proc = run(ws, "add", str(odd))
    no_trace(proc)
    assert proc.returncode == 1 and proc.stdout == ""
    assert "type .docx is not accepted" in proc.stderr
    assert (ws["index"] / "CURRENT").read_text() == before


def test_remove_then_list(ws):
    cfg = Config.from_env(corpus_dir=ws["corpus"], index_dir=ws["index"])
    assert add_document(cfg, ws["pdf"]).status == "added"

    proc = run(ws, "remove", "no-such-doc")
    no_trace(proc)
    assert proc.returncode == 1
    assert proc.stderr.strip().splitlines()[-1] == (
        f"error: no document 'no-such-doc' in {ws['corpus']}; documents: "
        "us-mexico-forum-2025-report-2022, water-paper")

    proc = run(ws, "remove", "water-paper", "--json")
    no_trace(proc)
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["removed"] == {"id": "water-paper", "title": PDF_TITLE,
                              "files": ["water-paper.pdf", "water-paper.pdf.meta.json"]}
    # The report's passages were all in the cache: nothing to embed.
    assert out["index"]["embedded"] == 0 and out["index"]["documents"] == 1

    proc = run(ws, "list")
    no_trace(proc)
    header, *rows = proc.stdout.strip().splitlines()
    assert header.split() == ["ID", "TITLE", "FORMAT", "PAGES", "PASSAGES", "INDEXED"]
    assert len(rows) == 1 and rows[0].startswith("us-mexico-forum-2025-report-2022  ")
    *_, kind, pages, passages, indexed = rows[0].split()
    assert (kind, pages, indexed) == ("txt", "31", "yes") and int(passages) > 0
    assert header.index("INDEXED") == rows[0].index("yes")  # columns line up


def test_compare_by_takes_section_or_document_only(ws):
    proc = run(ws, "compare", "energy", "--by", "page")
    assert proc.returncode == 2
    assert "invalid choice: 'page' (choose from 'section', 'document')" in proc.stderr
