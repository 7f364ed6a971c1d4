"""scan: ground truth on real content, backports, alias merging, ignores/VEX, exit codes."""

from __future__ import annotations

import gzip
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from customhouse.advisories.importer import import_paths
from customhouse.advisories.store import StoreBuilder
from helpers.imagewriter import Layer, directory, file, write_layout

DEBIAN_OS_RELEASE = b'PRETTY_NAME="Debian GNU/Linux 12 (bookworm)"\nID=debian\nVERSION_ID="12"\nVERSION_CODENAME=bookworm\n'


def _cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "customhouse", *args],
        capture_output=True,
        text=True,
        timeout=300,
        cwd=cwd,
    )


def _db(tmp: Path, records: list[dict]) -> Path:
    feed = tmp / "feed"
    feed.mkdir(exist_ok=True)
    for r in records:
        (feed / f"{r['id']}.json").write_text(json.dumps(r))
    db = tmp / "advisories.db"
    with StoreBuilder(db) as b:
        import_paths(b, [feed])
    return db


def _status(*stanzas: str) -> bytes:
    return ("\n".join(stanzas)).encode()


def _deb(name: str, version: str, source: str | None = None) -> str:
    src = f"Source: {source}\n" if source else ""
    return (
        f"Package: {name}\nStatus: install ok installed\nPriority: optional\nArchitecture: amd64\n{src}"
        f"Version: {version}\nDescription: test package\n"
    )


def _debian_image(root: Path, stanzas: list[str]) -> str:
    return write_layout(
        root,
        [
            Layer(
                [
                    directory("etc"),
                    file("etc/os-release", DEBIAN_OS_RELEASE),
                    directory("var"),
                    directory("var/lib"),
                    directory("var/lib/dpkg"),
                    file("var/lib/dpkg/status", _status(*stanzas)),
                ]
            )
        ],
    ).source


BACKPORT = {
    "id": "DEBIAN-CVE-2024-0001",
    "modified": "2024-05-01T00:00:00Z",
    "aliases": ["CVE-2024-0001"],
    "affected": [
        {
            "package": {"ecosystem": "Debian:12", "name": "foo"},
            "ranges": [
                {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.2-3+deb12u1"}]}
            ],
            "ecosystem_specific": {"urgency": "high"},
        }
    ],
}


@pytest.mark.parametrize(
    ("installed", "vulnerable"),
    [
        ("1.2-3", True),
        ("1.2-3+deb12u1", False),
        ("1.2-3+deb12u2", False),
        ("1.2-2", True),
        ("1:1.0-1", False),
    ],
)
def test_backport_fix_through_the_source_package(
    tmp_path: Path, installed: str, vulnerable: bool
) -> None:
    db = _db(tmp_path, [BACKPORT])
    # binary libfoo1 is built from source foo; the binary carries a binNMU suffix of its own
    src = _debian_image(
        tmp_path / "img",
        [
            _deb("libfoo1", f"{installed}+b1", f"foo ({installed})"),
            _deb("foo-tools", installed, "foo"),
        ],
    )
    proc = _cli("scan", src, "--db", str(db), "--format", "json", "--fail-on", "LOW", "--no-cache")
    doc = json.loads(proc.stdout)
    vulns = doc["results"][0]["vulnerabilities"]
    assert proc.returncode == (1 if vulnerable else 0), proc.stderr
    if vulnerable:
        assert {
            (v["package"]["name"], v["id"], v["fixed_version"], v["installed_version"])
            for v in vulns
        } == {
            ("libfoo1", "CVE-2024-0001", "1.2-3+deb12u1", installed),
            ("foo-tools", "CVE-2024-0001", "1.2-3+deb12u1", installed),
        }
        assert all(v["package"]["source_name"] == "foo" for v in vulns)
    else:
        assert vulns == []


def test_binary_name_alone_does_not_match(tmp_path: Path) -> None:
    """An advisory filed under the source name must not match a same-named binary of another source."""
    rec = dict(
        BACKPORT,
        affected=[
            dict(BACKPORT["affected"][0], package={"ecosystem": "Debian:12", "name": "libfoo1"})
        ],
    )
    db = _db(tmp_path, [rec])
    src = _debian_image(tmp_path / "img", [_deb("libfoo1", "1.2-3", "foo (1.2-3)")])
    doc = json.loads(_cli("scan", src, "--db", str(db), "--format", "json", "--no-cache").stdout)
    assert doc["results"][0]["vulnerabilities"] == []


def test_aliases_merge_into_one_finding_per_package(tmp_path: Path) -> None:
    ghsa = {
        "id": "GHSA-aaaa-bbbb-cccc",
        "modified": "2024-01-01T00:00:00Z",
        "aliases": ["CVE-2024-1111"],
        "database_specific": {"severity": "HIGH"},
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "Demo_Pkg"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "2.0"}]}
                ],
            }
        ],
    }
    pysec = {
        "id": "PYSEC-2024-9",
        "modified": "2024-01-01T00:00:00Z",
        "aliases": ["CVE-2024-1111"],
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "demo-pkg"},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "1.0"}, {"fixed": "2.0.1"}]}
                ],
            }
        ],
    }
    db = _db(tmp_path, [ghsa, pysec])
    meta = b"Metadata-Version: 2.1\nName: demo.pkg\nVersion: 1.5\n"
    img = write_layout(
        tmp_path / "img",
        [
            Layer(
                [
                    directory("usr/lib/python3.11/site-packages/demo_pkg-1.5.dist-info"),
                    file("usr/lib/python3.11/site-packages/demo_pkg-1.5.dist-info/METADATA", meta),
                ]
            )
        ],
    )
    doc = json.loads(
        _cli("scan", img.source, "--db", str(db), "--format", "json", "--no-cache").stdout
    )
    (v,) = doc["results"][0]["vulnerabilities"]
    assert v["id"] == "CVE-2024-1111"
    assert set(v["aliases"]) == {"GHSA-aaaa-bbbb-cccc", "PYSEC-2024-9"}
    assert v["fixed_version"] == "2.0.1"  # the fix that closes both records
    assert v["severity"] == "HIGH" and v["severity_source"] == "vendor"


