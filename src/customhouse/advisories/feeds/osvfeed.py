"""The OSV bucket online: per-ecosystem ``all.zip``, then incremental updates.

Layout of the bucket (``https://osv-vulnerabilities.storage.googleapis.com``)::

    <ECOSYSTEM>/all.zip           every record of the ecosystem, one JSON file each
    <ECOSYSTEM>/modified_id.csv   "<RFC 3339 modified>,<ID>" per line, newest first
    <ECOSYSTEM>/<ID>.json         one record

The first sync (or ``--full``) imports ``all.zip``. Later syncs read
``modified_id.csv`` (conditionally: a 304 means nothing changed), fetch only the
records whose ``modified`` is newer than the stored copy (or that are not stored),
and delete stored records the csv no longer lists. When more records changed than
``max_incremental``, one ``all.zip`` is cheaper and is fetched instead.

The source is named ``osv:<ECOSYSTEM>``; its ``extra`` keeps the sync point
(``synced_through``: the newest ``modified`` seen) and the validators of the csv
and the zip.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from datetime import UTC, datetime
from urllib.parse import quote

from customhouse.advisories.feeds.fetch import Fetcher, FetchError, HTTPStatusError, SyncReport
from customhouse.advisories.feeds.osv import ImportReport
from customhouse.advisories.importer import add_zip
from customhouse.advisories.osv import (
    MAX_RECORD_BYTES,
    AdvisoryError,
    Vulnerability,
    parse_vulnerability,
)
from customhouse.advisories.store import StoreBuilder

__all__ = ["DEFAULT_URL", "MAX_INCREMENTAL", "parse_modified_csv", "parse_time", "sync_osv"]

DEFAULT_URL = "https://osv-vulnerabilities.storage.googleapis.com"
MAX_INCREMENTAL = 2000
_MAX_CSV_BYTES = 256 * 1024 * 1024


def parse_time(text: str) -> datetime:
    """An RFC 3339 timestamp (``Z`` or an offset, optional fraction) as an aware datetime."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        raise AdvisoryError(f"invalid RFC 3339 timestamp {text[:60]!r}") from None
    return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed


def parse_modified_csv(data: str, what: str) -> dict[str, datetime]:
    """``{ID: modified}`` from a ``modified_id.csv``; a malformed line is an error."""
    out: dict[str, datetime] = {}
    for n, row in enumerate(csv.reader(io.StringIO(data)), 1):
        if not row or (len(row) == 1 and not row[0].strip()):
            continue
        if len(row) != 2:
            raise AdvisoryError(f"{what} line {n}: expected '<modified>,<id>'")
        stamp, vid = row[0].strip(), row[1].strip()
        if "/" in vid:  # the bucket-wide csv prefixes the ecosystem: "PyPI/PYSEC-..."
            vid = vid.rsplit("/", 1)[1]
        try:
            when = parse_time(stamp)
        except AdvisoryError as e:
            raise AdvisoryError(f"{what} line {n}: {e}") from None
        if not vid:
            raise AdvisoryError(f"{what} line {n}: empty id")
        prev = out.get(vid)
        out[vid] = when if prev is None else max(prev, when)
    return out


