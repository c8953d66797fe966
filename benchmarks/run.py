"""Run the benchmark suite: `python -m benchmarks.run [--quick] [--only PART ...]`.

Prints every table and writes them, with the machine and date, to
benchmarks/RESULTS.md (or --out). Parts: quality, speed, scale, engine (the
whole engine at scale alone, without the index sweeps of scale).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

from benchmarks.common import Table, machine, set_threads

PARTS = ("quality", "speed", "scale", "engine")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    ap.add_argument("--quick", action="store_true",
                    help="small sizes and few repeats (a few minutes): scale stops at 100k")
    ap.add_argument("--only", nargs="+", choices=PARTS, default=list(PARTS))
    ap.add_argument("--threads", type=int, default=min(2, os.cpu_count() or 1),
                    help="threads for torch, FAISS and BLAS (default: min(2, cores))")
    ap.add_argument("--sizes", type=lambda s: [int(float(x)) for x in s.split(",")],
                    help="scale sizes, e.g. 10000,100000,1e6 (default 10k,100k,1M; quick 10k,100k)")
    ap.add_argument("--shared", action="store_true",
                    help="note in the results that other work shared the machine during the run")
    ap.add_argument("--out", type=Path, default=Path(__file__).with_name("RESULTS.md"))
    ap.add_argument("--append", action="store_true",
                    help="add this run to --out as a section of its own instead of replacing "
                         "the file (for a partial run that would drop the other tables)")
    args = ap.parse_args(argv)

    set_threads(args.threads)
    info = machine()
    t_start = time.perf_counter()
    tables: list[Table] = []

    def emit(t: Table) -> None:
        tables.append(t)
        print(t.text(), flush=True)

    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        from assistant.api import Assistant
        from benchmarks import speed
        from benchmarks.common import REPORT_TEXT
        from benchmarks.tutorial import TutorialPipeline

        print("building the report's index twice in a temporary folder...", flush=True)
        fx = speed.make_fixture(Path(tmp))
        assistant = Assistant.load(fx.cfg, rebuild=False)
        if "quality" in args.only or "speed" in args.only:
            tutorial = TutorialPipeline.build(REPORT_TEXT, assistant.embedder)
            if "quality" in args.only:
                from benchmarks import quality

                emit(quality.run(assistant, tutorial))
            if "speed" in args.only:
                rounds = 2 if args.quick else 5
                emit(speed.build_table(fx, assistant))
                lat, _ = speed.latency(assistant, tutorial, fx.questions, rounds)
                emit(lat)
                emit(speed.stages(assistant, fx.questions, 1 if args.quick else 2))
                cold, mem = speed.cold_start(fx, 1 if args.quick else 3)
                emit(cold)
                emit(mem)
        sizes = args.sizes or ([10_000, 100_000] if args.quick else [10_000, 100_000, 1_000_000])
        if "scale" in args.only:
            from benchmarks import scale

            for t in scale.run(sizes, args.quick, assistant, fx.questions, fx.cfg):
                emit(t)
        if "engine" in args.only and "scale" not in args.only:
            from benchmarks import scale

            # Sentence vectors on disk in the temporary folder: at a million
            # passages they would take 6 GB of RAM besides the sentence index.
            for t in scale.run(sizes, args.quick, assistant, fx.questions, fx.cfg,
                               engine_max=max(sizes), sweep=False, workdir=Path(tmp)):
                emit(t)

    minutes = (time.perf_counter() - t_start) / 60
    info["threads"] = str(args.threads)
    info["machine shared with other work"] = "yes" if args.shared else "not declared"
    info["run"] = (f"python -m benchmarks.run {' '.join(sys.argv[1:] if argv is None else argv)}"
                   f" — {minutes:.1f} min")
    if args.append and args.out.exists():
        append(args.out, info, tables)
    else:
        write(args.out, info, tables)
    print(f"wrote {args.out}")
    return 0


def write(path: Path, info: dict[str, str], tables: list[Table]) -> None:
    lines = ["# Benchmark results", "",
             "Written by `python -m benchmarks.run`; see benchmarks/README.md for what each "
             "figure means and how it was measured.", ""]
    lines += [f"- **{k}**: {v}" for k, v in info.items()]
    lines.append("")
    lines += [t.markdown() for t in tables]
    path.write_text("\n".join(lines), encoding="utf-8")


def append(path: Path, info: dict[str, str], tables: list[Table]) -> None:
    """Add a run below what the file holds, under a heading of its own with its machine info."""
    lines = ["", f"## Partial run of {info['date']}: {info['run'].split(' — ')[0]}", "",
             "Added by `--append`; the sections above come from the run described at the top "
             "of this file.", ""]
    lines += [f"- **{k}**: {v}" for k, v in info.items()]
    lines.append("")
    lines += [t.markdown() for t in tables]
    text = path.read_text(encoding="utf-8").rstrip("\n") + "\n"
    path.write_text(text + "\n".join(lines), encoding="utf-8")


if __name__ == "__main__":
    sys.exit(main())
