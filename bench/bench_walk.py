"""Benchmark: walk every file of the Debian bookworm minbase image, against floors.

Measured in one run, on the same one-layer gzip blob of the cached OCI layout:

(a) ``gzip -dc LAYER | tar -t >/dev/null``: the shell floor every ratio refers to;
(b) a bare Python loop: ISA-L decompression feeding ``tarfile`` in stream mode,
    reading every regular file's content (what the walk cannot beat by much);
(c) ``customhouse.walk.Walk`` over the image, reading every regular file's content,
    with blob digest and diffID verification (both always on);
(d) the peak RSS of (c), in a child process.

Goals (issue 2): (c) <= 0.6x (a), and (d) under 200 MB. The script reports and
exits 0 either way; it exits 1 only if something could not be measured.

    .venv/bin/python bench/bench_walk.py [--repeat N]
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import IO, cast

from _util import best_of, compile_bytecode, import_imagebuild, peak_rss_mib, run_shell, table

GOAL_RATIO = 0.6
GOAL_RSS_MB = 200
CHUNK = 1 << 20


class _IsalGzipReader:
    """The smallest file object ``tarfile`` stream mode needs: ``read(n)`` of gunzipped bytes."""

    def __init__(self, path: Path) -> None:
        from isal import isal_zlib

        self._zlib = isal_zlib
        self._f = open(path, "rb")
        self._d = isal_zlib.decompressobj(31)
        self._buf = b""
        self._pos = 0

    def read(self, n: int = -1) -> bytes:
        while len(self._buf) - self._pos < n or n < 0:
            raw = self._f.read(CHUNK)
            if not raw:
                break
            out = self._d.decompress(raw)
            while self._d.eof and self._d.unused_data:  # another gzip member
                rest = self._d.unused_data
                self._d = self._zlib.decompressobj(31)
                out += self._d.decompress(rest)
            self._buf = self._buf[self._pos :] + out
            self._pos = 0
        end = len(self._buf) if n < 0 else self._pos + n
        data = self._buf[self._pos : end]
        self._pos = end
        return data

    def close(self) -> None:
        self._f.close()


def bare_isal_tarfile(blob: Path) -> tuple[int, int]:
    """(b): files and content bytes, read with ISA-L + tarfile alone."""
    files = size = 0
    reader = _IsalGzipReader(blob)
    try:
        with tarfile.open(fileobj=cast("IO[bytes]", reader), mode="r|") as tf:
            for m in tf:
                if m.isreg():
                    f = tf.extractfile(m)
                    assert f is not None
                    while chunk := f.read(CHUNK):
                        size += len(chunk)
                    files += 1
    finally:
        reader.close()
    return files, size


def customhouse_walk(source: str) -> tuple[int, int]:
    """(c): files and content bytes, through open_image + Walk (verifying everything)."""
    from customhouse.sources import open_image
    from customhouse.walk.layers import Walk

    files = size = 0
    with open_image(source) as image:
        for _entry, content in Walk(image):
            if content is not None:
                for chunk in content.read_chunks():
                    size += len(chunk)
                files += 1
    return files, size


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeat", type=int, default=3, help="runs per measurement (best of N)")
    parser.add_argument("--child-walk", metavar="SOURCE", help=argparse.SUPPRESS)
    args = parser.parse_args()
    compile_bytecode()
    if args.child_walk:  # (d) runs this in a fresh process
        customhouse_walk(args.child_walk)
        return 0
    repeat = max(3, args.repeat)

    import_imagebuild()
    import imagebuild

    try:
        layout, tag = imagebuild.debian_layout()
    except imagebuild.BuildUnavailable as e:
        print(f"bench_walk: skipped, cannot build the Debian image: {e}")
        return 0
    blobs = imagebuild.layout_layer_blobs(layout, tag)
    if len(blobs) != 1:
        print(f"bench_walk: expected one layer, {layout} has {len(blobs)}", file=sys.stderr)
        return 1
    blob = blobs[0]
    source = f"oci:{layout}:{tag}"
    print(f"image  {source}")
    print(f"layer  {blob.name[:12]}… {blob.stat().st_size / 1e6:.1f} MB gzip; best of {repeat}")

    customhouse_walk(source)  # warm the page cache and imports before timing anything
    t_shell, _ = best_of(lambda: run_shell(f"gzip -dc '{blob}' | tar -t >/dev/null"), repeat)
    t_bare, (bare_files, bare_bytes) = best_of(lambda: bare_isal_tarfile(blob), repeat)
    t_walk, (walk_files, walk_bytes) = best_of(lambda: customhouse_walk(source), repeat)
    rss_walk, status = peak_rss_mib([sys.executable, __file__, "--child-walk", source])
    rss_base, _ = peak_rss_mib([sys.executable, "-c", "import customhouse.walk.layers"])
    if status != 0:
        print(f"bench_walk: the walk child exited {status}", file=sys.stderr)
        return 1
    if (bare_files, bare_bytes) != (walk_files, walk_bytes):
        print(
            f"bench_walk: walk read {walk_files} files / {walk_bytes} bytes,"
            f" tarfile read {bare_files} / {bare_bytes}",
            file=sys.stderr,
        )
        return 1

    print(f"read   {walk_files} regular files, {walk_bytes / 1e6:.1f} MB of content\n")
    rows = [
        ["measurement", "seconds", "x gzip|tar"],
        ["(a) gzip -dc | tar -t", f"{t_shell:.3f}", "1.00"],
        ["(b) isal + tarfile, read all", f"{t_bare:.3f}", f"{t_bare / t_shell:.2f}"],
        ["(c) customhouse Walk, read all", f"{t_walk:.3f}", f"{t_walk / t_shell:.2f}"],
    ]
    print(table(rows))
    ratio = t_walk / t_shell
    print()
    print(
        f"walk vs gzip|tar:  {ratio:.2f}x (goal <= {GOAL_RATIO}x): "
        + ("MET" if ratio <= GOAL_RATIO else "NOT MET")
    )
    print(f"walk vs bare loop: {t_walk / t_bare:.2f}x (overhead over isal + tarfile)")
    print(
        f"peak RSS of walk:  {rss_walk:.0f} MB (goal < {GOAL_RSS_MB} MB): "
        + ("MET" if rss_walk < GOAL_RSS_MB else "NOT MET")
        + f"; a Python process importing customhouse alone: {rss_base:.0f} MB"
    )
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except subprocess.CalledProcessError as e:
        print(f"bench_walk: {e}", file=sys.stderr)
        sys.exit(1)
