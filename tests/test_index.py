"""The saved index: round trip, exact FAISS search, staleness, interrupted builds, damage.

Tests that rebuild or damage an index work on a private copy of the session
index (``index_copy``); its embedding cache makes a rebuild take about a second.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

from assistant.api import Assistant
from assistant.errors import AssistantError, IndexError_
from assistant.index import (
    BM25Index,
    build_index,
    current_path,
    expected_manifest,
    load_index,
    staleness,
)

QUERIES = [
    "nearshoring opportunities in Mexico",
    "What did the working group say about fentanyl?",
    "women in the labor force",
    "Title 42 expulsions",
]


class Recorder:
    """A progress callback that keeps what it was told."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, float]] = []

    def __call__(self, stage: str, fraction: float) -> None:
        self.calls.append((stage, fraction))


def versions(index_dir: Path) -> list[str]:
    return sorted(p.name for p in index_dir.iterdir() if p.is_dir())


def pointer(index_dir: Path) -> str:
    return (index_dir / "CURRENT").read_text(encoding="utf-8").strip()


def answers(a: Assistant) -> None:
    """The assistant can still answer from its index."""
    hits = a.search("Title 42 expulsions", k=3)
    assert hits and all(h.passage.text for h in hits)


# --- round trip -----------------------------------------------------------------

def test_manifest_describes_the_build(assistant, engine_config):
    m = assistant.data.manifest
    assert staleness(m, engine_config) is None
    for field, value in expected_manifest(engine_config).items():
        assert m[field] == value
    assert m["passages"] == len(assistant.passages)
    assert m["dim"] == assistant.data.vectors.shape[1]
    for lib in ("sentence-transformers", "faiss-cpu", "bm25s", "tiktoken", "torch"):
        assert m["versions"][lib]


def test_round_trip_gives_back_the_same_index(assistant, engine_config, embedder):
    data = load_index(engine_config)
    built = assistant.data
    assert data.passages == built.passages
    assert data.documents == built.documents
    assert [d.meta["toc"] for d in data.documents] == [
        [list(e) for e in d.meta["toc"]] for d in built.documents]
    assert np.array_equal(data.vectors, built.vectors)
    assert np.array_equal(data.sent_vectors, built.sent_vectors)
    assert np.array_equal(data.sent_spans, built.sent_spans)
    assert data.acronyms == built.acronyms
    assert data.dense.ntotal == built.dense.ntotal == len(built.passages)
    # The sentence index is saved with the version and read back with it.
    assert data.sent_dense.ntotal == built.sent_dense.ntotal == len(built.sent_vectors)
    assert type(data.sent_dense) is type(built.sent_dense)
    assert data.manifest["sentence_index"] == type(built.sent_dense).__name__
    assert "sentences.faiss" in data.manifest["checksums"]
    for q in QUERIES:
        assert np.allclose(data.bm25.scores(q), built.bm25.scores(q))
    loaded = Assistant(data, embedder, engine_config)
    for q in QUERIES:
        a = [(h.passage.id, round(h.score, 6)) for h in loaded.search(q, k=8)]
        b = [(h.passage.id, round(h.score, 6)) for h in assistant.search(q, k=8)]
        assert a == b


def test_load_without_rebuild_uses_the_saved_index(assistant, engine_config):
    before = versions(engine_config.index_dir)
    progress = Recorder()
    a = Assistant.load(engine_config, rebuild=False, progress=progress)
    assert not progress.calls
    assert [p.id for p in a.passages] == [p.id for p in assistant.passages]
    assert versions(engine_config.index_dir) == before


def test_faiss_top_k_equals_brute_force(assistant, embedder):
    data = assistant.data
    vectors = data.vectors
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)
    assert np.allclose(data.dense.reconstruct_n(0, data.dense.ntotal), vectors)
    queries = np.vstack([embedder.encode(QUERIES), vectors[::17]])
    k = 10
    scores, ids = data.dense.search(queries.astype(np.float32), k)
    for q, got_ids, got_scores in zip(queries, ids, scores, strict=True):
        brute = vectors @ q
        best = np.argsort(-brute, kind="stable")[:k]
        # Equal as rankings: same scores in the same order (ties may swap ids).
        assert np.allclose(got_scores, brute[best], atol=1e-5)
        assert np.allclose(brute[got_ids], got_scores, atol=1e-5)
        assert len(set(got_ids.tolist())) == k


