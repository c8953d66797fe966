"""HTTP hardening for the served page: login rate limit, security headers, same-origin uploads.

One ASGI middleware, handed to Gradio through ``Blocks.launch(app_kwargs=...)``
(``app_kwargs()`` below), so it sees every request before Gradio's routes:

* **Login.** Gradio's ``POST /login`` answers a wrong password at once, so a
  script tried 200 in 1.7 s. Here failed logins are counted per account and
  per client address; after ``LoginPolicy.attempts`` failures in a row the
  account (or address) is locked for ``lock_seconds``, doubling on each
  further lock up to ``max_lock_seconds``, and every login to it meanwhile,
  right or wrong, gets 429 with a message saying when to try again. A
  correct login clears the account's count. Locking an account lets someone
  who knows its name keep its owner out for a while; that is the price of
  making the password unguessable by trial, and the lock is short.
* **Headers.** Every response carries a Content-Security-Policy that the
  Gradio page works under (its own scripts and styles, inline ones included,
  which Gradio's page needs; nothing from other origins; no framing), plus
  X-Frame-Options DENY, X-Content-Type-Options nosniff and a same-origin
  Referrer-Policy.
* **Uploads.** ``/gradio_api/upload`` stores whatever it is sent before any
  event uses it, and a browser on any other site could post to it (5 x 20 MB
  from a foreign Origin were accepted). An upload (and a login) that a
  browser marks as coming from another origin is refused with 403. Clients
  that are not browsers (gradio_client, curl) send no Origin and are let
  through: they are not a forged request from a page the reader visited.

Counts live in this process's memory: a restart clears them, which is fine
for a lock measured in minutes.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

# What the Gradio page needs and nothing more: its scripts, styles, fonts and
# images come from the app itself; Svelte sets inline styles and Gradio's page
# embeds its config in an inline script, hence 'unsafe-inline'; images and
# files it builds in the browser are data: and blob: URLs. 'unsafe-eval' is
# for what evaluates strings in the page (Gradio's js= hooks, and browser
# automation: Playwright's wait_for_function, which the page's tests use);
# with inline scripts allowed anyway it adds little. What the policy holds
# is the rest: nothing loaded from or sent to another origin (an injected
# script could not post the report or a reader's question elsewhere), no
# plugins, no <base> or form redirection, no framing by another site.
CSP = "; ".join([
    "default-src 'self'",
    "script-src 'self' 'unsafe-inline' 'unsafe-eval'",
    "style-src 'self' 'unsafe-inline'",
    "img-src 'self' data: blob:",
    "font-src 'self' data:",
    "media-src 'self' data: blob:",
    "connect-src 'self'",
    "worker-src 'self' blob:",
    "object-src 'none'",
    "base-uri 'self'",
    "form-action 'self'",
    "frame-ancestors 'none'",
])
HEADERS = (
    (b"content-security-policy", CSP.encode()),
    (b"x-frame-options", b"DENY"),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
)
LOGIN_PATHS = frozenset({"/login", "/login/"})
UPLOAD_SUFFIXES = ("/gradio_api/upload", "/gradio_api/upload/")
MAX_LOGIN_BODY = 64 * 1024  # a user name and a password; anything bigger is not a login


@dataclass(frozen=True)
class LoginPolicy:
    # Ten tries is more than a person mistyping needs; after that each lock
    # doubles, so 200 guesses cost hours instead of seconds.
    attempts: int = 10
    lock_seconds: float = 60.0
    max_lock_seconds: float = 3600.0


class LoginLimiter:
    """Failed-login counts and locks, per key ("user:NAME", "ip:ADDRESS")."""

    def __init__(self, policy: LoginPolicy | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.policy = policy or LoginPolicy()
        self._clock = clock
        self._lock = threading.Lock()
        self._fails: dict[str, int] = {}
        self._locks: dict[str, int] = {}  # how many times a key was locked
        self._until: dict[str, float] = {}

    def wait(self, keys: list[str]) -> float:
        """Seconds until every key may try again (0 when none is locked)."""
        now = self._clock()
        with self._lock:
            return max([0.0, *(self._until.get(k, now) - now for k in keys)])

    def failed(self, keys: list[str]) -> None:
        now = self._clock()
        p = self.policy
        with self._lock:
            for k in keys:
                self._fails[k] = self._fails.get(k, 0) + 1
                if self._fails[k] >= p.attempts:
                    n = self._locks.get(k, 0)
                    self._until[k] = now + min(p.max_lock_seconds, p.lock_seconds * 2 ** n)
                    self._locks[k] = n + 1
                    self._fails[k] = 0

    def succeeded(self, keys: list[str]) -> None:
        with self._lock:
            for k in keys:
                self._fails.pop(k, None)
                self._locks.pop(k, None)
                self._until.pop(k, None)


def _header(scope: Scope, name: bytes) -> str | None:
    for key, value in scope.get("headers") or ():
        if key.lower() == name:
            return value.decode("latin-1")
    return None


def cross_origin(scope: Scope) -> bool:
    """Whether a browser says this request comes from a page of another origin.

    Browsers send Origin on every cross-origin POST, and Sec-Fetch-Site where
    they support it; the origin's host and port must be the Host asked for.
    """
    site = (_header(scope, b"sec-fetch-site") or "").lower()
    if site in {"cross-site", "same-site"}:
        return True
    origin = _header(scope, b"origin")
    if origin is None:
        return False
    if origin == "null":  # a sandboxed frame or a file: page
        return True
    try:
        parts = urlsplit(origin)
        where = f"{parts.hostname}:{parts.port or _PORTS.get(parts.scheme)}"
        host = urlsplit(f"//{_header(scope, b'host') or ''}")
        asked = f"{host.hostname}:{host.port or _PORTS.get(scope.get('scheme', 'http'))}"
    except ValueError:  # a port that is not a number
        return True
    return where.lower() != asked.lower()


_PORTS = {"http": 80, "https": 443}


async def _json(send: Send, status: int, detail: str,
                extra: tuple[tuple[bytes, bytes], ...] = ()) -> None:
    body = json.dumps({"detail": detail}).encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(body)).encode()), *HEADERS, *extra]})
    await send({"type": "http.response.body", "body": body})


class SecurityMiddleware:
    def __init__(self, app: ASGIApp, limiter: LoginLimiter | None = None) -> None:
        self.app = app
        self.limiter = limiter or LoginLimiter()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                names = {k.lower() for k, _ in message.get("headers", [])}
                message["headers"] = [*message.get("headers", []),
                                      *(h for h in HEADERS if h[0] not in names)]
            await send(message)

        path, method = scope.get("path", ""), scope.get("method", "GET")
        if method == "POST" and (path in LOGIN_PATHS or path.endswith(UPLOAD_SUFFIXES)):
            if cross_origin(scope):
                what = "log in" if path in LOGIN_PATHS else "upload files"
                await _json(send, 403, f"refused: a page of another site tried to {what} "
                                       "here; use this app's own page")
                return
            if path in LOGIN_PATHS:
                await self._login(scope, receive, send_with_headers)
                return
        await self.app(scope, receive, send_with_headers)

    async def _login(self, scope: Scope, receive: Receive, send: Send) -> None:
        body, more = b"", True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
            if len(body) > MAX_LOGIN_BODY:
                await _json(send, 413, "the login form is too large")
                return
        form = parse_qs(body.decode("utf-8", "replace"))
        user = (form.get("username") or [""])[0].strip()
        client = (scope.get("client") or ("?", 0))[0]
        keys = [f"user:{user}", f"ip:{client}"]
        wait = self.limiter.wait(keys)
        if wait > 0:
            seconds = max(1, round(wait))
            await _json(send, 429, f"too many failed logins; login is locked for {seconds} s "
                                   "more. Wait, then try again with the right password",
                        ((b"retry-after", str(seconds).encode()),))
            return
        status: list[int] = []

        async def replay() -> Message:
            return {"type": "http.request", "body": body, "more_body": False}

        async def watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                status.append(message["status"])
            await send(message)

        await self.app(scope, replay, watch)
        if status and status[0] == 200:
            self.limiter.succeeded([f"user:{user}"])
        elif status and status[0] in (400, 401, 403):
            self.limiter.failed(keys)


def app_kwargs(limiter: LoginLimiter | None = None) -> dict[str, Any]:
    """``Blocks.launch(app_kwargs=...)`` that puts the middleware in front of Gradio."""
    from starlette.middleware import Middleware

    return {"middleware": [Middleware(SecurityMiddleware, limiter=limiter or LoginLimiter())]}
