"""Command line: `python -m assistant {build,ask,search,compare,eval,calibrate,...}`.

Library errors become one clear line on stderr and exit status 2; nothing
prints a stack trace for a problem the user can fix.
"""

from __future__ import annotations

import argparse
import json
import sys
import textwrap
from pathlib import Path
from typing import Any

from assistant.config import ROOT, Config
from assistant.errors import AssistantError

DEV_QUESTIONS = ROOT.parent / "shared" / "eval" / "dev_questions.jsonl"


def _arg_text(s: str) -> str:
    # argv arrives with undecodable bytes as surrogates; show them as U+FFFD.
    return s.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _config(args: argparse.Namespace) -> Config:
    return Config.from_env(corpus_dir=args.corpus, index_dir=args.index, model=args.model)


def _load(args: argparse.Namespace):
    from assistant.api import Assistant

    return Assistant.load(_config(args))


def _hit_dict(hit) -> dict[str, Any]:
    p = hit.passage
    return {"id": p.id, "text": p.text, "section": p.section, "section_path": list(p.section_path),
            "pages": list(p.pages), "document": p.doc_id, "kind": p.kind,
            "score": round(hit.score, 5), "dense": round(hit.dense, 4),
            "lexical": round(hit.lexical, 4)}


def answer_dict(a) -> dict[str, Any]:
    return {"question": a.question, "answer": a.text, "abstained": a.abstained,
            "reason": a.reason, "query": a.query,
            "sentences": [{"text": s.text, "citation": s.citation, "item": s.item}
                          for s in a.sentences],
            "groups": [{"section": g.section, "pages": list(g.pages), "more": g.more,
                        "sentences": [{"text": s.text, "citation": s.citation, "item": s.item}
                                      for s in g.sentences]} for g in a.groups],
            "citations": [_hit_dict(h) | {"n": n} for n, h in enumerate(a.citations, 1)]}


def comparison_dict(c) -> dict[str, Any]:
    return {"topic": c.topic, "abstained": c.abstained, "reason": c.reason,
            "rows": [{"section": r.section, "section_path": list(r.section_path),
                      "document": r.doc_id, "pages": list(r.pages), "score": round(r.score, 5),
                      "passages": [_hit_dict(h) for h in r.hits]} for r in c.rows]}


def _wrap(text: str, indent: str = "    ") -> str:
    return textwrap.fill(" ".join(text.split()), 96, initial_indent=indent,
                         subsequent_indent=indent)


def _print_json(obj: Any) -> None:
    print(json.dumps(obj, ensure_ascii=False, indent=2))


def cmd_build(args: argparse.Namespace) -> int:
    from assistant.api import Assistant

    a = Assistant.build(_config(args), show_bar=not args.json)
    m = a.data.manifest
    if args.json:
        _print_json({k: m[k] for k in ("passages", "sentences", "newly_embedded",
                                        "build_seconds", "faiss_index", "skipped")})
    else:
        print(f"indexed {m['passages']} passages ({m['sentences']} sentences) from "
              f"{len(m['documents'])} document(s) in {m['build_seconds']} s; "
              f"{m['newly_embedded']} texts embedded, the rest reused")
        for s in m["skipped"]:
            print(f"skipped {s['path']}: {s['reason']}", file=sys.stderr)
    return 0


def cmd_ask(args: argparse.Namespace) -> int:
    question = _arg_text(" ".join(args.question))
    if question.strip() == "-":
        question = sys.stdin.buffer.read().decode("utf-8", "replace")
    a = _load(args).ask(question, k=args.k, section=args.section, doc=args.doc)
    if args.json:
        _print_json(answer_dict(a))
        return 0
    # Line by line: list items and section headings keep their own lines.
    for line in a.text.splitlines():
        print(_wrap(line, "  " if line.startswith("- ") else "") if line.strip() else "")
    if a.reason:
        print(f"\n({a.reason})")
    print("\nClosest passages:" if a.abstained else "\nSources:")
    for n, h in enumerate(a.citations, 1):
        print(f"[{n}] {h.passage.citation}")
        print(_wrap(h.passage.text))
    return 0


