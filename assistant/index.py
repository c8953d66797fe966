"""Index: build, save and load the dense (FAISS) and lexical (BM25) indexes.

Layout under ``index/``::

    CURRENT            name of the live version folder (replaced atomically)
    v-<stamp>/         one complete build
        manifest.json  model, corpus hash, chunk settings, library versions, counts
        passages.jsonl documents.json sentences.json acronyms.json
        dense.faiss    passage vectors      sentences.npy  sentence vectors
        sentences.faiss  index of the sentence vectors (retrieval on large corpora)
        ml_passages.npy ml_sentences.npy  multilingual vectors (assistant/multilingual.py)
        bm25/          bm25s index          embcache.npz   content-hash -> vector

A build writes a new version folder, then swaps CURRENT with ``os.replace``;
a build that dies half way leaves CURRENT pointing at the previous version.

Builds from any number of processes take ``.build.lock`` (``fcntl.flock``)
for the whole build, publish and prune: two builds at once would otherwise
each prune the other's version between its rename and its publish, leaving
CURRENT naming a folder that no longer exists. The live version and the one
before it are kept, so a damaged embedding cache falls back to the previous
one instead of embedding everything again.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import hashlib
import json
import logging
import math
import os
import shutil
import tempfile
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from assistant.chunk import (
    ChunkSettings,
    ModelFit,
    chunk_document,
    sentence_spans,
    tiktoken_counter,
    tiktoken_ends,
)
from assistant.config import Config
from assistant.embed import Embedder, EmbedProgress, embed_missing, text_key
from assistant.errors import AssistantError, IndexError_
from assistant.lexical import BM25Index
from assistant.multilingual import embed_for_index
from assistant.parse import PARSER_VERSION, Skipped, corpus_fingerprint, load_corpus
from assistant.retrieve.acronyms import extract_acronyms
from assistant.types import PEOPLE, TABLE, Block, Document, Passage, Person, Section

FORMAT_VERSION = 6  # 4: BM25 stop words; 5: sentences.faiss; 6: member lines with their list
Progress = Callable[[str, float], None]
log = logging.getLogger("assistant")


def _quiet(stage: str, fraction: float) -> None:
    pass


def embed_text(p: Passage) -> str:
    """What the model sees for a passage: where it sits, then its words."""
    return f"{p.context}\n{p.text}" if p.context else p.text


def sentence_embed_text(p: Passage, sentence: str) -> str:
    """What the model sees for one sentence of a passage.

    A line of a member list ("Samantha Gross, Brookings Institution") says
    nothing of the group it belongs to, so alone its vector cannot tell the
    energy group's Brookings member from the security group's; it is embedded
    with its list's place in the report. A table's row is embedded with the
    table's title and column headers, for the same reason. Prose sentences
    stand alone.
    """
    return f"{p.context}: {sentence}" if p.kind in (PEOPLE, TABLE) and p.context else sentence


# --- FAISS ------------------------------------------------------------------

# Exact search is exact, and up to FLAT_MAX vectors a full scan takes a few
# milliseconds (155 ms at 1M). Beyond it an inverted-file index (IVF, about
# 4 sqrt(n) lists) searched in IVF_NPROBE lists: on the synthetic corpora of
# benchmarks/ it reached recall@10 0.994 at 100k and 0.991 at 1M against exact
# search, p50 1.8 ms and 4.4 ms, built in under two minutes at 1M; HNSW (M=32,
# efConstruction=200, efSearch=128) took 84 s to build at 100k and reached only
# 0.949 (benchmarks/RESULTS.md has the measurements).
FLAT_MAX = 50_000
IVF_NPROBE = 64
IVF_TRAIN_PER_LIST = 40  # FAISS's k-means wants at least 39 points per list


def ivf_lists(n: int) -> int:
    """About 4 sqrt(n) inverted lists, a power of two, each with enough training points."""
    return 2 ** max(1, min(round(math.log2(4 * math.sqrt(n))),
                           int(math.log2(max(2, n // IVF_TRAIN_PER_LIST)))))


def make_faiss_index(vectors: np.ndarray):
    import faiss

    n, dim = vectors.shape
    x = np.ascontiguousarray(vectors, dtype=np.float32)
    if n <= FLAT_MAX:
        index = faiss.IndexFlatIP(dim)
    else:
        nlist = ivf_lists(n)
        index = faiss.IndexIVFFlat(faiss.IndexFlatIP(dim), dim, nlist,
                                   faiss.METRIC_INNER_PRODUCT)
        # A fixed sample keeps builds of the same corpus identical.
        rows = np.random.default_rng(0).choice(n, min(n, IVF_TRAIN_PER_LIST * nlist),
                                               replace=False)
        index.train(x[np.sort(rows)])
        index.nprobe = IVF_NPROBE  # saved with the index by faiss.write_index
    if n:
        index.add(x)
    return index


# --- documents to and from JSON ---------------------------------------------

def document_to_dict(d: Document) -> dict:
    out = asdict(d)
    out["page_starts"] = [list(r) for r in d.page_starts]
    return out


def document_from_dict(d: dict) -> Document:
    return Document(
        id=d["id"], title=d["title"], source=d["source"], text=d["text"],
        sections=tuple(Section(**{**s, "path": tuple(s["path"])}) for s in d["sections"]),
        blocks=tuple(Block(**{**b, "notes": tuple(b["notes"])}) for b in d["blocks"]),
        page_starts=tuple((int(a), int(b)) for a, b in d["page_starts"]),
        people=tuple(Person(**p) for p in d["people"]),
        meta=d.get("meta", {}),
    )


# --- the loaded index ---------------------------------------------------------

@dataclass
class IndexData:
    path: Path
    manifest: dict
    passages: list[Passage]
    documents: list[Document]
    dense: object  # faiss.Index over passage vectors
    vectors: np.ndarray  # passage vectors, row i = passages[i]
    sent_vectors: np.ndarray
    sent_spans: np.ndarray  # rows (passage index, start, end) into passage text
    bm25: BM25Index
    acronyms: dict[str, str]
    skipped: list[Skipped]
    # faiss.Index over sent_vectors, chosen by size like the passage one: on a
    # large corpus retrieval asks it for candidates instead of scoring every sentence.
    sent_dense: object = None
    # Cross-lingual vectors of the same passages and sentences, row for row, so
    # a question in another language can search the English text (None: the
    # multilingual channel is off).
    ml_vectors: np.ndarray | None = None
    ml_sent_vectors: np.ndarray | None = None


def _versions() -> dict:
    import importlib.metadata as md

    out = {}
    for pkg in ("sentence-transformers", "faiss-cpu", "bm25s", "tiktoken", "torch", "pysbd"):
        try:
            out[pkg] = md.version(pkg)
        except md.PackageNotFoundError:
            out[pkg] = None
    return out


def expected_manifest(cfg: Config) -> dict:
    """The fields that must match for a saved index to be used as is."""
    return {
        "format": FORMAT_VERSION,
        "parser": PARSER_VERSION,
        "model": cfg.model,
        "multilingual_model": cfg.multilingual_model,
        "corpus_hash": corpus_fingerprint(cfg.corpus_dir),
        "chunking": ChunkSettings(cfg.chunk_target_tokens, cfg.chunk_max_tokens).as_dict()
        | {"encoding": cfg.encoding},
    }


def staleness(manifest: dict, cfg: Config) -> str | None:
    """Why a saved index does not fit this configuration and corpus, or None."""
    want = expected_manifest(cfg)
    labels = {"format": "index format", "parser": "parser version", "model": "embedding model",
              "multilingual_model": "multilingual model", "corpus_hash": "corpus",
              "chunking": "chunk settings"}
    for key, label in labels.items():
        if manifest.get(key) != want[key]:
            if key == "model":
                return f"built with model {manifest.get(key)!r}, configured {want[key]!r}"
            return f"the {label} changed since it was built"
    return None


def current_path(index_dir: Path) -> Path | None:
    pointer = index_dir / "CURRENT"
    if not pointer.exists():
        return None
    try:
        name = pointer.read_text(encoding="utf-8").strip()
    except (OSError, ValueError):  # a folder, unreadable, or bytes that are not a name
        name = ""
    if not name or "/" in name or name.startswith("."):
        raise IndexError_(f"{pointer} is damaged; run `python -m assistant build` to rebuild")
    return index_dir / name


def load_index(cfg: Config) -> IndexData:
    """Load the live index, or raise IndexError_ saying what is wrong and what to do.

    Another process may publish a newer version and prune this one while it
    is being read (only the live version and the one before it are kept);
    then the pointer has moved, and the newer version is read instead.
    """
    for _ in range(3):
        before = _pointer_text(cfg.index_dir)
        try:
            return _load_version(cfg)
        except IndexError_:
            if _pointer_text(cfg.index_dir) == before:
                raise
    return _load_version(cfg)


def _pointer_text(index_dir: Path) -> str | None:
    try:
        return (index_dir / "CURRENT").read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None


def _load_version(cfg: Config) -> IndexData:
    import faiss

    path = current_path(cfg.index_dir)
    fix = "run `python -m assistant build` to rebuild it"
    if path is None:
        raise IndexError_(f"no index in {cfg.index_dir}; {fix}")
    if not path.is_dir():
        # A truncated pointer, or one naming a version that was deleted by hand:
        # the pointer is what is wrong, not a file inside the version.
        raise IndexError_(f"{cfg.index_dir / 'CURRENT'} names {path.name!r}, a version folder "
                          f"missing from {cfg.index_dir} (the pointer is damaged, or that "
                          f"version was deleted); {fix}")
    try:
        manifest = json.loads((path / "manifest.json").read_text(encoding="utf-8"))
        if not isinstance(manifest, dict):
            raise ValueError("manifest.json is not a JSON object")
        _verify(path, manifest.get("checksums"), fix)
        passages = [Passage.from_dict(json.loads(line)) for line in
                    (path / "passages.jsonl").read_text(encoding="utf-8").splitlines() if line]
        documents = [document_from_dict(d) for d in
                     json.loads((path / "documents.json").read_text(encoding="utf-8"))]
        dense = faiss.read_index(str(path / "dense.faiss"))
        vectors = np.load(path / "vectors.npy")
        sent_vectors = np.load(path / "sentences.npy")
        sent_dense = faiss.read_index(str(path / "sentences.faiss"))
        sent_spans = np.asarray(json.loads((path / "sentences.json").read_text()), dtype=np.int64)
        acronyms = json.loads((path / "acronyms.json").read_text(encoding="utf-8"))
        bm25 = BM25Index.load(path / "bm25")
        skipped = [Skipped(**s) for s in manifest.get("skipped", [])]
        ml_vectors = ml_sent_vectors = None
        if manifest.get("multilingual_model"):
            ml_vectors = np.load(path / "ml_passages.npy")
            ml_sent_vectors = np.load(path / "ml_sentences.npy")
    except FileNotFoundError as exc:
        raise IndexError_(f"index file missing: {Path(exc.filename).name}; {fix}") from exc
    except (ValueError, KeyError, TypeError, RuntimeError, OSError) as exc:
        raise IndexError_(f"index in {path} is damaged ({type(exc).__name__}: {exc}); {fix}"
                          ) from exc
    n = len(passages)
    counts = {"dense index": dense.ntotal, "passage vectors": len(vectors),
              "bm25 documents": bm25.size, "manifest": manifest.get("passages")}
    for what, got in counts.items():
        if got != n:
            raise IndexError_(f"index in {path} is inconsistent: {what} has {got} entries, "
                              f"passages file has {n}; {fix}")
    if not len(sent_vectors) == len(sent_spans) == sent_dense.ntotal:
        raise IndexError_(f"index in {path} is inconsistent: sentence vectors; {fix}")
    if ml_vectors is not None and (len(ml_vectors) != n
                                   or len(ml_sent_vectors) != len(sent_spans)):
        raise IndexError_(f"index in {path} is inconsistent: multilingual vectors; {fix}")
    if dense.d != manifest.get("dim"):
        raise IndexError_(f"index in {path} has vectors of size {dense.d}, manifest says "
                          f"{manifest.get('dim')}; {fix}")
    return IndexData(path, manifest, passages, documents, dense, vectors, sent_vectors,
                     sent_spans, bm25, acronyms, skipped, sent_dense, ml_vectors, ml_sent_vectors)


def _checksums(folder: Path) -> dict[str, str]:
    return {p.relative_to(folder).as_posix(): _sha256(p)
            for p in sorted(folder.rglob("*")) if p.is_file()}


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _verify(path: Path, checksums: object, fix: str) -> None:
    """Raise IndexError_ when a file differs from what the build wrote.

    A flipped byte can leave a file the right size and still parseable (FAISS
    then serves wrong vectors without complaint), so sizes and parsing are not
    enough. Indexes written before checksums existed are not checked.
    """
    if checksums is None:
        return
    if not isinstance(checksums, dict):
        raise ValueError("manifest.json has malformed checksums")
    for name, want in checksums.items():
        if not isinstance(name, str) or name.startswith("/") or ".." in name.split("/"):
            raise ValueError(f"manifest.json names a file outside the index: {name!r}")
        if _sha256(path / name) != want:
            raise IndexError_(f"index in {path} is damaged: {name} is not the file the build "
                              f"wrote (checksum mismatch); {fix}")


@dataclass
class CacheFound:
    """The embedding cache a build starts from, and why any other was passed over."""

    vectors: dict[str, np.ndarray]
    source: str | None  # version folder it came from
    notes: list[str]


CACHE_FILE = "embcache.npz"  # the sentence model's vectors
ML_CACHE_FILE = "mlcache.npz"  # the multilingual encoder's (another width, so another file)


def _read_cache(version: Path, name: str = CACHE_FILE) -> dict[str, np.ndarray]:
    """One version folder's cache, or ValueError/OSError saying why it cannot be trusted.

    A damaged cache would pass wrong vectors on to the next build, so it is
    checked against the manifest's checksum when the manifest is readable. When
    it is not (the manifest itself is damaged), the npz's own zip CRC-32 still
    catches flipped bytes on read, and the shape and norms are checked below.
    """
    file = version / name
    if not file.is_file():
        raise FileNotFoundError(errno.ENOENT, f"no {name}", str(file))
    try:
        manifest = json.loads((version / "manifest.json").read_text(encoding="utf-8"))
        sums = manifest.get("checksums") if isinstance(manifest, dict) else None
    except (OSError, ValueError):
        sums = None  # unverifiable by checksum; the format checks below still apply
    if isinstance(sums, dict) and name in sums and sums[name] != _sha256(file):
        raise ValueError("checksum mismatch")
    try:
        with np.load(file, allow_pickle=False) as data:
            keys, vectors = data["keys"], data["vectors"]
    except (zipfile.BadZipFile, EOFError, KeyError) as exc:
        raise ValueError(f"unreadable ({exc})") from exc
    if (keys.ndim != 1 or vectors.ndim != 2 or len(keys) != len(vectors)
            or (len(keys) and keys.dtype.kind != "U")):
        raise ValueError("not a cache of this format")
    # The model's vectors are normalised; anything else is not what a build wrote.
    if len(vectors) and not (np.isfinite(vectors).all()
                             and np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-3)):
        raise ValueError("vectors are not unit length")
    return dict(zip(keys.tolist(), vectors, strict=True))


def _load_cache(index_dir: Path, name: str = CACHE_FILE) -> CacheFound:
    """The newest intact embedding cache among the version folders, keyed by content hash.

    The live version comes first. When CURRENT is damaged or its version has no
    usable cache, older version folders are tried, newest first (their names
    start with the build's time): losing the pointer should not cost a full
    re-embedding when the vectors are still on disk.
    """
    notes: list[str] = []
    try:
        live = current_path(index_dir)
    except IndexError_:
        live = None
        notes.append("CURRENT is damaged; looked for a cache in the version folders")
    try:
        others = sorted((d for d in index_dir.iterdir()
                         if d.name.startswith("v-") and d.is_dir() and d != live), reverse=True)
    except OSError:
        others = []
    for version in ([live] if live is not None else []) + others:
        try:
            return CacheFound(_read_cache(version, name), version.name, notes)
        except FileNotFoundError:
            continue  # a version without a cache, or a pointer to a missing one
        except (OSError, ValueError) as exc:
            note = f"ignored the embedding cache of {version.name}: {exc}"
            log.warning(note)
            notes.append(note)
    return CacheFound({}, None, notes)


def _unwritable(index_dir: Path, exc: OSError) -> AssistantError:
    try:
        kept = current_path(index_dir) is not None
    except (IndexError_, OSError):
        kept = False
    left = "; the index already there was not changed" if kept else ""
    return AssistantError(
        f"cannot write the index to {index_dir} ({exc.strerror or exc}){left}; make the "
        "folder writable, or point --index or REPORT_ASSISTANT_INDEX_DIR at one that is")


def check_writable(index_dir: Path) -> None:
    """Fail now, before minutes of embedding, if a build could not be saved in index_dir.

    The probe does what publishing does first: make a folder and a file in it.
    Raises AssistantError saying what to do; the index already there is not touched.
    """
    probe = None
    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        probe = Path(tempfile.mkdtemp(prefix=".write-check-", dir=index_dir))
        (probe / "probe").write_bytes(b"")
    except OSError as exc:
        raise _unwritable(index_dir, exc) from exc
    finally:
        if probe is not None:
            shutil.rmtree(probe, ignore_errors=True)


LOCK_NAME = ".build.lock"
_held = threading.local()  # index folders whose build lock this thread holds


@contextlib.contextmanager
def build_lock(index_dir: Path) -> Iterator[None]:
    """Hold the index folder's build lock: one build, publish and prune at a time.

    Across processes by ``fcntl.flock`` on ``index/.build.lock`` (released by
    the kernel when a holder dies, so a killed build never wedges the next).
    Re-entrant within a thread, so a caller may hold it around build_index.
    Raises AssistantError when the folder cannot hold the lock file.
    """
    key = str(Path(index_dir).resolve())
    held = getattr(_held, "dirs", None)
    if held is None:
        held = _held.dirs = set()
    if key in held:
        yield
        return
    check_writable(index_dir)
    try:
        f = (index_dir / LOCK_NAME).open("a")
    except OSError as exc:
        raise _unwritable(index_dir, exc) from exc
    with f:
        fcntl.flock(f, fcntl.LOCK_EX)
        held.add(key)
        try:
            yield
        finally:
            held.discard(key)
            fcntl.flock(f, fcntl.LOCK_UN)


def _chunk_each(docs: list[Document], cfg: Config, embedder: Embedder
                ) -> tuple[list[Document], list[Passage], list[Skipped]]:
    """Passages of every document that chunks; one that fails is skipped with its reason.

    Each passage's text and context fit the model by construction (chunk.ModelFit);
    the check after it is the guarantee, and a document that still broke it
    would be a fault of the chunker, reported for that document alone.
    """
    settings = ChunkSettings(cfg.chunk_target_tokens, cfg.chunk_max_tokens)
    count = tiktoken_counter(cfg.encoding)
    limit = embedder.max_seq_length
    fit = ModelFit(embedder.count_tokens, limit, embedder.token_ends)
    kept, passages, skipped = [], [], []
    for d in docs:
        try:
            mine = chunk_document(d, settings, count, fit, tiktoken_ends(cfg.encoding))
            for p in mine:
                n = embedder.count_tokens(embed_text(p))
                if n > limit:
                    raise AssistantError(f"passage {p.id} is {n} model tokens, over the "
                                         f"model's limit of {limit}")
        except (AssistantError, ValueError, RuntimeError, MemoryError, RecursionError) as exc:
            log.warning("skipped %s: %s", d.source, exc)
            skipped.append(Skipped(d.source, f"{d.source}: could not be cut into passages "
                                             f"({exc}); the other documents were built"))
            continue
        kept.append(d)
        passages.extend(mine)
    return kept, passages, skipped


def _sentence_texts(passages: list[Passage]) -> list[tuple[int, int, int, str]]:
    out = []
    for i, p in enumerate(passages):
        for s, e in sentence_spans(p.text):
            out.append((i, s, e, sentence_embed_text(p, p.text[s:e])))
    return out


def build_index(cfg: Config, embedder: Embedder, progress: Progress = _quiet,
                show_bar: bool = False) -> IndexData:
    """Parse, chunk, embed and index the corpus; publish it atomically.

    A document that fails at any stage (parse, chunk, embed) is left out and
    reported in ``skipped`` with its reason; the others are built.
    The whole build holds the build lock (see the module's docstring), and
    first sweeps away what killed builds and adds left behind.
    """
    from assistant.library import clean_leftovers

    with build_lock(cfg.index_dir):
        clean_leftovers(cfg.corpus_dir)
        return _build_unlocked(cfg, embedder, progress, show_bar)


def _build_unlocked(cfg: Config, embedder: Embedder, progress: Progress = _quiet,
                    show_bar: bool = False) -> IndexData:
    t0 = time.perf_counter()
    check_writable(cfg.index_dir)
    progress("parsing documents", 0.02)
    docs, skipped = load_corpus(cfg.corpus_dir)
    if not docs:
        why = "; ".join(s.reason for s in skipped) or "it has no supported files"
        raise AssistantError(f"nothing to index in {cfg.corpus_dir}: {why}")
    progress("chunking", 0.08)
    docs, passages, failed = _chunk_each(docs, cfg, embedder)
    skipped += failed

    found = _load_cache(cfg.index_dir)
    cache = found.vectors
    sentences = _sentence_texts(passages)
    texts = [embed_text(p) for p in passages] + [t for *_, t in sentences]
    owners = [p.doc_id for p in passages] + [passages[i].doc_id for i, *_ in sentences]
    before = set(cache)
    progress("embedding", 0.2)
    bad = embed_missing(embedder, texts, owners, cache, _embed_progress(progress, 0.2, 0.85))
    if bad:
        for doc_id, why in bad.items():
            source = next(d.source for d in docs if d.id == doc_id)
            log.warning("skipped %s: %s", source, why)
            skipped.append(Skipped(source, f"{source}: could not be embedded ({why}); the "
                                           "other documents were built"))
        docs = [d for d in docs if d.id not in bad]
        passages = [p for p in passages if p.doc_id not in bad]
        sentences = _sentence_texts(passages)
    if not docs:
        why = "; ".join(s.reason for s in skipped)
        raise AssistantError(f"nothing could be indexed in {cfg.corpus_dir}: {why}")
    passage_texts = [embed_text(p) for p in passages]
    sentence_texts = [t for *_, t in sentences]
    keys = {t: text_key(embedder.model_name, t) for t in [*passage_texts, *sentence_texts]}
    new = sum(1 for k in set(keys.values()) if k not in before)
    vectors = _stack(cache, [keys[t] for t in passage_texts], embedder)
    sent_vectors = _stack(cache, [keys[t] for t in sentence_texts], embedder)
    spans = [(i, s, e) for i, s, e, _ in sentences]
    progress("embedding for questions in other languages", 0.85)
    ml_t0 = time.perf_counter()
    # Cached by text like the sentence model's vectors, so a build or an add
    # embeds only what is new in the multilingual space too.
    ml_cache = _load_cache(cfg.index_dir, ML_CACHE_FILE).vectors if cfg.multilingual_model else {}
    ml = embed_for_index(cfg, passage_texts, sentence_texts, ml_cache)
    ml_seconds = time.perf_counter() - ml_t0

    progress("building the indexes", 0.86)
    dense = make_faiss_index(vectors)
    sent_dense = make_faiss_index(sent_vectors.reshape(-1, vectors.shape[1]))
    bm25 = BM25Index.build([f"{p.context}\n{p.text}" for p in passages])
    acronyms = extract_acronyms([d.text for d in docs])

    manifest = expected_manifest(cfg) | {
        "dim": int(vectors.shape[1]),
        "passages": len(passages),
        "sentences": len(spans),
        "documents": [{"id": d.id, "title": d.title, "source": d.source} for d in docs],
        "skipped": [asdict(s) for s in skipped],
        "newly_embedded": new,
        "reused": len(passage_texts) + len(sentence_texts) - new,
        "embedding_cache": {"from": found.source, "notes": found.notes},
        "faiss_index": type(dense).__name__,
        "sentence_index": type(sent_dense).__name__,
        "versions": _versions(),
        "built_at": time.strftime("%Y-%m-%dT%H:%M:%S%z"),
        "build_seconds": round(time.perf_counter() - t0, 2),
        "multilingual_seconds": round(ml_seconds, 2),
    }

    progress("writing the index", 0.92)
    # Only the vectors this build uses are kept, so the cache does not grow forever.
    used = set(keys.values())
    path = _write_version(cfg.index_dir, manifest, passages, docs, dense, vectors, sent_vectors,
                          spans, bm25, acronyms, {k: cache[k] for k in used},
                          sent_dense=sent_dense,
                          extra={} if ml is None else {"ml_passages": ml[0], "ml_sentences": ml[1]},
                          ml_cache=ml_cache)
    progress("ready", 1.0)
    return IndexData(path, manifest, passages, docs, dense, vectors, sent_vectors,
                     np.asarray(spans, dtype=np.int64).reshape(-1, 3), bm25, acronyms, skipped,
                     sent_dense, *(ml or (None, None)))


def _stack(cache: dict[str, np.ndarray], keys: list[str], embedder: Embedder) -> np.ndarray:
    if not keys:
        return np.zeros((0, embedder.dim), dtype=np.float32)
    return np.stack([cache[k] for k in keys]).astype(np.float32)


def _embed_progress(progress: Progress, lo: float, hi: float) -> EmbedProgress:
    """Embedding progress as a stage line: texts done of total, rate, time left."""

    def report(done: int, total: int, seconds: float, left: float | None) -> None:
        line = f"embedding {done:,} of {total:,} texts"
        if done and seconds > 0:
            line += f", {done / seconds:.0f}/s"
            if left is not None and done < total:
                line += f", about {_duration(left)} left"
        progress(line, lo + (hi - lo) * (done / total if total else 1.0))

    return report


def _duration(seconds: float) -> str:
    seconds = round(seconds)
    return f"{seconds // 60} min {seconds % 60} s" if seconds >= 60 else f"{seconds} s"


def _write_cache(file: Path, cache: dict[str, np.ndarray], dim: int) -> None:
    keys = sorted(cache)
    mat = np.stack([cache[k] for k in keys]) if keys else np.zeros((0, dim))
    np.savez(file, keys=np.array(keys), vectors=mat.astype(np.float32))


def _write_version(index_dir: Path, manifest: dict, passages: list[Passage],
                   docs: list[Document], dense, vectors: np.ndarray, sent_vectors: np.ndarray,
                   spans: list, bm25: BM25Index, acronyms: dict,
                   cache: dict[str, np.ndarray], *, sent_dense,
                   extra: dict[str, np.ndarray] | None = None,
                   ml_cache: dict[str, np.ndarray] | None = None) -> Path:
    import faiss

    try:
        index_dir.mkdir(parents=True, exist_ok=True)
        name = f"v-{time.strftime('%Y%m%d-%H%M%S')}-{os.getpid()}-{time.time_ns() % 10**6:06d}"
        tmp = index_dir / f".{name}.partial"
        tmp.mkdir()
    except OSError as exc:
        raise _unwritable(index_dir, exc) from exc
    try:
        (tmp / "passages.jsonl").write_text(
            "".join(json.dumps(p.to_dict(), ensure_ascii=False) + "\n" for p in passages),
            encoding="utf-8")
        (tmp / "documents.json").write_text(
            json.dumps([document_to_dict(d) for d in docs], ensure_ascii=False),
            encoding="utf-8")
        faiss.write_index(dense, str(tmp / "dense.faiss"))
        np.save(tmp / "vectors.npy", vectors)
        np.save(tmp / "sentences.npy", sent_vectors)
        faiss.write_index(sent_dense, str(tmp / "sentences.faiss"))
        for stem, array in (extra or {}).items():  # before the checksums, which cover them
            np.save(tmp / f"{stem}.npy", array)
        (tmp / "sentences.json").write_text(json.dumps([list(s) for s in spans]))
        (tmp / "acronyms.json").write_text(json.dumps(acronyms, ensure_ascii=False, indent=1))
        bm25.save(tmp / "bm25")
        _write_cache(tmp / CACHE_FILE, cache, vectors.shape[1])
        if ml_cache:
            _write_cache(tmp / ML_CACHE_FILE, ml_cache, 0)
        # Checksums let a load tell a damaged file from a sound one, even when a
        # flipped byte leaves it the right size and parseable.
        manifest["checksums"] = _checksums(tmp)
        # The manifest goes last: a folder without one was never finished.
        (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1, ensure_ascii=False))
        _fsync_dir(tmp)
        final = index_dir / name
        previous = (_pointer_text(index_dir) or "").strip()
        os.rename(tmp, final)
        pointer_tmp = index_dir / f".CURRENT.{os.getpid()}"
        pointer_tmp.write_text(name + "\n", encoding="utf-8")
        os.replace(pointer_tmp, index_dir / "CURRENT")
        _fsync_dir(index_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    _prune(index_dir, keep={name, previous})
    return final


def _fsync_dir(path: Path) -> None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _prune(index_dir: Path, keep: set[str]) -> None:
    """Remove versions but the live one and the one before it, and dead builds' leftovers.

    Called under the build lock, so no other build has a version renamed into
    place and not yet published: every other ``v-`` folder is an old version
    or one a killed build never published. The previous version stays for its
    embedding cache (and for a reader still opening it).
    """
    for child in index_dir.iterdir():
        if child.name in keep:
            continue
        if child.name.startswith(".CURRENT.") and not _pid_alive(child.name.split(".")[-1]):
            # The pointer a build killed between writing and renaming it left behind.
            with contextlib.suppress(OSError):
                child.unlink()
            continue
        if not child.is_dir():
            continue
        if child.name.startswith("v-") or (
            child.name.endswith(".partial") and not _owner_alive(child.name)
        ):
            shutil.rmtree(child, ignore_errors=True)
        elif child.name.startswith(".write-check-") and time.time() - _mtime(child) > 3600:
            # check_writable's probe, left by a build killed within the instant it exists
            shutil.rmtree(child, ignore_errors=True)


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return time.time()


def _owner_alive(name: str) -> bool:
    try:
        return _pid_alive(name.split("-")[3])
    except IndexError:
        return False


def _pid_alive(text: str) -> bool:
    """Whether ``text`` is the pid of another running process."""
    try:
        pid = int(text)
    except ValueError:
        return False
    if pid == os.getpid() or pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except OSError:
        return False
    return True
