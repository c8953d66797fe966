"""Broken files through the CLI and the app: detected at load, explained, rebuilt where possible.

test_index.py covers the engine's own side (a truncated FAISS file, a missing
or garbled passages file, manifest counts, a build failing or killed inside
the write phase). This file covers what is left: damage that keeps a file's
size (caught by checksums), pointers and manifests that are not what they
should be, an index of another model, a read-only index folder, corpus files
that are not UTF-8, and a real ``python -m assistant build`` killed by SIGKILL.
Each is driven through the CLI (exit status and the message on stderr) or the
app's Engine (what the page shows), and the next question is answered.

Read-only folders: the tests run as root in CI, and root ignores ``chmod``. So a
read-only index is simulated two ways that do not depend on permissions: an
index path below a regular file (the kernel's real ENOTDIR), and
``os.mkdir``/``os.rename`` made to raise PermissionError for paths inside the
index folder, which is exactly what a non-root user meets in a ``chmod 555``
folder. A real ``chmod`` test runs too when the tests are not root.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import pytest

from assistant import cli
from assistant.api import Assistant
from assistant.app import handlers
from assistant.app.engine import Engine, NotReady
from assistant.config import Config
from assistant.errors import IndexError_
from assistant.index import current_path, load_index
from assistant.parse import load_corpus

ROOT = Path(__file__).resolve().parents[1]
QUESTION = "What is nearshoring?"
FIX = "python -m assistant build"


def pointer(index_dir: Path) -> str:
    return (index_dir / "CURRENT").read_text(encoding="utf-8").strip()


def ask_cli(capsys, cfg: Config, *extra: str, question: str = QUESTION
            ) -> tuple[int, dict | None, str]:
    """``python -m assistant ask --json`` in-process; returns (status, answer, stderr)."""
    argv = ["ask", "--index", str(cfg.index_dir), "--corpus", str(cfg.corpus_dir), "--json",
            *extra, question]
    code = cli.main(argv)
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, (json.loads(out) if code == 0 else None), err


def answered(ans: dict | None) -> None:
    assert ans is not None and not ans["abstained"], ans
    assert any("nearshoring" in c["text"].lower() for c in ans["citations"])


def error_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert lines, "no message at all"
    return lines[-1]


# --- damage: what load_index says -------------------------------------------------------

def _flip_middle(path: Path) -> None:
    """Overwrite bytes in the middle: same size, still parses, wrong content."""
    data = bytearray(path.read_bytes())
    mid = len(data) // 2
    data[mid:mid + 512] = bytes(b ^ 0x5A for b in data[mid:mid + 512])
    path.write_bytes(bytes(data))


def _garbage_header(path: Path) -> None:
    data = bytearray(path.read_bytes())
    data[:64] = b"\xde\xad\xbe\xef" * 16
    path.write_bytes(bytes(data))


def _write(name: str, content: bytes):
    def damage(version: Path) -> None:
        (version / name).write_bytes(content)
    return damage


def _remove(name: str):
    def damage(version: Path) -> None:
        target = version / name
        shutil.rmtree(target) if target.is_dir() else target.unlink()
    return damage


def _pointer(content: bytes | None):
    def damage(version: Path) -> None:
        cur = version.parent / "CURRENT"
        cur.unlink()
        if content is None:
            cur.mkdir()  # a folder where the pointer file should be
        else:
            cur.write_bytes(content)
    return damage


DAMAGE = {
    # (damage, words the message must contain)
    "faiss-same-size-corruption": (lambda v: _flip_middle(v / "dense.faiss"), "dense.faiss"),
    "faiss-garbage-header": (lambda v: _garbage_header(v / "dense.faiss"), "dense.faiss"),
    "vectors-same-size-corruption": (lambda v: _flip_middle(v / "vectors.npy"), "vectors.npy"),
    "sentences-same-size-corruption": (lambda v: _flip_middle(v / "sentences.npy"),
                                       "sentences.npy"),
    "embedding-cache-corruption": (lambda v: _flip_middle(v / "embcache.npz"), "embcache.npz"),
    "missing-bm25": (_remove("bm25"), "missing"),
    "missing-vectors": (_remove("vectors.npy"), "vectors.npy"),
    "missing-manifest": (_remove("manifest.json"), "manifest.json"),
    "manifest-not-json": (_write("manifest.json", b"{\"model\": "), "damaged"),
    "manifest-a-list": (_write("manifest.json", b"[1, 2, 3]"), "not a JSON object"),
    "manifest-null": (_write("manifest.json", b"null"), "not a JSON object"),
    "manifest-not-utf8": (_write("manifest.json", b"\xff\xfe{}"), "damaged"),
    "pointer-not-utf8": (_pointer(b"\xff\xfe\x00garbage"), "CURRENT"),
    "pointer-empty": (_pointer(b""), "CURRENT"),
    "pointer-escapes": (_pointer(b"../../etc\n"), "CURRENT"),
    "pointer-is-a-folder": (_pointer(None), "CURRENT"),
    "pointer-to-missing-version": (_pointer(b"v-19700101-000000-1-000000\n"), "missing"),
}


@pytest.mark.parametrize("name", list(DAMAGE))
def test_damage_is_detected_at_load_with_what_to_do(index_copy, name):
    damage, words = DAMAGE[name]
    damage(current_path(index_copy.index_dir))
    with pytest.raises(IndexError_) as err:
        load_index(index_copy)
    msg = str(err.value)
    assert words in msg and FIX in msg, msg
    with pytest.raises(IndexError_, match="cannot be used"):
        Assistant.load(index_copy, rebuild=False)


def test_same_size_damage_is_caught_by_checksums(index_copy):
    version = current_path(index_copy.index_dir)
    sums = json.loads((version / "manifest.json").read_text(encoding="utf-8"))["checksums"]
    on_disk = {p.relative_to(version).as_posix() for p in version.rglob("*")
               if p.is_file() and p.name != "manifest.json"}
    assert set(sums) == on_disk  # every file the build wrote is covered
    size = (version / "dense.faiss").stat().st_size
    _flip_middle(version / "dense.faiss")
    assert (version / "dense.faiss").stat().st_size == size
    import faiss

    # FAISS itself reads the damaged file without complaint; only the checksum tells.
    assert faiss.read_index(str(version / "dense.faiss")).ntotal > 0
    with pytest.raises(IndexError_, match="checksum"):
        load_index(index_copy)


def test_a_damaged_embedding_cache_is_not_reused(index_copy, embedder):
    # Its vectors would otherwise flow into the next build unnoticed.
    from assistant.index import _load_cache

    assert _load_cache(index_copy.index_dir).vectors
    _flip_middle(current_path(index_copy.index_dir) / "embcache.npz")
    assert _load_cache(index_copy.index_dir).vectors == {}


# --- damage: the CLI rebuilds and answers ----------------------------------------------------

# Each reuses the embedding cache (~2 s), the damaged pointer included: the
# build then finds the cache in the version folder (test_reliability.py).
@pytest.mark.parametrize("name", ["faiss-same-size-corruption", "missing-bm25",
                                  "pointer-not-utf8"])
def test_cli_rebuilds_a_damaged_index_and_answers(capsys, index_copy, assistant, name):
    damage, words = DAMAGE[name]
    damage(current_path(index_copy.index_dir))
    code, ans, err = ask_cli(capsys, index_copy)
    assert code == 0
    # The terminal says what was wrong before it rebuilds.
    rebuilding = [line for line in err.splitlines() if "rebuilding the index:" in line]
    assert rebuilding and words in rebuilding[0], err[-2000:]
    answered(ans)
    rebuilt = load_index(index_copy)
    assert [p.id for p in rebuilt.passages] == [p.id for p in assistant.passages]


def test_cli_missing_passages_file(capsys, index_copy):
    (current_path(index_copy.index_dir) / "passages.jsonl").unlink()
    code, ans, err = ask_cli(capsys, index_copy)
    assert code == 0 and "index file missing: passages.jsonl" in err
    answered(ans)


def test_pointer_folder_cannot_be_rebuilt_over_and_says_so(capsys, tmp_path, small_corpus):
    # A folder named CURRENT cannot be replaced by the new pointer: a clear error, no trace.
    cfg = Config.from_env(index_dir=tmp_path / "index", corpus_dir=small_corpus)
    assert cli.main(["build", "--index", str(cfg.index_dir), "--corpus", str(small_corpus)]) == 0
    _pointer(None)(current_path(cfg.index_dir))
    capsys.readouterr()
    code, _, err = ask_cli(capsys, cfg)
    assert code == 2
    assert error_line(err).startswith("error: ") and "CURRENT" in err


# --- an index built with another model ----------------------------------------------------

def _edit_manifest(cfg: Config, **changes: object) -> None:
    """Change manifest fields as another build would have written them (checksums kept)."""
    path = current_path(cfg.index_dir) / "manifest.json"
    m = json.loads(path.read_text(encoding="utf-8"))
    m.update(changes)
    path.write_text(json.dumps(m), encoding="utf-8")


OTHER_MODEL = "sentence-transformers/all-mpnet-base-v2"


def test_cli_index_of_another_model_is_rebuilt_with_the_configured_one(capsys, index_copy):
    _edit_manifest(index_copy, model=OTHER_MODEL)
    code, ans, err = ask_cli(capsys, index_copy)
    assert code == 0
    line = next(line for line in err.splitlines() if "rebuilding the index:" in line)
    assert OTHER_MODEL in line and index_copy.model in line
    answered(ans)
    assert load_index(index_copy).manifest["model"] == index_copy.model


def test_app_refuses_an_index_of_another_model_without_build(index_copy):
    _edit_manifest(index_copy, model=OTHER_MODEL)
    engine = Engine(index_copy, rebuild=False)
    engine.load()  # what start() runs in the background
    assert not engine.ready and engine.finished
    with pytest.raises(NotReady) as err:
        engine.wait(1)
    for words in (OTHER_MODEL, index_copy.model, FIX):
        assert words in str(err.value)
    status = handlers.status_markdown(engine).replace("\\", "")
    assert "could not be loaded" in status and OTHER_MODEL in status


def test_app_rebuilds_a_damaged_index_and_answers(index_copy):
    _flip_middle(current_path(index_copy.index_dir) / "dense.faiss")
    stages: list[str] = []
    engine = Engine(index_copy, rebuild=True, echo=lambda s, f: stages.append(s))
    engine.load()
    assert engine.ready, engine.error
    assert any("rebuilding the index" in s and "dense.faiss" in s for s in stages), stages
    payload = handlers.ask(engine.wait(1), QUESTION)
    assert not payload["abstained"] and payload["citations"]


def test_manifest_of_another_corpus_is_rebuilt(capsys, index_copy):
    _edit_manifest(index_copy, corpus_hash="0" * 64)
    code, ans, err = ask_cli(capsys, index_copy)
    assert code == 0 and "the corpus changed since it was built" in err
    answered(ans)


# --- a read-only index folder ----------------------------------------------------------------

def _deny_writes_in(monkeypatch, folder: Path, calls=("mkdir", "rename")) -> None:
    """Make ``folder`` behave as a non-root user's read-only directory does."""
    folder = folder.resolve()
    for name in calls:
        real = getattr(os, name)

        def deny(*args, _real=real, **kwargs):
            target = Path(os.fspath(args[0])).resolve()
            if target == folder or folder in target.parents:
                raise PermissionError(errno.EACCES, "Permission denied", os.fspath(args[0]))
            return _real(*args, **kwargs)

        monkeypatch.setattr(os, name, deny)


