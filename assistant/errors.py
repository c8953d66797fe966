"""Domain errors. The library raises these; the CLI and the app translate them."""


class AssistantError(Exception):
    """Base class: the message says what happened and how to fix it."""


class CorpusError(AssistantError):
    """The corpus folder or a document in it cannot be used."""


class IndexError_(AssistantError):
    """The saved index is missing, stale, damaged or built differently."""


class QueryError(AssistantError):
    """A question or its options cannot be answered as given (empty, bad k, unknown section)."""


class ConfigError(AssistantError):
    """A setting (REPORT_ASSISTANT_*, or its command-line option) is malformed or out of range."""
