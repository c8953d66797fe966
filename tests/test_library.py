"""The document library: add, remove and list documents of a corpus folder.

Real files in temporary folders; the index-backed listing uses the real model
and a real index built in a temporary folder.
"""

from __future__ import annotations

import json
import os
import threading
from dataclasses import replace
from pathlib import Path

import pytest
from docgen import sample_html, sample_markdown, sample_pages, write_pdf

from assistant.config import Config
from assistant.errors import CorpusError
from assistant.library import (
    LOCK_NAME,
    Limits,
    add_document,
    add_documents,
    list_documents,
    refresh_index,
    remove_document,
    safe_name,
)
from assistant.parse import load_corpus


def tree(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")}


@pytest.fixture
def setup(tmp_path) -> tuple[Config, Path, Path]:
    """(config, empty corpus folder, a folder of source files outside it)."""
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    src = tmp_path / "incoming"
    src.mkdir()
    cfg = Config.from_env(corpus_dir=corpus, index_dir=tmp_path / "index")
    return cfg, corpus, src


def corpus_names(corpus: Path) -> set[str]:
    return {p.name for p in corpus.iterdir()} - {LOCK_NAME}


# --- add --------------------------------------------------------------------------------

def test_add_copies_files_in_under_safe_names_with_their_metadata(setup):
    cfg, corpus, src = setup
    md = src / "Field Notes (Final) Año.MD"
    md.write_text(sample_markdown(), encoding="utf-8")
    pdf = write_pdf(src / "Water Paper.pdf", sample_pages())
    results = add_documents(cfg, [md, pdf])
    assert [(r.status, r.doc_id, r.file) for r in results] == [
        ("added", "field-notes-final-ano", "field-notes-final-ano.md"),
        ("added", "water-paper", "water-paper.pdf"),
    ]
    assert all(r.ok and not r.message for r in results)
    assert corpus_names(corpus) == {
        "field-notes-final-ano.md", "field-notes-final-ano.md.meta.json",
        "water-paper.pdf", "water-paper.pdf.meta.json"}
    assert (corpus / "water-paper.pdf").read_bytes() == pdf.read_bytes()
    meta = json.loads((corpus / "field-notes-final-ano.md.meta.json").read_text())
    assert meta["title"] == "Field Notes on Irrigation" == results[0].title
    assert meta["original_name"] == md.name
    assert meta["bytes"] == md.stat().st_size and len(meta["sha256"]) == 64
    docs, skipped = load_corpus(corpus)
    assert {d.id for d in docs} == {"field-notes-final-ano", "water-paper"} and not skipped
    assert md.exists() and pdf.exists()  # copied, not moved


def test_a_given_title_is_kept(setup):
    cfg, corpus, src = setup
    path = src / "n.md"
    path.write_text("Some notes about canals.\n", encoding="utf-8")
    r = add_document(cfg, path, title="  Canal notes, March  ")
    assert r.title == "Canal notes, March"
    assert load_corpus(corpus)[0][0].title == "Canal notes, March"


@pytest.mark.parametrize("name", [
    "..md", ".hidden.md", "-rf.md", "a" * 200 + ".md", "line\nbreak.md", "日本語.md",
    "CON.md", "semi;colon $(x).md",
])
def test_no_name_writes_outside_the_corpus_or_hides_a_file(setup, tmp_path, name):
    cfg, corpus, src = setup
    path = src / name
    path.write_text("Plain words for a test.\n", encoding="utf-8")
    before = tree(tmp_path) - {str(p.relative_to(tmp_path)) for p in corpus.rglob("*")}
    r = add_document(cfg, path)
    assert r.status == "added", r.message
    assert r.file == safe_name(name, ".md")
    assert (corpus / r.file).is_file() and not r.file.startswith(".")
    assert set(r.file[:-3]) <= set("abcdefghijklmnopqrstuvwxyz0123456789-")
    assert len(r.file) <= 83
    after = tree(tmp_path) - {str(p.relative_to(tmp_path)) for p in corpus.rglob("*")}
    assert after == before  # nothing written anywhere but the corpus
    assert corpus_names(corpus) == {r.file, r.file + ".meta.json"}  # no staging left over


def test_a_link_in_the_corpus_cannot_redirect_a_write(setup, tmp_path):
    cfg, corpus, src = setup
    outside = tmp_path / "outside"
    outside.mkdir()
    (corpus / "notes.md").symlink_to(outside / "planted.md")  # dangling: not a document
    path = src / "notes.md"
    path.write_text("Plain words.\n", encoding="utf-8")
    r = add_document(cfg, path)
    assert r.status == "error" and "outside the corpus" in r.message
    assert list(outside.iterdir()) == []


@pytest.mark.parametrize("name", ["tool.exe", "deck.pptx", "noext", "page.php"])
def test_types_not_accepted_are_refused(setup, name):
    cfg, corpus, src = setup
    path = src / name
    path.write_bytes(b"MZ\x90\x00 payload")
    r = add_document(cfg, path)
    assert r.status == "error" and "not accepted" in r.message and ".pdf" in r.message
    assert corpus_names(corpus) == set()


def test_accepted_types_size_and_pages_are_configurable(setup, monkeypatch):
    cfg, corpus, src = setup
    md = src / "a.md"
    md.write_text("word " * 400, encoding="utf-8")  # 2,000 bytes
    pdf = write_pdf(src / "b.pdf", sample_pages())  # 5 pages
    only_md = Limits(types=(".md",))
    assert "not accepted" in add_document(cfg, pdf, limits=only_md).message
    small = Limits(max_bytes=1000)
    r = add_document(cfg, md, limits=small)
    assert r.status == "error" and "over the limit" in r.message
    few_pages = Limits(max_pages=3)
    r = add_document(cfg, pdf, limits=few_pages)
    assert r.status == "error" and "5 pages" in r.message
    assert corpus_names(corpus) == set()

    monkeypatch.setenv("REPORT_ASSISTANT_UPLOAD_TYPES", "md, .PDF")
    monkeypatch.setenv("REPORT_ASSISTANT_MAX_UPLOAD_MB", "0.001")
    monkeypatch.setenv("REPORT_ASSISTANT_MAX_UPLOAD_PAGES", "9")
    assert Limits.from_env() == Limits(max_bytes=1048, types=(".md", ".pdf"), max_pages=9)
    assert "over the limit" in add_document(cfg, md).message  # the default reads the env
    monkeypatch.delenv("REPORT_ASSISTANT_MAX_UPLOAD_MB")
    assert add_document(cfg, md).status == "added"


@pytest.mark.parametrize(("name", "data", "why"), [
    ("fake.pdf", b"this is not a pdf", "not a readable PDF"),
    ("latin1.md", "Año de café".encode("latin-1"), "UTF-8"),
    ("empty.md", b"", "no text"),
    ("blank.html", b"<html><script>x()</script></html>", "no text"),
])
def test_files_the_assistant_cannot_read_never_enter_the_corpus(setup, name, data, why):
    cfg, corpus, src = setup
    path = src / name
    path.write_bytes(data)
    r = add_document(cfg, path)
    assert r.status == "error" and why in r.message
    assert corpus_names(corpus) == set()


def test_missing_files_and_folders_are_errors_not_crashes(setup):
    cfg, _, src = setup
    results = add_documents(cfg, [src / "nope.md", src])
    assert [r.status for r in results] == ["error", "error"]
    assert all(r.message for r in results)


def test_one_bad_file_does_not_stop_the_others(setup):
    cfg, corpus, src = setup
    good = src / "good.md"
    good.write_text("Good words.\n", encoding="utf-8")
    bad = src / "bad.exe"
    bad.write_bytes(b"x")
    results = add_documents(cfg, [bad, good])
    assert [r.status for r in results] == ["error", "added"]
    assert "good.md" in corpus_names(corpus)


def test_the_same_file_twice_is_unchanged_and_a_new_file_of_that_name_gets_a_new_id(setup):
    cfg, corpus, src = setup
    a = src / "notes.md"
    a.write_text("First version.\n", encoding="utf-8")
    assert add_document(cfg, a).doc_id == "notes"
    again = add_document(cfg, a)
    assert (again.status, again.doc_id) == ("unchanged", "notes")
    other = src / "other" / "notes.md"
    other.parent.mkdir()
    other.write_text("A different file with the same name.\n", encoding="utf-8")
    r = add_document(cfg, other)
    assert (r.status, r.doc_id, r.file) == ("added", "notes-2", "notes-2.md")
    # Another type with the same name would share the id: it gets a new one too.
    html = src / "notes.html"
    html.write_text("<p>Notes as a page.</p>", encoding="utf-8")
    assert add_document(cfg, html).doc_id == "notes-3"
    assert len(load_corpus(corpus)[0]) == 3


def test_replace_swaps_the_document_behind_an_id(setup):
    cfg, corpus, src = setup
    a = src / "notes.md"
    a.write_text("First version.\n", encoding="utf-8")
    add_document(cfg, a)
    b = src / "b" / "notes.html"
    b.parent.mkdir()
    b.write_text("<p>Second version.</p>", encoding="utf-8")
    r = add_document(cfg, b, replace=True)
    assert (r.status, r.doc_id) == ("added", "notes") and "notes.md" in r.message
    assert corpus_names(corpus) == {"notes.html", "notes.html.meta.json"}
    assert load_corpus(corpus)[0][0].blocks[0].text == "Second version."


def test_concurrent_adds_of_one_name_keep_every_file(setup):
    cfg, corpus, src = setup
    paths = []
    for n in range(6):
        folder = src / f"d{n}"
        folder.mkdir()
        path = folder / "minutes.md"
        path.write_text(f"Minutes of meeting number {n}.\n", encoding="utf-8")
        paths.append(path)
    results: list = [None] * len(paths)

    def add(i: int) -> None:
        results[i] = add_document(cfg, paths[i])

    threads = [threading.Thread(target=add, args=(i,)) for i in range(len(paths))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    ids = sorted(r.doc_id for r in results)
    assert all(r.status == "added" for r in results)
    assert ids == sorted(["minutes", *(f"minutes-{n}" for n in range(2, 7))])
    texts = sorted(d.blocks[0].text for d in load_corpus(corpus)[0])
    assert texts == sorted(f"Minutes of meeting number {n}." for n in range(6))


# --- remove -----------------------------------------------------------------------------

def test_remove_deletes_the_document_and_its_metadata_only(setup):
    cfg, corpus, src = setup
    (src / "a.md").write_text("Alpha.\n", encoding="utf-8")
    (src / "b.md").write_text("Beta.\n", encoding="utf-8")
    add_documents(cfg, [src / "a.md", src / "b.md"])
    r = remove_document(cfg, "a")
    assert r.doc_id == "a" and set(r.files) == {"a.md", "a.md.meta.json"}
    assert corpus_names(corpus) == {"b.md", "b.md.meta.json"}
    assert (src / "a.md").exists()  # the original is the user's


def test_remove_an_unknown_id_says_which_ids_exist(setup):
    cfg, _, src = setup
    (src / "a.md").write_text("Alpha.\n", encoding="utf-8")
    add_document(cfg, src / "a.md")
    with pytest.raises(CorpusError, match=r"no document 'zzz'.*documents: a"):
        remove_document(cfg, "zzz")
    with pytest.raises(CorpusError):
        remove_document(cfg, "../a")


def test_remove_keeps_a_stem_metadata_file_another_document_uses(setup):
    cfg, corpus, _ = setup
    (corpus / "r.txt").write_text("Report text.\n", encoding="utf-8")
    (corpus / "r.meta.json").write_text('{"title": "R"}', encoding="utf-8")
    (corpus / "s.txt").write_text("Other text.\n", encoding="utf-8")
    remove_document(cfg, "s")
    assert corpus_names(corpus) == {"r.txt", "r.meta.json"}
    remove_document(cfg, "r")
    assert corpus_names(corpus) == set()


# --- list -------------------------------------------------------------------------------

def test_list_without_an_index_counts_from_the_files(setup):
    cfg, corpus, src = setup
    write_pdf(src / "paper.pdf", sample_pages())
    (src / "page.html").write_text(sample_html(), encoding="utf-8")
    add_documents(cfg, [src / "paper.pdf", src / "page.html"])
    (corpus / "broken.md").write_bytes(b"\xff\xfe bad bytes")
    rows = {r["id"]: r for r in list_documents(cfg)}
    assert set(rows) == {"paper", "page", "broken"}
    paper = rows["paper"]
    assert paper["title"] == "Water Allocation in Dry Years"
    assert (paper["type"], paper["pages"], paper["indexed"]) == ("pdf", 5, False)
    assert paper["sections"] == 6 and paper["passages"] > 5
    assert paper["file"] == "paper.pdf" and paper["bytes"] > 1000 and paper["added"]
    assert rows["page"]["pages"] == 1 and rows["page"]["title"] == "Desalination Costs Explained"
    assert "UTF-8" in rows["broken"]["error"] and rows["broken"]["passages"] is None


def test_list_reads_counts_from_a_current_index(setup, embedder):
    cfg, _, src = setup
    write_pdf(src / "paper.pdf", sample_pages())
    (src / "notes.md").write_text(sample_markdown(), encoding="utf-8")
    add_documents(cfg, [src / "paper.pdf", src / "notes.md"])
    from_files = {r["id"]: r for r in list_documents(cfg)}
    data = refresh_index(cfg, embedder)
    rows = {r["id"]: r for r in list_documents(cfg)}
    for doc_id, row in rows.items():
        assert row["indexed"] is True
        assert row["passages"] == sum(p.doc_id == doc_id for p in data.passages)
        for key in ("title", "pages", "sections", "passages"):
            assert row[key] == from_files[doc_id][key]
    # A corpus change makes the index stale: counts come from the files again.
    (src / "extra.md").write_text("Extra words.\n", encoding="utf-8")
    add_document(cfg, src / "extra.md")
    rows = list_documents(cfg)
    assert {r["id"] for r in rows} == {"paper", "notes", "extra"}
    assert not any(r["indexed"] for r in rows)
    assert next(r for r in rows if r["id"] == "extra")["passages"] == 1


def test_library_needs_an_existing_corpus_folder(tmp_path):
    cfg = Config.from_env(corpus_dir=tmp_path / "missing", index_dir=tmp_path / "i")
    with pytest.raises(CorpusError, match="does not exist"):
        list_documents(cfg)
    with pytest.raises(CorpusError):
        remove_document(cfg, "x")
    r = add_document(cfg, tmp_path / "x.md")
    assert r.status == "error" and "does not exist" in r.message


def test_read_only_corpus_gives_an_error_result(setup):
    cfg, corpus, src = setup
    if os.geteuid() == 0:
        pytest.skip("root ignores folder permissions")
    (src / "a.md").write_text("Alpha.\n", encoding="utf-8")
    corpus.chmod(0o500)
    try:
        r = add_document(replace(cfg), src / "a.md")
    finally:
        corpus.chmod(0o700)
    assert r.status == "error" and r.message