def cmd_search(args: argparse.Namespace) -> int:
    hits = _load(args).search(_arg_text(" ".join(args.query)), k=args.k, section=args.section,
                              doc=args.doc)
    if args.json:
        _print_json([_hit_dict(h) for h in hits])
        return 0
    for n, h in enumerate(hits, 1):
        print(f"{n}. {h.passage.citation}  (score {h.score:.4f})")
        print(_wrap(h.passage.text))
    return 0


def cmd_compare(args: argparse.Namespace) -> int:
    c = _load(args).compare(_arg_text(" ".join(args.topic)), section=args.section, doc=args.doc,
                            by=args.by)
    if args.json:
        _print_json(comparison_dict(c) | {"by": args.by})
        return 0
    if c.abstained:
        who = "No document" if args.by == "document" else "The report"
        print(f"{who} does not appear to address “{c.topic}” ({c.reason}).")
        return 0
    for r in c.rows:
        pages = ", ".join(map(str, r.pages))
        print(f"## {' › '.join(r.section_path)} (p. {pages})")
        for h in r.hits:
            # A document's row mixes its sections, so each passage says which.
            where = h.passage.citation if args.by == "document" else h.passage.page_label
            print(_wrap(h.passage.text) + f" [{where}]")
        print()
    return 0


def _questions(path: Path) -> list[dict]:
    from assistant.evaluate import load_questions

    try:
        return load_questions(path)
    except ValueError as exc:  # a line that is not JSON, or a file that is not UTF-8
        where = str(exc) if str(path) in str(exc) else f"{path}: {exc}"
        raise AssistantError(f"cannot read the questions: {where}") from exc


