"""Hostile documents: whatever a document holds, every embedded text fits the model.

A 5,000-word paragraph without a full stop, a 300-entry table of contents, a
60-column table and a 40-level heading path, each drawn from several seeds
(tests/docgen.py). For each: every passage is a verbatim span of its
document, every embedded text (passage with its context, and every sentence
as embedded) is within max_seq_length of the model's own tokenizer, and a
build of them all together with the report succeeds and serves them.
"""

from __future__ import annotations

import random
import shutil
import time
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.chunk import (
    ChunkSettings,
    ModelFit,
    chunk_document,
    sentence_spans,
    tiktoken_counter,
    tiktoken_ends,
)
from assistant.index import build_index, embed_text, sentence_embed_text
from assistant.parse import load_document
from tests import docgen

SEEDS = (0, 1, 2)


def _write(folder: Path, seed: int) -> list[Path]:
    rng = random.Random(seed)
    files = []
    for name, text in (("run-on", docgen.hostile_run_on(rng)), ("toc", docgen.hostile_toc(rng)),
                       ("table", docgen.hostile_table(rng))):
        path = folder / f"{name}-{seed}.md"
        path.write_text(text, encoding="utf-8")
        files.append(path)
    files.append(docgen.write_pdf(folder / f"deep-{seed}.pdf", docgen.hostile_deep_pages(rng)))
    return files


@pytest.fixture(scope="module")
def hostile(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("hostile")
    return [p for seed in SEEDS for p in _write(folder, seed)]


def _embedded(passages):
    for p in passages:
        yield p.id, embed_text(p)
        for s, e in sentence_spans(p.text):
            yield p.id, sentence_embed_text(p, p.text[s:e])


def test_every_embedded_text_fits_and_every_passage_is_verbatim(hostile, embedder, engine_config):
    settings = ChunkSettings(engine_config.chunk_target_tokens, engine_config.chunk_max_tokens)
    limit = embedder.max_seq_length
    fit = ModelFit(embedder.count_tokens, limit, embedder.token_ends)
    deep_seen = False
    for path in hostile:
        doc = load_document(path)
        passages = chunk_document(doc, settings, tiktoken_counter(engine_config.encoding), fit,
                                  tiktoken_ends(engine_config.encoding))
        assert passages, path.name
        for p in passages:
            assert doc.text[p.start:p.end] == p.text, (path.name, p.id)
            assert p.text.strip() == p.text and p.text
        over = [(pid, n) for pid, t in _embedded(passages)
                if (n := embedder.count_tokens(t)) > limit]
        assert not over, f"{path.name}: over {limit} model tokens: {over[:5]}"
        # Together the passages cover every word of the document's blocks.
        covered = "".join(doc.text[p.start:p.end] for p in passages)
        for b in doc.blocks:
            assert all(w in covered for w in b.text.split()[:50]), path.name
        if path.name.startswith("deep"):
            deepest = max(passages, key=lambda p: len(p.section_path))
            assert len(deepest.section_path) >= 40
            # The path was shortened (its innermost titles kept), not the text.
            assert deepest.section_path[-1].split(". ", 1)[-1].split()[0] in deepest.context
            deep_seen = True
    assert deep_seen


def test_a_sentence_less_paragraph_chunks_in_time_linear_in_its_length(tmp_path, embedder,
                                                                         engine_config):
    rng = random.Random(7)
    text = " ".join(docgen._words(rng, 20_000))[:100_000]
    fit = ModelFit(embedder.count_tokens, embedder.max_seq_length, embedder.token_ends)
    embedder.count_tokens("warm"), embedder.token_ends("warm")
    settings = ChunkSettings(engine_config.chunk_target_tokens, engine_config.chunk_max_tokens)
    seconds = {}
    for size in (25_000, 100_000):
        path = tmp_path / f"long-{size}.md"
        body = text[:size].rstrip()
        path.write_text("# Notes\n\n" + body + "\n", encoding="utf-8")
        doc = load_document(path)
        t0 = time.perf_counter()
        passages = chunk_document(doc, settings, tiktoken_counter(engine_config.encoding), fit,
                                  tiktoken_ends(engine_config.encoding))
        seconds[size] = time.perf_counter() - t0
        assert " ".join(p.text for p in passages).split() == body.split()
    # Quadratic chunking (the paragraph re-split for every passage: 285 s at
    # 100 KB) takes 16x as long for 4x the text; linear takes about 4x. A
    # ratio, so a loaded machine does not fail it; the bound is loose.
    assert seconds[100_000] < 10 * seconds[25_000] + 0.5, seconds
    assert seconds[100_000] < 30, seconds


def test_a_5_mb_one_line_file_is_refused_quickly_with_a_reason(tmp_path, engine_config,
                                                               capsys):
    from assistant import cli

    rng = random.Random(3)
    path = tmp_path / "dump.md"
    path.write_text(" ".join(docgen._words(rng, 700_000))[:5_000_000], encoding="utf-8")
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    t0 = time.perf_counter()
    code = cli.main(["add", "--corpus", str(corpus), "--index", str(tmp_path / "index"),
                     str(path)])
    assert time.perf_counter() - t0 < 30
    err = capsys.readouterr().err
    assert code != 0
    assert "split it into paragraphs" in err and "Traceback" not in err
    assert not list(corpus.glob("dump*"))


def test_the_build_succeeds_on_all_of_them_with_the_report(hostile, embedder, index_copy,
                                                            tmp_path):
    corpus = tmp_path / "corpus"
    shutil.copytree(index_copy.corpus_dir, corpus)
    # One seed's documents: the report's vectors come from the session cache,
    # theirs are embedded.
    hostile = [p for p in hostile if p.stem.endswith(f"-{SEEDS[0]}")]
    for path in hostile:
        shutil.copy(path, corpus / path.name)
    cfg = replace(index_copy, corpus_dir=corpus)
    data = build_index(cfg, embedder)
    assert not data.skipped, data.skipped
    assert {d.source for d in data.documents} >= {p.name for p in hostile}
    limit = embedder.max_seq_length
    assert all(embedder.count_tokens(embed_text(p)) <= limit for p in data.passages)
