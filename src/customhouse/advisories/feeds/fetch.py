"""Downloading feeds: conditional GET, bounded retries, a size ceiling, streaming to disk.

- Conditional GET: ``If-None-Match`` / ``If-Modified-Since`` from the source's stored
  ETag / Last-Modified; ``304 Not Modified`` means "unchanged" (no body, nothing to do).
- Retries: 408, 429 and transient 5xx answers, connection failures and broken bodies
  are retried with exponential backoff; a ``Retry-After`` header (seconds or an
  HTTP-date) replaces the backoff, capped. The policy is the distribution client's
  :class:`~customhouse.distribution.RetryPolicy`, so both share one set of knobs.
- Bodies stream into a temporary file, never whole into memory, and stop at a size
  ceiling (counted on decoded bytes, so a gzip bomb stops there too).
- Truncation: a body shorter than its ``Content-Length`` or a connection that breaks
  mid-body is an error (after the retries), never a short file handed on.
- A rich progress bar goes to stderr when stderr is a terminal.

Every failure is a :class:`FetchError` (an :class:`~customhouse.errors.OperationalError`,
exit 3); since feeds write through a :class:`~customhouse.advisories.store.StoreBuilder`,
a failed download leaves the previous database untouched.
"""

from __future__ import annotations

import json
import shutil
import sys
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from customhouse import __version__
from customhouse.distribution import RetryPolicy, Timeouts
from customhouse.errors import OperationalError

__all__ = [
    "DEFAULT_MAX_BYTES",
    "Download",
    "DownloadTooLargeError",
    "DownloadTruncatedError",
    "FetchError",
    "Fetcher",
    "HTTPStatusError",
    "SyncReport",
]

DEFAULT_MAX_BYTES = 2 * 1024 * 1024 * 1024  # 2 GiB: the largest OSV all.zip is a few hundred MB
_RETRY_STATUSES = frozenset({408, 429, 500, 502, 503, 504})  # as the distribution client
_CHUNK = 1024 * 1024


class FetchError(OperationalError):
    """A feed could not be downloaded (network, server or size failure)."""

    def __init__(self, message: str, *, url: str | None = None) -> None:
        super().__init__(message)
        self.url = url


class HTTPStatusError(FetchError):
    """The server answered with an unexpected status."""

    def __init__(self, message: str, *, url: str, status: int) -> None:
        super().__init__(message, url=url)
        self.status = status


class DownloadTruncatedError(FetchError):
    """The body ended before its announced length, or the connection broke mid-body."""


class DownloadTooLargeError(FetchError):
    """The body is larger than the configured ceiling."""


@dataclass(frozen=True, slots=True)
class Download:
    """One completed GET. ``path`` is a temporary file (None for 304 Not Modified)."""

    url: str
    status: int
    path: Path | None
    etag: str | None
    last_modified: str | None
    size: int  # decoded bytes written to ``path``

    @property
    def not_modified(self) -> bool:
        return self.status == 304


@dataclass
class SyncReport:
    """What one online source did: its mode, what it wrote and what it skipped (never silently)."""

    source: str
    url: str
    mode: str = "full"  # full | incremental | unchanged
    downloaded_bytes: int = 0
    written: int = 0  # records added or replaced
    deleted: int = 0
    records: int = 0  # records the source holds after the update
    skipped: list[str] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)


def _public(url: httpx.URL | str) -> str:
    """A URL fit for messages: no query string (it may carry an API key)."""
    return str(httpx.URL(str(url)).copy_with(query=None, fragment=None))


