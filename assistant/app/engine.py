"""One Assistant for the whole app, loaded (and built if needed) in the background.

The page is served at once; while the index is being built the page shows the
build's progress, and questions wait for it. The model and the indexes are
loaded once here and then only read, so every request shares them.
"""

from __future__ import annotations

import logging
import sys
import threading
import time
from collections.abc import Callable

from assistant.api import Assistant
from assistant.config import Config
from assistant.errors import AssistantError

log = logging.getLogger("assistant.app")


class NotReady(AssistantError):
    """The index is still being prepared (or failed to load); the message says which."""


class Engine:
    def __init__(self, cfg: Config | None = None, rebuild: bool = True,
                 echo: Callable[[str, float], None] | None = None) -> None:
        self.cfg = cfg
        self.rebuild = rebuild
        self.stage = "starting"
        self.fraction = 0.0
        self.error: str | None = None
        self.assistant: Assistant | None = None
        self.started = time.monotonic()
        self.ready_after: float | None = None
        self._done = threading.Event()
        self._echo = echo
        self._thread: threading.Thread | None = None

    # -- loading ---------------------------------------------------------------
    def _progress(self, stage: str, fraction: float) -> None:
        self.stage, self.fraction = stage, max(0.0, min(1.0, float(fraction)))
        if self._echo:
            self._echo(stage, self.fraction)

    def load(self) -> None:
        """Load or build, then warm the model up; run in the background by ``start``."""
        try:
            self._progress("opening the index", 0.0)
            a = Assistant.load(self.cfg, rebuild=self.rebuild, progress=self._progress)
            # The model loads on first use; do it now, in one thread, so the
            # first reader does not wait and requests never race to load it.
            self._progress("loading the model", 0.97)
            a.search("U.S.-Mexico relations", k=1)
            self.assistant = a
            self.ready_after = time.monotonic() - self.started
            self._progress("ready", 1.0)
        except AssistantError as exc:
            self.error = str(exc)
            log.error("the assistant could not be loaded: %s", exc)
        except Exception as exc:  # an unexpected failure must still reach the page
            self.error = f"unexpected error while loading: {exc}"
            log.exception("the assistant could not be loaded")
        finally:
            self._done.set()

    def start(self) -> Engine:
        self._thread = threading.Thread(target=self.load, name="assistant-load", daemon=True)
        self._thread.start()
        return self

    # -- use -------------------------------------------------------------------
    @property
    def ready(self) -> bool:
        return self.assistant is not None

    @property
    def finished(self) -> bool:
        return self._done.is_set()

    def wait(self, timeout: float | None = None,
             tick: Callable[[str, float], None] | None = None) -> Assistant:
        """The Assistant, waiting up to ``timeout`` seconds for it; ``tick`` sees progress."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while not self._done.is_set():
            if tick:
                tick(self.stage, self.fraction)
            left = None if deadline is None else deadline - time.monotonic()
            if left is not None and left <= 0:
                break
            self._done.wait(0.5 if left is None else min(0.5, left))
        if self.assistant is not None:
            return self.assistant
        if self.error:
            raise NotReady(f"the report index could not be loaded: {self.error}")
        raise NotReady(f"the report index is still being prepared ({self.stage}, "
                       f"{self.fraction:.0%}); try again in a moment")

    def status(self) -> dict[str, object]:
        return {"ready": self.ready, "stage": self.stage, "fraction": round(self.fraction, 3),
                "error": self.error}


def print_progress(stage: str, fraction: float) -> None:
    """Progress on the terminal: a bar redrawn on one line, or one line per stage in a log."""
    width = 30
    filled = round(width * fraction)
    bar = "#" * filled + "-" * (width - filled)
    line = f"[{bar}] {fraction:4.0%} {stage}"
    if sys.stderr.isatty():
        end = "\n" if fraction >= 1.0 else ""
        print(f"\r{line:<80}", end=end, file=sys.stderr, flush=True)
    else:
        print(line, file=sys.stderr, flush=True)
