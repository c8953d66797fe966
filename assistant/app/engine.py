"""One Assistant for the whole app, loaded (and built if needed) in the background.

The page is served at once; while the index is being built the page shows the
build's progress, and questions wait for it. The model and the indexes are
loaded once here and then only read, so every request shares them.

Adding or removing a document (``add_documents``, ``remove_document``) changes
the corpus folder through ``assistant.library``, updates the index (only new
text is embedded, with the model already loaded) and then swaps in a new
Assistant by replacing one reference. A request that already holds the old
Assistant finishes on it: its passages, vectors and BM25 index are in memory,
so pruning the old index folder on disk does not touch it.

Another process may publish an index too (``python -m assistant add`` or
``remove`` while the app runs). Every use of the Assistant first compares
``index/CURRENT``'s stat with the last one seen, one system call, and when
it changed and names another version, that version is loaded and served
(with the model already loaded), so the page stops citing a removed document.
"""

from __future__ import annotations

import gc
import logging
import os
import re
import sys
import threading
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from assistant.api import Assistant
from assistant.app.pagemap import page_count
from assistant.config import Config
from assistant.errors import AssistantError, CorpusError, QueryError
from assistant.index import current_path, load_index
from assistant.library import Limits, add_and_index, refresh_index, remove_document
from assistant.parse import META_SUFFIX, corpus_files, doc_id_for
from assistant.types import Document

log = logging.getLogger("assistant.app")


class NotReady(AssistantError):
    """The index is still being prepared (or failed to load); the message says which."""


class LibraryError(AssistantError):
    """A change to the document library could not be completed; nothing was changed."""


def is_removable(doc: Document) -> bool:
    """Whether the page may remove ``doc``: only documents added through the library.

    The library stamps ``added`` into a document's metadata. Files put into
    the corpus folder by hand (the bundled report among them) carry no such
    stamp and are protected: a visitor to the page cannot delete the report
    the app is about. ``python -m assistant remove`` can still remove anything.
    """
    return bool(isinstance(doc.meta, dict) and doc.meta.get("added"))


