"""Alpine secdb online: several branch files merged into one source, conditional re-fetch."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from customhouse.advisories.feeds.fetch import Fetcher
from customhouse.advisories.store import AdvisoryStore, StoreBuilder
from customhouse.advisories.update import SourceSpec, parse_sources, sync_alpine
from customhouse.distribution import RetryPolicy
from customhouse.errors import UsageError

from .feedserver import FeedServer, Resource, feed_server

DATA = Path(__file__).parents[2] / "data" / "advisories" / "alpine"
FILES = ["v3.19/main", "v3.20/main"]


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as s:
        for name in FILES:
            s.resources[f"/{name}.json"] = Resource(
                (DATA / f"{name}.json").read_bytes(), etag=f'"{name}-1"'
            )
        yield s


def _sync(db: Path, server: FeedServer) -> Any:
    retry = RetryPolicy(attempts=2, base_delay=0, sleep=lambda s: None)
    with Fetcher(retry=retry, progress=False) as f, StoreBuilder(db) as b:
        return sync_alpine(b, f, FILES, base_url=server.url)


def test_branches_merge_into_one_record_per_id(tmp_path: Path, server: FeedServer) -> None:
    db = tmp_path / "a.db"
    report = _sync(db, server)
    assert report.mode == "full"
    with AdvisoryStore(db) as store:
        curl = store.get("ALPINE-CVE-2024-6197")
        assert curl is not None
        assert [(a.ecosystem, a.name, a.ranges[0].events[-1].value) for a in curl.affected] == [
            ("Alpine:v3.19", "curl", "8.9.0-r0"),
            ("Alpine:v3.20", "curl", "8.9.0-r0"),
        ]
        # fixed in v3.19, "0" (never affected) in v3.20
        tls = store.get("CVE-2023-5363")
        assert tls is not None and [a.ecosystem for a in tls.affected] == ["Alpine:v3.19"]
        assert store.get("CVE-2022-1343") is None  # only a "0" entry anywhere
        (source,) = store.sources()
        assert (
            source.name == "alpine" and source.record_count == report.records == 13
        )  # 11 IDs in v3.19, 2 more in v3.20


def test_unchanged_files_answer_304_and_one_change_rebuilds_all(
    tmp_path: Path, server: FeedServer
) -> None:
    db = tmp_path / "a.db"
    _sync(db, server)
    server.requests.clear()
    assert _sync(db, server).mode == "unchanged"
    assert [r.headers.get("if-none-match") for r in server.requests] == [
        '"v3.19/main-1"',
        '"v3.20/main-1"',
    ]

    doc = json.loads((DATA / "v3.20/main.json").read_text())
    doc["packages"].append({"pkg": {"name": "zlib", "secfixes": {"1.3.1-r0": ["CVE-2023-45853"]}}})
    server.resources["/v3.20/main.json"] = Resource(json.dumps(doc).encode(), etag='"v3.20/main-2"')
    server.requests.clear()
    report = _sync(db, server)
    assert report.mode == "full" and report.records == 14
    # v3.19 answered 304, then was fetched again whole: the source is rebuilt from both
    assert [r.path for r in server.requests] == [
        "/v3.19/main.json",
        "/v3.20/main.json",
        "/v3.19/main.json",
    ]
    with AdvisoryStore(db) as store:
        assert store.get("ALPINE-CVE-2024-6197") is not None
        assert store.get("ALPINE-CVE-2023-45853") is not None


@pytest.mark.parametrize(
    ("text", "spec"),
    [
        ("osv:PyPI", SourceSpec("osv", "PyPI")),
        ("osv:crates.io", SourceSpec("osv", "crates.io")),
        ("debian", SourceSpec("debian")),
        ("nvd", SourceSpec("nvd")),
        ("alpine:v3.19/main", SourceSpec("alpine", "v3.19/main")),
        ("alpine:edge/community", SourceSpec("alpine", "edge/community")),
    ],
)
def test_source_specs(text: str, spec: SourceSpec) -> None:
    assert SourceSpec.parse(text) == spec and str(spec) == text


@pytest.mark.parametrize(
    "text",
    [
        "alpine:3.19/main",
        "alpine:v3.19/testing",
        "alpine:v3.19/../x",
        "debian:12",
        "osv:",
        "osv:../x",
        "ubuntu",
    ],
)
def test_bad_source_specs_are_usage_errors(text: str) -> None:
    with pytest.raises(UsageError):
        SourceSpec.parse(text)


def test_duplicate_sources_collapse_in_order() -> None:
    assert parse_sources(["debian", "osv:npm", "debian"]) == [
        SourceSpec("debian"),
        SourceSpec("osv", "npm"),
    ]
