"""Ground truth: old PyPI packages over the Alpine 3.19.4 fixture, scanned against PyPA + secdb.

The image is written with our layer writer: layer 0 is the Alpine minirootfs, layer 1
``usr/lib/python3.11/site-packages`` with the real ``*.dist-info/METADATA`` of old
wheels (and PyYAML 5.3's ``PKG-INFO`` as an ``*.egg-info``, it has no Linux wheel).
The database is imported from ../shared/advisories/pypa and alpine-secdb.

The oracle reads the PyPA YAML records directly and decides with ``packaging`` alone:
a record applies to an installed (name, version) when one of its ``affected`` entries
names the package (PEP 503-normalized, ecosystem PyPI) and the version is listed in
``versions`` or lies in an ECOSYSTEM range under OSV semantics (sorted events;
``introduced`` opens, ``fixed`` closes exclusive, ``last_affected`` closes inclusive).
Withdrawn records are ignored. Findings merge aliases into one id, so the comparison is
on record ids: per package, the union of the findings' ``advisories`` must equal the
oracle's record ids exactly.

Wheels are cached under ``~/.cache/customhouse-tests/pypi`` (``$CUSTOMHOUSE_TEST_CACHE``);
the test skips when a download is impossible or /work/shared is absent.
"""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import imagebuild
import pytest
import yaml
from packaging.version import InvalidVersion, Version

from customhouse.advisories.importer import import_paths
from customhouse.advisories.store import StoreBuilder
from helpers.imagewriter import Layer, Member, directory, file, write_layout

pytestmark = pytest.mark.integration

SITE = "usr/lib/python3.11/site-packages"
ALPINE = "fixtures/alpine/alpine-minirootfs-3.19.4-x86_64.tar.gz"
_CP38 = ("--only-binary=:all:", "--python-version", "3.8", "--platform", "manylinux1_x86_64")
# (requirement, pip download options); only METADATA is used, so any wheel tag will do
WHEELS: list[tuple[str, tuple[str, ...]]] = [
    ("urllib3==1.24.1", ()),
    ("requests==2.19.0", ()),
    ("Jinja2==2.10", ()),
    ("Django==2.2", ()),
    ("Pillow==8.0.0", _CP38),
    ("zope.event==5.0", ()),
    ("Flask==0.12", ()),
    ("Werkzeug==0.15.0", ()),
    ("paramiko==2.4.0", ()),
    ("setuptools==40.0.0", ()),
    ("lxml==4.6.1", (*_CP38, "--implementation", "cp", "--abi", "cp38")),
    (
        "numpy==1.16.0",
        (
            "--only-binary=:all:",
            "--python-version",
            "3.7",
            "--platform",
            "manylinux1_x86_64",
            "--implementation",
            "cp",
            "--abi",
            "cp37m",
        ),
    ),
    (
        "cryptography==2.1",
        (
            "--only-binary=:all:",
            "--python-version",
            "3.6",
            "--platform",
            "manylinux1_x86_64",
            "--implementation",
            "cp",
            "--abi",
            "cp36m",
        ),
    ),
]
SDISTS = ["PyYAML==5.3"]


def _norm(name: str) -> str:
    """PEP 503 normalization."""
    return re.sub(r"[-_.]+", "-", name).lower()


def _download(dest: Path, req: str, options: tuple[str, ...]) -> Path:
    name, _, version = req.partition("==")

    def found() -> Path | None:
        for p in sorted(dest.iterdir()):
            stem = _norm(p.name.split(f"-{version}", 1)[0])
            if (
                stem == _norm(name)
                and p.name[len(p.name.split(f"-{version}", 1)[0]) :].startswith(f"-{version}")
                and (p.suffix == ".whl" or p.name.endswith(".tar.gz"))
            ):
                return p
        return None

    hit = found()
    if hit is None:
        proc = subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "--no-deps",
                "-q",
                "-d",
                str(dest),
                *options,
                req,
            ],
            capture_output=True,
            text=True,
            timeout=300,
            check=False,
        )
        hit = found()
        if hit is None:
            pytest.skip(f"pip download {req} failed (no route to PyPI?): {proc.stderr[-300:]}")
    return hit


def _metadata_files() -> dict[str, bytes]:
    dest = imagebuild.cache_dir() / "pypi"
    dest.mkdir(parents=True, exist_ok=True)
    files: dict[str, bytes] = {}
    for req, options in WHEELS:
        with zipfile.ZipFile(_download(dest, req, options)) as zf:
            (meta,) = [
                n for n in zf.namelist() if n.count("/") == 1 and n.endswith(".dist-info/METADATA")
            ]
            files[f"{SITE}/{meta}"] = zf.read(meta)
    for req in SDISTS:
        with tarfile.open(_download(dest, req, ("--no-binary=:all:",))) as tf:
            member = next(
                m
                for m in tf.getmembers()
                if m.name.count("/") == 1 and m.name.endswith("/PKG-INFO")
            )
            data = tf.extractfile(member)
            assert data is not None
            files[f"{SITE}/{member.name.split('/')[0]}-py3.11.egg-info/PKG-INFO"] = data.read()
    return files


