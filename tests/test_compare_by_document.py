"""Compare by document: one row per document of a two-document corpus.

Real model and real indexes: the report plus a short Markdown note that also
discusses electric vehicles, indexed from a copy of the session index (its
embedding cache makes the rebuild embed only the note).
"""

from __future__ import annotations

import shutil

import pytest

from assistant.api import Assistant
from assistant.config import Config
from assistant.errors import QueryError

NOTE = """# Border Notes

## Electric vehicles

Battery plants in Nuevo León supply electric vehicle makers in Texas. Nearshoring of
electric vehicle supply chains depends on reliable clean energy.

## Water

Tijuana's desalination plan would add a fifth of the city's supply by 2030.
"""
NOTE_TITLE = "Border Notes"


def _quiet(stage: str, fraction: float) -> None:
    pass


@pytest.fixture(scope="module")
def two_docs(assistant, engine_config, tmp_path_factory, report_path) -> Assistant:
    root = tmp_path_factory.mktemp("compare-docs")
    corpus = root / "corpus"
    corpus.mkdir()
    for p in report_path.parent.iterdir():
        if p.name.startswith(report_path.stem):  # the report and its .meta.json
            shutil.copy(p, corpus / p.name)
    (corpus / "border-notes.md").write_text(NOTE, encoding="utf-8")
    shutil.copytree(engine_config.index_dir, root / "index")
    cfg = Config.from_env(corpus_dir=corpus, index_dir=root / "index")
    return Assistant.build(cfg, progress=_quiet)


def test_one_row_per_document_with_its_own_passages(two_docs):
    report_id = next(d.id for d in two_docs.documents if d.id != "border-notes")
    titles = {d.id: d.title for d in two_docs.documents}
    c = two_docs.compare("electric vehicles", by="document")
    assert not c.abstained
    assert [row.doc_id for row in c.rows].count("border-notes") == 1
    assert {row.doc_id for row in c.rows} == {report_id, "border-notes"}
    assert len(c.rows) == 2
    scores = [row.score for row in c.rows]
    assert scores == sorted(scores, reverse=True)
    for row in c.rows:
        assert row.section == titles[row.doc_id]
        assert row.section_path == (titles[row.doc_id],)
        assert row.hits and all(h.passage.doc_id == row.doc_id for h in row.hits)
        assert row.pages == tuple(sorted({pg for h in row.hits for pg in h.passage.pages}))
        assert "electric vehicle" in row.hits[0].passage.text.lower()
        # With two documents in the index every citation names its document.
        for h in row.hits:
            assert h.passage.document_citation.startswith(titles[row.doc_id])
    note_row = next(row for row in c.rows if row.doc_id == "border-notes")
    assert note_row.hits[0].passage.section_path == (NOTE_TITLE, "Electric vehicles")


def test_by_section_is_the_default_and_unchanged(two_docs):
    default = two_docs.compare("electric vehicles")
    by_section = two_docs.compare("electric vehicles", None, None, "section")
    assert default == by_section
    keys = [(row.doc_id, row.section_path) for row in default.rows]
    assert len(set(keys)) == len(keys)
    for row in default.rows:
        assert all(h.passage.section_path == row.section_path for h in row.hits)


def test_by_document_abstains_like_by_section(two_docs):
    c = two_docs.compare("chocolate chip cookies", by="document")
    assert c.abstained and not c.rows and c.reason


@pytest.mark.parametrize("by", ["page", "Document", "", None, 3])
def test_an_unknown_grouping_is_a_clear_error(two_docs, by):
    with pytest.raises(QueryError, match="choose one of: section, document"):
        two_docs.compare("electric vehicles", by=by)
