"""Adding and removing documents updates the index incrementally, and ends where a rebuild does.

Real model, real FAISS and BM25 indexes, in temporary folders. The history:
start from the report's index (a copy of the session index, with its
embedding cache), add a generated PDF, add a Markdown file, remove the PDF,
add it again. After each step only texts the previous index did not hold are
embedded; and the final index equals one built from scratch, with an empty
cache, over the same files: same passages and ids, same vectors within float
tolerance, same BM25 scores, same search results.
"""

from __future__ import annotations

import itertools
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from docgen import sample_markdown, sample_pages, write_pdf

from assistant.api import Assistant
from assistant.config import Config
from assistant.index import (
    IndexData,
    build_index,
    embed_text,
    load_index,
    sentence_embed_text,
    staleness,
)
from assistant.library import add_document, remove_document
from assistant.types import FOOTNOTE

QUERIES = [
    "aquifer storage banking in wet years",
    "conveyance losses of buried pipe",
    "nearshoring opportunities in Mexico",
    "What did the working group say about fentanyl?",
    "groundwater pumping in the last drought",
]


def texts_of(data: IndexData) -> set[str]:
    """Every text the build embedded: passages as the model sees them, and sentences."""
    out = {embed_text(p) for p in data.passages}
    out |= {sentence_embed_text(data.passages[i], data.passages[i].text[s:e])
            for i, s, e in data.sent_spans.tolist()}
    return out


@dataclass
class Step:
    name: str
    data: IndexData
    seconds: float


@pytest.fixture(scope="module")
def history(assistant, engine_config, embedder, tmp_path_factory, report_path):
    root = tmp_path_factory.mktemp("incremental")
    corpus = root / "corpus"
    corpus.mkdir()
    for p in report_path.parent.iterdir():
        if p.name.startswith(report_path.stem):  # the report and its .meta.json
            shutil.copy(p, corpus / p.name)
    shutil.copytree(engine_config.index_dir, root / "index")
    cfg = Config.from_env(corpus_dir=corpus, index_dir=root / "index")
    src = root / "incoming"
    src.mkdir()
    pdf = write_pdf(src / "water-paper.pdf", sample_pages())
    md = src / "field-notes.md"
    md.write_text(sample_markdown(), encoding="utf-8")

    start = load_index(cfg)
    assert staleness(start.manifest, cfg) is None  # the copy is current for this corpus
    steps = [Step("report", start, 0.0)]

    def rebuild(name: str) -> None:
        t0 = time.perf_counter()
        data = build_index(cfg, embedder)
        steps.append(Step(name, data, time.perf_counter() - t0))

    assert add_document(cfg, pdf).status == "added"
    rebuild("add pdf")
    assert add_document(cfg, md).status == "added"
    rebuild("add markdown")
    remove_document(cfg, "water-paper")
    rebuild("remove pdf")
    assert add_document(cfg, pdf).status == "added"
    rebuild("add pdf again")

    # From scratch: the same files, an empty index folder, so no cache.
    full_corpus = root / "full-corpus"
    shutil.copytree(corpus, full_corpus, ignore=shutil.ignore_patterns(".*"))
    full_cfg = Config.from_env(corpus_dir=full_corpus, index_dir=root / "full-index")
    t0 = time.perf_counter()
    full = build_index(full_cfg, embedder)
    full_seconds = time.perf_counter() - t0
    for s in steps[1:]:
        print(f"{s.name}: {s.seconds:.2f} s, newly embedded {s.data.manifest['newly_embedded']}")
    print(f"full rebuild, empty cache: {full_seconds:.2f} s, "
          f"newly embedded {full.manifest['newly_embedded']}")
    return {"steps": steps, "full": full, "full_cfg": full_cfg, "cfg": cfg}


def test_each_step_embeds_only_texts_the_previous_index_lacked(history):
    steps = history["steps"]
    for before, after in itertools.pairwise(steps):
        new = texts_of(after.data) - texts_of(before.data)
        assert after.data.manifest["newly_embedded"] == len(new), after.name
    by_name = {s.name: s.data for s in steps}
    report_only = texts_of(by_name["report"])
    pdf_texts = texts_of(by_name["add pdf"]) - report_only
    # Adding the PDF embedded the PDF's passages and sentences, none of the report's.
    assert 0 < by_name["add pdf"].manifest["newly_embedded"] == len(pdf_texts)
    pdf_passages = [p for p in by_name["add pdf"].passages if p.doc_id == "water-paper"]
    assert pdf_passages and {embed_text(p) for p in pdf_passages} <= pdf_texts
    assert by_name["add pdf"].manifest["newly_embedded"] < len(report_only) / 5
    assert by_name["remove pdf"].manifest["newly_embedded"] == 0


