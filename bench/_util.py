"""Timing helpers shared by the benchmarks: best-of-N wall time, a child's peak RSS, tables."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TypeVar

REPO = Path(__file__).resolve().parents[1]
T = TypeVar("T")


def compile_bytecode() -> None:
    """Write the bytecode of ``src`` before anything is timed.

    pip compiles an installed package's modules at install time; the editable dev
    install writes them on first import, unless PYTHONDONTWRITEBYTECODE is set (as on
    CI machines and here), in which case every timed run would compile every module from
    source and the benchmark would measure the compiler, not the tool.
    """
    import compileall

    compileall.compile_dir(str(REPO / "src"), quiet=1)


def import_imagebuild() -> None:
    """Make ``tests/integration/imagebuild.py`` importable (the image builders)."""
    path = str(REPO / "tests" / "integration")
    if path not in sys.path:
        sys.path.insert(0, path)


def best_of(fn: Callable[[], T], repeat: int) -> tuple[float, T]:
    """Smallest wall time of ``repeat`` runs (seconds), and the last run's result."""
    if repeat < 1:
        raise ValueError("repeat must be at least 1")
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def run_shell(command: str) -> None:
    subprocess.run(["sh", "-c", command], check=True)


# Runs argv[2:] as its child and writes "maxrss_kib exit_status" to the file argv[1].
_LAUNCHER = """
import os, sys
pid = os.fork()
if pid == 0:
    os.execvp(sys.argv[2], sys.argv[2:])
_, status, usage = os.wait4(pid, 0)
with open(sys.argv[1], "w") as f:
    f.write(f"{usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}")
"""


def peak_rss_mib(cmd: Sequence[str]) -> tuple[float, int]:
    """Run ``cmd`` and return (its peak RSS in MiB, its exit status).

    Linux counts a process's peak RSS from the address space it had before ``execve``,
    so a child of this (large) process would report at least this process's RSS.
    The command is therefore started by a small launcher process, which reads the
    command's own rusage with ``os.wait4`` (``ru_maxrss`` of that child alone, unlike
    ``getrusage(RUSAGE_CHILDREN)``, which folds in every child ever waited for).
    """
    with tempfile.TemporaryDirectory(prefix="bench-rss-") as tmp:
        result = Path(tmp) / "rusage"
        subprocess.run([sys.executable, "-c", _LAUNCHER, str(result), *cmd], check=True)
        kib, status = result.read_text().split()
    return int(kib) / 1024, int(status)  # ru_maxrss is in KiB on Linux


def table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = []
    for n, row in enumerate(rows):
        lines.append(
            "  ".join(
                c.ljust(w) if i == 0 else c.rjust(w)
                for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
        if n == 0:
            lines.append("  ".join("-" * w for w in widths))
    return "\n".join(lines)