def test_unknown_distro_is_never_a_silent_zero(tmp_path: Path) -> None:
    db = _db(tmp_path, [BACKPORT])
    img = write_layout(
        tmp_path / "img",
        [
            Layer(
                [
                    file("etc/os-release", b"ID=plan9\nVERSION_ID=4\n"),
                    file("var/lib/dpkg/status", _status(_deb("libfoo1", "1.2-3", "foo"))),
                ]
            )
        ],
    )
    proc = _cli("scan", img.source, "--db", str(db), "--format", "json", "--no-cache")
    r = json.loads(proc.stdout)["results"][0]
    assert r["os_scanned"] is False
    assert any("NOT checked" in w for w in r["warnings"])
    assert "NOT checked" in proc.stderr
    table = _cli("scan", img.source, "--db", str(db), "--no-cache").stdout
    assert "NOT scanned" in table


def test_ignore_file_and_vex_suppress_with_reasons(tmp_path: Path) -> None:
    db = _db(tmp_path, [BACKPORT])
    src = _debian_image(
        tmp_path / "img", [_deb("libfoo1", "1.2-3", "foo (1.2-3)"), _deb("bar", "1.0", None)]
    )
    (tmp_path / "vex.json").write_text(
        json.dumps(
            {
                "@context": "https://openvex.dev/ns/v0.2.0",
                "@id": "https://example.com/vex/1",
                "author": "sec team",
                "timestamp": "2024-06-01T00:00:00Z",
                "version": 1,
                "statements": [
                    {
                        "vulnerability": {"name": "CVE-2024-0001"},
                        "products": [{"@id": "pkg:deb/debian/libfoo1"}],
                        "status": "not_affected",
                        "justification": "vulnerable_code_not_in_execute_path",
                    }
                ],
            }
        )
    )
    proc = _cli(
        "scan",
        src,
        "--db",
        str(db),
        "--format",
        "json",
        "--vex",
        str(tmp_path / "vex.json"),
        "--fail-on",
        "LOW",
        "--no-cache",
    )
    r = json.loads(proc.stdout)["results"][0]
    assert r["vulnerabilities"] == [] and proc.returncode == 0
    assert (
        r["suppressed"][0]["suppressed_by"] == "vex"
        and "vulnerable_code" in r["suppressed"][0]["reason"]
    )
    (tmp_path / ".customhouse-ignore.yaml").write_text(
        "vulnerabilities:\n  - id: CVE-2024-0001\n    package: libfoo1\n    reason: accepted until the rebuild\n"
        "    expires: 2000-01-01\n"
    )
    proc = _cli(
        "scan",
        src,
        "--db",
        str(db),
        "--format",
        "json",
        "--fail-on",
        "LOW",
        "--no-cache",
        cwd=tmp_path,
    )
    r = json.loads(proc.stdout)["results"][0]
    assert proc.returncode == 1 and r["expired_ignores"]  # the expired entry no longer applies
    (tmp_path / ".customhouse-ignore.yaml").write_text(
        "vulnerabilities:\n  - id: DEBIAN-CVE-2024-0001\n    reason: accepted until the rebuild\n"
    )
    proc = _cli(
        "scan",
        src,
        "--db",
        str(db),
        "--format",
        "json",
        "--fail-on",
        "LOW",
        "--no-cache",
        cwd=tmp_path,
    )
    r = json.loads(proc.stdout)["results"][0]
    assert proc.returncode == 0 and r["suppressed"][0]["reason"] == "accepted until the rebuild"