def test_every_step_leaves_a_consistent_current_index(history):
    cfg = history["cfg"]
    last = history["steps"][-1].data
    loaded = load_index(cfg)  # checks FAISS, vectors, BM25 and passages agree in size
    assert staleness(loaded.manifest, cfg) is None
    assert [p.id for p in loaded.passages] == [p.id for p in last.passages]
    for step in history["steps"]:
        data = step.data
        n = len(data.passages)
        assert data.dense.ntotal == n == len(data.vectors) == data.bm25.size
        assert len(data.sent_vectors) == len(data.sent_spans)
        docs = {d.id for d in data.documents}
        assert {p.doc_id for p in data.passages} == docs
    removed = next(s.data for s in history["steps"] if s.name == "remove pdf")
    assert "water-paper" not in {p.doc_id for p in removed.passages}


def test_add_remove_add_equals_a_full_rebuild(history):
    inc: IndexData = history["steps"][-1].data
    full: IndexData = history["full"]
    assert inc.passages == full.passages  # ids, texts, sections, pages, kinds, context
    assert [d.id for d in inc.documents] == [d.id for d in full.documents]
    assert inc.documents == full.documents
    assert inc.manifest["corpus_hash"] == full.manifest["corpus_hash"]
    assert full.manifest["newly_embedded"] == len(texts_of(full))
    np.testing.assert_allclose(inc.vectors, full.vectors, atol=1e-5)
    np.testing.assert_array_equal(inc.sent_spans, full.sent_spans)
    np.testing.assert_allclose(inc.sent_vectors, full.sent_vectors, atol=1e-5)
    assert inc.acronyms == full.acronyms
    for q in QUERIES:
        np.testing.assert_allclose(inc.bm25.scores(q), full.bm25.scores(q), rtol=1e-6)
    # FAISS answers the same nearest neighbours for passage vectors used as queries.
    probe = full.vectors[:: max(1, len(full.vectors) // 20)]
    d_inc, i_inc = inc.dense.search(probe, 5)
    d_full, i_full = full.dense.search(probe, 5)
    np.testing.assert_array_equal(i_inc, i_full)
    np.testing.assert_allclose(d_inc, d_full, atol=1e-5)


def test_search_and_answers_match_the_full_rebuild(history, embedder):
    inc = Assistant(history["steps"][-1].data, embedder, history["cfg"])
    full = Assistant(history["full"], embedder, history["full_cfg"])
    for q in QUERIES:
        a = [(h.passage.id, round(h.score, 6)) for h in inc.search(q, k=5)]
        b = [(h.passage.id, round(h.score, 6)) for h in full.search(q, k=5)]
        assert a == b, q
        assert inc.ask(q).text == full.ask(q).text


def test_questions_can_be_filtered_to_one_document(history, embedder):
    a = Assistant(history["steps"][-1].data, embedder, history["cfg"])
    titles = {d.id: d.title for d in a.documents}
    assert set(titles) >= {"water-paper", "field-notes"}
    for doc in ("water-paper", titles["water-paper"]):
        hits = a.search("drought and groundwater", k=5, doc=doc)
        assert hits and {h.passage.doc_id for h in hits} == {"water-paper"}
    hits = a.search("drought and groundwater", k=5, doc="field-notes")
    assert {h.passage.doc_id for h in hits} == {"field-notes"}


def test_citations_name_the_document_when_there_are_several(history, embedder):
    a = Assistant(history["steps"][-1].data, embedder, history["cfg"])
    report = next(p for p in a.passages if p.doc_id != "water-paper"
                  and p.doc_title.startswith("U.S.-Mexico Forum"))
    assert report.document_citation.startswith("U.S.-Mexico Forum 2025: Report 2022 — ")
    assert report.document_citation.endswith(report.citation)
    paper = next(p for p in a.passages if p.doc_id == "water-paper" and p.kind != FOOTNOTE
                 and "Storage Banking" in p.section_path)
    # The paper's sections already open with its title: it is not repeated.
    assert paper.doc_title == "Water Allocation in Dry Years"
    assert paper.document_citation == paper.citation
    assert paper.citation.startswith("Water Allocation in Dry Years › Storage Banking, pp. 2-3")
    notes = next(p for p in a.passages if p.doc_id == "field-notes")
    assert notes.document_citation.startswith("Field Notes on Irrigation")


def test_the_report_passages_survive_every_step_unchanged(history):
    first = {p.id: p for p in history["steps"][0].data.passages}
    for step in history["steps"][1:]:
        kept = {p.id: p for p in step.data.passages if p.id in first}
        assert kept == first, step.name


def test_timings_are_recorded(history):
    # Not a speed assertion (the machine is shared); the numbers are printed
    # with -s and the manifest keeps each build's own duration.
    for step in history["steps"][1:]:
        assert step.data.manifest["build_seconds"] > 0
    assert Path(history["full"].path).is_dir()
