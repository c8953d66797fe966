"""Chunking time of one paragraph without a full stop, by its length.

    python -m benchmarks.chunking --sizes 25000,50000,100000

Times chunk_document on a Markdown file holding one such paragraph, with the
build's sizing (tiktoken and, where this version of the code has it, the
model's tokenizer). Run it under another checkout (PYTHONPATH=that checkout)
for a baseline in the same session.
"""

from __future__ import annotations

import argparse
import inspect
import random
import tempfile
import time
from pathlib import Path


def paragraph(n: int, seed: int = 0) -> str:
    rng = random.Random(seed)
    words = ["revenue", "segment", "accrued", "impairment", "lease", "deferred", "pension",
             "litigation", "subsidiary", "consolidated", "operating", "equity"]
    out, size = [], 0
    while size < n:
        w = rng.choice(words) if rng.random() > 0.15 else f"{rng.randint(1, 99_999):,}"
        out.append(w)
        size += len(w) + 1
    return " ".join(out)[:n]


def main(argv: list[str] | None = None) -> int:
    import assistant.chunk as chunk
    from assistant.embed import Embedder
    from assistant.parse import load_document

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sizes", default="25000,50000,100000")
    args = ap.parse_args(argv)
    settings = chunk.ChunkSettings()
    count = chunk.tiktoken_counter()
    extra = {}
    if "model" in inspect.signature(chunk.chunk_document).parameters:
        e = Embedder("bundled:all-MiniLM-L6-v2")
        extra = {"model": chunk.ModelFit(e.count_tokens, e.max_seq_length, e.token_ends),
                 "ends": chunk.tiktoken_ends()}
        e.count_tokens("warm"), e.token_ends("warm")
    count("warm")
    with tempfile.TemporaryDirectory() as tmp:
        for n in (int(float(s)) for s in args.sizes.split(",")):
            path = Path(tmp) / f"p{n}.md"
            path.write_text("# Notes\n\n" + paragraph(n) + "\n", encoding="utf-8")
            doc = load_document(path)
            t0 = time.perf_counter()
            passages = chunk.chunk_document(doc, settings, count, **extra)
            print(f"{n:>9,} characters  {time.perf_counter() - t0:8.2f} s  "
                  f"{len(passages)} passages  sizing: {'both' if extra else 'tiktoken'}",
                  flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
