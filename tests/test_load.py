"""Load: 50 gradio_client clients asking the real app at once, on loopback, for 60 s.

Runs benchmarks/load_test.py against ``python app.py`` started with the app's
own queue settings (``--concurrency`` 4 workers, ``--queue-size`` 256; see
assistant/app/settings.py) over a copy of the session index. Every response
is compared with the answer the same question got when asked alone, so a
lost, failed or swapped answer fails the test; the p95 latency is printed.

Marked ``slow`` (about 2 minutes with the app's start); the default
``scripts/test.sh`` runs it. Skip it with ``-m "not slow"``; shorten it for a
quick check with ``LOAD_TEST_SECONDS=15``. By hand, with a table:
``python -m benchmarks.load_test --clients 50 --duration 60``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from benchmarks.load_test import App, run_load

CLIENTS = int(os.environ.get("LOAD_TEST_CLIENTS", "50"))
SECONDS = float(os.environ.get("LOAD_TEST_SECONDS", "60"))


def _start(index_dir: Path, log: Path, queue_size: int | None = None) -> App:
    app = App(index_dir, log, concurrency=None, queue_size=queue_size)
    try:
        app.wait_http(300)
    except BaseException:
        app.stop()
        raise
    return app


@pytest.mark.slow
def test_fifty_clients_for_a_minute_get_their_own_answers(index_copy, tmp_path):
    app = _start(index_copy.index_dir, tmp_path / "app.log")
    try:
        res = run_load(app.url, CLIENTS, SECONDS, max_requests=20_000, request_timeout=30.0,
                       app=app)
    finally:
        app.stop()
    s = res.summary()
    print("\nload:", json.dumps(s))
    assert s["errors"] == 0, s["error_kinds"]
    assert s["mismatches"] == 0, s["mismatch_examples"]
    assert s["ok"] == s["requests"] > CLIENTS
    # Every client was served, none starved behind the others.
    assert s["clients_answered"] == CLIENTS
    assert s["per_endpoint"].get("ask") and s["per_endpoint"].get("compare")
    assert s["p95_s"] < 30.0
    # The model and indexes are loaded once: memory does not grow with requests,
    # and the app prepared its index a single time.
    before, after = s["app_rss_mb"]
    assert after - before < 200, s["app_rss_mb"]
    log = app.log.read_text(encoding="utf-8", errors="replace")
    assert "rebuilding" not in log and log.count("loading the model") <= 1


@pytest.mark.slow
def test_a_full_queue_is_a_clear_message_and_the_rest_are_answered(index_copy, tmp_path):
    # With room for 2 waiting requests, 20 eager clients overflow the queue.
    app = _start(index_copy.index_dir, tmp_path / "app.log", queue_size=2)
    try:
        res = run_load(app.url, 20, 6.0, max_requests=2_000, request_timeout=30.0,
                       queue_size=2, app=app)
    finally:
        app.stop()
    s = res.summary()
    print("\nfull queue:", json.dumps(s))
    assert s["errors"] > 0
    assert all("Queue is full" in kind for kind in s["error_kinds"]), s["error_kinds"]
    # What was accepted was answered, and answered right.
    assert s["ok"] > 0 and s["mismatches"] == 0