def cmd_eval(args: argparse.Namespace) -> int:
    from assistant.evaluate import run_eval

    questions = _questions(args.questions)
    metrics, records = run_eval(_load(args), questions, k=10)
    if args.output:
        Path(args.output).write_text(
            "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in records), encoding="utf-8")
    if args.json:
        _print_json(metrics)
    else:
        for key, value in metrics.items():
            print(f"{key:>20}  {'-' if value is None else value}")
    return 0


def cmd_calibrate(args: argparse.Namespace) -> int:
    from assistant.calibrate import calibrate

    paths = [args.questions, args.out_of_scope, *args.extra]
    for path in paths:
        _questions(path)  # a bad file is one clear line before any work starts
    report = calibrate(_load(args), paths)
    _print_json(report) if args.json else print(report["summary"])
    return 0


def _progress_to_stderr(stage: str, fraction: float) -> None:
    print(f"[{fraction:4.0%}] {stage}", file=sys.stderr, flush=True)


def _quiet(stage: str, fraction: float) -> None:
    pass


def _refresh(cfg: Config, args: argparse.Namespace, done: str) -> dict[str, Any]:
    """Update the index after a library change; what it cost, for the report line.

    ``done`` says what already happened to the corpus, so a failure here still
    tells the user their files were changed and how to finish the job.
    """
    import time

    from assistant.library import refresh_index

    t0 = time.perf_counter()
    try:
        data = refresh_index(cfg, progress=_quiet if args.json else _progress_to_stderr)
    except (AssistantError, OSError) as exc:
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise AssistantError(f"{done}, but the index could not be updated: {why}; "
                             "fix that and run `python -m assistant build`") from exc
    return _index_report(data, time.perf_counter() - t0)


def _index_report(data, seconds: float) -> dict[str, Any]:
    m = data.manifest
    embedded = int(m["newly_embedded"])
    return {"seconds": round(seconds, 2), "build_seconds": m["build_seconds"],
            "embedded": embedded,
            # Every passage and sentence is embedded once; what was not new was reused.
            "reused": int(m.get("reused", m["passages"] + m["sentences"] - embedded)),
            "passages": m["passages"], "documents": len(m["documents"])}


def _index_line(ix: dict[str, Any]) -> str:
    return (f"index updated in {ix['seconds']} s: {ix['embedded']} texts embedded, "
            f"{ix['reused']} reused; {ix['passages']} passages from {ix['documents']} "
            "document(s)")


def _doc_summary(doc: dict[str, Any] | None) -> str:
    if doc is None:
        return ""
    if doc["error"]:
        return f", but it cannot be indexed: {doc['error']}"
    return f", {_count(doc['pages'], 'page')}, {_count(doc['passages'], 'passage')}"


def _count(n: int | None, noun: str) -> str:
    return f"? {noun}s" if n is None else f"{n} {noun}{'' if n == 1 else 's'}"


def cmd_add(args: argparse.Namespace) -> int:
    import time

    from assistant.library import add_and_index, list_documents

    cfg = _config(args)
    t0 = time.perf_counter()
    # Paths stay as given (undecodable bytes included) so such a file still opens;
    # only what is printed back is made printable.
    try:
        results, data = add_and_index(
            cfg, [Path(p) for p in args.files],
            progress=_quiet if args.json else _progress_to_stderr)
    except (AssistantError, OSError) as exc:
        # The library took the new files out again: the corpus is as it was.
        why = exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)
        raise AssistantError(f"the index could not be updated ({why}); nothing was added, "
                             "fix that and add the files again") from exc
    failed = [r for r in results if not r.ok]
    # An unchanged or refused file leaves the corpus, and so the index, as it was.
    index = None if data is None else _index_report(data, time.perf_counter() - t0)
    # Counted by the library from the index just built, so they are what `list` shows.
    docs = {d["id"]: d for d in list_documents(cfg)} if len(failed) < len(results) else {}
    rows = []
    for r in results:
        doc = docs.get(r.doc_id) if r.ok else None
        rows.append({"source": _arg_text(r.source), "status": r.status,
                     "id": r.doc_id or None, "title": r.title or None, "file": r.file or None,
                     "pages": doc["pages"] if doc else None,
                     "passages": doc["passages"] if doc else None,
                     "message": _arg_text(r.message)})
    if args.json:
        _print_json({"documents": rows, "index": index, "failed": len(failed)})
        return 1 if failed else 0
    for r, row in zip(results, rows, strict=True):
        if r.status == "error":
            # The library's message already names the file and says what is wrong.
            print(f"error: {row['message']}; skipped", file=sys.stderr)
            continue
        verb = "added" if r.status == "added" else "already in the corpus:"
        print(f"{verb} {r.doc_id} “{r.title}”{_doc_summary(docs.get(r.doc_id))}"
              + (f" ({r.message})" if r.status == "added" and r.message else ""))
    if index:
        print(_index_line(index))
    elif not failed:
        print("nothing new; the index was left as it was")
    if failed:
        print(f"{len(failed)} of {len(results)} file(s) could not be added", file=sys.stderr)
    return 1 if failed else 0


def cmd_remove(args: argparse.Namespace) -> int:
    from assistant.errors import CorpusError
    from assistant.library import remove_document

    cfg = _config(args)
    doc_id = _arg_text(args.doc_id)
    try:
        result = remove_document(cfg, doc_id)
    except CorpusError as exc:
        # An unknown id (the message lists the known ones) or no corpus folder.
        if args.json:
            _print_json({"removed": None, "error": str(exc)})
        else:
            print(f"error: {exc}", file=sys.stderr)
        return 1
    index = _refresh(cfg, args, f"removed {doc_id} from the corpus")
    if args.json:
        _print_json({"removed": {"id": result.doc_id, "title": result.title,
                                 "files": list(result.files)}, "index": index})
        return 0
    print(f"removed {result.doc_id} “{result.title}” ({', '.join(result.files)})")
    print(_index_line(index))
    return 0


def _clip(text: str, width: int) -> str:
    return text if len(text) <= width else text[:width - 1] + "…"


