"""The document library: add, remove and list the documents of the corpus folder.

    from assistant.library import add_documents, remove_document, list_documents, refresh_index
    add_documents(cfg, ["notes.md", "white-paper.pdf"])   # -> [AddResult, ...]
    refresh_index(cfg)        # re-embeds only the new passages (embedding cache)
    list_documents(cfg)       # -> [{"id", "title", "type", "pages", "passages", ...}]
    remove_document(cfg, "notes")

A file is copied in under a safe name derived from its own (lower case
letters, digits and dashes, plus its known extension), so nothing a user
names can write outside the corpus folder, hide itself, or replace another
document by accident. It is parsed before it is accepted: a file the
assistant cannot read never enters the corpus. Beside it goes
``NAME.meta.json`` with its title and where it came from.

Every write lands in the corpus folder only: the file is staged in a hidden
folder inside it and renamed into place, so a reader (a build running at the
same time) sees the document whole or not at all. A lock file serialises
adds and removes from several processes.

Limits (size, types, pages) are a ``Limits`` value; ``Limits.from_env()``
reads ``REPORT_ASSISTANT_MAX_UPLOAD_MB``, ``REPORT_ASSISTANT_UPLOAD_TYPES``
(e.g. ".pdf,.md") and ``REPORT_ASSISTANT_MAX_UPLOAD_PAGES``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import math
import os
import re
import shutil
import tempfile
import time
import unicodedata
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from assistant.config import Config
from assistant.errors import ConfigError, CorpusError, IndexError_
from assistant.parse import (
    META_SUFFIX,
    PARSERS,
    corpus_files,
    doc_id_for,
    load_document,
    read_meta,
)
from assistant.types import Document

if TYPE_CHECKING:
    from assistant.embed import Embedder
    from assistant.index import IndexData, Progress

MAX_NAME = 80  # characters of a document id
LOCK_NAME = ".library.lock"


@dataclass(frozen=True)
class Limits:
    max_bytes: int = 25 * 1024 * 1024
    types: tuple[str, ...] = (".pdf", ".md", ".markdown", ".html", ".htm", ".txt")
    max_pages: int = 2000

    @classmethod
    def from_env(cls) -> Limits:
        """The limits set in the environment; ConfigError names a malformed one."""
        env = os.environ
        values: dict = {}
        if env.get("REPORT_ASSISTANT_MAX_UPLOAD_MB"):
            raw = env["REPORT_ASSISTANT_MAX_UPLOAD_MB"]
            try:
                mb = float(raw)
            except ValueError:
                mb = math.nan
            if not (math.isfinite(mb) and 0 < mb <= 10_000):
                raise ConfigError("REPORT_ASSISTANT_MAX_UPLOAD_MB must be a number of megabytes "
                                  f"above 0 and up to 10000 (got {raw!r})")
            values["max_bytes"] = int(mb * 1024 * 1024)
        if env.get("REPORT_ASSISTANT_UPLOAD_TYPES"):
            values["types"] = tuple(
                "." + t.strip().lower().lstrip(".")
                for t in env["REPORT_ASSISTANT_UPLOAD_TYPES"].split(",") if t.strip())
            unknown = [t for t in values["types"] if t not in PARSERS]
            if unknown or not values["types"]:
                raise ConfigError(f"REPORT_ASSISTANT_UPLOAD_TYPES: {', '.join(unknown) or 'empty'}"
                                  f" not understood; choose among {', '.join(sorted(PARSERS))}")
        if env.get("REPORT_ASSISTANT_MAX_UPLOAD_PAGES"):
            raw = env["REPORT_ASSISTANT_MAX_UPLOAD_PAGES"]
            try:
                values["max_pages"] = int(raw)
            except ValueError:
                values["max_pages"] = 0
            if not 1 <= values["max_pages"] <= 1_000_000:
                raise ConfigError("REPORT_ASSISTANT_MAX_UPLOAD_PAGES must be a whole number from "
                                  f"1 to 1000000 (got {raw!r})")
        return cls(**values)

    def allowed(self) -> tuple[str, ...]:
        """The types both allowed here and understood by a parser."""
        return tuple(t for t in self.types if t in PARSERS)


@dataclass(frozen=True)
class AddResult:
    source: str  # the path given
    status: str  # "added", "unchanged" (already in the corpus) or "error"
    doc_id: str = ""
    file: str = ""  # name inside the corpus folder
    title: str = ""
    message: str = ""

    @property
    def ok(self) -> bool:
        return self.status != "error"


@dataclass(frozen=True)
class RemoveResult:
    doc_id: str
    files: tuple[str, ...]  # names deleted from the corpus folder
    title: str = ""


# --- names ---------------------------------------------------------------------

def safe_name(original: str, suffix: str) -> str:
    """The corpus file name for an original name: its document id plus its extension.

    Accents are folded first ("Año" -> "ano"); everything but a-z, 0-9 turns
    into dashes, so no name can hold a separator, start with a dot or be empty.
    """
    stem = Path(Path(original).name).stem
    folded = unicodedata.normalize("NFKD", stem).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", folded.lower()).strip("-")[:MAX_NAME].strip("-")
    return (slug or "document") + suffix


def _free_name(name: str, taken: set[str]) -> str:
    """``name`` or ``name-2``, ``name-3``... whose document id is not taken."""
    path = Path(name)
    stem, suffix = path.stem, path.suffix
    n = 1
    candidate = name
    while doc_id_for(Path(candidate)) in taken:
        n += 1
        candidate = f"{stem[:MAX_NAME - 4]}-{n}{suffix}"
    return candidate


def _inside(corpus: Path, name: str) -> Path:
    target = corpus / name
    # The name is built from [a-z0-9-] and a known suffix, so this cannot
    # fail; the check stays so a future change to naming cannot escape.
    if target.resolve().parent != corpus.resolve() or name.startswith("."):
        raise CorpusError(f"refusing to write {name!r} outside the corpus folder")
    return target


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def _meta_paths(path: Path) -> list[Path]:
    return [path.with_name(path.name + META_SUFFIX), path.with_suffix(META_SUFFIX)]


# --- locking and atomic writes -----------------------------------------------------

@contextlib.contextmanager
def _locked(corpus: Path) -> Iterator[None]:
    with (corpus / LOCK_NAME).open("a") as f:
        fcntl.flock(f, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(f, fcntl.LOCK_UN)


def _corpus(cfg: Config) -> Path:
    corpus = Path(cfg.corpus_dir)
    if not corpus.is_dir():
        what = "is a file, not a folder" if corpus.exists() else "does not exist"
        raise CorpusError(f"corpus folder {corpus} {what}; point --corpus (or "
                          "REPORT_ASSISTANT_CORPUS_DIR) at a folder, or create it")
    return corpus


def clean_leftovers(corpus_dir: Path) -> list[str]:
    """Remove what killed adds left in the corpus folder; the names removed.

    ``.staging-*`` folders (an add killed before its rename) and metadata
    ``NAME.EXT.meta.json`` whose NAME.EXT is gone (an add killed between its
    two renames, or a file deleted by hand), which ``remove`` cannot reach as
    it knows documents by their files. Taken under the library lock, so an
    add in progress is never swept; a folder that cannot be written (a
    shared, read-only corpus) is left as it is.
    """
    corpus = Path(corpus_dir)
    gone: list[str] = []
    try:
        with _locked(corpus):
            for child in corpus.iterdir():
                name = child.name
                if name.startswith(".staging-") and child.is_dir() and not child.is_symlink():
                    shutil.rmtree(child, ignore_errors=True)
                    gone.append(name)
                elif name.endswith(META_SUFFIX) and not child.is_dir():
                    described = corpus / name[:-len(META_SUFFIX)]
                    # Only the library's own form NAME.EXT.meta.json: "NAME.meta.json"
                    # is written by hand beside a file of any extension.
                    if (Path(described.name).suffix.lower() in PARSERS
                            and not os.path.lexists(described)):
                        child.unlink()
                        gone.append(name)
    except OSError:
        return gone
    return gone


def _read_limited(path: Path, limit: int) -> bytes:
    with path.open("rb") as f:
        data = f.read(limit + 1)
    if len(data) > limit:
        raise CorpusError(f"{path.name}: larger than the limit of {_size(limit)}")
    return data


def _size(n: int) -> str:
    return f"{n / 1024 / 1024:.1f} MB" if n >= 1024 * 1024 else f"{n / 1024:.0f} KB"


def _pages(doc: Document) -> int:
    pages = doc.meta.get("pages")
    if isinstance(pages, int) and pages > 0:
        return pages
    return max((p for _, p in doc.page_starts), default=1)


# --- add ---------------------------------------------------------------------------

def add_document(cfg: Config, path: str | Path, title: str | None = None,
                 limits: Limits | None = None, replace: bool = False) -> AddResult:
    """Copy one file into the corpus after checking and parsing it.

    Returns an AddResult; problems with the file (type, size, unreadable,
    no text) come back as ``status="error"`` with a message saying what to
    do, so one bad file in a batch does not stop the others. With
    ``replace=True`` a document with the same id is replaced instead of the
    new one getting a fresh id (``name-2``).
    """
    limits = limits or Limits.from_env()
    src = Path(path)
    try:
        corpus = _corpus(cfg)
        suffix = src.suffix.lower()
        allowed = limits.allowed()
        if suffix not in allowed:
            raise CorpusError(f"{src.name}: type {suffix or '(none)'} is not accepted; "
                              f"accepted: {', '.join(allowed)}")
        if src.is_symlink():
            # The link's target is what would be copied, and the reader may not
            # know where it leads; adding the file itself says what is meant.
            try:
                target = src.resolve(strict=True)
            except (OSError, RuntimeError):
                raise CorpusError(f"{src}: a symbolic link to a file that does not exist"
                                  ) from None
            raise CorpusError(f"{src}: a symbolic link (to {target}); links are not added, "
                              "add the file itself")
        if not src.is_file():
            raise CorpusError(f"{src}: no such file")
        if src.stat().st_size > limits.max_bytes:
            raise CorpusError(f"{src.name}: {_size(src.stat().st_size)} is over the limit of "
                              f"{_size(limits.max_bytes)}")
        data = _read_limited(src, limits.max_bytes)
        digest = hashlib.sha256(data).hexdigest()
        with _locked(corpus):
            return _install(corpus, src, suffix, data, digest, title, limits, replace)
    except CorpusError as exc:
        return AddResult(str(path), "error", message=str(exc))
    except OSError as exc:
        return AddResult(str(path), "error",
                         message=f"{src.name}: cannot be read or copied ({exc.strerror})")


def _install(corpus: Path, src: Path, suffix: str, data: bytes, digest: str,
             title: str | None, limits: Limits, replace: bool) -> AddResult:
    existing = corpus_files(corpus)
    for p in existing:
        if p.stat().st_size == len(data) and _sha256(p) == digest:
            doc_id = doc_id_for(p)
            return AddResult(str(src), "unchanged", doc_id, p.name, _title_of(p),
                             f"already in the corpus as {doc_id!r}")
    name = safe_name(src.name, suffix)
    replaced: list[Path] = []
    if replace:
        replaced = [p for p in existing if doc_id_for(p) == doc_id_for(Path(name))]
    else:
        name = _free_name(name, {doc_id_for(p) for p in existing})
    target = _inside(corpus, name)

    staging = Path(tempfile.mkdtemp(prefix=".staging-", dir=corpus))
    try:
        staged = staging / name
        staged.write_bytes(data)
        meta = {"title": title.strip()} if title and title.strip() else {}
        if meta:
            (staging / (name + META_SUFFIX)).write_text(json.dumps(meta), encoding="utf-8")
        try:
            doc = load_document(staged)  # raises CorpusError when it cannot be used
        except CorpusError as exc:
            # The reader knows the file by its own name, not the staged copy's path.
            raise CorpusError(str(exc).replace(f"{staging}/", "").replace(name, src.name)
                              ) from exc
        pages = _pages(doc)
        if pages > limits.max_pages:
            raise CorpusError(f"{src.name}: {pages} pages is over the limit of "
                              f"{limits.max_pages}")
        meta = {"title": doc.title, "original_name": src.name, "sha256": digest,
                "bytes": len(data), "added": time.strftime("%Y-%m-%dT%H:%M:%S%z")}
        meta_staged = staging / (name + META_SUFFIX)
        meta_staged.write_text(json.dumps(meta, ensure_ascii=False, indent=1),
                               encoding="utf-8")
        _fsync(staged)
        _fsync(meta_staged)
        for old in replaced:
            _delete_document_files(corpus, old)
        # The metadata first: a build that sees the document sees its title.
        os.replace(meta_staged, _inside(corpus, name + META_SUFFIX))
        os.replace(staged, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return AddResult(str(src), "added", doc.id, name, doc.title,
                     f"replaced {', '.join(p.name for p in replaced)}" if replaced else "")


def _fsync(path: Path) -> None:
    with path.open("rb") as f:
        os.fsync(f.fileno())


def add_documents(cfg: Config, paths: Sequence[str | Path], limits: Limits | None = None,
                  replace: bool = False) -> list[AddResult]:
    """Add several files; one result per path, in order (see ``add_document``)."""
    limits = limits or Limits.from_env()
    return [add_document(cfg, p, limits=limits, replace=replace) for p in paths]


def add_and_index(cfg: Config, paths: Sequence[str | Path], limits: Limits | None = None,
                  embedder: Embedder | None = None, progress: Progress | None = None
                  ) -> tuple[list[AddResult], IndexData | None]:
    """Add files and index them, as one step: if indexing fails, nothing was added.

    The results (see ``add_document``) and the new index, or None when no
    file was added. If the index cannot be updated (or the user interrupts
    it), the files just added are taken out again, so the corpus never holds
    a document the index could not take, which every later ``ask`` would try
    to rebuild for; the exception then propagates.
    """
    results = add_documents(cfg, paths, limits)
    added = [r for r in results if r.status == "added"]
    if not added:
        return results, None
    try:
        return results, refresh_index(cfg, embedder, progress)
    except BaseException:
        for r in added:
            # The exception being raised is the news; a failed undo only adds to it.
            with contextlib.suppress(CorpusError, OSError):
                remove_document(cfg, r.doc_id)
        raise


# --- remove --------------------------------------------------------------------------

def _delete_document_files(corpus: Path, path: Path) -> list[str]:
    gone = []
    others = {p for p in corpus_files(corpus) if p != path}
    for meta in _meta_paths(path):
        # "NAME.meta.json" may describe another file with the same stem.
        shared = meta.name == path.stem + META_SUFFIX and any(
            p.stem == path.stem for p in others)
        if meta.exists() and not shared:
            meta.unlink()
            gone.append(meta.name)
    path.unlink()
    gone.insert(0, path.name)
    return gone


def remove_document(cfg: Config, doc_id: str) -> RemoveResult:
    """Delete a document (and its metadata) from the corpus folder by its id."""
    corpus = _corpus(cfg)
    with _locked(corpus):
        files = corpus_files(corpus)
        matches = [p for p in files if doc_id_for(p) == doc_id]
        if not matches:
            have = ", ".join(sorted(doc_id_for(p) for p in files)) or "none"
            raise CorpusError(f"no document {doc_id!r} in {corpus}; documents: {have}")
        title = _title_of(matches[0])
        gone: list[str] = []
        for p in matches:
            gone.extend(_delete_document_files(corpus, p))
    return RemoveResult(doc_id, tuple(gone), title)


# --- list ------------------------------------------------------------------------------

def _title_of(path: Path) -> str:
    try:
        return str(read_meta(path).get("title", "")) or path.stem
    except CorpusError:
        return path.stem


def _indexed(cfg: Config) -> tuple[dict[str, dict], bool]:
    """Pages, sections and passages per document id in the live index; is it current?"""
    from assistant.index import current_path, document_from_dict, staleness

    try:
        path = current_path(cfg.index_dir)
        if path is None:
            return {}, False
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        docs = json.loads((path / "documents.json").read_text(encoding="utf-8"))
        counts: dict[str, int] = {}
        with (path / "passages.jsonl").open(encoding="utf-8") as f:
            for line in f:
                if line.strip():
                    d = json.loads(line)["doc_id"]
                    counts[d] = counts.get(d, 0) + 1
        current = staleness(manifest, cfg) is None
    except (OSError, ValueError, KeyError, TypeError, IndexError_):
        # No usable index: the caller counts from the files themselves.
        return {}, False
    out = {}
    for d in docs:
        doc = document_from_dict(d)
        out[doc.id] = {"title": doc.title, "pages": _pages(doc), "sections": len(doc.sections),
                       "passages": counts.get(doc.id, 0), "source": doc.source}
    return out, current


def list_documents(cfg: Config) -> list[dict]:
    """One dict per document file of the corpus folder, in file-name order.

    Keys: ``id``, ``title``, ``type`` (extension), ``file``, ``bytes``, ``added``,
    ``pages``, ``sections``, ``passages``, ``indexed`` (True when those counts
    come from a live index that matches the corpus; otherwise the file is parsed
    and chunked now to count them) and ``error`` (why a file cannot be used).
    """
    from assistant.chunk import ChunkSettings, chunk_document, tiktoken_counter

    corpus = _corpus(cfg)
    indexed, current = _indexed(cfg)
    out = []
    for path in corpus_files(corpus):
        doc_id = doc_id_for(path)
        try:
            meta = read_meta(path)
        except CorpusError:
            meta = {}
        row = {"id": doc_id, "title": str(meta.get("title", "")) or path.stem,
               "type": path.suffix.lower().lstrip("."), "file": path.name,
               "bytes": path.stat().st_size, "added": meta.get("added", ""),
               "pages": None, "sections": None, "passages": None, "indexed": False,
               "error": ""}
        info = indexed.get(doc_id)
        if current and info and info["source"] == path.name:
            row.update({k: info[k] for k in ("title", "pages", "sections", "passages")},
                       indexed=True)
        else:
            try:
                doc = load_document(path)
                settings = ChunkSettings(cfg.chunk_target_tokens, cfg.chunk_max_tokens)
                passages = chunk_document(doc, settings, tiktoken_counter(cfg.encoding))
                row.update(title=doc.title, pages=_pages(doc), sections=len(doc.sections),
                           passages=len(passages))
            except CorpusError as exc:
                row["error"] = str(exc)
        out.append(row)
    return out


# --- index -----------------------------------------------------------------------------

def refresh_index(cfg: Config, embedder: Embedder | None = None,
                  progress: Progress | None = None) -> IndexData:
    """Rebuild the index after adds and removes; only new passages are embedded.

    The build reuses the live index's embedding cache (content hash -> vector),
    so a rebuild after adding one document embeds that document's passages and
    sentences only; ``manifest["newly_embedded"]`` says how many. Returns
    the new ``IndexData``.
    """
    from assistant.embed import Embedder
    from assistant.index import build_index

    embedder = embedder or Embedder(cfg.model, cfg.device, cfg.batch_size)
    return build_index(cfg, embedder, progress or (lambda stage, fraction: None))
