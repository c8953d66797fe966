"""One bad document never takes the library down.

A document that fails while it is cut into passages or embedded is left out
and reported with its reason; the others, the report included, are built
and served. The model is the real one; only the failure is injected, for
the document named.
"""

from __future__ import annotations

import shutil
from dataclasses import replace

import pytest

import assistant.index as index_mod
from assistant.api import Assistant
from assistant.embed import Embedder
from assistant.index import build_index

GOOD = "# Irrigation\n\nCanal boards publish their allocation rules every spring.\n"
BAD = "# Ledger\n\nThe ledger lists every quillwort shipment of the year.\n"


class FailsOn(Embedder):
    """The real model, failing on any batch holding a given word."""

    def __init__(self, base: Embedder, word: str) -> None:
        super().__init__(base.model_name, base.device, base.batch_size)
        self._model = base.model
        self.word = word

    def encode(self, texts, progress=False):
        if any(self.word in t for t in texts):
            raise RuntimeError("the runtime ran out of memory on this batch")
        return super().encode(texts, progress)


@pytest.fixture
def corpus(index_copy, tmp_path):
    folder = tmp_path / "corpus"
    shutil.copytree(index_copy.corpus_dir, folder)
    (folder / "good.md").write_text(GOOD, encoding="utf-8")
    (folder / "bad.md").write_text(BAD, encoding="utf-8")
    return replace(index_copy, corpus_dir=folder)


def _served(cfg, data):
    sources = {d.source for d in data.documents}
    assert "good.md" in sources and "bad.md" not in sources
    assert any(s.endswith(".txt") for s in sources)  # the report
    a = Assistant.load(cfg, rebuild=False)
    hits = a.search("When are allocation rules published?", k=3, doc="good")
    assert hits and "allocation rules" in hits[0].passage.text
    assert [s.path for s in a.data.skipped] == ["bad.md"]


def test_a_document_that_fails_to_embed_is_skipped_with_its_reason(corpus, embedder):
    data = build_index(corpus, FailsOn(embedder, "quillwort"))
    [skipped] = data.skipped
    assert skipped.path == "bad.md"
    assert "could not be embedded" in skipped.reason and "out of memory" in skipped.reason
    _served(corpus, data)


def test_a_document_that_fails_to_chunk_is_skipped_with_its_reason(corpus, embedder,
                                                                   monkeypatch, capsys):
    real = index_mod.chunk_document

    def chunk(doc, *args, **kwargs):
        if doc.source == "bad.md":
            raise ValueError("a block overlaps the next one")
        return real(doc, *args, **kwargs)

    monkeypatch.setattr(index_mod, "chunk_document", chunk)
    data = build_index(corpus, embedder)
    [skipped] = data.skipped
    assert "could not be cut into passages" in skipped.reason
    assert "a block overlaps the next one" in skipped.reason
    _served(corpus, data)


def test_the_cli_build_reports_the_skipped_document_and_succeeds(corpus, capsys, monkeypatch):
    from assistant import cli

    real = index_mod.chunk_document

    def chunk(doc, *args, **kwargs):
        if doc.source == "bad.md":
            raise ValueError("a block overlaps the next one")
        return real(doc, *args, **kwargs)

    monkeypatch.setattr(index_mod, "chunk_document", chunk)
    code = cli.main(["build", "--corpus", str(corpus.corpus_dir), "--index",
                     str(corpus.index_dir)])
    err = capsys.readouterr().err
    assert code == 0
    assert "skipped bad.md" in err and "could not be cut into passages" in err
    assert "Traceback" not in err


def test_embedding_progress_moves_with_texts_done_rate_and_time_left(index_copy, embedder,
                                                                     tmp_path):
    import re

    folder = tmp_path / "corpus"
    shutil.copytree(index_copy.corpus_dir, folder)
    # 300 new sentences: more than two progress steps of texts to embed.
    lines = [f"Reservoir {n} released {n * 7} acre-feet to the northern canal in week {n}."
             for n in range(300)]
    (folder / "releases.md").write_text("# Releases\n\n" + "\n\n".join(lines) + "\n",
                                        encoding="utf-8")
    seen: list[tuple[str, float]] = []
    build_index(replace(index_copy, corpus_dir=folder), embedder,
                lambda stage, fraction: seen.append((stage, fraction)))
    steps = [(int(m.group(1).replace(",", "")), int(m.group(2).replace(",", "")), f)
             for s, f in seen if (m := re.match(r"embedding ([\d,]+) of ([\d,]+) texts", s))]
    assert len(steps) >= 3
    done = [d for d, _, _ in steps]
    assert done == sorted(done) and done[0] == 0 and done[-1] == steps[-1][1]
    assert [f for *_, f in steps] == sorted(f for *_, f in steps)
    middle = [s for s, _ in seen if s.startswith("embedding") and "left" in s]
    assert middle and re.search(r"\d+/s, about \d+", middle[0])