def test_sentence_index_top_k_equals_brute_force(assistant, embedder):
    data = assistant.data
    vectors = data.sent_vectors
    assert np.allclose(data.sent_dense.reconstruct_n(0, data.sent_dense.ntotal), vectors)
    queries = np.vstack([embedder.encode(QUERIES), vectors[::37]])
    k = 40
    scores, ids = data.sent_dense.search(queries.astype(np.float32), k)
    for q, got_ids, got_scores in zip(queries, ids, scores, strict=True):
        brute = vectors @ q
        best = np.argsort(-brute, kind="stable")[:k]
        assert np.allclose(got_scores, brute[best], atol=1e-5)
        assert np.allclose(brute[got_ids], got_scores, atol=1e-5)


# --- staleness ---------------------------------------------------------------------

@pytest.fixture
def edited_corpus(engine_config, tmp_path) -> Path:
    """A copy of the corpus with one sentence added to the report."""
    corpus = tmp_path / "corpus"
    shutil.copytree(engine_config.corpus_dir, corpus)
    report = next(corpus.glob("*.txt"))
    text = report.read_text(encoding="utf-8")
    anchor = "This report has been developed through a collaborative process"
    assert anchor in text
    report.write_text(text.replace(
        anchor, "The forum also reviewed the zorbulax protocol. " + anchor), encoding="utf-8")
    return corpus


def test_staleness_reports_each_kind_of_change(assistant, engine_config, edited_corpus):
    m = assistant.data.manifest
    assert staleness(m, engine_config) is None
    corpus = staleness(m, replace(engine_config, corpus_dir=edited_corpus))
    assert corpus and "corpus" in corpus
    model = staleness(m, replace(engine_config, model="sentence-transformers/other-model"))
    assert model and "sentence-transformers/other-model" in model and engine_config.model in model
    for change in ({"chunk_max_tokens": engine_config.chunk_max_tokens + 1},
                   {"chunk_target_tokens": engine_config.chunk_target_tokens - 1},
                   {"encoding": "o200k_base"}):
        why = staleness(m, replace(engine_config, **change))
        assert why and "chunk" in why, change


def test_changed_corpus_is_rebuilt_with_a_message(index_copy, edited_corpus, caplog):
    cfg = replace(index_copy, corpus_dir=edited_corpus)
    old = pointer(cfg.index_dir)
    with pytest.raises(IndexError_, match="corpus"):
        Assistant.load(cfg, rebuild=False)
    progress = Recorder()
    with caplog.at_level("WARNING", logger="assistant"):
        a = Assistant.load(cfg, progress=progress)
    stage, _ = progress.calls[0]
    assert "rebuilding" in stage and "corpus" in stage
    assert any("corpus" in r.getMessage() for r in caplog.records)
    # Progress moves forward and finishes.
    fractions = [f for _, f in progress.calls[1:]]
    assert fractions == sorted(fractions) and fractions[-1] == 1.0
    # The new build is live, the old one is kept as the previous version (its
    # embedding cache is the fallback), and the new one holds the new sentence.
    assert pointer(cfg.index_dir) != old
    assert versions(cfg.index_dir) == sorted([old, pointer(cfg.index_dir)])
    assert staleness(a.data.manifest, cfg) is None
    assert 0 < a.data.manifest["newly_embedded"] < len(a.passages)  # the cache was reused
    assert "zorbulax" in a.search("zorbulax protocol", k=3)[0].passage.text


def test_changed_chunk_settings_are_rebuilt(index_copy):
    cfg = replace(index_copy, chunk_max_tokens=index_copy.chunk_max_tokens + 1)
    progress = Recorder()
    a = Assistant.load(cfg, progress=progress)
    assert "chunk" in progress.calls[0][0]
    assert a.data.manifest["chunking"] == expected_manifest(cfg)["chunking"]
    answers(a)


