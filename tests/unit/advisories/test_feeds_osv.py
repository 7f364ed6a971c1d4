"""The OSV bucket feed against a loopback server: all.zip, modified_id.csv increments, 304, 429, truncation."""

from __future__ import annotations

import copy
import hashlib
import io
import json
import zipfile
from collections.abc import Iterator
from datetime import UTC
from pathlib import Path
from typing import Any

import jsonschema
import pytest

from customhouse.advisories.feeds.fetch import DownloadTruncatedError, Fetcher, FetchError
from customhouse.advisories.feeds.osvfeed import parse_modified_csv, parse_time, sync_osv
from customhouse.advisories.osv import AdvisoryError
from customhouse.advisories.store import AdvisoryStore, StoreBuilder
from customhouse.distribution import RetryPolicy
from helpers import run_cli

from .feedserver import FeedServer, Resource, feed_server

DATA = Path(__file__).parents[2] / "data" / "advisories" / "osv" / "PyPI"
SCHEMA = json.loads(
    (Path(__file__).parents[2] / "data" / "schemas" / "osv-schema.json").read_text()
)


def _records() -> dict[str, dict[str, Any]]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(DATA.glob("*.json"))}


def _zip(records: dict[str, dict[str, Any]]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        for vid, rec in sorted(records.items()):
            zf.writestr(f"{vid}.json", json.dumps(rec, indent=2))
    return buf.getvalue()


def _csv(records: dict[str, dict[str, Any]]) -> bytes:
    """modified_id.csv as the bucket writes it: '<modified>,<id>', newest first."""
    rows = sorted(((r["modified"], vid) for vid, r in records.items()), reverse=True)
    return "".join(f"{m},{vid}\n" for m, vid in rows).encode()


def _publish(server: FeedServer, records: dict[str, dict[str, Any]], version: str) -> None:
    """Serve the ecosystem directory for ``records``; ``version`` makes the ETags."""
    server.resources["/PyPI/all.zip"] = Resource(_zip(records), etag=f'"zip-{version}"')
    server.resources["/PyPI/modified_id.csv"] = Resource(
        _csv(records), etag=f'"csv-{version}"', content_type="text/csv"
    )
    for key in [k for k in server.resources if k.startswith("/PyPI/") and k.endswith(".json")]:
        del server.resources[key]
    for vid, rec in records.items():
        server.resources[f"/PyPI/{vid}.json"] = Resource(
            json.dumps(rec).encode(), content_type="application/json"
        )


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as s:
        yield s


def _sync(db: Path, server: FeedServer, **kw: Any) -> Any:
    retry = RetryPolicy(attempts=3, base_delay=0, sleep=lambda s: None)
    with Fetcher(retry=retry, progress=False) as f, StoreBuilder(db) as b:
        return sync_osv(b, f, "PyPI", base_url=server.url, **kw)


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_first_sync_imports_all_zip(tmp_path: Path, server: FeedServer) -> None:
    records = _records()
    _publish(server, records, "1")
    report = _sync(tmp_path / "a.db", server)
    assert (report.mode, report.written, report.records) == ("full", len(records), len(records))
    assert server.paths() == ["/PyPI/all.zip"]
    with AdvisoryStore(tmp_path / "a.db") as store:
        (source,) = store.sources()
        assert source.name == "osv:PyPI" and source.record_count == len(records)
        newest = max(parse_time(r["modified"]) for r in records.values())
        assert parse_time(source.extra["synced_through"]) == newest
        assert source.extra["zip_etag"] == '"zip-1"'
        assert {v.id for v in store.lookup("PyPI", "Requests")} == {
            "PYSEC-2014-13",
            "PYSEC-2018-28",
            "PYSEC-2023-74",
        }
        validator = jsonschema.Draft202012Validator(SCHEMA)
        for _, raw in store.iter_records():
            validator.validate(json.loads(raw))


def test_incremental_update_fetches_only_changed_records_and_deletes_dropped(
    tmp_path: Path, server: FeedServer
) -> None:
    db = tmp_path / "a.db"
    everything = _records()
    first = {k: v for k, v in everything.items() if k != "PYSEC-2023-212"}
    _publish(server, first, "1")
    _sync(db, server)
    server.requests.clear()

    second = copy.deepcopy(everything)  # PYSEC-2023-212 is new
    del second["PYSEC-2014-13"]  # withdrawn from the feed: must be deleted
    changed = second["PYSEC-2019-217"]  # re-published with a new fix
    changed["modified"] = "2025-05-01T10:00:00.123456Z"
    changed["affected"][0]["ranges"][-1]["events"].append({"fixed": "9.9.9"})
    _publish(server, second, "2")
    report = _sync(db, server)

    assert report.mode == "incremental"
    assert (report.written, report.deleted) == (2, 1)
    assert sorted(server.paths()) == [
        "/PyPI/PYSEC-2019-217.json",
        "/PyPI/PYSEC-2023-212.json",
        "/PyPI/modified_id.csv",
    ]
    with AdvisoryStore(db) as store:
        assert store.get("PYSEC-2014-13") is None
        got = store.get("PYSEC-2019-217")
        assert got is not None and got.raw == changed
        assert store.get("PYSEC-2023-212") is not None
        (source,) = store.sources()
        assert source.record_count == len(second)
        assert source.etag == '"csv-2"'
        assert source.extra["synced_through"].startswith("2025-05-01T10:00:00.123456")


def test_unchanged_csv_answers_304_and_nothing_is_fetched(
    tmp_path: Path, server: FeedServer
) -> None:
    db = tmp_path / "a.db"
    records = _records()
    _publish(server, records, "1")
    _sync(db, server)
    _sync(db, server)  # incremental: csv fetched, nothing newer
    server.requests.clear()
    report = _sync(db, server)
    assert report.mode == "unchanged" and report.written == 0
    assert server.paths() == ["/PyPI/modified_id.csv"]
    assert server.requests[0].headers["if-none-match"] == '"csv-1"'
    with AdvisoryStore(db) as store:
        assert store.counts()["vulnerabilities"] == len(records)


def test_429_with_retry_after_on_the_csv_is_waited_out(tmp_path: Path, server: FeedServer) -> None:
    db = tmp_path / "a.db"
    _publish(server, _records(), "1")
    _sync(db, server)
    server.resources["/PyPI/modified_id.csv"].before = [(429, {"Retry-After": "2"})]
    slept: list[float] = []
    retry = RetryPolicy(attempts=3, base_delay=0, sleep=slept.append)
    with Fetcher(retry=retry, progress=False) as f, StoreBuilder(db) as b:
        report = sync_osv(b, f, "PyPI", base_url=server.url)
    assert report.mode == "incremental" and slept == [2.0]


def test_truncated_all_zip_leaves_previous_database_byte_identical(
    tmp_path: Path, server: FeedServer
) -> None:
    db = tmp_path / "a.db"
    records = _records()
    _publish(server, records, "1")
    _sync(db, server)
    before = _digest(db)
    body = _zip({**records, "PYSEC-2099-1": {**records["PYSEC-2023-74"], "id": "PYSEC-2099-1"}})
    server.resources["/PyPI/all.zip"] = Resource(body, etag='"zip-2"', truncate_at=len(body) // 3)
    with pytest.raises(DownloadTruncatedError):
        _sync(db, server, full=True)
    assert _digest(db) == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.db"]  # no half-built file left


def test_many_changes_fall_back_to_all_zip(tmp_path: Path, server: FeedServer) -> None:
    db = tmp_path / "a.db"
    records = _records()
    _publish(server, {k: records[k] for k in list(records)[:2]}, "1")
    _sync(db, server)
    _publish(server, records, "2")
    server.requests.clear()
    report = _sync(db, server, max_incremental=1)
    assert report.mode == "full" and report.records == len(records)
    assert server.paths() == ["/PyPI/modified_id.csv", "/PyPI/all.zip"]


def test_listed_but_missing_record_is_reported_not_fatal(
    tmp_path: Path, server: FeedServer
) -> None:
    db = tmp_path / "a.db"
    records = _records()
    _publish(server, {k: v for k, v in records.items() if k != "PYSEC-2023-74"}, "1")
    _sync(db, server)
    _publish(server, records, "2")
    del server.resources["/PyPI/PYSEC-2023-74.json"]
    report = _sync(db, server)
    assert report.written == 0 and len(report.skipped) == 1
    assert "PYSEC-2023-74" in report.skipped[0]


def test_empty_csv_never_deletes_everything(tmp_path: Path, server: FeedServer) -> None:
    db = tmp_path / "a.db"
    _publish(server, _records(), "1")
    _sync(db, server)
    before = _digest(db)
    server.resources["/PyPI/modified_id.csv"] = Resource(b"", etag='"csv-empty"')
    with pytest.raises(FetchError, match="lists no records"):
        _sync(db, server)
    assert _digest(db) == before


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02T03:04:05Z,PYSEC-1\n", {"PYSEC-1": "2024-01-02T03:04:05+00:00"}),
        (
            "2024-01-02T03:04:05.5Z,A\n2024-01-02T03:04:05Z,B\n",
            {"A": "2024-01-02T03:04:05.500000+00:00", "B": "2024-01-02T03:04:05+00:00"},
        ),
        ("2024-01-02T03:04:05Z,PyPI/PYSEC-2\n", {"PYSEC-2": "2024-01-02T03:04:05+00:00"}),
        ("\n2024-01-02T05:04:05+02:00,X\n", {"X": "2024-01-02T03:04:05+00:00"}),
    ],
)
def test_modified_id_csv_lines(text: str, expected: dict[str, str]) -> None:
    parsed = parse_modified_csv(text, "csv")
    assert {k: v.astimezone(UTC).isoformat() for k, v in parsed.items()} == expected


