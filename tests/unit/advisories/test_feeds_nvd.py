"""NVD CVE API 2.0 enrichment against a loopback server speaking the API's paging and windows."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from customhouse.advisories.feeds.debian import convert_tracker
from customhouse.advisories.feeds.fetch import Fetcher
from customhouse.advisories.feeds.nvd import (
    RateLimit,
    _Limiter,
    cvss_from_cve,
    nvd_severity,
    sync_nvd,
)
from customhouse.advisories.osv import parse_vulnerability
from customhouse.advisories.store import AdvisoryStore, StoreBuilder
from customhouse.advisories.update import SourceSpec, UpdateConfig, update
from customhouse.distribution import RetryPolicy
from helpers import run_cli

from .feedserver import FeedServer, Request, feed_server

DATA = Path(__file__).parents[2] / "data" / "advisories"
NVD = json.loads((DATA / "nvd" / "cves.json").read_text())
SCHEMA = json.loads(
    (Path(__file__).parents[2] / "data" / "schemas" / "osv-schema.json").read_text()
)
API = "/rest/json/cves/2.0"
NOW = datetime(2025, 7, 1, 12, 0, tzinfo=UTC)


def _nvd_time(text: str) -> datetime:
    return datetime.fromisoformat(text).astimezone(UTC)


def _api(req: Request, key: str | None) -> tuple[int, dict[str, str], bytes]:
    """The CVE API's paging and lastMod windows over the fixture's CVEs."""
    if key is not None and req.headers.get("apikey") != key:
        return 404, {"message": "Invalid apiKey"}, b""
    q = {k: v[0] for k, v in req.query.items()}
    per_page = int(q.get("resultsPerPage", "2000"))
    start = int(q.get("startIndex", "0"))
    if per_page > 2000:
        return 404, {"message": "resultsPerPage too large"}, b""
    items = NVD["vulnerabilities"]
    if ("lastModStartDate" in q) != ("lastModEndDate" in q):
        return 404, {"message": "both lastModStartDate and lastModEndDate are required"}, b""
    if "lastModStartDate" in q:
        lo, hi = _nvd_time(q["lastModStartDate"]), _nvd_time(q["lastModEndDate"])
        if hi - lo > timedelta(days=120):
            return 404, {"message": "date range exceeds 120 days"}, b""
        items = [i for i in items if lo <= _nvd_time(i["cve"]["lastModified"] + "+00:00") <= hi]
    page = items[start : start + per_page]
    doc = {
        **NVD,
        "resultsPerPage": len(page),
        "startIndex": start,
        "totalResults": len(items),
        "vulnerabilities": page,
    }
    return 200, {"Content-Type": "application/json"}, json.dumps(doc).encode()


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as s:
        s.handlers[API] = lambda req: _api(req, None)
        yield s


def _osv_records() -> list[dict[str, Any]]:
    return [json.loads(p.read_text()) for p in sorted((DATA / "osv" / "PyPI").glob("*.json"))]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """PyPI records (some with their own severity) and Debian records (none)."""
    path = tmp_path / "a.db"
    tracker = convert_tracker(
        json.loads((DATA / "debian" / "tracker.json").read_text()), modified="2025-01-01T00:00:00Z"
    )
    with StoreBuilder(path) as b:
        b.add([parse_vulnerability(r) for r in _osv_records()], "osv:PyPI")
        b.add(tracker.records, "debian")
    return path


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


def _sync(db: Path, server: FeedServer, **kw: Any) -> Any:
    retry = RetryPolicy(attempts=2, base_delay=0, sleep=lambda s: None)
    fake = FakeTime()
    kw.setdefault("clock", fake.clock)
    kw.setdefault("sleep", fake.sleep)
    kw.setdefault("now", NOW)
    with Fetcher(retry=retry, progress=False) as f, StoreBuilder(db) as b:
        return sync_nvd(b, f, url=f"{server.url}{API}", **kw)


def _nvd(store: AdvisoryStore, vid: str) -> list[dict[str, str]] | None:
    v = store.get(vid)
    assert v is not None
    return v.raw.get("database_specific", {}).get("nvd_cvss")  # type: ignore[no-any-return]


def test_full_sync_pages_with_start_index(db: Path, server: FeedServer) -> None:
    report = _sync(db, server, page_size=3)
    assert report.mode == "full" and report.records == 11
    starts = [r.query["startIndex"][0] for r in server.requests]
    assert starts == ["0", "3", "6", "9"]
    assert all(r.query["resultsPerPage"] == ["3"] for r in server.requests)
    assert all("lastModStartDate" not in r.query for r in server.requests)
    assert all("apikey" not in r.headers for r in server.requests)


# record id -> the NVD vectors it must carry afterwards (None: left alone)
ENRICHED = [
    (
        "PYSEC-2014-13",
        [("CVSS_V2", "AV:N/AC:L/Au:N/C:P/I:N/A:N", "CVE-2014-1829")],
    ),  # only v2 exists
    (
        "PYSEC-2018-28",
        [("CVSS_V3", "CVSS:3.0/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N", "CVE-2018-18074")],
    ),  # v3.0 wins over v2
    (
        "PYSEC-2019-217",
        [("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:C/C:H/I:N/A:N", "CVE-2019-10906")],
    ),  # v3.1 over v3.0
    (
        "PYSEC-2023-74",
        [("CVSS_V3", "CVSS:3.1/AV:N/AC:H/PR:N/UI:R/S:C/C:H/I:N/A:N", "CVE-2023-32681")],
    ),
    ("PYSEC-2023-192", None),  # the record has its own CVSS: untouched
    (
        "DEBIAN-CVE-2025-0395",
        [
            (
                "CVSS_V4",
                "CVSS:4.0/AV:L/AC:L/AT:N/PR:N/UI:N/VC:N/VI:N/VA:H/SC:N/SI:N/SA:N",
                "CVE-2025-0395",
            ),
            ("CVSS_V3", "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H", "CVE-2025-0395"),
        ],
    ),
    ("DEBIAN-CVE-2024-2511", None),  # NVD's only vector is invalid: nothing added
    ("DEBIAN-TEMP-0000000-A1B2C3", None),  # no CVE
]


@pytest.mark.parametrize(("vid", "expected"), ENRICHED)
def test_vectors_are_added_only_to_records_without_severity(
    db: Path, server: FeedServer, vid: str, expected: list[tuple[str, str, str]] | None
) -> None:
    with AdvisoryStore(db) as store:
        before = store.get(vid)
    _sync(db, server)
    with AdvisoryStore(db) as store:
        after = store.get(vid)
        got = _nvd(store, vid)
    assert before is not None and after is not None
    if expected is None:
        assert got is None and after.raw == before.raw
        return
    assert got is not None
    assert [(e["type"], e["score"], e["cve"]) for e in got] == expected
    # nothing of the feed's own record changed
    stripped = copy.deepcopy(dict(after.raw))
    del stripped["database_specific"]["nvd_cvss"]
    if not stripped["database_specific"]:
        del stripped["database_specific"]
    assert stripped == before.raw
    assert nvd_severity(after) == tuple((t, s) for t, s, _ in expected)


def test_enriched_records_stay_valid_osv(db: Path, server: FeedServer) -> None:
    _sync(db, server)
    validator = jsonschema.Draft202012Validator(SCHEMA)
    with AdvisoryStore(db) as store:
        for _, raw in store.iter_records():
            validator.validate(json.loads(raw))


def test_api_key_is_sent_as_header(db: Path, server: FeedServer) -> None:
    server.handlers[API] = lambda req: _api(req, "k-123")
    report = _sync(db, server, api_key="k-123")
    assert report.records == 11
    assert all(r.headers["apikey"] == "k-123" for r in server.requests)
    assert all("k-123" not in r.path and "apiKey" not in r.query for r in server.requests)


def test_rate_limit_spaces_requests(db: Path, server: FeedServer) -> None:
    fake = FakeTime()
    _sync(db, server, page_size=2, rate=RateLimit(2, 30.0), clock=fake.clock, sleep=fake.sleep)
    assert len(server.requests) == 6
    # requests 3 and 5 each wait until the oldest of the previous two leaves the window
    assert fake.sleeps == [30.0, 30.0]


@pytest.mark.parametrize(
    ("rate", "requests", "sleeps"),
    [
        (RateLimit(5, 30.0), 5, []),
        (RateLimit(5, 30.0), 6, [30.0]),
        (RateLimit(50, 30.0), 50, []),
        (RateLimit(1, 6.0), 3, [6.0, 6.0]),
    ],
)
def test_limiter_table(rate: RateLimit, requests: int, sleeps: list[float]) -> None:
    fake = FakeTime()
    limiter = _Limiter(rate, fake.clock, fake.sleep)
    for _ in range(requests):
        limiter.wait()
    assert fake.sleeps == sleeps


def test_incremental_sync_uses_windows_of_at_most_120_days(db: Path, server: FeedServer) -> None:
    _sync(db, server, now=NOW)
    server.requests.clear()
    later = NOW + timedelta(days=200)
    report = _sync(db, server, now=later)
    assert report.mode == "incremental"
    windows = [
        (r.query["lastModStartDate"][0], r.query["lastModEndDate"][0]) for r in server.requests
    ]
    assert len(windows) == 2
    spans = [_nvd_time(b) - _nvd_time(a) for a, b in windows]
    assert all(s <= timedelta(days=120) for s in spans)
    assert _nvd_time(windows[0][0]) <= NOW and _nvd_time(windows[-1][1]) == later
    with AdvisoryStore(db) as store:
        nvd = next(s for s in store.sources() if s.name == "nvd")
        assert nvd.extra["synced_through"] == "2026-01-17T12:00:00Z"


def test_update_reapplies_vectors_after_a_feed_replaces_a_record(
    db: Path, server: FeedServer, tmp_path: Path
) -> None:
    _sync(db, server)
    records = {r["id"]: r for r in _osv_records()}
    records["PYSEC-2023-74"]["modified"] = "2025-06-30T00:00:00Z"
    from .test_feeds_osv import _publish

    _publish(server, records, "9")
    config = UpdateConfig(
        osv_url=server.url, retry=RetryPolicy(attempts=2, base_delay=0), progress=False
    )
    (report,) = update(db, [SourceSpec("osv", "PyPI")], config)
    assert report.mode == "full"  # first OSV sync of this database: all.zip
    with AdvisoryStore(db) as store:
        v = store.get("PYSEC-2023-74")
        assert v is not None and v.modified == "2025-06-30T00:00:00Z"
        assert _nvd(store, "PYSEC-2023-74") is not None


def test_cvss_from_cve_prefers_primary_entries() -> None:
    cve = NVD["vulnerabilities"][2]["cve"]
    assert cve["id"] == "CVE-2023-32681"
    assert [e["source"] for e in cvss_from_cve(cve)] == ["nvd@nist.gov"]
    assert cvss_from_cve({"id": "CVE-1", "metrics": {}}) == []


def test_cli_update_nvd_with_key_and_rate_from_env(
    db: Path, server: FeedServer, tmp_path: Path
) -> None:
    server.handlers[API] = lambda req: _api(req, "env-key")
    env = {
        "CUSTOMHOUSE_DB": str(db),
        "CUSTOMHOUSE_NVD_URL": f"{server.url}{API}",
        "CUSTOMHOUSE_NVD_API_KEY": "env-key",
        "CUSTOMHOUSE_NVD_RATE": "100/1",
    }
    r = run_cli("db", "update", "--source", "nvd", "--format", "json", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    (out,) = json.loads(r.stdout)["sources"]
    assert out["source"] == "nvd" and out["records"] == 11
    # 4 PyPI records without severity + 4 Debian records whose CVE has a valid NVD vector
    assert out["details"]["records_enriched"] == 8
    assert "env-key" not in r.stdout + r.stderr
