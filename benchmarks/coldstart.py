"""Child process for the cold-start figures: where a fresh process's time goes.

Run as ``python -m benchmarks.coldstart QUESTION [--serve FILE]``; prints one
JSON object with the seconds of each phase, in the order a CLI `ask` meets
them, and the process's peak RSS after serving the optional questions.
"""

from __future__ import annotations

import json
import resource
import sys
import time

T0 = time.perf_counter()


def main() -> None:
    import argparse

    ap = argparse.ArgumentParser()
    ap.add_argument("question")
    ap.add_argument("--serve", help="JSONL questions to ask after the first, for peak RSS")
    args = ap.parse_args()
    phases: dict[str, float] = {}

    def mark(name: str, since: float) -> float:
        now = time.perf_counter()
        phases[name] = round(now - since, 4)
        return now

    t = time.perf_counter()
    from assistant.api import Assistant
    from assistant.config import Config

    t = mark("import assistant.api", t)
    a = Assistant.load(Config.from_env(), rebuild=False)
    t = mark("load index (FAISS, BM25, passages)", t)
    import sentence_transformers  # noqa: F401

    t = mark("import sentence_transformers (torch, transformers)", t)
    _ = a.embedder.model
    t = mark("load the MiniLM model", t)
    a.ask(args.question)
    t = mark("first ask", t)
    a.ask(args.question)
    mark("second ask (warm)", t)
    phases["total to first answer"] = round(sum(
        v for k, v in phases.items() if k != "second ask (warm)"), 4)
    served = 0
    if args.serve:
        with open(args.serve, encoding="utf-8") as f:
            lines = f.read().splitlines()
        for line in lines:
            if line.strip():
                a.ask(json.loads(line)["question"])
                served += 1
    # ru_maxrss is in KiB on Linux.
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"phases": phases, "peak_rss_kib": peak, "served": served}))


if __name__ == "__main__":
    main()
    sys.stdout.flush()
