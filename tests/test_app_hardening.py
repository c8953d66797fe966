"""The running app over HTTP, as an attacker meets it: login guessing, headers, foreign uploads.

One real ``python app.py`` with a login, on a copy of the session index and
corpus, driven by a plain HTTP client (httpx). Before assistant/app/security.py
200 wrong passwords took 1.7 s with no delay or lock, no response carried a
Content-Security-Policy, X-Frame-Options or X-Content-Type-Options, and a page
of another site could post files to /gradio_api/upload. The guessing test runs
last: it locks the login for this client's address.
"""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import httpx
import pytest
from app_fixtures import start_app

from assistant.app.security import LoginLimiter, LoginPolicy

USER, PASSWORD = "reader", "c0rrect-h0rse"
FOREIGN = "http://evil.example"


@pytest.fixture(scope="module")
def app(assistant, engine_config, tmp_path_factory):
    folder = tmp_path_factory.mktemp("app-hardening")
    shutil.copytree(engine_config.index_dir, folder / "index")
    shutil.copytree(engine_config.corpus_dir, folder / "corpus")
    running = start_app(folder / "index", folder / "app.log",
                        REPORT_ASSISTANT_CORPUS_DIR=str(folder / "corpus"),
                        REPORT_ASSISTANT_USER=USER, REPORT_ASSISTANT_PASSWORD=PASSWORD)
    yield running
    running.stop()


def login(http: httpx.Client, password: str, user: str = USER, **headers: str) -> httpx.Response:
    return http.post("login", data={"username": user, "password": password}, headers=headers)


@pytest.fixture(scope="module")
def http(app):
    with httpx.Client(base_url=app.url, timeout=60) as c:
        r = login(c, PASSWORD)
        assert r.status_code == 200, r.text
        yield c


def test_every_response_carries_the_security_headers(app, http):
    for path in ("", "config", "gradio_api/info", "no-such-page"):
        r = http.get(path)
        h = r.headers
        csp = h.get("content-security-policy", "")
        assert "frame-ancestors 'none'" in csp and "default-src 'self'" in csp, (path, csp)
        assert h.get("x-frame-options") == "DENY", path
        assert h.get("x-content-type-options") == "nosniff", path
    # The login page itself, before anyone has logged in.
    with httpx.Client(base_url=app.url, timeout=60) as anonymous:
        assert anonymous.get("").headers.get("x-frame-options") == "DENY"


def _upload(http: httpx.Client, **headers: str) -> httpx.Response:
    files = {"files": ("notes.md", b"# Notes\n\nA paragraph.\n" * 1000, "text/markdown")}
    return http.post("gradio_api/upload", files=files, headers=headers)


def test_uploads_from_another_site_are_refused(app, http):
    refused = _upload(http, Origin=FOREIGN)
    assert refused.status_code == 403
    assert "another site" in refused.json()["detail"]
    assert _upload(http, **{"Sec-Fetch-Site": "cross-site"}).status_code == 403
    # The app's own page (same origin) and clients that send no Origin still upload.
    own = app.url.rstrip("/")
    assert _upload(http, Origin=own).status_code == 200
    stored = _upload(http)
    assert stored.status_code == 200 and stored.json()


def test_a_reader_s_mistake_is_a_message_not_a_traceback_in_the_log(app):
    """Before: every gr.Error (an empty question, an unknown document) logged 27 lines."""
    from app_fixtures import wait_ready
    from gradio_client import Client

    c = Client(app.url, auth=(USER, PASSWORD), verbose=False)
    assert wait_ready(c)["ready"]
    with pytest.raises(Exception, match="question is empty"):
        c.predict("   ", "", "", "", api_name="/ask")
    with pytest.raises(Exception, match="no document"):
        c.predict("What is nearshoring?", "", "", "no-such-doc", api_name="/ask")
    assert "Traceback" not in app.output()


def test_200_wrong_passwords_lock_the_login_with_a_clear_message(app):
    t0 = time.monotonic()
    codes: list[int] = []
    last = None
    with httpx.Client(base_url=app.url, timeout=60) as c:
        for n in range(200):
            last = login(c, f"guess-{n}")
            codes.append(last.status_code)
        right = login(c, PASSWORD)
    seconds = time.monotonic() - t0
    judged = codes.count(400)
    assert judged <= LoginPolicy().attempts, codes
    assert codes.count(429) == 200 - judged
    assert "too many failed logins" in last.json()["detail"]
    assert int(last.headers["retry-after"]) > 0
    # Locked means locked: even the right password waits, and says why.
    assert right.status_code == 429 and "locked" in right.json()["detail"]
    print(f"200 wrong passwords: {judged} checked, {200 - judged} refused as locked, "
          f"{seconds:.1f} s")


def test_locks_double_and_a_good_login_clears_the_count():
    now = [0.0]
    limiter = LoginLimiter(LoginPolicy(attempts=3, lock_seconds=10, max_lock_seconds=25),
                           clock=lambda: now[0])
    keys = ["user:a"]
    for _ in range(3):
        limiter.failed(keys)
    assert limiter.wait(keys) == 10
    now[0] = 11
    assert limiter.wait(keys) <= 0
    for _ in range(3):
        limiter.failed(keys)
    assert limiter.wait(keys) == 20  # the second lock is twice as long
    now[0] = 40
    for _ in range(3):
        limiter.failed(keys)
    assert limiter.wait(keys) == 25  # capped
    limiter.succeeded(keys)
    assert limiter.wait(keys) == 0


@pytest.mark.browser
@pytest.mark.skipif(not Path("/usr/bin/chromium").exists(), reason="no /usr/bin/chromium")
def test_the_page_works_under_its_content_security_policy(assistant, engine_config, tmp_path):
    """The policy must not break the page: no violation reported, and a question is answered."""
    from playwright.sync_api import sync_playwright

    shutil.copytree(engine_config.index_dir, tmp_path / "index")
    shutil.copytree(engine_config.corpus_dir, tmp_path / "corpus")
    running = start_app(tmp_path / "index", tmp_path / "app.log",
                        REPORT_ASSISTANT_CORPUS_DIR=str(tmp_path / "corpus"))
    console: list[str] = []
    try:
        with sync_playwright() as p:
            b = p.chromium.launch(executable_path="/usr/bin/chromium", headless=True,
                                  args=["--no-sandbox", "--disable-gpu"])
            pg = b.new_page()
            pg.on("console", lambda m: console.append(m.text))
            response = pg.goto(running.url)
            assert "frame-ancestors" in response.headers["content-security-policy"]
            pg.wait_for_function(
                "document.querySelector('#ra-status')?.innerText.includes('Ready')",
                timeout=120_000)
            pg.fill("#ra-question textarea", "What is nearshoring?")
            pg.click("#ra-ask")
            pg.wait_for_function(
                "document.querySelectorAll('#ra-chat [data-testid=\"bot\"]').length > 0",
                timeout=120_000)
            assert "nearshoring" in pg.locator('#ra-chat [data-testid="bot"]').last \
                .inner_text().lower()
            b.close()
    finally:
        running.stop()
    violations = [m for m in console if "Content Security Policy" in m]
    assert not violations, violations
