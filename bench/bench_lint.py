"""Lint the official-image corpus in one process, and hadolint over the same files.

Run: .venv/bin/python bench/bench_lint.py [CORPUS_DIR]
Prints both wall-clock times and the ratio (goal: customhouse <= 0.1 x hadolint).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "dockerfiles"


def corpus_files(root: Path) -> list[Path]:
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.parent.name != "LICENSES" and p.name != "README.md"
    )


def hadolint_binary() -> str | None:
    beside = Path(sys.executable).parent / "hadolint"
    if beside.exists():
        return str(beside)
    return shutil.which("hadolint")


def main() -> int:
    root = Path(sys.argv[1]) if len(sys.argv) > 1 else DEFAULT_CORPUS
    if not root.is_dir():
        print(f"skip: corpus {root} is absent (it lives in shared/ beside the repo)")
        return 0
    sys.path.insert(0, str(REPO / "src"))
    from customhouse.dockerfile import lint_path

    files = corpus_files(root)
    start = time.perf_counter()
    counts: Counter[str] = Counter()
    for path in files:
        counts.update(f.rule for f in lint_path(path))
    ours = time.perf_counter() - start
    print(
        f"customhouse lint: {len(files)} files in {ours:.2f} s ({ours / len(files) * 1000:.1f} ms/file)"
    )
    print("  findings by rule: " + ", ".join(f"{k} {v}" for k, v in sorted(counts.items())))

    hadolint = hadolint_binary()
    if hadolint is None:
        print("skip: hadolint is not installed; no ratio")
        return 0
    start = time.perf_counter()
    subprocess.run(
        [hadolint, "--no-fail", "-f", "json", *map(str, files)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        check=False,
    )
    theirs_once = time.perf_counter() - start
    print(f"hadolint (one process, all files): {theirs_once:.2f} s")
    print(f"ratio customhouse / hadolint: {ours / theirs_once:.3f} (goal <= 0.1)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
