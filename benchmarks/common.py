"""Shared pieces: timing, percentiles, the machine description and Markdown tables."""

from __future__ import annotations

import contextlib
import os
import platform
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEV_QUESTIONS = ROOT.parent / "shared" / "eval" / "dev_questions.jsonl"
OUT_OF_SCOPE = ROOT / "eval" / "out_of_scope.jsonl"
REPORT_TEXT = ROOT / "corpus" / "us-mexico-forum-2025-report-2022.txt"


def set_threads(n: int) -> None:
    """Pin every thread pool the benchmark touches, so runs are comparable.

    Must run before torch or faiss is imported for the environment variables
    to count; the explicit setters cover the case where they already are.
    """
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS"):
        os.environ[var] = str(n)
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import faiss
    import torch

    torch.set_num_threads(n)
    faiss.omp_set_num_threads(n)


def pct(xs: Sequence[float], p: float) -> float:
    """Linear-interpolated percentile, like numpy's default."""
    s = sorted(xs)
    if not s:
        return float("nan")
    pos = (len(s) - 1) * p / 100
    lo = int(pos)
    hi = min(lo + 1, len(s) - 1)
    return s[lo] + (s[hi] - s[lo]) * (pos - lo)


def timed(fn: Callable[[], object]) -> tuple[float, object]:
    t0 = time.perf_counter()
    out = fn()
    return time.perf_counter() - t0, out


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.1f}"


def fmt(x: object, digits: int = 3) -> str:
    if x is None:
        return "–"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if isinstance(x, float):
        if x != x:
            return "–"
        return f"{x:.1f}" if abs(x) >= 10 else f"{x:.{digits}f}"
    return str(x)


@dataclass
class Table:
    title: str
    header: list[str]
    rows: list[list[object]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def add(self, *row: object) -> None:
        self.rows.append(list(row))

    def markdown(self) -> str:
        lines = [f"### {self.title}", "", "| " + " | ".join(self.header) + " |",
                 "| " + " | ".join("---" for _ in self.header) + " |"]
        lines += ["| " + " | ".join(fmt(c) for c in r) + " |" for r in self.rows]
        if self.notes:
            lines.append("")
            lines += [f"- {n}" for n in self.notes]
        return "\n".join(lines) + "\n"

    def text(self) -> str:
        cells = [self.header] + [[fmt(c) for c in r] for r in self.rows]
        widths = [max(len(r[i]) for r in cells) for i in range(len(self.header))]
        out = [self.title, "-" * len(self.title)]
        for n, r in enumerate(cells):
            out.append("  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)))
            if n == 0:
                out.append("  ".join("-" * w for w in widths))
        out += [f"  * {n}" for n in self.notes]
        return "\n".join(out) + "\n"


def machine() -> dict[str, str]:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        mem = f"{kb / 2**20:.0f} GiB"
    except (OSError, ValueError, IndexError):
        pass
    try:
        commit = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "--short", "HEAD"],
                                capture_output=True, text=True, timeout=10).stdout.strip()
        dirty = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain",
                                "--untracked-files=no"],
                               capture_output=True, text=True, timeout=10).stdout.strip()
        if dirty:
            commit += f" (plus uncommitted changes to {len(dirty.splitlines())} tracked files)"
    except (OSError, subprocess.SubprocessError):
        commit = ""
    import importlib.metadata as md

    versions = []
    for pkg in ("torch", "sentence-transformers", "faiss-cpu", "bm25s", "numpy"):
        with contextlib.suppress(md.PackageNotFoundError):
            versions.append(f"{pkg} {md.version(pkg)}")
    return {
        "date": time.strftime("%Y-%m-%d %H:%M %Z"),
        "cpu": f"{cpu}, {os.cpu_count()} logical cores",
        "memory": mem,
        "os": f"{platform.system()} {platform.release()}",
        "python": platform.python_version(),
        "libraries": ", ".join(versions),
        "commit": commit,
        "load average at start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
    }


def rss_peak_kib(pid: int) -> int | None:
    """Peak resident set (VmHWM) of a live process, from /proc."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1])
    except OSError:
        return None
    return None