class Engine:
    def __init__(self, cfg: Config | None = None, rebuild: bool = True,
                 echo: Callable[[str, float], None] | None = None) -> None:
        self.cfg = cfg
        self.rebuild = rebuild
        self.stage = "starting"
        self.fraction = 0.0
        self.error: str | None = None
        self._assistant: Assistant | None = None
        # index/CURRENT's (inode, mtime, size) when the served index was chosen.
        self._seen_pointer: tuple[int, int, int] | None = None
        self._reload = threading.Lock()
        self.started = time.monotonic()
        self.ready_after: float | None = None
        self._done = threading.Event()
        self._echo = echo
        self._thread: threading.Thread | None = None
        # One library change at a time: two builds racing would each publish
        # an index missing the other's document.
        self._change = threading.Lock()
        # Counts the Assistants served so far; a page compares it with the one
        # its lists were drawn from to know when to redraw them.
        self._generation = 0

    # -- the served Assistant, kept up with other processes' publishes -----------
    @property
    def assistant(self) -> Assistant | None:
        self._follow_publish()
        return self._assistant

    @assistant.setter
    def assistant(self, value: Assistant | None) -> None:
        self._serve(value)

    @property
    def generation(self) -> int:
        self._follow_publish()
        return self._generation

    @generation.setter
    def generation(self, value: int) -> None:
        self._generation = value

    def _serve(self, a: Assistant | None) -> None:
        """Serve ``a``: one reference assignment, so a request sees old or new whole."""
        old = self._assistant
        self._seen_pointer = _pointer_stat(a.cfg.index_dir) if a else None
        self._assistant = a
        if old is not None and old is not a:
            # The old Assistant's retriever holds itself through its lru_cache
            # (a reference cycle): collect now, so the FAISS indexes and vectors
            # of every replaced version do not wait for the collector's turn.
            del old
            gc.collect()
            _return_freed_memory()

    def _follow_publish(self) -> None:
        """Serve the index another process published, if CURRENT changed since."""
        a = self._assistant
        # During this process's own library change the new index is served by it.
        if a is None or not self._done.is_set() or self._change.locked():
            return
        stat = _pointer_stat(a.cfg.index_dir)
        if stat == self._seen_pointer or stat is None:
            return
        if not self._reload.acquire(blocking=False):
            return  # another request is loading it; serve the current one meanwhile
        try:
            a = self._assistant
            if a is None or _pointer_stat(a.cfg.index_dir) == self._seen_pointer:
                return
            try:
                path = current_path(a.cfg.index_dir)
                if path is None or path == a.data.path:
                    self._seen_pointer = stat
                    return
                data = load_index(a.cfg)
            except (AssistantError, OSError) as exc:
                # Half-written or damaged: keep serving what we have, try again later.
                log.warning("another process's index could not be loaded: %s", exc)
                return
            if data.manifest.get("model") != a.cfg.model:
                log.warning("not serving %s: built with model %r", data.path.name,
                            data.manifest.get("model"))
                self._seen_pointer = stat
                return
            log.info("serving %s, published by another process", data.path.name)
            fresh = Assistant(data, a.embedder, a.cfg)
            self._serve(fresh)
            self._generation += 1
        finally:
            self._reload.release()

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
            self.generation += 1
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
        a = self.assistant
        skipped = [{"file": s.path, "reason": scrub(s.reason, a.cfg.corpus_dir)}
                   for s in a.data.skipped] if a else []
        return {"ready": self.ready, "stage": self.stage, "fraction": round(self.fraction, 3),
                "error": self.error, "skipped": skipped, "generation": self.generation}

    # -- changing the library ------------------------------------------------------
    def _current(self) -> Assistant:
        a = self.assistant
        if a is None:
            raise NotReady("the report index is not loaded yet; try again in a moment")
        return a

    def _swap(self, current: Assistant, progress: Callable[[str, float], None] | None) -> None:
        """Index the corpus as it now is and serve the result.

        The loaded embedder is passed on, so the model is never loaded a second
        time, and the build reuses the live index's embedding cache.
        """
        data = refresh_index(current.cfg, current.embedder, progress)
        self._serve(Assistant(data, current.embedder, current.cfg))
        self._generation += 1

    def add_documents(self, paths: Sequence[str | Path], limits: Limits | None = None,
                      progress: Callable[[str, float], None] | None = None,
                      names: Sequence[str] | None = None) -> list[dict[str, object]]:
        """Add files to the library and serve an index that includes them.

        One dict per path, in order: ``status`` ("added", "unchanged" or
        "error"), ``name`` (the name the reader gave the file: ``names[i]`` or
        the file's own), ``message``, and for a document in the library its
        ``doc_id``, ``title``, ``pages`` and ``passages``. A rejected file
        (type, size, unreadable) is reported and the others still go in.
        If the index cannot be updated, the files just added are taken out
        again, so the corpus and the served index never disagree, and
        LibraryError says why.
        """
        with self._change:
            current = self._current()
            cfg = current.cfg
            try:
                # The library takes the files out again if the index cannot take them.
                results, data = add_and_index(cfg, list(paths), limits or Limits.from_env(),
                                              current.embedder, progress)
            except (AssistantError, OSError) as exc:
                why = exc.strerror if isinstance(exc, OSError) else str(exc)
                raise LibraryError(f"the index could not be updated ({why}); "
                                   "nothing was added") from exc
            if data is not None:
                self._serve(Assistant(data, current.embedder, current.cfg))
                self._generation += 1
            served = self._assistant or current
            counts = _passage_counts(served)
            docs = {d.id: d for d in served.documents}
            out: list[dict[str, object]] = []
            for i, r in enumerate(results):
                name = names[i] if names and i < len(names) and names[i] else Path(r.source).name
                row: dict[str, object] = {"status": r.status, "name": name,
                                          "message": scrub(r.message, cfg.corpus_dir),
                                          "doc_id": r.doc_id, "title": r.title}
                doc = docs.get(r.doc_id) if r.ok else None
                if doc is not None:
                    row.update(title=doc.title, pages=page_count(doc),
                               sections=len(doc.sections), passages=counts.get(doc.id, 0))
                out.append(row)
            return out

    def remove_document(self, doc_id: str,
                        progress: Callable[[str, float], None] | None = None
                        ) -> dict[str, object]:
        """Remove a document added through the library and serve an index without it.

        Raises QueryError for an unknown or protected document (see
        ``is_removable``). If the index cannot be updated, the document's
        files are put back and LibraryError says why.
        """
        with self._change:
            current = self._current()
            doc_id = " ".join(str(doc_id or "").split())
            if not doc_id:
                raise QueryError("choose a document to remove")
            doc = current.document(doc_id)  # QueryError naming the documents there are
            if not is_removable(doc):
                raise QueryError(f"{doc.title!r} was not added through the library, so it "
                                 "cannot be removed from the page")
            if len(current.documents) < 2:
                raise QueryError("the last document cannot be removed")
            backup = _backup(current.cfg.corpus_dir, doc_id)
            result = remove_document(current.cfg, doc_id)
            try:
                self._swap(current, progress)
            except (AssistantError, OSError) as exc:
                for path, data in backup.items():
                    if not path.exists():
                        path.write_bytes(data)
                why = exc.strerror if isinstance(exc, OSError) else str(exc)
                raise LibraryError(f"the index could not be updated ({why}); "
                                   f"{doc.title!r} was kept") from exc
            return {"doc_id": doc_id, "title": doc.title, "files": list(result.files)}


def scrub(message: str, corpus: Path) -> str:
    """A library message without the server's folders (a parser may name the staged copy).

    The reader knows the file by its own name; where the server keeps it is
    none of a visitor's business.
    """
    folder = re.escape(str(Path(corpus)))
    return re.sub(folder + r"/(?:\.staging-[^/\s'\"]*/)?", "", message)


def _passage_counts(a: Assistant) -> dict[str, int]:
    counts: dict[str, int] = {}
    for p in a.passages:
        counts[p.doc_id] = counts.get(p.doc_id, 0) + 1
    return counts


def _backup(corpus: Path, doc_id: str) -> dict[Path, bytes]:
    """The bytes of a document's files (and metadata), to put back if a removal fails."""
    out: dict[Path, bytes] = {}
    try:
        files = [p for p in corpus_files(Path(corpus)) if doc_id_for(p) == doc_id]
    except CorpusError:
        return out
    for p in files:
        for path in (p, p.with_name(p.name + META_SUFFIX), p.with_suffix(META_SUFFIX)):
            if path.is_file():
                out[path] = path.read_bytes()
    return out


def _return_freed_memory() -> None:
    """Hand memory freed by a replaced index back to the system (glibc only).

    Measured on the page's add+remove cycle: Python's own objects did not
    grow (tracemalloc: +2 MB over 6 cycles, the live index), but RSS grew
    about 4 MB a cycle. The builds' large short-lived arrays (vectors, BM25
    matrices, parsed text) are freed into glibc's per-thread arenas, which
    keep them; malloc_trim releases them. Elsewhere this does nothing.
    """
    try:
        import ctypes

        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _pointer_stat(index_dir: Path) -> tuple[int, int, int] | None:
    """index/CURRENT's identity: a publish replaces the file, so its inode changes."""
    try:
        st = os.stat(Path(index_dir) / "CURRENT")
    except OSError:
        return None
    return st.st_ino, st.st_mtime_ns, st.st_size


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