@pytest.fixture
def small_corpus(tmp_path) -> Path:
    """A one-page plain-text corpus: indexing it from scratch takes a moment."""
    corpus = tmp_path / "small-corpus"
    corpus.mkdir()
    (corpus / "notes.txt").write_text(
        "Nearshoring moves production closer to the market it serves.\n\n"
        "The border region gains factories and jobs from nearshoring.\n", encoding="utf-8")
    return corpus


def test_index_folder_below_a_file_is_a_clear_error(capsys, tmp_path, small_corpus):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where a folder is expected", encoding="utf-8")
    index_dir = blocker / "index"
    for command in ("build", "ask"):
        argv = [command, "--index", str(index_dir), "--corpus", str(small_corpus)]
        code = cli.main(argv + ([QUESTION] if command == "ask" else []))
        err = capsys.readouterr().err
        assert code == 2 and "Traceback" not in err
        line = error_line(err)
        assert line.startswith(f"error: cannot write the index to {index_dir}")
        assert "Not a directory" in line and "REPORT_ASSISTANT_INDEX_DIR" in line


def test_read_only_index_folder_cannot_be_built_and_is_left_intact(
        capsys, monkeypatch, index_copy):
    before = pointer(index_copy.index_dir)
    files = sorted(p.name for p in index_copy.index_dir.iterdir())
    _deny_writes_in(monkeypatch, index_copy.index_dir)
    code = cli.main(["build", "--index", str(index_copy.index_dir)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    line = error_line(err)
    assert "Permission denied" in line and "make the folder writable" in line
    monkeypatch.undo()
    assert pointer(index_copy.index_dir) == before
    assert sorted(p.name for p in index_copy.index_dir.iterdir()) == files
    code, ans, _ = ask_cli(capsys, index_copy)
    assert code == 0
    answered(ans)


@pytest.fixture
def edited_corpus(engine_config, tmp_path) -> Path:
    corpus = tmp_path / "corpus"
    shutil.copytree(engine_config.corpus_dir, corpus)
    report = next(p for p in corpus.glob("*.txt") if not p.name.endswith(".meta.json"))
    text = report.read_text(encoding="utf-8")
    anchor = "This report has been developed through a collaborative process"
    assert anchor in text
    report.write_text(text.replace(anchor, "The forum met twice. " + anchor), encoding="utf-8")
    return corpus


@pytest.mark.parametrize("calls", [("mkdir",), ("rename",)],
                         ids=["read-only-from-the-start", "read-only-before-publishing"])
def test_stale_index_in_a_read_only_folder_is_still_served(
        capsys, caplog, monkeypatch, index_copy, edited_corpus, calls):
    cfg = replace(index_copy, corpus_dir=edited_corpus)
    before = pointer(cfg.index_dir)
    _deny_writes_in(monkeypatch, cfg.index_dir, calls)
    with caplog.at_level("WARNING", logger="assistant"):
        code, ans, err = ask_cli(capsys, cfg)
    assert code == 0
    assert "the corpus changed since it was built" in err
    # A plain CLI run prints this warning on stderr (logging's last-resort handler).
    assert any("could not rebuild the index" in r.getMessage()
               and "serving the previous index" in r.getMessage() for r in caplog.records)
    answered(ans)
    monkeypatch.undo()
    assert pointer(cfg.index_dir) == before
    assert not list(cfg.index_dir.glob(".*.partial"))


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0,
                    reason="root ignores file permissions (covered above by simulation)")
def test_real_read_only_folder(capsys, index_copy):  # pragma: no cover - CI runs as root
    folder = index_copy.index_dir
    modes = {p: p.stat().st_mode for p in [folder, *folder.rglob("*")]}
    try:
        for p in modes:
            p.chmod(0o555 if p.is_dir() else 0o444)
        code = cli.main(["build", "--index", str(folder)])
        assert code == 2 and "Permission denied" in capsys.readouterr().err
        code, ans, _ = ask_cli(capsys, index_copy)
        assert code == 0
        answered(ans)
    finally:
        for p, mode in modes.items():
            p.chmod(mode)


# --- corpus files that are not UTF-8 ---------------------------------------------------------

@pytest.fixture
def mixed_corpus(engine_config, tmp_path) -> Path:
    corpus = tmp_path / "mixed-corpus"
    shutil.copytree(engine_config.corpus_dir, corpus)
    (corpus / "informe-latin1.txt").write_bytes(
        "Informe sobre energía y migración en la región fronteriza.\n".encode("latin-1"))
    (corpus / "notes-utf16.txt").write_bytes(
        "Notes on the border economy.\n".encode("utf-16"))
    (corpus / "empty.txt").write_bytes(b"")
    return corpus


def test_load_corpus_reports_and_skips_files_it_cannot_read(mixed_corpus):
    docs, skipped = load_corpus(mixed_corpus)
    assert [d.id for d in docs] == ["us-mexico-forum-2025-report-2022"]
    why = {s.path: s.reason for s in skipped}
    assert set(why) == {"informe-latin1.txt", "notes-utf16.txt", "empty.txt"}
    assert "not UTF-8" in why["informe-latin1.txt"] and "re-save it as UTF-8" in \
        why["informe-latin1.txt"]
    assert "not UTF-8" in why["notes-utf16.txt"]
    assert "no text found" in why["empty.txt"]


def test_cli_build_skips_non_utf8_files_and_indexes_the_rest(capsys, index_copy, mixed_corpus):
    cfg = replace(index_copy, corpus_dir=mixed_corpus)
    code = cli.main(["build", "--index", str(cfg.index_dir), "--corpus", str(mixed_corpus)])
    out, err = capsys.readouterr()
    assert code == 0 and "Traceback" not in err
    assert "indexed" in out and "1 document(s)" in out
    # Each skipped file is named on stderr with what to do about it.
    assert "skipped informe-latin1.txt:" in err and "re-save it as UTF-8" in err
    assert "skipped notes-utf16.txt:" in err and "skipped empty.txt:" in err
    data = load_index(cfg)
    assert {s["path"] for s in data.manifest["skipped"]} == {
        "informe-latin1.txt", "notes-utf16.txt", "empty.txt"}
    assert {s.path for s in data.skipped} == {s["path"] for s in data.manifest["skipped"]}
    assert {p.doc_id for p in data.passages} == {"us-mexico-forum-2025-report-2022"}
    code, ans, err = ask_cli(capsys, cfg)
    assert code == 0 and "rebuilding" not in err  # the index with skips is current
    answered(ans)


def test_cli_corpus_of_only_unreadable_files_is_a_clear_error(capsys, tmp_path):
    corpus = tmp_path / "bad-corpus"
    corpus.mkdir()
    (corpus / "informe.txt").write_bytes("energía".encode("latin-1"))
    code = cli.main(["build", "--index", str(tmp_path / "index"), "--corpus", str(corpus)])
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err
    line = error_line(err)
    assert line.startswith("error: nothing to index") and "not UTF-8" in line


# --- a build killed by a real signal ---------------------------------------------------------

def _run_build_until_partial(cfg: Config, corpus: Path) -> tuple[subprocess.Popen, Path | None]:
    """Start the real CLI build; return once its .partial folder exists (or it ended)."""
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT), PYTHONUNBUFFERED="1")
    proc = subprocess.Popen(
        [sys.executable, "-m", "assistant", "build", "--json", "--index", str(cfg.index_dir),
         "--corpus", str(corpus)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    assert proc.stderr is not None
    # The build announces its write phase on stderr just before it creates the
    # folder; from then on, watch for the folder without sleeping.
    for line in proc.stderr:
        if "writing the index" in line:
            break
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and proc.poll() is None:
        found = next(cfg.index_dir.glob(".v-*.partial"), None)
        if found is not None:
            return proc, found
    return proc, None


@pytest.mark.slow
def test_cli_build_killed_by_sigkill_leaves_the_previous_index(capsys, index_copy, tmp_path):
    corpus = tmp_path / "corpus-copy"
    shutil.copytree(index_copy.corpus_dir, corpus)
    cfg = replace(index_copy, corpus_dir=corpus)
    killed = None
    for attempt in range(1, 4):  # the write phase lasts ~0.1 s; a build that beat us is retried
        before = pointer(cfg.index_dir)
        proc, partial = _run_build_until_partial(cfg, corpus)
        try:
            if partial is not None and proc.poll() is None:
                os.kill(proc.pid, signal.SIGKILL)
                killed = partial
        finally:
            proc.wait(timeout=120)
            assert proc.stderr is not None
            rest = proc.stderr.read()
            proc.stderr.close()
        if killed is not None:
            with capsys.disabled():
                print(f"\nkilled inside the write phase on attempt {attempt}")
            break
        assert proc.returncode == 0, rest[-2000:]
    assert killed is not None, "never caught the build inside its write phase"
    assert proc.returncode == -signal.SIGKILL
    # The live pointer still names the previous, complete version.
    assert pointer(cfg.index_dir) == before
    assert (cfg.index_dir / before / "manifest.json").exists()
    # The next question loads that version as it is (no rebuild) and is answered.
    code, ans, err = ask_cli(capsys, cfg)
    assert code == 0 and "rebuilding" not in err
    answered(ans)
    assert pointer(cfg.index_dir) == before
