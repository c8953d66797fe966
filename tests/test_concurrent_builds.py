"""Builds from several processes at once, through `python -m assistant build` as a user runs it.

Before the build lock, four builds at once could each prune the version the
other had renamed into place but not yet published: all four exited 0 while
``index/CURRENT`` named a folder that no longer existed, and the next ``ask``
embedded everything again. The corpus here is one short generated document
(the question is the index folder, not the report), and its index is built
once, so every build in a round reuses the embedding cache and takes about a
second, most of it Python starting.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from docgen import sample_markdown

ROOT = Path(__file__).resolve().parents[1]
ROUNDS = int(os.environ.get("CONCURRENT_BUILD_ROUNDS", "50"))
BUILDERS = 4


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPORT_ASSISTANT_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1")
    return env


def _build_cmd(ws: dict[str, Path]) -> list[str]:
    return [sys.executable, "-m", "assistant", "build", "--json",
            "--corpus", str(ws["corpus"]), "--index", str(ws["index"])]


@pytest.fixture
def ws(tmp_path: Path) -> dict[str, Path]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    (corpus / "field-notes.md").write_text(sample_markdown(), encoding="utf-8")
    ws = {"corpus": corpus, "index": tmp_path / "index"}
    first = subprocess.run(_build_cmd(ws), cwd=ROOT, env=_env(), capture_output=True,
                           text=True, timeout=600)
    assert first.returncode == 0, first.stderr
    return ws


def _live(index: Path) -> Path:
    return index / (index / "CURRENT").read_text(encoding="utf-8").strip()


def _versions(index: Path) -> list[str]:
    return sorted(p.name for p in index.iterdir() if p.name.startswith("v-"))


def _round(ws: dict[str, Path]) -> list[tuple[int, str, str]]:
    procs = [subprocess.Popen(_build_cmd(ws), cwd=ROOT, env=_env(), stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(BUILDERS)]
    out = []
    for p in procs:
        stdout, stderr = p.communicate(timeout=600)
        out.append((p.returncode, stdout, stderr))
    return out


@pytest.mark.slow
def test_concurrent_builds_lose_no_version_and_no_cache(ws):
    index = ws["index"]
    for n in range(1, ROUNDS + 1):
        for code, stdout, stderr in _round(ws):
            assert code == 0, f"round {n}: {stderr}"
            # Every build found a cache: nothing was embedded again.
            assert json.loads(stdout)["newly_embedded"] == 0, f"round {n}: {stdout}"
        live = _live(index)
        assert (live / "manifest.json").is_file(), f"round {n}: CURRENT names {live.name}, gone"
        # The live version and the one before it, each with its embedding cache.
        kept = _versions(index)
        assert live.name in kept and len(kept) == 2, f"round {n}: {kept}"
        assert all((index / v / "embcache.npz").is_file() for v in kept)
        assert not [p.name for p in index.iterdir() if p.name.endswith(".partial")
                    or p.name.startswith(".CURRENT.")], f"round {n}"
    # What a reader meets next: an answer from the index, with nothing rebuilt.
    search = subprocess.run(
        [sys.executable, "-m", "assistant", "search", "irrigation", "--json", "-k", "1",
         "--corpus", str(ws["corpus"]), "--index", str(index)],
        cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=600)
    assert search.returncode == 0 and "rebuilding" not in search.stderr, search.stderr
    assert json.loads(search.stdout)


def _flip_middle(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0xFF
    path.write_bytes(bytes(data))


def test_a_damaged_live_cache_falls_back_to_the_previous_version(ws):
    """One damaged embcache.npz must not mean embedding everything again."""
    build = subprocess.run(_build_cmd(ws), cwd=ROOT, env=_env(), capture_output=True,
                           text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    index = ws["index"]
    live = _live(index)
    previous = [v for v in _versions(index) if v != live.name]
    assert len(previous) == 1, _versions(index)
    _flip_middle(live / "embcache.npz")
    with np.load(index / previous[0] / "embcache.npz") as cache:
        assert len(cache["keys"]) > 0
    again = subprocess.run(_build_cmd(ws), cwd=ROOT, env=_env(), capture_output=True,
                           text=True, timeout=600)
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["newly_embedded"] == 0
    manifest = json.loads((_live(index) / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["embedding_cache"]["from"] == previous[0]


def test_leftovers_of_killed_builds_and_adds_are_swept_by_the_next_build(ws):
    index, corpus = ws["index"], ws["corpus"]
    dead = 2 ** 22 + 12345  # above the default pid_max, so no process has it
    (index / f".CURRENT.{dead}").write_text("v-x\n", encoding="utf-8")
    (index / f".v-20000101-000000-{dead}-000000.partial").mkdir()
    staging = corpus / ".staging-abc123"
    staging.mkdir()
    (staging / "half.md").write_text("# Half\n\nA half-copied file.\n", encoding="utf-8")
    orphan = corpus / "gone.md.meta.json"
    orphan.write_text('{"title": "Gone"}', encoding="utf-8")
    hand_meta = corpus / "field-notes.meta.json"  # written by hand beside its file: kept
    hand_meta.write_text('{"title": "Field notes"}', encoding="utf-8")
    build = subprocess.run(_build_cmd(ws), cwd=ROOT, env=_env(), capture_output=True,
                           text=True, timeout=600)
    assert build.returncode == 0, build.stderr
    left = sorted(p.name for p in [*index.iterdir(), *corpus.iterdir()])
    assert not any(n.startswith((".CURRENT.", ".staging-")) or n.endswith(".partial")
                   for n in left), left
    assert not orphan.exists() and hand_meta.exists()
