"""The feed downloader against a real loopback HTTP server: validators, retries, limits, truncation."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from customhouse.advisories.feeds.fetch import (
    DownloadTooLargeError,
    DownloadTruncatedError,
    Fetcher,
    FetchError,
    HTTPStatusError,
)
from customhouse.distribution import RetryPolicy
from customhouse.errors import EXIT_OPERATIONAL

from .feedserver import FeedServer, Resource, feed_server

BODY = b"2024-01-02T03:04:05Z,PYSEC-2024-1\n" * 2000


@pytest.fixture
def server() -> Iterator[FeedServer]:
    with feed_server() as s:
        yield s


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def _fetcher(sleeps: Sleeps, attempts: int = 4, **kw: object) -> Fetcher:
    policy = RetryPolicy(attempts=attempts, base_delay=0.25, max_retry_after=30.0, sleep=sleeps)
    return Fetcher(retry=policy, progress=False, **kw)  # type: ignore[arg-type]


def test_download_streams_body_to_a_file_and_reports_validators(server: FeedServer) -> None:
    server.resources["/f.csv"] = Resource(
        BODY, etag='"v1"', last_modified="Tue, 02 Jan 2024 03:04:05 GMT"
    )
    with _fetcher(Sleeps()) as f:
        got = f.download(f"{server.url}/f.csv", what="test")
        assert got.path is not None and got.path.read_bytes() == BODY
        assert (got.status, got.etag, got.size) == (200, '"v1"', len(BODY))
        assert got.last_modified == "Tue, 02 Jan 2024 03:04:05 GMT"
        path = got.path
    assert not path.exists()  # temporary files go away with the fetcher


@pytest.mark.parametrize(
    ("etag", "last_modified", "sent_header"),
    [('"v1"', None, "if-none-match"), (None, "Tue, 02 Jan 2024 03:04:05 GMT", "if-modified-since")],
)
def test_conditional_get_answered_304_means_not_modified(
    server: FeedServer, etag: str | None, last_modified: str | None, sent_header: str
) -> None:
    server.resources["/f.csv"] = Resource(
        BODY, etag='"v1"', last_modified="Tue, 02 Jan 2024 03:04:05 GMT"
    )
    with _fetcher(Sleeps()) as f:
        got = f.download(f"{server.url}/f.csv", what="test", etag=etag, last_modified=last_modified)
    assert got.not_modified and got.path is None
    assert sent_header in server.requests[-1].headers


def test_stale_etag_gets_the_new_body(server: FeedServer) -> None:
    server.resources["/f.csv"] = Resource(BODY, etag='"v2"')
    with _fetcher(Sleeps()) as f:
        got = f.download(f"{server.url}/f.csv", what="test", etag='"v1"')
    assert got.status == 200 and got.etag == '"v2"'


def test_429_with_retry_after_seconds_is_honoured(server: FeedServer) -> None:
    server.resources["/f"] = Resource(
        BODY, before=[(429, {"Retry-After": "7"}), (429, {"Retry-After": "3"})]
    )
    sleeps = Sleeps()
    with _fetcher(sleeps) as f:
        got = f.download(f"{server.url}/f", what="test")
    assert got.size == len(BODY)
    assert sleeps == [7.0, 3.0]
    assert len(server.requests) == 3


def test_retry_after_http_date_is_honoured_and_capped(server: FeedServer) -> None:
    soon = format_datetime(datetime.now(UTC) + timedelta(seconds=20), usegmt=True)
    far = format_datetime(datetime.now(UTC) + timedelta(days=2), usegmt=True)
    server.resources["/f"] = Resource(
        BODY, before=[(503, {"Retry-After": soon}), (429, {"Retry-After": far})]
    )
    sleeps = Sleeps()
    with _fetcher(sleeps) as f:
        f.download(f"{server.url}/f", what="test")
    assert 15.0 <= sleeps[0] <= 20.0
    assert sleeps[1] == 30.0  # capped at max_retry_after


def test_5xx_without_retry_after_backs_off_exponentially_then_fails(server: FeedServer) -> None:
    server.resources["/f"] = Resource(BODY, before=[(503, {})] * 10)
    sleeps = Sleeps()
    with _fetcher(sleeps, attempts=4) as f, pytest.raises(HTTPStatusError) as e:
        f.download(f"{server.url}/f", what="test")
    assert sleeps == [0.25, 0.5, 1.0]
    assert e.value.status == 503 and e.value.exit_code == EXIT_OPERATIONAL


def test_404_is_not_retried(server: FeedServer) -> None:
    sleeps = Sleeps()
    with _fetcher(sleeps) as f, pytest.raises(HTTPStatusError) as e:
        f.download(f"{server.url}/missing", what="test")
    assert e.value.status == 404 and sleeps == [] and len(server.requests) == 1


def test_truncated_body_is_an_error_after_retries(server: FeedServer) -> None:
    server.resources["/all.zip"] = Resource(BODY, truncate_at=len(BODY) // 2)
    sleeps = Sleeps()
    with _fetcher(sleeps, attempts=2) as f, pytest.raises(DownloadTruncatedError) as e:
        f.download(f"{server.url}/all.zip", what="test")
    assert e.value.exit_code == EXIT_OPERATIONAL
    assert len(server.requests) == 2 and len(sleeps) == 1


def test_truncated_once_then_complete_is_retried_from_the_start(server: FeedServer) -> None:
    server.resources["/all.zip"] = Resource(BODY, truncate_at=100, truncate_times=1)
    sleeps = Sleeps()
    with _fetcher(sleeps, attempts=3) as f:
        got = f.download(f"{server.url}/all.zip", what="test")
        assert got.path is not None and got.path.read_bytes() == BODY
    assert len(server.requests) == 2 and sleeps == [0.25]


def test_size_ceiling_from_content_length(server: FeedServer) -> None:
    server.resources["/big"] = Resource(BODY)
    with _fetcher(Sleeps(), max_bytes=1000) as f, pytest.raises(DownloadTooLargeError):
        f.download(f"{server.url}/big", what="test")


def test_size_ceiling_counts_decoded_bytes_of_a_gzip_body(server: FeedServer) -> None:
    bomb = b"\0" * (4 * 1024 * 1024)
    server.resources["/bomb"] = Resource(bomb, gzip=True)
    with _fetcher(Sleeps(), max_bytes=1024 * 1024) as f, pytest.raises(DownloadTooLargeError):
        f.download(f"{server.url}/bomb", what="test")


def test_gzip_encoded_body_is_decoded(server: FeedServer) -> None:
    server.resources["/j"] = Resource(b'{"a": [1, 2, 3]}', gzip=True)
    with _fetcher(Sleeps()) as f:
        assert f.get_json(f"{server.url}/j", what="test") == {"a": [1, 2, 3]}


def test_connection_refused_becomes_operational_error() -> None:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    sleeps = Sleeps()
    with _fetcher(sleeps, attempts=2) as f, pytest.raises(FetchError) as e:
        f.download(f"http://127.0.0.1:{port}/x", what="test")
    assert e.value.exit_code == EXIT_OPERATIONAL and sleeps == [0.25]


def test_api_key_in_query_never_appears_in_errors(server: FeedServer) -> None:
    with _fetcher(Sleeps()) as f, pytest.raises(HTTPStatusError) as e:
        f.download(f"{server.url}/missing", what="test", params={"apiKey": "s3cret"})
    assert "s3cret" not in str(e.value)
