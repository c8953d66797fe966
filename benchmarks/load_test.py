"""Load test: many gradio_client clients asking the running app at once.

    python -m benchmarks.load_test                      # 50 clients for 60 s, app started here
    python -m benchmarks.load_test --clients 20 --duration 30 --concurrency 2
    python -m benchmarks.load_test --url http://127.0.0.1:7860/   # an app already running

Bounded in count and time, loopback only: it starts ``app.py`` on a free
127.0.0.1 port (unless ``--url`` names a loopback app), warms up, then runs
``--clients`` threads, each with its own ``gradio_client.Client``, asking the
named ``/ask`` and ``/compare`` endpoints in a loop until ``--duration``
seconds have passed or ``--max-requests`` were sent.

Correctness, not only speed: every question is first asked once, alone, to
get its reference payload; under load each response must equal the reference
of the question it was sent with (same question echo, answer text and cited
passage ids), so an answer lost, swapped between clients, or computed from a
half-updated state shows up as a mismatch. The questions are chosen so their
references differ pairwise (checked), which is what makes a swap detectable.

Prints a summary and, with ``--json``, one JSON object (used by tests/test_load.py).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

# gradio_client reads this at Client() time; its own analytics_enabled=False is not
# enough (it falls back to the variable, whose default is "True").
os.environ["GRADIO_ANALYTICS_ENABLED"] = "False"

ROOT = Path(__file__).resolve().parents[1]

# Questions on different parts of the report. Their expected answers are not
# written here: each one's reference is what the app answers when asked alone.
QUESTIONS = [
    "What is nearshoring?",
    "What did the security working group say about fentanyl?",
    "What role do women play in the U.S.-Mexico relationship?",
    "What is consular diplomacy?",
    "How can the U.S. and Mexico cooperate on renewable energy?",
    "What does the report say about USMCA?",
    "Who received the Jeffrey Davidow Award?",
    "What is the state of democracy in Mexico?",
    "What were the Title 42 expulsions?",
    "What is the University of California Alianza MX?",
    "What does the report say about the end of Pax Americana?",
    "What is the population of Monterrey?",  # out of scope: the abstention must hold too
]
TOPICS = ["migration", "energy", "security", "democracy"]
COMPARE_EVERY = 5  # one request in five is a comparison


@dataclass
class Result:
    clients: int
    duration_s: float
    concurrency: int | None
    queue_size: int | None
    requests: int = 0
    ok: int = 0
    errors: Counter = field(default_factory=Counter)
    mismatches: list[str] = field(default_factory=list)
    latencies: list[float] = field(default_factory=list)
    per_endpoint: Counter = field(default_factory=Counter)
    per_client: Counter = field(default_factory=Counter)  # answers each client received
    wall_s: float = 0.0
    app_rss_mb: tuple[float, float] | None = None
    app_cpu_s: float | None = None  # the app's CPU time during the load
    client_cpu_s: float | None = None  # this process's (the clients') CPU time during the load

    def pct(self, q: float) -> float:
        xs = sorted(self.latencies)
        if not xs:
            return float("nan")
        return xs[min(len(xs) - 1, round(q / 100 * (len(xs) - 1)))]

    def summary(self) -> dict[str, Any]:
        return {
            "clients": self.clients, "duration_s": self.duration_s, "wall_s": round(self.wall_s, 1),
            "concurrency": self.concurrency, "queue_size": self.queue_size,
            "requests": self.requests, "ok": self.ok, "errors": sum(self.errors.values()),
            "error_kinds": dict(self.errors.most_common(5)),
            "mismatches": len(self.mismatches), "mismatch_examples": self.mismatches[:3],
            "per_endpoint": dict(self.per_endpoint),
            "clients_answered": len(self.per_client),
            "answers_per_client_min_max": ([min(self.per_client.values()),
                                            max(self.per_client.values())]
                                           if self.per_client else None),
            "throughput_rps": round(self.ok / self.wall_s, 2) if self.wall_s else None,
            "p50_s": round(self.pct(50), 3), "p95_s": round(self.pct(95), 3),
            "p99_s": round(self.pct(99), 3), "max_s": round(max(self.latencies, default=0), 3),
            "mean_s": round(statistics.fmean(self.latencies), 3) if self.latencies else None,
            "app_rss_mb": self.app_rss_mb,
            "app_cpu_s": self.app_cpu_s, "client_cpu_s": self.client_cpu_s,
            "app_cpu_ms_per_request": (round(1000 * self.app_cpu_s / self.requests, 1)
                                       if self.app_cpu_s and self.requests else None),
        }


# --- the app ------------------------------------------------------------------------

def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class App:
    """``python app.py`` on a free loopback port, stopped on exit."""

    def __init__(self, index_dir: Path, log: Path, concurrency: int | None,
                 queue_size: int | None) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}/"
        self.log = log
        env = {k: v for k, v in os.environ.items()
               if not k.startswith(("REPORT_ASSISTANT_", "GRADIO_"))}
        env.update(REPORT_ASSISTANT_INDEX_DIR=str(index_dir), GRADIO_ANALYTICS_ENABLED="False",
                   HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", PYTHONUNBUFFERED="1",
                   OMP_NUM_THREADS=env.get("OMP_NUM_THREADS", "1"))
        args = [sys.executable, str(ROOT / "app.py"), "--port", str(self.port)]
        if concurrency is not None:
            args += ["--concurrency", str(concurrency)]
        if queue_size is not None:
            args += ["--queue-size", str(queue_size)]
        self._out = log.open("w", encoding="utf-8")
        self.proc = subprocess.Popen(args, cwd=ROOT, env=env, stdout=self._out,
                                     stderr=subprocess.STDOUT)

    def wait_http(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"app.py exited with {self.proc.returncode}:\n"
                                   + self.log.read_text(errors="replace")[-3000:])
            try:
                with urllib.request.urlopen(self.url, timeout=5) as r:
                    if r.status == 200:
                        return
            except OSError:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"app.py did not answer within {timeout:.0f} s")

    def rss_mb(self) -> float | None:
        try:
            import psutil

            return round(psutil.Process(self.proc.pid).memory_info().rss / 2**20, 1)
        except Exception:  # psutil missing or the process gone: memory is not measured
            return None

    def cpu_s(self) -> float | None:
        try:
            import psutil

            proc = psutil.Process(self.proc.pid)
            times = [proc.cpu_times(), *(c.cpu_times() for c in proc.children(recursive=True))]
            return round(sum(t.user + t.system for t in times), 2)
        except Exception:  # psutil missing or the process gone: CPU is not measured
            return None

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._out.close()


def _client(url: str):
    from gradio_client import Client

    # Plain http on loopback: no TLS is involved, but gradio_client still builds a
    # CA-verifying SSL context for every request unless told not to, which cost
    # ~120 ms of client CPU per request here (vs ~8 ms) and made the clients, not
    # the app, the bottleneck. ssl_verify=False only skips building that context.
    return Client(url, verbose=False, analytics_enabled=False, ssl_verify=False)


def wait_ready(client, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.predict(api_name="/status")
        if status.get("ready"):
            return
        if status.get("error"):
            raise RuntimeError(f"the app could not load its index: {status['error']}")
        time.sleep(0.5)
    raise RuntimeError(f"the app was not ready within {timeout:.0f} s")


# --- requests and their references -----------------------------------------------------

def _request(client, kind: str, text: str) -> dict:
    if kind == "ask":
        return client.predict(text, "", "", api_name="/ask")
    return client.predict(text, "", api_name="/compare")


def fingerprint(kind: str, payload: dict) -> tuple:
    """What must not differ between two answers to the same request."""
    if kind == "ask":
        cited = payload["citations"] or payload["closest"]
        return (payload["question"], payload["answer"], payload["abstained"],
                tuple(c["passage_id"] for c in cited))
    return (payload["topic"], payload["abstained"],
            tuple((r["section"], tuple(p["passage_id"] for p in r["passages"]))
                  for r in payload["rows"]))


def references(client) -> dict[tuple[str, str], tuple]:
    refs = {("ask", q): fingerprint("ask", _request(client, "ask", q)) for q in QUESTIONS}
    refs |= {("compare", t): fingerprint("compare", _request(client, "compare", t))
             for t in TOPICS}
    # A swap between two requests is only visible if their answers differ.
    asks = [v for (k, _), v in refs.items() if k == "ask"]
    if len({v[1:] for v in asks}) != len(asks):
        raise RuntimeError("two load-test questions share an answer; a swap would go unseen")
    return refs


# --- the run ---------------------------------------------------------------------------------

def run_load(url: str, clients: int, duration: float, max_requests: int,
             request_timeout: float, concurrency: int | None = None,
             queue_size: int | None = None, app: App | None = None) -> Result:
    host = urlsplit(url).hostname
    if host not in ("127.0.0.1", "localhost", "::1"):
        raise SystemExit(f"refusing to load-test {host!r}: loopback only")
    res = Result(clients, duration, concurrency, queue_size)
    warm = _client(url)
    wait_ready(warm, 600)
    refs = references(warm)
    rss_before = app.rss_mb() if app else None

    # Every client connects before the clock starts, so connecting is not timed.
    pool: list[Any] = [None] * clients

    def connect(i: int) -> None:
        pool[i] = _client(url)

    threads = [threading.Thread(target=connect, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    if any(c is None for c in pool):
        raise RuntimeError("not every client could connect")

    lock = threading.Lock()
    sent = 0
    start = threading.Event()
    deadline = 0.0

    def worker(i: int) -> None:
        nonlocal sent
        client = pool[i]
        n = i  # each client starts at a different question, so all are in flight at once
        start.wait()
        while time.monotonic() < deadline:
            with lock:
                if sent >= max_requests:
                    return
                sent += 1
            if n % COMPARE_EVERY == COMPARE_EVERY - 1:
                kind, text = "compare", TOPICS[n % len(TOPICS)]
            else:
                kind, text = "ask", QUESTIONS[n % len(QUESTIONS)]
            n += 1
            t0 = time.perf_counter()
            try:
                payload = _request(client, kind, text)
                elapsed = time.perf_counter() - t0
                got = fingerprint(kind, payload)
            except Exception as exc:  # every failure is counted and reported, none raised
                with lock:
                    res.requests += 1
                    res.errors[f"{type(exc).__name__}: {str(exc)[:120]}"] += 1
                continue
            with lock:
                res.requests += 1
                res.per_endpoint[kind] += 1
                res.per_client[i] += 1
                res.latencies.append(elapsed)
                if elapsed > request_timeout:
                    res.errors[f"slower than {request_timeout:.0f} s"] += 1
                elif got != refs[(kind, text)]:
                    res.mismatches.append(f"{kind} {text!r}: got {got[:2]!r}")
                else:
                    res.ok += 1

    workers = [threading.Thread(target=worker, args=(i,), daemon=True) for i in range(clients)]
    for t in workers:
        t.start()
    cpu_app0 = app.cpu_s() if app else None
    cpu_me0 = time.process_time()
    t0 = time.monotonic()
    deadline = t0 + duration
    start.set()
    for t in workers:
        # Bounded: a request still running at the end may take request_timeout more.
        t.join(max(0.0, deadline + request_timeout - time.monotonic()))
    res.wall_s = time.monotonic() - t0
    res.client_cpu_s = round(time.process_time() - cpu_me0, 2)
    cpu_app1 = app.cpu_s() if app else None
    if cpu_app0 is not None and cpu_app1 is not None:
        res.app_cpu_s = round(cpu_app1 - cpu_app0, 2)
    stuck = sum(t.is_alive() for t in workers)
    if stuck:
        res.errors[f"{stuck} client(s) still waiting at the end"] += stuck
    rss_after = app.rss_mb() if app else None
    if rss_before is not None and rss_after is not None:
        res.app_rss_mb = (rss_before, rss_after)
    for c in [warm, *pool]:
        with contextlib.suppress(Exception):  # best effort; the process ends anyway
            c.close()
    return res


def prepare_index(source: Path | None, work: Path) -> Path:
    """A private copy of an index (never the developer's own ``index/`` in place)."""
    target = work / "index"
    src = source or ROOT / "index"
    if src.exists():
        shutil.copytree(src, target)
    return target  # a missing index is built by the app on start


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m benchmarks.load_test", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--clients", type=int, default=50)
    p.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    p.add_argument("--max-requests", type=int, default=20_000)
    p.add_argument("--request-timeout", type=float, default=60.0)
    p.add_argument("--url", help="an app already running on loopback (else one is started)")
    p.add_argument("--index", type=Path, help="index to copy for the app (default: index/)")
    p.add_argument("--concurrency", type=int, help="app.py --concurrency (default: the app's)")
    p.add_argument("--queue-size", type=int, help="app.py --queue-size (default: the app's)")
    p.add_argument("--json", action="store_true")
    args = p.parse_args(argv)
    app = None
    work = Path(tempfile.mkdtemp(prefix="load-test-"))
    try:
        url = args.url
        if url is None:
            app = App(prepare_index(args.index, work), work / "app.log", args.concurrency,
                      args.queue_size)
            app.wait_http(300)
            url = app.url
        res = run_load(url, args.clients, args.duration, args.max_requests,
                       args.request_timeout, args.concurrency, args.queue_size, app)
    finally:
        if app:
            app.stop()
        shutil.rmtree(work, ignore_errors=True)
    s = res.summary()
    if args.json:
        print(json.dumps(s))
    else:
        for k, v in s.items():
            print(f"{k:>18}  {v}")
    return 0 if s["errors"] == 0 and s["mismatches"] == 0 and s["ok"] else 1


if __name__ == "__main__":
    sys.exit(main())
