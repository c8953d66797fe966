"""How the app is served: host, port, login, queue; from the command line and the environment.

Command-line options win over environment variables, which win over the
defaults. The defaults are safe: loopback only, no login needed there.

==============================  ==========================  =========================
option                          environment                 default
==============================  ==========================  =========================
``--host``                      REPORT_ASSISTANT_HOST       127.0.0.1
``--port``                      REPORT_ASSISTANT_PORT       7860
(login user)                    REPORT_ASSISTANT_USER       none
(login password)                REPORT_ASSISTANT_PASSWORD   none
``--allow-open-host``           REPORT_ASSISTANT_ALLOW_OPEN_HOST=1   off
``--concurrency``               REPORT_ASSISTANT_CONCURRENCY  4
``--queue-size``                REPORT_ASSISTANT_QUEUE_SIZE   256
``--[no-]uploads``              REPORT_ASSISTANT_UPLOADS=1/0  see below
==============================  ==========================  =========================

The password is read only from the environment so it never shows in a
process list. A host other than loopback is refused without a login unless
``--allow-open-host`` says that is intended (say, behind an authenticating
proxy).

Queue: every request goes through Gradio's queue. One Assistant (model,
FAISS and BM25 indexes) is loaded once and shared read-only by all workers;
an answer takes tens of milliseconds of CPU, so a few workers
(``concurrency``) keep the CPU busy without thrashing it, and the bounded
queue (``queue_size``) turns overload into a clear "queue full" message
instead of unbounded memory.

Uploads: adding and removing documents from the page (and the
/add_document and /remove_document endpoints) write to the corpus folder and
cost a rebuild of the index. They are on by default where only trusted
people reach the page: on loopback, or behind the app's own login. On a
public host without a login (``--allow-open-host``) they are off unless
``--uploads`` or REPORT_ASSISTANT_UPLOADS=1 says otherwise, since anyone
could then fill the disk and change what the app answers from.
``--no-uploads`` (REPORT_ASSISTANT_UPLOADS=0) turns them off anywhere; the
size and type limits are the library's (``assistant.library.Limits``).
"""

from __future__ import annotations

import argparse
import ipaddress
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 7860
ENV = "REPORT_ASSISTANT_"


class SettingsError(ValueError):
    """The serving settings are unsafe or malformed; the message says what to change."""


@dataclass(frozen=True)
class Settings:
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT
    user: str | None = None
    password: str | None = None
    allow_open_host: bool = False
    concurrency: int = 4
    queue_size: int = 256
    rebuild: bool = True
    uploads: bool = True

    @property
    def auth(self) -> tuple[str, str] | None:
        return (self.user, self.password) if self.user and self.password else None


def is_loopback(host: str) -> bool:
    host = host.strip().strip("[]")
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _truthy(value: str | None) -> bool:
    return (value or "").strip().lower() in {"1", "true", "yes", "on"}


def _int(name: str, raw: str, low: int, high: int) -> int:
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(f"{name} must be a whole number (got {raw!r})") from None
    if not low <= value <= high:
        raise SettingsError(f"{name} must be between {low} and {high} (got {value})")
    return value


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="app.py",
        description="Serve the report assistant's web page (builds the index first if needed).")
    p.add_argument("--host", help=f"address to bind (default {DEFAULT_HOST}; env {ENV}HOST)")
    p.add_argument("--port", help=f"port (default {DEFAULT_PORT}; env {ENV}PORT)")
    p.add_argument("--allow-open-host", action="store_true", default=None,
                   help="allow a non-loopback host without a login (env "
                        f"{ENV}ALLOW_OPEN_HOST=1); login comes from {ENV}USER and "
                        f"{ENV}PASSWORD")
    p.add_argument("--concurrency", help="requests answered at once (default 4)")
    p.add_argument("--queue-size", help="requests allowed to wait (default 256)")
    p.add_argument("--no-build", action="store_true",
                   help="fail instead of building a missing or stale index")
    p.add_argument("--uploads", action=argparse.BooleanOptionalAction, default=None,
                   help=f"let the page add and remove documents (env {ENV}UPLOADS=1/0; "
                        "default: on for loopback or with a login, off otherwise)")
    return p


def resolve(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None
            ) -> Settings:
    """Settings from ``argv`` and ``env``, checked; raises SettingsError when unsafe."""
    env = os.environ if env is None else env
    args = parser().parse_args(list(argv) if argv is not None else [])

    def pick(arg: object, name: str, default: str) -> str:
        if arg is not None:
            return str(arg)
        return env.get(ENV + name) or default

    host = pick(args.host, "HOST", DEFAULT_HOST).strip()
    if not host:
        raise SettingsError("the host is empty")
    user = env.get(ENV + "USER") or None
    password = env.get(ENV + "PASSWORD") or None
    if args.uploads is not None:
        uploads = bool(args.uploads)
    elif (env.get(ENV + "UPLOADS") or "").strip():
        raw = env[ENV + "UPLOADS"].strip().lower()
        if raw not in {"1", "true", "yes", "on", "0", "false", "no", "off"}:
            raise SettingsError(f"{ENV}UPLOADS must be 1 or 0 (got {raw!r})")
        uploads = _truthy(raw)
    else:
        # Only people trusted with the corpus should reach a page that writes to it.
        uploads = is_loopback(host) or bool(user and password)
    settings = Settings(
        host=host,
        port=_int("the port", pick(args.port, "PORT", str(DEFAULT_PORT)), 1, 65535),
        user=user,
        password=password,
        allow_open_host=bool(args.allow_open_host) or _truthy(env.get(ENV + "ALLOW_OPEN_HOST")),
        concurrency=_int("the concurrency", pick(args.concurrency, "CONCURRENCY", "4"), 1, 64),
        queue_size=_int("the queue size", pick(args.queue_size, "QUEUE_SIZE", "256"), 1, 100000),
        rebuild=not args.no_build,
        uploads=uploads,
    )
    check(settings)
    return settings


def check(s: Settings) -> None:
    """Refuse settings that would expose the page unguarded."""
    if bool(s.user) != bool(s.password):
        raise SettingsError(f"set both {ENV}USER and {ENV}PASSWORD for a login, or neither")
    if not is_loopback(s.host) and s.auth is None and not s.allow_open_host:
        raise SettingsError(
            f"refusing to serve on {s.host!r} without a login: anyone who can reach that "
            f"address could use the app. Set {ENV}USER and {ENV}PASSWORD, or pass "
            f"--allow-open-host (or {ENV}ALLOW_OPEN_HOST=1) if that is intended, "
            f"or use the default host {DEFAULT_HOST}")