def test_exit_codes(tmp_path: Path) -> None:
    db = _db(tmp_path, [BACKPORT])
    src = _debian_image(tmp_path / "img", [_deb("libfoo1", "1.2-3", "foo (1.2-3)")])
    assert _cli("scan", src, "--db", str(db), "--no-cache").returncode == 0  # no gate asked
    assert (
        _cli("scan", src, "--db", str(db), "--fail-on", "CRITICAL", "--no-cache").returncode == 0
    )  # HIGH (Debian urgency) < CRITICAL
    assert _cli("scan", src, "--db", str(db), "--fail-on", "UNKNOWN", "--no-cache").returncode == 1
    assert _cli("scan", src, "--db", str(db), "--fail-on-fixable", "--no-cache").returncode == 1
    assert (
        _cli(
            "scan", src, "--db", str(db), "--ignore-unfixed", "--fail-on-fixable", "--no-cache"
        ).returncode
        == 1
    )
    assert _cli("scan", "oci:/nonexistent", "--db", str(db)).returncode == 2
    assert _cli("scan", src, "--db", str(tmp_path / "missing.db")).returncode == 2
    assert _cli("scan", src, "--db", str(db), "--scanners", "vuln,bogus").returncode == 2


# --- ground truth: the Alpine fixtures against secdb -----------------------


def _apk_key(v: str) -> tuple:
    """An independent, minimal apk version order for the versions in the fixtures and secdb."""
    m = re.fullmatch(r"([0-9.]+)([a-z]?)((?:_[a-z]+[0-9]*)*)(?:-r([0-9]+))?", v)
    assert m, v
    nums = tuple(int(x) for x in m.group(1).split("."))
    suffix_rank = {
        "alpha": 0,
        "beta": 1,
        "pre": 2,
        "rc": 3,
        "cvs": 5,
        "svn": 6,
        "git": 7,
        "hg": 8,
        "p": 9,
    }
    suffixes = tuple(
        (suffix_rank[s.rstrip("0123456789")], int(s.lstrip("abcdefghijklmnopqrstuvwxyz") or 0))
        for s in m.group(3).split("_")[1:]
    )
    return (nums, m.group(2), (*suffixes, (4, 0)), int(m.group(4) or 0))


def _alpine_oracle(shared: Path, version: str) -> set[tuple[str, str]]:
    branch = ".".join(version.split(".")[:2])
    installed = {}
    text = gzip.decompress(
        (shared / f"fixtures/alpine/alpine-minirootfs-{version}-x86_64.tar.gz").read_bytes()
    )
    import io
    import tarfile

    with tarfile.open(fileobj=io.BytesIO(text)) as tf:
        db = tf.extractfile("./lib/apk/db/installed").read().decode()  # type: ignore[union-attr]
    for stanza in db.strip().split("\n\n"):
        f = dict(
            line.split(":", 1) for line in stanza.splitlines() if len(line) > 2 and line[1] == ":"
        )
        installed[f["P"]] = (f["V"], f.get("o", f["P"]))
    out = set()
    for pkg, (ver, origin) in installed.items():
        path = shared / f"advisories/alpine-secdb/vuln-list-subset/{branch}/main/{origin}.json"
        if not path.exists():
            continue
        for fixed, ids in json.loads(path.read_text())["secfixes"].items():
            if fixed != "0" and _apk_key(ver) < _apk_key(fixed):
                out |= {(pkg, i.split()[0]) for i in ids}
    return out