def _installed(files: dict[str, bytes]) -> dict[str, str]:
    """(normalized name -> version) read from the METADATA/PKG-INFO headers themselves."""
    out = {}
    for data in files.values():
        head = data.decode("utf-8", "replace").split("\n\n", 1)[0]
        fields = dict(
            line.split(": ", 1) for line in head.splitlines() if ": " in line and line[0] != " "
        )
        out[_norm(fields["Name"])] = fields["Version"]
    return out


def _in_range(version: Version, events: list[dict[str, str]]) -> bool:
    """OSV ECOSYSTEM range evaluation with PEP 440 order."""

    def key(e: dict[str, str]) -> tuple[Version, int]:
        (kind, value), *_ = e.items()
        return (Version("0") if value == "0" else Version(value), 0 if kind == "introduced" else 1)

    affected = False
    for e in sorted(events, key=key):
        (kind, value), *_ = e.items()
        point = Version("0") if value == "0" else Version(value)
        if kind == "introduced" and version >= point:
            affected = True
        elif (kind == "fixed" and version >= point) or (
            kind == "last_affected" and version > point
        ):
            affected = False
    return affected


def _oracle(pypa: Path, installed: dict[str, str]) -> dict[str, set[str]]:
    out: dict[str, set[str]] = {name: set() for name in installed}
    for path in sorted((pypa / "vulns").glob("*/*.yaml")):
        if _norm(path.parent.name) not in installed:
            continue  # the directory is named after the package; entries are checked below
        rec = yaml.safe_load(path.read_text())
        if rec.get("withdrawn"):
            continue
        for a in rec.get("affected", ()):
            pkg = a.get("package", {})
            name = _norm(pkg.get("name", ""))
            if pkg.get("ecosystem") != "PyPI" or name not in installed:
                continue
            version = Version(installed[name])
            listed = set()
            for v in a.get("versions") or ():
                try:
                    listed.add(Version(str(v)))
                except InvalidVersion:
                    continue
            ranges = [r for r in a.get("ranges") or () if r.get("type") == "ECOSYSTEM"]
            if version in listed or any(_in_range(version, r["events"]) for r in ranges):
                out[name].add(rec["id"])
    return out


def _dirs(paths: list[str]) -> list[Member]:
    seen: dict[str, None] = {}
    for p in paths:
        parts = p.split("/")[:-1]
        for i in range(1, len(parts) + 1):
            seen.setdefault("/".join(parts[:i]), None)
    return [directory(d) for d in seen]


def test_pypi_findings_equal_the_pypa_oracle_and_alpine_findings_remain(
    shared_dir: Path, tmp_path: Path
) -> None:
    files = _metadata_files()
    installed = _installed(files)
    assert len(installed) >= 10
    pypa = shared_dir / "advisories" / "pypa"
    # a check the oracle directory shortcut is sound: every record sits under its package
    for path in (pypa / "vulns").glob("*/*.yaml"):
        names = {
            _norm(a["package"]["name"])
            for a in yaml.safe_load(path.read_text()).get("affected", ())
        }
        assert names <= {_norm(path.parent.name)} or not (names & set(installed)), path
    expected = _oracle(pypa, installed)

    paths = sorted(files)
    img = write_layout(
        tmp_path / "img",
        [
            Layer(tar=gzip.decompress((shared_dir / ALPINE).read_bytes())),
            Layer([*_dirs(paths), *(file(p, files[p]) for p in paths)]),
        ],
    )
    db = tmp_path / "advisories.db"
    with StoreBuilder(db) as b:
        import_paths(b, [pypa, shared_dir / "advisories" / "alpine-secdb"])
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "customhouse",
            "scan",
            img.source,
            "--db",
            str(db),
            "--format",
            "json",
            "--no-cache",
        ],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    result = json.loads(proc.stdout)["results"][0]
    found: dict[str, set[str]] = {name: set() for name in installed}
    for v in result["vulnerabilities"]:
        if v["ecosystem"] == "PyPI":
            found[_norm(v["package"]["name"])] |= set(v["advisories"])
    assert found == expected
    assert sum(len(ids) for ids in expected.values()) >= 50  # the image is really vulnerable
    assert all(expected[n] for n in ("django", "urllib3", "jinja2", "pyyaml", "pillow"))
    # PyPI findings sit in layer 1; the OS findings of the same scan are still there
    assert {v["layer"]["index"] for v in result["vulnerabilities"] if v["ecosystem"] == "PyPI"} == {
        1
    }
    alpine = {
        (v["package"]["source_name"], v["id"])
        for v in result["vulnerabilities"]
        if v["ecosystem"].startswith("Alpine")
    }
    assert alpine and result["os_scanned"] is True
    assert {("busybox", "CVE-2024-58251"), ("musl", "CVE-2025-26519")} <= alpine
