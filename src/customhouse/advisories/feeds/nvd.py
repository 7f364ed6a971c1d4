"""NVD CVE API 2.0: CVSS for records that carry no severity of their own.

The NVD is not a package feed here: it only adds CVSS vectors. :func:`sync_nvd`
pages through ``/rest/json/cves/2.0`` (``startIndex``, ``resultsPerPage`` <= 2000):
everything on the first sync, then only CVEs modified since the last sync point, in
``lastModStartDate``/``lastModEndDate`` windows of at most 120 days (the API's
limit). It keeps, per CVE, the NVD's v4.0 and v3.x vectors (v2 only when neither
exists) in a side table ``nvd_cvss`` of the database.

:func:`apply_nvd` then copies those vectors into every record that has no OSV
``severity`` (top level or per package) and names the CVE as id or alias, as
``database_specific.nvd_cvss: [{type, score, cve, source}]``. The feed's own fields
are never rewritten, so a record still says exactly what its feed said, and the
added data is visibly the NVD's. :func:`nvd_severity` gives a record's effective
vectors (its own, else the NVD's).

Rate limits (NVD "Start here" page): 5 requests per rolling 30 s without an API key,
50 with one (header ``apiKey``). The limiter enforces them; tests inject a tiny one.
"""

from __future__ import annotations

import json
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from customhouse.advisories.cvss import CVSSError
from customhouse.advisories.cvss import parse as parse_cvss
from customhouse.advisories.feeds.fetch import Fetcher, FetchError, SyncReport
from customhouse.advisories.osv import Vulnerability, parse_vulnerability
from customhouse.advisories.store import StoreBuilder, record_text

__all__ = [
    "ANONYMOUS",
    "DEFAULT_URL",
    "MAX_WINDOW",
    "SOURCE",
    "WITH_KEY",
    "RateLimit",
    "apply_nvd",
    "cvss_from_cve",
    "nvd_severity",
    "sync_nvd",
]

DEFAULT_URL = "https://services.nvd.nist.gov/rest/json/cves/2.0"
SOURCE = "nvd"
MAX_WINDOW = timedelta(days=120)
PAGE_SIZE = 2000
_OVERLAP = timedelta(minutes=5)  # re-read a little before the sync point: clocks differ
_MAX_PAGE_BYTES = 512 * 1024 * 1024

_TABLE = """
CREATE TABLE IF NOT EXISTS nvd_cvss (
  cve TEXT PRIMARY KEY,
  last_modified TEXT,
  vectors TEXT NOT NULL
)
"""


@dataclass(frozen=True, slots=True)
class RateLimit:
    """At most ``requests`` requests in any ``per_seconds`` window."""

    requests: int
    per_seconds: float

    def __post_init__(self) -> None:
        if self.requests < 1 or self.per_seconds < 0:
            raise ValueError("RateLimit needs requests >= 1 and per_seconds >= 0")

    @classmethod
    def parse(cls, text: str) -> RateLimit:
        """``"5/30"``: five requests per thirty seconds."""
        try:
            count, _, seconds = text.partition("/")
            return cls(int(count), float(seconds))
        except ValueError:
            from customhouse.errors import UsageError

            raise UsageError(f"rate {text!r}: use REQUESTS/SECONDS, e.g. 5/30") from None


ANONYMOUS = RateLimit(5, 30.0)
WITH_KEY = RateLimit(50, 30.0)