class Fetcher:
    """An HTTP client for feeds; its temporary files live until :meth:`close`."""

    def __init__(
        self,
        *,
        retry: RetryPolicy | None = None,
        timeouts: Timeouts | None = None,
        max_bytes: int = DEFAULT_MAX_BYTES,
        progress: bool | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        self.retry = retry or RetryPolicy()
        self.max_bytes = max_bytes
        self.progress = sys.stderr.isatty() if progress is None else progress
        self._http = httpx.Client(
            timeout=(timeouts or Timeouts()).to_httpx(),
            headers={
                "User-Agent": f"customhouse/{__version__}",
                "Accept-Encoding": "gzip",
                **(headers or {}),
            },
            follow_redirects=True,
        )
        self._tmp = Path(tempfile.mkdtemp(prefix="customhouse-feed-"))
        self._seq = 0

    def close(self) -> None:
        self._http.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> Fetcher:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- public operations ---------------------------------------------------------

    def download(
        self,
        url: str,
        *,
        what: str,
        etag: str | None = None,
        last_modified: str | None = None,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
        show_progress: bool = True,
    ) -> Download:
        """GET ``url`` into a temporary file (or report 304 when the validators still hold)."""
        extra = dict(headers or {})
        if etag:
            extra["If-None-Match"] = etag
        if last_modified:
            extra["If-Modified-Since"] = last_modified
        limit = self.max_bytes if max_bytes is None else min(max_bytes, self.max_bytes)
        failures = 0
        while True:
            try:
                return self._attempt(url, what, params, extra, limit, show_progress)
            except _Retryable as r:
                failures += 1
                if failures >= self.retry.attempts:
                    raise r.final from r.cause
                self.retry.sleep(self.retry.delay(failures, r.retry_after))

    def get_json(
        self,
        url: str,
        *,
        what: str,
        params: Mapping[str, str | int] | None = None,
        headers: Mapping[str, str] | None = None,
        max_bytes: int | None = None,
    ) -> Any:
        """GET and parse a JSON document (streamed to disk first, then parsed)."""
        got = self.download(
            url, what=what, params=params, headers=headers, max_bytes=max_bytes, show_progress=False
        )
        assert got.path is not None
        try:
            with open(got.path, "rb") as f:
                return json.load(f)
        except (ValueError, RecursionError) as e:
            raise FetchError(f"{what}: {_public(url)} is not valid JSON: {e}", url=url) from None
        finally:
            got.path.unlink(missing_ok=True)

    @contextmanager
    def counter(self, description: str, total: int) -> Iterator[Callable[[int], None]]:
        """A progress bar over a count of items (on stderr, only on a terminal)."""
        if not self.progress or total <= 0:
            yield lambda n: None
            return
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

        with Progress(
            TextColumn(description),
            BarColumn(),
            MofNCompleteColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as bar:
            task = bar.add_task(description, total=total)
            yield lambda n: bar.advance(task, n)

    # --- one attempt ---------------------------------------------------------------

    def _attempt(
        self,
        url: str,
        what: str,
        params: Mapping[str, str | int] | None,
        headers: Mapping[str, str],
        limit: int,
        show_progress: bool,
    ) -> Download:
        shown = _public(url)
        try:
            with self._http.stream("GET", url, params=params, headers=headers) as resp:
                if resp.status_code == 304:
                    return Download(
                        shown,
                        304,
                        None,
                        resp.headers.get("etag"),
                        resp.headers.get("last-modified"),
                        0,
                    )
                if resp.status_code in _RETRY_STATUSES:
                    raise _Retryable(
                        HTTPStatusError(
                            f"{what}: {shown} answered HTTP {resp.status_code}",
                            url=shown,
                            status=resp.status_code,
                        ),
                        retry_after=resp.headers.get("retry-after"),
                    )
                if resp.status_code != 200:
                    raise HTTPStatusError(
                        f"{what}: {shown} answered HTTP {resp.status_code}",
                        url=shown,
                        status=resp.status_code,
                    )
                length = _content_length(resp)
                if (
                    length is not None
                    and length > limit
                    and not resp.headers.get("content-encoding")
                ):
                    raise DownloadTooLargeError(
                        f"{what}: {shown} is {length} bytes, more than the limit of {limit}",
                        url=shown,
                    )
                return self._body(resp, shown, what, length, limit, show_progress)
        except httpx.TransportError as e:
            raise _Retryable(
                FetchError(f"{what}: cannot download {shown}: {type(e).__name__}: {e}", url=shown),
                cause=e,
            ) from None
        except httpx.DecodingError as e:
            raise _Retryable(
                DownloadTruncatedError(f"{what}: {shown}: corrupt compressed body: {e}", url=shown),
                cause=e,
            ) from None

    def _body(
        self,
        resp: httpx.Response,
        shown: str,
        what: str,
        length: int | None,
        limit: int,
        show_progress: bool,
    ) -> Download:
        self._seq += 1
        path = self._tmp / f"{self._seq:06d}.part"
        written = 0
        ok = False
        try:
            with open(path, "wb") as out, self._bar(what, length, show_progress) as advance:
                try:
                    for chunk in resp.iter_bytes(_CHUNK):
                        written += len(chunk)
                        if written > limit:
                            raise DownloadTooLargeError(
                                f"{what}: {shown} is larger than the limit of {limit} bytes",
                                url=shown,
                            )
                        out.write(chunk)
                        advance(len(chunk))
                except (httpx.TransportError, httpx.StreamError) as e:
                    raise _Retryable(
                        DownloadTruncatedError(
                            f"{what}: download of {shown} broke after"
                            f" {resp.num_bytes_downloaded} bytes"
                            + (f" of {length}" if length is not None else "")
                            + f": {type(e).__name__}: {e}",
                            url=shown,
                        ),
                        cause=e,
                    ) from None
            got = resp.num_bytes_downloaded
            if length is not None and got != length:
                raise _Retryable(
                    DownloadTruncatedError(
                        f"{what}: {shown} sent {got} bytes but announced {length}", url=shown
                    )
                )
            ok = True
        except OSError as e:
            raise FetchError(f"{what}: cannot write a temporary file: {e.strerror}") from None
        finally:
            if not ok:
                path.unlink(missing_ok=True)
        return Download(
            shown,
            resp.status_code,
            path,
            resp.headers.get("etag"),
            resp.headers.get("last-modified"),
            written,
        )

    @contextmanager
    def _bar(self, what: str, total: int | None, show: bool) -> Iterator[Callable[[int], None]]:
        if not (self.progress and show):
            yield lambda n: None
            return
        from rich.console import Console
        from rich.progress import (
            BarColumn,
            DownloadColumn,
            Progress,
            TextColumn,
            TimeRemainingColumn,
            TransferSpeedColumn,
        )

        with Progress(
            TextColumn(f"[bold]{what}"),
            BarColumn(),
            DownloadColumn(),
            TransferSpeedColumn(),
            TimeRemainingColumn(),
            console=Console(stderr=True),
            transient=True,
        ) as bar:
            task = bar.add_task(what, total=total)
            yield lambda n: bar.advance(task, n)


class _Retryable(Exception):
    """Internal: an attempt failed in a way worth retrying; ``final`` is raised when out of tries."""

    def __init__(
        self,
        final: FetchError,
        *,
        retry_after: str | None = None,
        cause: BaseException | None = None,
    ) -> None:
        super().__init__(str(final))
        self.final = final
        self.retry_after = retry_after
        self.cause = cause


def _content_length(resp: httpx.Response) -> int | None:
    raw = resp.headers.get("content-length")
    if raw is None or not raw.strip().isdigit():
        return None
    return int(raw)
