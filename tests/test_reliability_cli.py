"""Attacks on the corpus folder and the library, through the command line as a user meets them.

Each test gets its own corpus (a copy of the report) and index (a copy of the
session index), and runs `python -m assistant ...` in a subprocess. What each
attack did before the fix is in its docstring.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from docgen import sample_markdown

ROOT = Path(__file__).resolve().parents[1]
SECRET = "zanzibar quokka marmalade telescope"  # words no report passage has


def run(ws: dict[str, Path], *args: str, index: Path | None = None,
        corpus: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("REPORT_ASSISTANT_")}
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1")
    cmd = [sys.executable, "-m", "assistant", *args,
           "--corpus", str(corpus or ws["corpus"]), "--index", str(index or ws["index"])]
    done = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert "Traceback" not in done.stderr, done.stderr
    return done


@pytest.fixture
def ws(assistant, engine_config, tmp_path, report_path) -> dict[str, Path]:
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for p in report_path.parent.iterdir():
        if p.name.startswith(report_path.stem):
            shutil.copy(p, corpus / p.name)
    shutil.copytree(engine_config.index_dir, tmp_path / "index")
    outside = tmp_path / "outside"
    outside.mkdir()
    secret = outside / "shadow.txt"
    secret.write_text(f"root:x:0:0 {SECRET}\n\nThe {SECRET} line is private.\n",
                      encoding="utf-8")
    notes = outside / "notes.md"
    notes.write_text(sample_markdown(), encoding="utf-8")
    return {"corpus": corpus, "index": tmp_path / "index", "secret": secret, "notes": notes,
            "tmp": tmp_path}


def corpus_names(ws) -> list[str]:
    return sorted(p.name for p in ws["corpus"].iterdir() if p.name != ".library.lock")


def test_a_symlink_out_of_the_corpus_is_refused_and_reported(ws):
    """Before: `ln -s /etc/shadow corpus/shadow.txt`, build, and search returned its lines."""
    (ws["corpus"] / "shadow.txt").symlink_to(ws["secret"])
    (ws["corpus"] / "gone.md").symlink_to(ws["tmp"] / "no-such-file.md")
    build = run(ws, "build")
    assert build.returncode == 0, build.stderr
    assert "skipped shadow.txt: shadow.txt: a symbolic link to a file outside the corpus " \
           "folder, refused" in build.stderr
    # Before, a dangling link was ignored without a word.
    assert "skipped gone.md: gone.md: a symbolic link to a file that does not exist" \
           in build.stderr
    found = run(ws, "search", SECRET, "--json", "-k", "50")
    assert found.returncode == 0, found.stderr
    assert not any("quokka" in h["text"] for h in json.loads(found.stdout))
    only = run(ws, "search", SECRET, "--doc", "shadow")
    assert only.returncode == 2 and "no document named 'shadow'" in only.stderr


def test_a_symlink_inside_the_corpus_is_followed(ws):
    inside = ws["corpus"] / "notes.md"
    shutil.copy(ws["notes"], inside)
    (ws["corpus"] / "notes-link.md").symlink_to(inside)
    build = run(ws, "build", "--json")
    assert build.returncode == 0 and "symbolic" not in build.stderr


def test_add_refuses_a_symlink_and_says_so(ws):
    """Before: `add link.md` copied whatever the link pointed at."""
    link = ws["tmp"] / "link.md"
    link.symlink_to(ws["notes"])
    before = corpus_names(ws)
    done = run(ws, "add", str(link))
    assert done.returncode == 1
    assert f"error: {link}: a symbolic link (to {ws['notes']}); links are not added, add the " \
           "file itself; skipped" in done.stderr
    dangling = ws["tmp"] / "dangling.md"
    dangling.symlink_to(ws["tmp"] / "nothing.md")
    done = run(ws, "add", str(dangling))
    assert done.returncode == 1 and "a symbolic link to a file that does not exist" in done.stderr
    assert corpus_names(ws) == before


def test_a_failed_add_leaves_nothing_in_the_corpus(ws):
    """Before: the file stayed in the corpus and every later ask tried to rebuild for it."""
    blocker = ws["tmp"] / "a-file"
    blocker.write_text("not a folder", encoding="utf-8")
    before = corpus_names(ws)
    done = run(ws, "add", str(ws["notes"]), index=blocker / "index")
    assert done.returncode == 2
    line = done.stderr.strip().splitlines()[-1]
    assert line.startswith("error: the index could not be updated (cannot write the index")
    assert "nothing was added" in line
    assert corpus_names(ws) == before
    # The index that was there still fits the corpus: nothing to rebuild.
    ask = run(ws, "search", "nearshoring", "-k", "1")
    assert ask.returncode == 0 and "rebuilding" not in ask.stderr


def test_a_truncated_pointer_is_named_as_such(ws):
    """Before: a truncated CURRENT was reported as "index file missing: manifest.json"."""
    pointer = ws["index"] / "CURRENT"
    pointer.write_text(pointer.read_text(encoding="utf-8")[:6], encoding="utf-8")
    done = run(ws, "search", "nearshoring", "-k", "1")
    assert done.returncode == 0, done.stderr
    assert "CURRENT names 'v-" in done.stderr
    assert "a version folder missing from" in done.stderr
    assert "manifest.json" not in done.stderr


def test_a_corpus_path_that_is_a_file_is_called_a_file(ws):
    """Before: "corpus folder ... does not exist" for a path that is a file."""
    for command in (["list"], ["build"], ["add", str(ws["notes"])]):
        done = run(ws, *command, corpus=ws["secret"])
        assert done.returncode in (1, 2)
        assert "is a file, not a folder" in done.stderr, (command, done.stderr)


def test_an_add_error_names_the_reader_s_file_not_the_staging_copy(ws):
    """Before: the parser's message named corpus/.staging-XXXX/name-of-copy."""
    broken = ws["tmp"] / "My Broken Paper.pdf"
    broken.write_bytes(b"%PDF-1.7\n" + b"\x00not really a pdf\n" * 50)
    done = run(ws, "add", str(broken))
    assert done.returncode == 1
    assert ".staging-" not in done.stderr and str(ws["corpus"]) not in done.stderr
    assert "My Broken Paper.pdf" in done.stderr


def test_list_does_not_advise_a_build_that_cannot_help(ws):
    """Before: a file no build can read made `list` advise `build` forever."""
    (ws["corpus"] / "latin1.md").write_bytes("# Año\n\nAño de café.\n".encode("latin-1"))
    build = run(ws, "build")
    assert build.returncode == 0 and "skipped latin1.md" in build.stderr
    listed = run(ws, "list")
    assert listed.returncode == 0
    assert "run `python -m assistant build`" not in listed.stdout
    assert "latin1: cannot be used" in listed.stderr
    assert "a build skips the files that cannot be used" in listed.stdout