def cmd_list(args: argparse.Namespace) -> int:
    from assistant.library import list_documents

    docs = list_documents(_config(args))
    if args.json:
        _print_json(docs)
        return 0
    if not docs:
        print(f"no documents in {_config(args).corpus_dir}; add some with "
              "`python -m assistant add FILE...`")
        return 0
    header = ("ID", "TITLE", "FORMAT", "PAGES", "PASSAGES", "INDEXED")
    table = [header] + [
        (d["id"], _clip(" ".join(d["title"].split()), 60), d["type"],
         "-" if d["pages"] is None else str(d["pages"]),
         "-" if d["passages"] is None else str(d["passages"]),
         "yes" if d["indexed"] else "no")
        for d in docs]
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    numeric = {3, 4}  # counts line up on the right
    for row in table:
        cells = [c.rjust(w) if i in numeric else c.ljust(w)
                 for i, (c, w) in enumerate(zip(row, widths, strict=True))]
        print("  ".join(cells).rstrip())
    for d in docs:
        if d["error"]:
            print(f"{d['id']}: cannot be used: {d['error']}", file=sys.stderr)
    # A build helps only a document it can read; one that cannot be used is
    # skipped by every build until the file is fixed or removed.
    waiting = [d for d in docs if not d["indexed"] and not d["error"]]
    if waiting:
        print("\n(not indexed yet: run `python -m assistant build`; ask, search and compare "
              "also rebuild it first)")
    elif any(d["error"] for d in docs):
        print("\n(a build skips the files that cannot be used; fix them, or take them out "
              "with `python -m assistant remove ID`)")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m assistant", description=__doc__)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--corpus", type=Path, help="corpus folder (default: corpus/)")
    common.add_argument("--index", type=Path, help="index folder (default: index/)")
    common.add_argument("--model", help="sentence-transformers model name or path")
    common.add_argument("--json", action="store_true", help="print JSON")
    filt = argparse.ArgumentParser(add_help=False)
    filt.add_argument("-k", type=int, default=None, help="number of passages (default 5)")
    filt.add_argument("--section", help="only this section (title; a part includes its children)")
    filt.add_argument("--doc", help="only this document (id)")
    sub = parser.add_subparsers(dest="command", required=True)

    sub.add_parser("build", parents=[common], help="(re)build the index").set_defaults(
        func=cmd_build)
    p = sub.add_parser("ask", parents=[common, filt], help="answer a question with citations")
    p.add_argument("question", nargs="+", help="the question ('-' reads it from stdin)")
    p.set_defaults(func=cmd_ask)
    p = sub.add_parser("search", parents=[common, filt], help="ranked passages for a query")
    p.add_argument("query", nargs="+")
    p.set_defaults(func=cmd_search)
    p = sub.add_parser("compare", parents=[common],
                       help="what each section (or document) says on a topic")
    p.add_argument("topic", nargs="+")
    p.add_argument("--section", help="only this section")
    p.add_argument("--doc", help="only this document")
    p.add_argument("--by", choices=("section", "document"), default="section",
                   help="one row per section (default) or per document")
    p.set_defaults(func=cmd_compare)
    p = sub.add_parser("eval", parents=[common], help="retrieval metrics on a question file")
    p.add_argument("--questions", type=Path, default=DEV_QUESTIONS)
    p.add_argument("--output", type=Path, help="write one JSON line per question")
    p.set_defaults(func=cmd_eval)
    p = sub.add_parser("calibrate", parents=[common], help="fit the abstention thresholds")
    p.add_argument("--questions", type=Path, default=DEV_QUESTIONS)
    p.add_argument("--out-of-scope", type=Path, default=ROOT / "eval" / "out_of_scope.jsonl")
    # eval/fresh_questions.jsonl is left out on purpose: it is the held-out set.
    p.add_argument("--extra", type=Path, nargs="*",
                   default=[ROOT / "eval" / "heldout_questions.jsonl"],
                   help="more question files to fit on (default: eval/heldout_questions.jsonl)")
    p.set_defaults(func=cmd_calibrate)
    p = sub.add_parser("add", parents=[common], help="add documents to the corpus")
    p.add_argument("files", nargs="+")
    p.set_defaults(func=cmd_add)
    p = sub.add_parser("remove", parents=[common], help="remove a document by id")
    p.add_argument("doc_id")
    p.set_defaults(func=cmd_remove)
    sub.add_parser("list", parents=[common], help="list the documents").set_defaults(
        func=cmd_list)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except AssistantError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        # A full disk, a folder that cannot be written, a path that is a file:
        # the user can fix these, so a line saying which, not a stack trace.
        where = f": {exc.filename}" if exc.filename else ""
        print(f"error: {exc.strerror or exc}{where}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