class _Limiter:
    def __init__(
        self,
        rate: RateLimit,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.rate = rate
        self._clock = clock
        self._sleep = sleep
        self._sent: deque[float] = deque()

    def wait(self) -> None:
        now = self._clock()
        while self._sent and self._sent[0] <= now - self.rate.per_seconds:
            self._sent.popleft()
        if len(self._sent) >= self.rate.requests:
            self._sleep(self._sent[0] + self.rate.per_seconds - now)
            self._sent.popleft()
        self._sent.append(self._clock())


_METRICS = (
    ("cvssMetricV40", "CVSS_V4"),
    ("cvssMetricV31", "CVSS_V3"),
    ("cvssMetricV30", "CVSS_V3"),
    ("cvssMetricV2", "CVSS_V2"),
)


def cvss_from_cve(cve: Mapping[str, Any]) -> list[dict[str, str]]:
    """The vectors worth keeping from one ``vulnerabilities[].cve`` object.

    Per metric kind the ``Primary`` entry wins, else the first. v3.0 only when there
    is no v3.1, v2 only when there is neither v3 nor v4. Invalid vectors are dropped.
    """
    metrics = cve.get("metrics")
    if not isinstance(metrics, dict):
        return []
    out: list[dict[str, str]] = []
    kinds: set[str] = set()
    for key, osv_type in _METRICS:
        entries = metrics.get(key)
        if not isinstance(entries, list) or not entries:
            continue
        if osv_type in kinds or (osv_type == "CVSS_V2" and kinds):
            continue
        ordered = sorted(
            (e for e in entries if isinstance(e, dict)),
            key=lambda e: 0 if e.get("type") == "Primary" else 1,
        )
        for entry in ordered:
            data = entry.get("cvssData")
            vector = data.get("vectorString") if isinstance(data, dict) else None
            if not isinstance(vector, str):
                continue
            try:
                parse_cvss(vector)
            except CVSSError:
                continue
            out.append(
                {"type": osv_type, "score": vector, "source": str(entry.get("source", "nvd"))}
            )
            kinds.add(osv_type)
            break
    return out


def _fmt(when: datetime) -> str:
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+00:00")


def _windows(start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
    out = []
    while start < end:
        stop = min(end, start + MAX_WINDOW)
        out.append((start, stop))
        start = stop
    return out


def sync_nvd(
    builder: StoreBuilder,
    fetcher: Fetcher,
    *,
    url: str = DEFAULT_URL,
    api_key: str | None = None,
    rate: RateLimit | None = None,
    full: bool = False,
    page_size: int = PAGE_SIZE,
    now: datetime | None = None,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> SyncReport:
    """Fetch CVSS vectors from the NVD into ``nvd_cvss``, then :func:`apply_nvd`."""
    if not 1 <= page_size <= PAGE_SIZE:
        raise ValueError(f"page_size must be 1..{PAGE_SIZE}")
    report = SyncReport(SOURCE, url)
    db = builder.db
    db.execute(_TABLE)
    info = builder.source_info(SOURCE)
    state = dict(info.extra) if info else {}
    end = now or datetime.now(UTC)
    since = state.get("synced_through") if not full else None
    limiter = _Limiter(rate or (WITH_KEY if api_key else ANONYMOUS), clock, sleep)
    headers = {"apiKey": api_key} if api_key else {}
    windows: list[tuple[datetime, datetime] | None]
    if isinstance(since, str):
        start = datetime.fromisoformat(since.replace("Z", "+00:00")) - _OVERLAP
        windows = list(_windows(start, end))
        report.mode = "incremental"
    else:
        windows = [None]
        report.mode = "full"
    seen = 0
    for window in windows:
        index = 0
        while True:
            params: dict[str, str | int] = {"startIndex": index, "resultsPerPage": page_size}
            if window is not None:
                params["lastModStartDate"] = _fmt(window[0])
                params["lastModEndDate"] = _fmt(window[1])
            limiter.wait()
            page = fetcher.get_json(
                url, what="NVD CVE API", params=params, headers=headers, max_bytes=_MAX_PAGE_BYTES
            )
            total, rows = _page(page, url)
            db.executemany(
                "INSERT OR REPLACE INTO nvd_cvss VALUES (?, ?, ?)",
                [(cve, modified, json.dumps(vectors)) for cve, modified, vectors in rows],
            )
            seen += len(rows)
            index += len(page.get("vulnerabilities") or [])
            if index >= total:
                break
            if not page.get("vulnerabilities"):
                raise FetchError(f"NVD CVE API: empty page at startIndex {index} of {total}")
    report.details = {"cves_seen": seen}
    state["synced_through"] = end.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    state["cves"] = int(db.execute("SELECT count(*) FROM nvd_cvss").fetchone()[0])
    builder.set_source(SOURCE, url=url, extra=state)
    report.written = seen
    report.records = state["cves"]
    report.details["records_enriched"] = apply_nvd(builder)
    return report


def _page(page: Any, url: str) -> tuple[int, list[tuple[str, str | None, list[dict[str, str]]]]]:
    if not isinstance(page, dict) or not isinstance(page.get("totalResults"), int):
        raise FetchError(f"NVD CVE API: {url} answered without 'totalResults'", url=url)
    vulns = page.get("vulnerabilities") or []
    if not isinstance(vulns, list):
        raise FetchError("NVD CVE API: 'vulnerabilities' is not a list", url=url)
    rows = []
    for item in vulns:
        cve = item.get("cve") if isinstance(item, dict) else None
        if not isinstance(cve, dict) or not isinstance(cve.get("id"), str):
            continue
        modified = cve.get("lastModified")
        rows.append(
            (cve["id"], modified if isinstance(modified, str) else None, cvss_from_cve(cve))
        )
    return int(page["totalResults"]), rows


def _has_severity(raw: Mapping[str, Any]) -> bool:
    if raw.get("severity"):
        return True
    return any(isinstance(a, dict) and a.get("severity") for a in raw.get("affected") or [])


def apply_nvd(builder: StoreBuilder) -> int:
    """Copy stored NVD vectors into records lacking a severity; returns how many changed."""
    db = builder.db
    exists = db.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'nvd_cvss'"
    ).fetchone()
    if not exists:
        return 0
    rows = db.execute(
        "SELECT v.id, v.source, v.json FROM vulns v WHERE v.id IN (SELECT cve FROM nvd_cvss)"
        " OR v.id IN (SELECT a.vuln_id FROM aliases a JOIN nvd_cvss n ON n.cve = a.alias)"
    ).fetchall()
    changed: dict[str, list[Vulnerability]] = {}
    for vid, source, text in rows:
        raw = json.loads(record_text(text, vid))
        specific = raw.get("database_specific")
        current = specific.get("nvd_cvss") if isinstance(specific, dict) else None
        wanted: list[dict[str, str]] | None = None
        if not _has_severity(raw):
            cves = [c for c in (vid, *(raw.get("aliases") or [])) if str(c).startswith("CVE-")]
            wanted = []
            for cve in dict.fromkeys(cves):
                found = db.execute("SELECT vectors FROM nvd_cvss WHERE cve = ?", (cve,)).fetchone()
                if found:
                    wanted.extend({**e, "cve": cve} for e in json.loads(found[0]))
            wanted = wanted or None
        if wanted == current:
            continue
        specific = dict(specific) if isinstance(specific, dict) else {}
        if wanted is None:
            specific.pop("nvd_cvss", None)
        else:
            specific["nvd_cvss"] = wanted
        raw["database_specific"] = specific
        if not specific:
            del raw["database_specific"]
        changed.setdefault(source, []).append(parse_vulnerability(raw, f"database record {vid}"))
    for source, records in changed.items():
        builder.add(records, source)
    return sum(len(r) for r in changed.values())


def nvd_severity(v: Vulnerability) -> tuple[tuple[str, str], ...]:
    """A record's CVSS vectors: its own (top level, then per package), else the NVD's."""
    if v.severity:
        return v.severity
    own: list[tuple[str, str]] = []
    for a in v.affected:
        own.extend(s for s in a.severity if s not in own)
    if own:
        return tuple(own)
    added = v.database_specific.get("nvd_cvss")
    if not isinstance(added, list):
        return ()
    return tuple(
        (str(e["type"]), str(e["score"]))
        for e in _dicts(added)
        if isinstance(e.get("type"), str) and isinstance(e.get("score"), str)
    )


def _dicts(items: Iterable[Any]) -> Iterable[Mapping[str, Any]]:
    return (i for i in items if isinstance(i, dict))