def test_changed_model_is_never_served_from_the_old_index(index_copy, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    cfg = replace(index_copy, model=str(index_copy.index_dir / "no-such-model"))
    with pytest.raises(IndexError_, match="model"):
        Assistant.load(cfg, rebuild=False)
    # The rebuild cannot load that model; vectors of another model must not be used.
    before = pointer(cfg.index_dir)
    with pytest.raises(AssistantError, match="no-such-model"):
        Assistant.load(cfg, progress=Recorder())
    assert pointer(cfg.index_dir) == before


# --- interrupted builds --------------------------------------------------------------

def test_build_failing_midway_leaves_previous_index(index_copy, embedder, monkeypatch):
    cfg = index_copy
    before_pointer, before_versions = pointer(cfg.index_dir), versions(cfg.index_dir)
    before = load_index(cfg)

    def disk_full(self, path):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(BM25Index, "save", disk_full)
    with pytest.raises(OSError):
        build_index(cfg, embedder)
    monkeypatch.undo()
    assert pointer(cfg.index_dir) == before_pointer
    assert versions(cfg.index_dir) == before_versions  # no half-written folder left behind
    after = load_index(cfg)
    assert after.passages == before.passages
    a = Assistant.load(cfg, rebuild=False)
    answers(a)


_KILLED_BUILD = """
import sys, time
from pathlib import Path
import assistant.index as ix
from assistant.config import Config
from assistant.embed import Embedder

save = ix.BM25Index.save
def slow_save(self, path):
    # Hold the build inside its write phase, so the kill lands there every time.
    time.sleep(300)
    save(self, path)
ix.BM25Index.save = slow_save
cfg = Config.from_env(index_dir=Path(sys.argv[1]), corpus_dir=Path(sys.argv[2]))
ix.build_index(cfg, Embedder(cfg.model))
"""


@pytest.mark.slow
def test_killed_build_leaves_previous_index(index_copy, embedder):
    cfg = index_copy
    before_pointer = pointer(cfg.index_dir)
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(root))
    proc = subprocess.Popen(
        [sys.executable, "-c", _KILLED_BUILD, str(cfg.index_dir), str(cfg.corpus_dir)],
        env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 180
        partial = None
        while time.monotonic() < deadline and proc.poll() is None:
            partial = next((p for p in cfg.index_dir.glob(".*.partial")
                            if (p / "passages.jsonl").exists()), None)
            if partial:
                break
            time.sleep(0.05)
        assert partial is not None, f"the build never started writing: {proc.stderr.read()!r}"
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        proc.stderr.close()
    assert proc.returncode == -signal.SIGKILL
    # The dead build's folder is left over, but the live index is untouched.
    assert partial.exists()
    assert pointer(cfg.index_dir) == before_pointer
    progress = Recorder()
    a = Assistant.load(cfg, progress=progress)
    assert not progress.calls  # nothing stale: no rebuild needed
    answers(a)
    # The next build sweeps away what the dead one left.
    build_index(cfg, embedder)
    assert not partial.exists()
    assert versions(cfg.index_dir) == sorted([before_pointer, pointer(cfg.index_dir)])


# --- damaged files ------------------------------------------------------------------

def _truncate_faiss(version: Path) -> None:
    path = version / "dense.faiss"
    data = path.read_bytes()
    path.write_bytes(data[: len(data) // 2])


def _remove_passages(version: Path) -> None:
    (version / "passages.jsonl").unlink()


def _garble_passages(version: Path) -> None:
    path = version / "passages.jsonl"
    path.write_text(path.read_text(encoding="utf-8")[:-200] + "\n{not json", encoding="utf-8")


def _manifest_count(version: Path) -> None:
    path = version / "manifest.json"
    m = json.loads(path.read_text(encoding="utf-8"))
    m["passages"] += 1
    path.write_text(json.dumps(m), encoding="utf-8")


def _manifest_dim(version: Path) -> None:
    path = version / "manifest.json"
    m = json.loads(path.read_text(encoding="utf-8"))
    m["dim"] += 1
    path.write_text(json.dumps(m), encoding="utf-8")


@pytest.mark.parametrize("damage", [
    _truncate_faiss, _remove_passages, _garble_passages, _manifest_count, _manifest_dim,
], ids=["truncated-faiss", "missing-passages", "garbled-passages", "manifest-count",
        "manifest-dim"])
def test_damaged_index_says_how_to_fix_and_rebuild_recovers(index_copy, assistant, damage):
    cfg = index_copy
    damage(current_path(cfg.index_dir))
    with pytest.raises(IndexError_) as err:
        load_index(cfg)
    assert "python -m assistant build" in str(err.value)
    with pytest.raises(IndexError_, match="build"):
        Assistant.load(cfg, rebuild=False)
    progress = Recorder()
    a = Assistant.load(cfg, rebuild=True, progress=progress)
    assert progress.calls and "rebuilding" in progress.calls[0][0]
    assert [p.id for p in a.passages] == [p.id for p in assistant.passages]
    assert load_index(cfg).passages == assistant.passages
    answers(a)


def test_missing_index_says_how_to_build(tmp_path, engine_config):
    cfg = replace(engine_config, index_dir=tmp_path / "empty")
    with pytest.raises(IndexError_, match="python -m assistant build"):
        load_index(cfg)
