"""Semantic Q&A over a policy report: cited passages, honest abstention, comparison.

Heavy libraries (torch, sentence-transformers, faiss, gradio) are imported
only where they are used, so importing this package is cheap.
"""

from assistant.config import Config
from assistant.errors import AssistantError, CorpusError, IndexError_, QueryError
from assistant.types import Answer, CompareRow, Comparison, Hit, Passage, Section

__all__ = [
    "Answer", "Assistant", "AssistantError", "CompareRow", "Comparison", "Config",
    "CorpusError", "Hit", "IndexError_", "Passage", "QueryError", "Section",
]


def __getattr__(name: str):
    if name == "Assistant":
        from assistant.api import Assistant

        return Assistant
    raise AttributeError(name)