@pytest.mark.parametrize(
    "text", ["PYSEC-1\n", "yesterday,PYSEC-1\n", "2024-01-02T03:04:05Z,\n", "a,b,c\n"]
)
def test_malformed_modified_id_csv_is_rejected(text: str) -> None:
    with pytest.raises(AdvisoryError):
        parse_modified_csv(text, "csv")


def test_cli_update_then_status_through_env_urls(tmp_path: Path, server: FeedServer) -> None:
    records = _records()
    _publish(server, records, "1")
    db = tmp_path / "data" / "advisories.db"
    env = {"CUSTOMHOUSE_OSV_URL": server.url, "CUSTOMHOUSE_DB": str(db)}
    r = run_cli("db", "update", "--source", "osv:PyPI", "--format", "json", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    out = json.loads(r.stdout)
    assert out["sources"][0]["records"] == len(records) and out["sources"][0]["mode"] == "full"

    server.resources["/PyPI/modified_id.csv"].before = [(429, {"Retry-After": "0"})]
    r = run_cli("db", "update", "--source", "osv:PyPI", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    assert "osv:PyPI" in r.stdout

    before = _digest(db)
    body = server.resources["/PyPI/all.zip"].body
    server.resources["/PyPI/all.zip"] = Resource(body, truncate_at=len(body) // 2)
    r = run_cli(
        "db", "update", "--full", "--source", "osv:PyPI", "--retries", "1", cwd=tmp_path, env=env
    )
    assert r.returncode == 3, r.stderr
    assert "announced" in r.stderr or "broke" in r.stderr
    assert _digest(db) == before

    r = run_cli("db", "status", "--format", "json", cwd=tmp_path, env=env)
    assert r.returncode == 0, r.stderr
    status = json.loads(r.stdout)
    assert status["vulnerabilities"] == len(records)
    assert [s["name"] for s in status["sources"]] == ["osv:PyPI"]


def test_cli_rejects_unknown_source(tmp_path: Path) -> None:
    r = run_cli(
        "db",
        "update",
        "--source",
        "rhel",
        cwd=tmp_path,
        env={"CUSTOMHOUSE_DB": str(tmp_path / "x.db")},
    )
    assert r.returncode == 2 and "unknown source" in r.stderr
