"""Parse: turn the files of the corpus folder into Documents.

One document model for every format; a parser is chosen by the file's
metadata (``NAME.meta.json`` beside it) or its extension. A file that cannot
be read is reported and skipped, never allowed to take the others down.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from assistant.errors import CorpusError
from assistant.parse.plain import parse_plain
from assistant.parse.report import find_running_header, parse_report, parse_toc, split_pages
from assistant.types import Document

META_SUFFIX = ".meta.json"
# Bump when parsing changes what a document becomes, so saved indexes go stale.
PARSER_VERSION = "5"  # 5: printed contents, folios, model-sized chunks

Parser = Callable[[Path, str, dict], Document]

# The longest paragraph accepted. A report's longest runs to a few thousand
# characters; one far over this is a dump (a whole file on one line), whose
# tens of thousands of passages would take many minutes to embed, and so
# would hang `add` and every build after it.
MAX_PARAGRAPH_CHARS = 200_000


@dataclass(frozen=True)
class Skipped:
    path: str
    reason: str


def doc_id_for(path: Path) -> str:
    return re.sub(r"[^a-z0-9]+", "-", path.stem.lower()).strip("-") or "document"


def read_meta(path: Path) -> dict:
    meta_path = path.with_name(path.name + META_SUFFIX)
    if not meta_path.exists():
        meta_path = path.with_suffix(META_SUFFIX)
    if not meta_path.exists():
        return {}
    try:
        return json.loads(meta_path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise CorpusError(f"{meta_path.name}: metadata is not valid JSON ({exc}); fix or delete it"
                          ) from exc


def read_text(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise CorpusError(
            f"{path.name}: not UTF-8 text (byte {exc.start}); re-save it as UTF-8"
        ) from exc


def _parse_txt(path: Path, doc_id: str, meta: dict) -> Document:
    raw = read_text(path)
    title = meta.get("title", "")
    if meta.get("parser") == "paged-report" or _looks_paged(raw):
        return parse_report(raw, doc_id, path.name, title=title, meta=meta)
    return parse_plain(raw, doc_id, path.name, title=title or path.stem, meta=meta)


def _looks_paged(raw: str) -> bool:
    header = find_running_header(raw)
    return header is not None and parse_toc(split_pages(raw, header))[0] is not None


PARSERS: dict[str, Parser] = {".txt": _parse_txt}


def register(suffix: str, parser: Parser) -> None:
    PARSERS[suffix.lower()] = parser


def supported(path: Path) -> bool:
    return path.suffix.lower() in PARSERS and not path.name.endswith(META_SUFFIX)


def load_document(path: Path) -> Document:
    """Parse one file. Raises CorpusError with what to do when it cannot."""
    parser = PARSERS.get(path.suffix.lower())
    if parser is None:
        kinds = ", ".join(sorted(PARSERS))
        raise CorpusError(f"{path.name}: unsupported file type; supported: {kinds}")
    meta = read_meta(path)
    try:
        doc = parser(path, doc_id_for(path), meta)
    except CorpusError:
        raise
    except Exception as exc:  # a damaged file of any kind must not stop the others
        raise CorpusError(f"{path.name}: could not be parsed ({type(exc).__name__}: {exc})"
                          ) from exc
    if not doc.blocks:
        raise CorpusError(f"{path.name}: no text found; is it empty or a scanned image?")
    longest = max(len(b.text) for b in doc.blocks)
    if longest > MAX_PARAGRAPH_CHARS:
        raise CorpusError(
            f"{path.name}: a paragraph of {longest:,} characters without a break, over the "
            f"limit of {MAX_PARAGRAPH_CHARS:,}; split it into paragraphs (blank lines) and add "
            "it again")
    return doc


def corpus_files(corpus_dir: Path) -> list[Path]:
    return corpus_entries(corpus_dir)[0]


def corpus_entries(corpus_dir: Path) -> tuple[list[Path], list[Skipped]]:
    """The corpus folder's document files, and the entries refused, each with why.

    A symbolic link is followed only to a file inside the corpus folder: one
    leading out of it (``ln -s /etc/shadow corpus/x.txt``) would let whoever
    can write the folder, or trick someone into linking, publish any file the
    process can read. Such a link, and a dangling one, is reported and skipped.
    """
    if not corpus_dir.is_dir():
        what = "is a file, not a folder" if corpus_dir.exists() else "does not exist"
        raise CorpusError(f"corpus folder {corpus_dir} {what}; point --corpus (or "
                          "REPORT_ASSISTANT_CORPUS_DIR) at a folder of documents, or create it")
    home = corpus_dir.resolve()
    files, refused = [], []
    for p in sorted(corpus_dir.iterdir()):
        if not supported(p):
            continue
        if p.is_symlink():
            try:
                target = p.resolve(strict=True)
            except (OSError, RuntimeError):  # dangling, or a loop of links
                refused.append(Skipped(p.name, f"{p.name}: a symbolic link to a file that does "
                                       "not exist; remove the link or restore its file"))
                continue
            if target.parent != home:
                refused.append(Skipped(p.name, f"{p.name}: a symbolic link to a file outside "
                                       "the corpus folder, refused; copy the file in instead "
                                       "(`python -m assistant add FILE`)"))
                continue
        if p.is_file():
            files.append(p)
    return files, refused


def corpus_fingerprint(corpus_dir: Path) -> str:
    """Hash of every document file, its metadata and the parser version."""
    h = hashlib.sha256(PARSER_VERSION.encode())
    for p in corpus_files(corpus_dir):
        h.update(p.name.encode())
        h.update(hashlib.sha256(p.read_bytes()).digest())
        meta = p.with_name(p.name + META_SUFFIX)
        if not meta.exists():
            meta = p.with_suffix(META_SUFFIX)
        if meta.exists():
            h.update(hashlib.sha256(meta.read_bytes()).digest())
    return h.hexdigest()


def load_corpus(corpus_dir: Path) -> tuple[list[Document], list[Skipped]]:
    files, skipped = corpus_entries(corpus_dir)
    docs = []
    for path in files:
        try:
            docs.append(load_document(path))
        except CorpusError as exc:
            skipped.append(Skipped(path.name, str(exc)))
    return docs, skipped


def _parse_pdf(path: Path, doc_id: str, meta: dict) -> Document:
    # Imported on first use so PyMuPDF loads only when a PDF is parsed.
    from assistant.parse.pdf import parse_pdf

    return parse_pdf(path, doc_id, meta)


def _parse_markdown(path: Path, doc_id: str, meta: dict) -> Document:
    from assistant.parse.markdown import parse_markdown

    return parse_markdown(read_text(path), doc_id, path.name, meta)


def _parse_html(path: Path, doc_id: str, meta: dict) -> Document:
    from assistant.parse.html import parse_html

    # Bytes, so the parser honours the charset the page declares.
    return parse_html(path.read_bytes(), doc_id, path.name, meta)


register(".pdf", _parse_pdf)
for _suffix in (".md", ".markdown"):
    register(_suffix, _parse_markdown)
for _suffix in (".html", ".htm"):
    register(_suffix, _parse_html)
