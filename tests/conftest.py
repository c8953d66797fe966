"""Shared fixtures: one real model, one real index built once per test session.

Every engine test runs against the real report, the real MiniLM model, a real
FAISS index and a real BM25 index. Building takes ~15 s, so it happens once:

* ``engine_config`` -- a Config whose ``index_dir`` is a fresh temporary
  folder (the developer's own ``index/`` is never touched);
* ``embedder``      -- the bundled all-MiniLM-L6-v2 model (assistant.embed.Embedder);
* ``assistant``     -- ``Assistant.build(engine_config)``: the built index, ready
  for ``ask`` / ``search`` / ``compare``. Tests must not mutate its folder; a
  test that damages or rebuilds an index copies it first (``index_copy``).

Helpers for tests that look at the report itself (no index needed):

* ``report_path`` / ``report_raw``  -- the report file and its raw text;
* ``report_document``               -- the report parsed by the engine's parser;
* ``raw_pages``                     -- the raw text cut into printed pages by the
  running header line, page 1 first (an oracle independent of the parser);
* ``normalise``                     -- the evidence-matching normalisation of
  ../shared/eval/FORMAT.md (NFKC, straight quotes, links to text, spaces, case);
* ``dev_questions``                 -- ../shared/eval/dev_questions.jsonl, or a skip;
* ``out_of_scope_questions``        -- questions the report does not answer.
"""

from __future__ import annotations

import json
import re
import shutil
import unicodedata
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import pytest

from assistant.config import Config
from assistant.types import Document

REPORT_NAME = "us-mexico-forum-2025-report-2022.txt"
RUNNING_HEADER = "U.S.-MEXICO FORUM 2025"
DEV_QUESTIONS = Path(__file__).resolve().parents[2] / "shared" / "eval" / "dev_questions.jsonl"

_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_QUOTES = str.maketrans({"“": '"', "”": '"', "„": '"', "‘": "'", "’": "'", "‚": "'"})


# Written for these tests: things a reader might ask that the report does not
# cover at all. The engine's calibration uses eval/out_of_scope.jsonl, never
# these, so they check it.
_OUT_OF_SCOPE = (
    "What is the recipe for chocolate chip cookies?",
    "Who won the 2014 Tour de France?",
    "How many moons does Jupiter have?",
    "What is the capital of Australia?",
    "How does photosynthesis work?",
    "What are the side effects of ibuprofen?",
    "Which team won the Super Bowl in 2020?",
    "How do I reset my iPhone password?",
    "What is the plot of Hamlet?",
    "What does the report say about K-pop music?",
    "How tall is Mount Everest?",
    "Who painted the Mona Lisa?",
    "What does the report recommend about colonizing Mars?",
    "How many players are on a cricket team?",
    "What did the forum conclude about Antarctic ice sheets?",
    "What is the exchange rate between the yen and the euro?",
    "Which Premier League club has the most titles?",
    "How long should I boil an egg?",
    "What is the average rainfall in Yucatán?",
    "What did the forum say about fishing quotas in the Gulf of California?",
    "How many wind farms operate in Oaxaca?",
    "Which Mexican states produce the most coffee?",
    "What is the report's view on legalizing sports betting?",
    "What does the report say about the Tokyo Olympics?",
)


def _normalise(text: str) -> str:
    # Written from FORMAT.md rather than imported from the engine, so the tests
    # are an independent check of what the engine returns.
    t = unicodedata.normalize("NFKC", text).translate(_QUOTES)
    t = _LINK.sub(r"\1", t)
    return " ".join(t.split()).lower()


def _quiet(stage: str, fraction: float) -> None:
    pass


@pytest.fixture(scope="session")
def normalise() -> Callable[[str], str]:
    return _normalise


@pytest.fixture(scope="session")
def engine_config(tmp_path_factory: pytest.TempPathFactory) -> Config:
    return Config.from_env(index_dir=tmp_path_factory.mktemp("session-index"))


@pytest.fixture(scope="session")
def embedder(engine_config: Config):
    from assistant.embed import Embedder

    return Embedder(engine_config.model, engine_config.device, engine_config.batch_size)


@pytest.fixture(scope="session")
def assistant(engine_config: Config):
    from assistant.api import Assistant

    return Assistant.build(engine_config, progress=_quiet)


@pytest.fixture
def index_copy(assistant, engine_config: Config, tmp_path: Path) -> Config:
    """A private copy of the session index (embedding cache included) and its Config.

    Rebuilds from a copy reuse the cached vectors, so they take about a second.
    """
    target = tmp_path / "index"
    shutil.copytree(engine_config.index_dir, target)
    return replace(engine_config, index_dir=target)


@pytest.fixture(scope="session")
def report_path(engine_config: Config) -> Path:
    path = engine_config.corpus_dir / REPORT_NAME
    if not path.exists():
        pytest.skip(f"the report {REPORT_NAME} is not in {engine_config.corpus_dir}")
    return path


@pytest.fixture(scope="session")
def report_raw(report_path: Path) -> str:
    return report_path.read_text(encoding="utf-8")


@pytest.fixture(scope="session")
def report_document(report_path: Path) -> Document:
    from assistant.parse import load_document

    return load_document(report_path)


@pytest.fixture(scope="session")
def raw_pages(report_raw: str) -> dict[int, str]:
    """{printed page number: raw text of that page}; the cover is page 1."""
    pages: list[list[str]] = [[]]
    for line in report_raw.splitlines():
        if line.strip() == RUNNING_HEADER:
            pages.append([])
        else:
            pages[-1].append(line)
    return {n: "\n".join(lines) for n, lines in enumerate(pages, start=1)}


@pytest.fixture(scope="session")
def out_of_scope_questions() -> list[str]:
    return list(_OUT_OF_SCOPE)


@pytest.fixture(scope="session")
def dev_questions() -> list[dict]:
    if not DEV_QUESTIONS.exists():
        pytest.skip(f"dev questions not found at {DEV_QUESTIONS}")
    return [json.loads(line) for line in DEV_QUESTIONS.read_text(encoding="utf-8").splitlines()
            if line.strip()]