def _iso(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sync_osv(
    builder: StoreBuilder,
    fetcher: Fetcher,
    ecosystem: str,
    *,
    base_url: str = DEFAULT_URL,
    full: bool = False,
    max_incremental: int = MAX_INCREMENTAL,
) -> SyncReport:
    """Bring the ``osv:<ecosystem>`` source of ``builder`` up to date with the bucket."""
    source = f"osv:{ecosystem}"
    eco_url = f"{base_url.rstrip('/')}/{quote(ecosystem, safe='')}"
    report = SyncReport(source, eco_url)
    info = builder.source_info(source)
    state = dict(info.extra) if info else {}
    if (
        not full
        and info is not None
        and state.get("synced_through")
        and _incremental(builder, fetcher, source, eco_url, state, report, max_incremental)
    ):
        return report
    _full(builder, fetcher, source, eco_url, state, report, conditional=not full)
    return report


def _stored(builder: StoreBuilder, source: str) -> dict[str, str]:
    return {
        r[0]: r[1]
        for r in builder.db.execute("SELECT id, modified FROM vulns WHERE source = ?", (source,))
    }


def _incremental(
    builder: StoreBuilder,
    fetcher: Fetcher,
    source: str,
    eco_url: str,
    state: dict[str, object],
    report: SyncReport,
    max_incremental: int,
) -> bool:
    """Apply modified_id.csv; False when a full sync is the better plan."""
    what = f"{source} modified_id.csv"
    got = fetcher.download(
        f"{eco_url}/modified_id.csv",
        what=what,
        etag=_str(state.get("csv_etag")),
        last_modified=_str(state.get("csv_last_modified")),
        max_bytes=_MAX_CSV_BYTES,
    )
    if got.not_modified:
        report.mode = "unchanged"
        builder.set_source(
            source,
            url=eco_url,
            etag=_str(state.get("csv_etag")),
            last_modified=_str(state.get("csv_last_modified")),
            extra=state,
        )
        report.records = _count(builder, source)
        return True
    assert got.path is not None
    report.downloaded_bytes += got.size
    try:
        listed = parse_modified_csv(got.path.read_text("utf-8"), what)
    except UnicodeDecodeError:
        raise FetchError(f"{what}: not UTF-8 text", url=got.url) from None
    finally:
        got.path.unlink(missing_ok=True)
    if not listed:
        # an empty listing would delete every record: refuse rather than trust it
        raise FetchError(f"{what}: {got.url} lists no records; refusing to delete them all")
    stored = _stored(builder, source)
    changed = []
    for vid, when in listed.items():
        have = stored.get(vid)
        if have is None:
            changed.append(vid)
            continue
        try:
            if when > parse_time(have):
                changed.append(vid)
        except AdvisoryError:
            changed.append(vid)  # a stored record with a broken timestamp: refresh it
    if len(changed) > max_incremental:
        report.details["reason"] = f"{len(changed)} records changed; fetching all.zip instead"
        return False
    gone = sorted(set(stored) - set(listed))
    records: list[Vulnerability] = []
    with fetcher.counter(f"{source}: records", len(changed)) as advance:
        for vid in changed:
            record = _fetch_record(fetcher, eco_url, vid, source, report)
            if record is not None:
                records.append(record)
            advance(1)
    report.written = builder.add(records, source)
    builder.delete(gone)
    report.deleted = len(gone)
    report.mode = "incremental"
    newest = max(listed.values())
    state.update(
        {
            "synced_through": _iso(newest),
            "csv_etag": got.etag,
            "csv_last_modified": got.last_modified,
            "last_mode": "incremental",
        }
    )
    builder.set_source(
        source, url=eco_url, etag=got.etag, last_modified=got.last_modified, extra=state
    )
    report.records = _count(builder, source)
    return True


def _fetch_record(
    fetcher: Fetcher, eco_url: str, vid: str, source: str, report: SyncReport
) -> Vulnerability | None:
    url = f"{eco_url}/{quote(vid, safe='')}.json"
    try:
        obj = fetcher.get_json(url, what=f"{source} {vid}", max_bytes=MAX_RECORD_BYTES)
    except HTTPStatusError as e:
        if e.status == 404:  # listed but gone: the next csv will not list it
            report.skipped.append(f"{vid}: listed in modified_id.csv but {url} is missing")
            return None
        raise
    try:
        record = parse_vulnerability(obj, url)
    except AdvisoryError as e:
        report.skipped.append(str(e))
        return None
    if record.id != vid:
        report.skipped.append(f"{url}: holds record {record.id!r}, not {vid!r}")
        return None
    return record


def _full(
    builder: StoreBuilder,
    fetcher: Fetcher,
    source: str,
    eco_url: str,
    state: dict[str, object],
    report: SyncReport,
    *,
    conditional: bool,
) -> None:
    got = fetcher.download(
        f"{eco_url}/all.zip",
        what=f"{source} all.zip",
        etag=_str(state.get("zip_etag")) if conditional else None,
        last_modified=_str(state.get("zip_last_modified")) if conditional else None,
    )
    if got.not_modified:
        report.mode = "unchanged"
        builder.set_source(source, url=eco_url, extra=state)
        report.records = _count(builder, source)
        return
    assert got.path is not None
    report.downloaded_bytes += got.size
    zip_report = ImportReport()
    builder.clear_source(source)  # (a failure below abandons the whole update)
    try:
        written = add_zip(builder, got.path, source, zip_report)
    finally:
        got.path.unlink(missing_ok=True)
    report.skipped.extend(zip_report.skipped)
    if not written:
        raise FetchError(f"{source}: {eco_url}/all.zip holds no records; keeping the stored ones")
    report.written = len(written)
    report.mode = "full"
    newest = max(_times(written.values()), default=None)
    state = {
        "synced_through": _iso(newest) if newest else None,
        "zip_etag": got.etag,
        "zip_last_modified": got.last_modified,
        "last_mode": "full",
    }
    builder.set_source(source, url=eco_url, extra=state)
    report.records = _count(builder, source)


def _times(modified: Iterable[str]) -> list[datetime]:
    out = []
    for text in modified:
        try:
            out.append(parse_time(text))
        except AdvisoryError:
            continue
    return out


def _count(builder: StoreBuilder, source: str) -> int:
    row = builder.db.execute("SELECT count(*) FROM vulns WHERE source = ?", (source,)).fetchone()
    return int(row[0])


def _str(value: object) -> str | None:
    return value if isinstance(value, str) and value else None
