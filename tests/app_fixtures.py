"""Helpers for the app tests: start ``python app.py`` as a real process on a free loopback port.

Used by test_app_client.py and test_app_browser.py; each starts the app once
per module. The app gets its own index folder (a copy of the session index,
or an empty folder to exercise the first-start build), so the developer's
``index/`` is never touched.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class RunningApp:
    proc: subprocess.Popen
    url: str
    port: int
    log: Path

    def output(self) -> str:
        return self.log.read_text(encoding="utf-8", errors="replace")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)


def app_env(index_dir: Path, **extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.startswith(("REPORT_ASSISTANT_", "GRADIO_"))}
    env.update({
        "REPORT_ASSISTANT_INDEX_DIR": str(index_dir),
        "GRADIO_ANALYTICS_ENABLED": "False",
        "HF_HUB_OFFLINE": "1",
        "TRANSFORMERS_OFFLINE": "1",
        # Two cores are shared by the app, the browser and the tests.
        "OMP_NUM_THREADS": "1",
        "PYTHONUNBUFFERED": "1",
    })
    env.update(extra)
    return env


def start_app(index_dir: Path, log: Path, args: tuple[str, ...] = (),
              timeout: float = 240.0, port: int | None = None, **env: str) -> RunningApp:
    """Start app.py and wait until its page answers over HTTP (the index may still be loading).

    ``port``: the one to serve on (a restart keeps its origin, so the browser's
    storage for it), else a free one.
    """
    port = port or free_port()
    handle = log.open("w", encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "app.py"), "--port", str(port), *args],
        cwd=ROOT, env=app_env(index_dir, **env), stdout=handle, stderr=subprocess.STDOUT)
    app = RunningApp(proc, f"http://127.0.0.1:{port}/", port, log)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"app.py exited with {proc.returncode}:\n{app.output()[-3000:]}")
        try:
            with urllib.request.urlopen(app.url, timeout=5) as r:
                if r.status == 200:
                    return app
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            pass
        time.sleep(0.5)
    app.stop()
    raise RuntimeError(f"app.py did not answer within {timeout:.0f} s:\n{app.output()[-3000:]}")


def wait_ready(client, timeout: float = 300.0) -> dict:
    """Poll the /status endpoint until the index is loaded; returns the last status."""
    deadline = time.monotonic() + timeout
    status: dict = {}
    while time.monotonic() < deadline:
        status = client.predict(api_name="/status")
        if status.get("ready") or status.get("error"):
            return status
        time.sleep(0.5)
    raise RuntimeError(f"the app's index was not ready within {timeout:.0f} s: {status}")