@pytest.fixture(scope="module")
def secdb(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("secdb") / "a.db"
    with StoreBuilder(db) as b:
        import_paths(b, [shared_dir / "advisories" / "alpine-secdb"])
    return db


@pytest.mark.parametrize("version", ["3.14.10", "3.19.4", "3.20.3"])
def test_alpine_fixtures_match_the_oracle_exactly(
    shared_dir: Path, secdb: Path, tmp_path: Path, version: str
) -> None:
    tarball = shared_dir / f"fixtures/alpine/alpine-minirootfs-{version}-x86_64.tar.gz"
    img = write_layout(tmp_path / "img", [Layer(tar=gzip.decompress(tarball.read_bytes()))])
    proc = _cli("scan", img.source, "--db", str(secdb), "--format", "json", "--no-cache")
    r = json.loads(proc.stdout)["results"][0]
    got = {(v["package"]["name"], v["id"]) for v in r["vulnerabilities"]}
    assert got == _alpine_oracle(shared_dir, version)
    assert r["os_scanned"] is True
    by_origin = {(v["package"]["source_name"], v["id"]) for v in r["vulnerabilities"]}
    readme = {  # the shared README's hand-worked expectations, by origin package
        "3.14.10": set(),
        "3.19.4": {
            ("busybox", "CVE-2024-58251"),
            ("busybox", "CVE-2025-46394"),
            ("musl", "CVE-2025-26519"),
            ("musl", "CVE-2026-40200"),
            ("musl", "CVE-2026-6042"),
        },
    }
    if version in readme:
        assert by_origin == readme[version]
    else:
        assert {o for o, _ in by_origin} == {"busybox", "musl", "openssl"}
        assert len({i for o, i in by_origin if o == "openssl"}) == 22


# --- the advisory database's age -------------------------------------------


def _age_source(db: Path, fetched_at: str) -> None:
    import sqlite3

    with sqlite3.connect(db) as c:
        c.execute("UPDATE sources SET fetched_at = ?", (fetched_at,))
    c.close()


def test_a_stale_or_empty_database_is_warned_about_first_and_in_the_json(tmp_path: Path) -> None:
    db = _db(tmp_path, [BACKPORT])
    src = _debian_image(tmp_path / "img", [_deb("libfoo1", "1.2-3", "foo (1.2-3)")])
    fresh = _cli("scan", src, "--db", str(db), "--no-cache", "--format", "json")
    assert fresh.returncode == 0, fresh.stderr
    assert "warning" not in fresh.stderr
    assert json.loads(fresh.stdout)["database"]["warnings"] == []

    _age_source(db, "2020-01-01T00:00:00Z")
    r = _cli("scan", src, "--db", str(db), "--no-cache", "--format", "json")
    assert r.returncode == 0, r.stderr  # a warning, not a gate
    (line,) = [x for x in r.stderr.splitlines() if "warning" in x]
    assert re.fullmatch(
        r"customhouse: warning: advisory source import:feed was fetched \d+\.\dd ago, more than"
        r" --db-max-age 7d: newer advisories are missing; run 'customhouse db update'",
        line,
    ), line
    report = json.loads(r.stdout)
    assert report["database"]["warnings"] == [line.removeprefix("customhouse: warning: ")]
    assert report["results"] == json.loads(fresh.stdout)["results"]  # the scan is the same
    # a larger limit, by option or environment, accepts the same database
    r = _cli("scan", src, "--db", str(db), "--no-cache", "--db-max-age", "5000w")
    assert r.returncode == 0 and "warning" not in r.stderr
    # a fetch time the database holds in no known form is not a crash, and not a warning
    _age_source(db, "yesterday")
    r = _cli("scan", src, "--db", str(db), "--no-cache")
    assert r.returncode == 0 and "warning" not in r.stderr and "Traceback" not in r.stderr
    r = _cli("db", "status", "--db", str(db))
    assert r.returncode == 0 and "(? ago)" in r.stdout and "Traceback" not in r.stderr

    empty = tmp_path / "empty"
    empty.mkdir()
    empty_db = tmp_path / "empty.db"
    with StoreBuilder(empty_db) as b:
        import_paths(b, [empty])
    r = _cli("scan", src, "--db", str(empty_db), "--no-cache", "--format", "json")
    assert r.returncode == 0
    assert f"warning: the advisory database {empty_db} holds no advisories" in r.stderr
    assert json.loads(r.stdout)["database"]["warnings"] == [
        f"the advisory database {empty_db} holds no advisories"
    ]


@pytest.mark.parametrize("age", ["7", "d", "xd", "0d", "-1d", "nand", "infd"])
def test_a_bad_max_age_is_a_usage_error(tmp_path: Path, age: str) -> None:
    db = _db(tmp_path, [BACKPORT])
    r = _cli("scan", "oci:/nonexistent", "--db", str(db), f"--db-max-age={age}")
    assert r.returncode == 2
    assert f"--db-max-age {age!r}" in r.stderr and "Traceback" not in r.stderr
    r = _cli("db", "status", "--db", str(db), f"--max-age={age}")
    assert r.returncode == 2 and f"--max-age {age!r}" in r.stderr
