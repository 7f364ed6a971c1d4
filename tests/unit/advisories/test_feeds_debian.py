"""The Debian security tracker JSON into OSV, served by a loopback server."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from customhouse.advisories.feeds.debian import convert_tracker, ecosystem_for, sync_debian
from customhouse.advisories.feeds.fetch import DownloadTruncatedError, Fetcher
from customhouse.advisories.store import AdvisoryStore, StoreBuilder
from customhouse.distribution import RetryPolicy

from .feedserver import FeedServer, Resource, feed_server

DATA = Path(__file__).parents[2] / "data" / "advisories" / "debian" / "tracker.json"
SCHEMA = json.loads(
    (Path(__file__).parents[2] / "data" / "schemas" / "osv-schema.json").read_text()
)
LAST_MODIFIED = "Wed, 02 Jul 2025 08:15:00 GMT"


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as s:
        s.resources["/tracker/data/json"] = Resource(
            DATA.read_bytes(),
            etag='"tracker-1"',
            last_modified=LAST_MODIFIED,
            content_type="application/json",
            gzip=True,
        )
        yield s


def _sync(db: Path, server: FeedServer, attempts: int = 3) -> Any:
    retry = RetryPolicy(attempts=attempts, base_delay=0, sleep=lambda s: None)
    with Fetcher(retry=retry, progress=False) as f, StoreBuilder(db) as b:
        return sync_debian(b, f, url=f"{server.url}/tracker/data/json")


@pytest.fixture
def db(tmp_path: Path, server: FeedServer) -> Path:
    path = tmp_path / "a.db"
    _sync(path, server)
    return path


def _entry(store: AdvisoryStore, vid: str, ecosystem: str, package: str) -> dict[str, Any] | None:
    v = store.get(vid)
    assert v is not None, vid
    found = [
        a
        for a in v.raw["affected"]
        if a["package"]["ecosystem"] == ecosystem and a["package"]["name"] == package
    ]
    assert len(found) <= 1
    return found[0] if found else None


# (issue, ecosystem, source package) -> (status, events, severity); None = no entry (not affected)
EXPECTED = [
    (
        "CVE-2023-0286",
        "Debian:12",
        "openssl",
        ("resolved", [{"introduced": "0"}, {"fixed": "3.0.8-1"}], None),
    ),
    (
        "CVE-2023-0286",
        "Debian:11",
        "openssl",
        ("resolved", [{"introduced": "0"}, {"fixed": "1.1.1n-0+deb11u4"}], None),
    ),
    (
        "CVE-2023-0286",
        "Debian:13",
        "openssl",
        ("resolved", [{"introduced": "0"}, {"fixed": "3.0.8-1"}], None),
    ),
    (
        "CVE-2023-0286",
        "Debian:unstable",
        "openssl",
        ("resolved", [{"introduced": "0"}, {"fixed": "3.0.8-1"}], None),
    ),
    ("CVE-2024-2511", "Debian:11", "openssl", ("open", [{"introduced": "0"}], "LOW")),
    (
        "CVE-2023-38545",
        "Debian:12",
        "curl",
        ("resolved", [{"introduced": "0"}, {"fixed": "7.88.1-10+deb12u4"}], "HIGH"),
    ),
    ("CVE-2023-38545", "Debian:11", "curl", None),  # fixed_version 0: never affected
    (
        "CVE-2019-1010022",
        "Debian:12",
        "glibc",
        ("open", [{"introduced": "0"}], "LOW"),
    ),  # unimportant
    (
        "CVE-2025-0395",
        "Debian:12",
        "glibc",
        ("resolved", [{"introduced": "0"}, {"fixed": "2.36-9+deb12u10"}], "MEDIUM"),
    ),
    (
        "CVE-2025-0395",
        "Debian:11",
        "glibc",
        ("wont_fix", [{"introduced": "0"}], "MEDIUM"),
    ),  # nodsa_reason ignored
    ("CVE-2025-0395", "Debian:10", "glibc", ("open", [{"introduced": "0"}], None)),  # end-of-life
    (
        "CVE-2023-44487",
        "Debian:12",
        "nghttp2",
        ("resolved", [{"introduced": "0"}, {"fixed": "1.52.0-1+deb12u1"}], "HIGH"),
    ),  # high**
    (
        "CVE-2023-44487",
        "Debian:12",
        "nginx",
        ("resolved", [{"introduced": "0"}, {"fixed": "1.22.1-9+deb12u1"}], None),
    ),
    ("TEMP-0000000-A1B2C3", "Debian:12", "linux", ("undetermined", [{"introduced": "0"}], None)),
]


@pytest.mark.parametrize(("issue", "ecosystem", "package", "expected"), EXPECTED)
def test_tracker_status_maps_to_osv_ranges(
    db: Path,
    issue: str,
    ecosystem: str,
    package: str,
    expected: tuple[str, list[dict[str, str]], str | None] | None,
) -> None:
    with AdvisoryStore(db) as store:
        entry = _entry(store, f"DEBIAN-{issue}", ecosystem, package)
    if expected is None:
        assert entry is None
        return
    assert entry is not None
    status, events, severity = expected
    assert entry["ranges"] == [{"type": "ECOSYSTEM", "events": events}]
    assert entry["ecosystem_specific"]["status"] == status
    assert entry["ecosystem_specific"].get("severity") == severity
    assert entry["package"]["purl"] == f"pkg:deb/debian/{package}?arch=source"


def test_one_record_per_issue_with_cve_alias_and_references(db: Path) -> None:
    with AdvisoryStore(db) as store:
        ids = sorted(v for _, v in ((s, json.loads(j)["id"]) for s, j in store.iter_records()))
        v = store.get("CVE-2023-38545")  # found by alias
        assert v is not None and v.id == "DEBIAN-CVE-2023-38545"
        assert v.aliases == ("CVE-2023-38545",)
        assert v.database_specific == {
            "source": "debian-security-tracker",
            "scope": "remote",
            "debianbug": 1053734,
        }
        assert ("REPORT", "https://bugs.debian.org/1053734") in v.references
        assert v.modified == "2025-07-02T08:15:00Z"  # from Last-Modified
        temp = store.get("DEBIAN-TEMP-0000000-A1B2C3")
        assert temp is not None and temp.aliases == ()
        # CVE-2024-2379 affects no release (fixed_version 0 everywhere): no record
        assert ids == [
            "DEBIAN-CVE-2019-1010022",
            "DEBIAN-CVE-2023-0286",
            "DEBIAN-CVE-2023-38545",
            "DEBIAN-CVE-2023-44487",
            "DEBIAN-CVE-2024-2511",
            "DEBIAN-CVE-2025-0395",
            "DEBIAN-TEMP-0000000-A1B2C3",
        ]
        assert {v.id for v in store.lookup("Debian:12", "openssl")} == {
            "DEBIAN-CVE-2023-0286",
            "DEBIAN-CVE-2024-2511",
        }
        validator = jsonschema.Draft202012Validator(SCHEMA)
        for _, raw in store.iter_records():
            validator.validate(json.loads(raw))


def test_shared_cve_has_one_entry_per_source_package(db: Path) -> None:
    with AdvisoryStore(db) as store:
        v = store.get("DEBIAN-CVE-2023-44487")
    assert v is not None
    assert sorted((a.ecosystem, a.name) for a in v.affected) == [
        ("Debian:11", "nghttp2"),
        ("Debian:12", "nghttp2"),
        ("Debian:12", "nginx"),
        ("Debian:13", "nginx"),
    ]


def test_second_sync_sends_validators_and_keeps_records_on_304(
    db: Path, server: FeedServer
) -> None:
    server.requests.clear()
    report = _sync(db, server)
    assert report.mode == "unchanged" and report.records == 7
    assert server.requests[0].headers["if-none-match"] == '"tracker-1"'
    with AdvisoryStore(db) as store:
        (source,) = store.sources()
        assert (source.name, source.record_count, source.etag) == ("debian", 7, '"tracker-1"')


def test_changed_tracker_replaces_the_source(db: Path, server: FeedServer) -> None:
    doc = json.loads(DATA.read_text())
    del doc["curl"]
    server.resources["/tracker/data/json"] = Resource(json.dumps(doc).encode(), etag='"tracker-2"')
    report = _sync(db, server)
    assert report.mode == "full" and report.records == 6
    with AdvisoryStore(db) as store:
        assert store.get("DEBIAN-CVE-2023-38545") is None


def test_truncated_tracker_leaves_database_intact(db: Path, server: FeedServer) -> None:
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    body = DATA.read_bytes()
    server.resources["/tracker/data/json"] = Resource(body, etag='"tracker-3"', truncate_at=1000)
    with pytest.raises(DownloadTruncatedError):
        _sync(db, server, attempts=2)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before


@pytest.mark.parametrize(
    ("codename", "ecosystem"),
    [
        ("bookworm", "Debian:12"),
        ("bullseye", "Debian:11"),
        ("trixie", "Debian:13"),
        ("buster", "Debian:10"),
        ("sid", "Debian:unstable"),
        ("hamm", None),
    ],
)
def test_codenames(codename: str, ecosystem: str | None) -> None:
    assert ecosystem_for(codename) == ecosystem


def test_unknown_release_and_status_are_reported_not_guessed() -> None:
    doc = {
        "zlib": {
            "CVE-2022-37434": {
                "releases": {
                    "experimental": {"status": "open", "urgency": "high"},
                    "bookworm": {"status": "fixed-somehow"},
                    "bullseye": {
                        "status": "resolved",
                        "fixed_version": "1:1.2.11.dfsg-2+deb11u2",
                        "urgency": "high",
                    },
                }
            }
        }
    }
    conv = convert_tracker(doc, modified="2025-01-01T00:00:00Z")
    (record,) = conv.records
    assert [(a.ecosystem, a.name) for a in record.affected] == [("Debian:11", "zlib")]
    assert len(conv.skipped) == 2
    assert any("experimental" in s for s in conv.skipped)
    assert any("fixed-somehow" in s for s in conv.skipped)
