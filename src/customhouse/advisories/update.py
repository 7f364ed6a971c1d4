"""``db update``: bring the advisory database up to date from the online feeds.

Sources are named on the command line (``--source``) as:

==========================  ===============================================================
``osv:<ECOSYSTEM>``         the OSV bucket's ecosystem (``osv:PyPI``, ``osv:npm``, ...)
``debian``                  the Debian security tracker JSON
``alpine:<vX.Y>/<repo>``    one Alpine secdb file (``alpine:v3.19/main``); all of them are
                            merged into the one ``alpine`` source, as ``db import`` does
``nvd``                     CVSS from the NVD CVE API 2.0 for records without a severity
==========================  ===============================================================

:data:`DEFAULT_SOURCES` covers the language ecosystems customhouse catalogs, Debian,
and the supported Alpine branches; ``nvd`` joins them when an API key is configured
(without one a first NVD sync takes about 15 minutes at 5 requests per 30 s).

Everything happens in one :class:`~customhouse.advisories.store.StoreBuilder`: the
new database is built beside the old one and swapped in only when every source
succeeded, so a failed or truncated download leaves the previous file byte-identical.
Each base URL can be overridden (mirrors, tests).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from customhouse.advisories.feeds import debian as _debian
from customhouse.advisories.feeds import nvd as _nvd
from customhouse.advisories.feeds import osvfeed as _osvfeed
from customhouse.advisories.feeds.alpine import SecdbCollector, is_secdb
from customhouse.advisories.feeds.fetch import DEFAULT_MAX_BYTES, Fetcher, FetchError, SyncReport
from customhouse.advisories.osv import AdvisoryError
from customhouse.advisories.store import StoreBuilder
from customhouse.distribution import RetryPolicy
from customhouse.errors import UsageError

__all__ = [
    "ALPINE_DEFAULT_URL",
    "DEFAULT_SOURCES",
    "SourceSpec",
    "UpdateConfig",
    "parse_sources",
    "update",
]

ALPINE_DEFAULT_URL = "https://secdb.alpinelinux.org"
ALPINE_SOURCE = "alpine"

OSV_ECOSYSTEMS = ("PyPI", "npm", "Go", "Maven", "crates.io", "RubyGems", "NuGet", "Packagist")
ALPINE_BRANCHES = ("v3.18", "v3.19", "v3.20", "v3.21", "v3.22")
DEFAULT_SOURCES: tuple[str, ...] = (
    *(f"osv:{e}" for e in OSV_ECOSYSTEMS),
    "debian",
    *(f"alpine:{b}/{r}" for b in ALPINE_BRANCHES for r in ("main", "community")),
)

_ALPINE_ARG = re.compile(r"^(v\d+\.\d+|edge)/(main|community)$")
_OSV_ECOSYSTEM = re.compile(r"^[A-Za-z0-9][A-Za-z0-9.:_ -]{0,63}$")
_MAX_SECDB_BYTES = 64 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class SourceSpec:
    kind: str  # osv | debian | alpine | nvd
    arg: str | None = None

    @classmethod
    def parse(cls, text: str) -> SourceSpec:
        kind, sep, arg = text.strip().partition(":")
        if kind in ("debian", "nvd"):
            if sep:
                raise UsageError(f"--source {text!r}: {kind} takes no argument")
            return cls(kind)
        if kind == "osv":
            if not _OSV_ECOSYSTEM.match(arg):
                raise UsageError(f"--source {text!r}: use osv:ECOSYSTEM, e.g. osv:PyPI")
            return cls(kind, arg)
        if kind == "alpine":
            if not _ALPINE_ARG.match(arg):
                raise UsageError(
                    f"--source {text!r}: use alpine:vX.Y/main or alpine:vX.Y/community"
                )
            return cls(kind, arg)
        raise UsageError(
            f"--source {text!r}: unknown source; use osv:ECOSYSTEM, debian, alpine:vX.Y/REPO or nvd"
        )

    def __str__(self) -> str:
        return f"{self.kind}:{self.arg}" if self.arg else self.kind


def parse_sources(texts: Sequence[str]) -> list[SourceSpec]:
    """Parse and de-duplicate, keeping the order given."""
    return list(dict.fromkeys(SourceSpec.parse(t) for t in texts))


@dataclass(frozen=True)
class UpdateConfig:
    osv_url: str = _osvfeed.DEFAULT_URL
    debian_url: str = _debian.DEFAULT_URL
    alpine_url: str = ALPINE_DEFAULT_URL
    nvd_url: str = _nvd.DEFAULT_URL
    nvd_api_key: str | None = field(default=None, repr=False)
    nvd_rate: _nvd.RateLimit | None = None
    full: bool = False
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    max_bytes: int = DEFAULT_MAX_BYTES
    progress: bool | None = None  # None: when stderr is a terminal


def update(path: Path, specs: Sequence[SourceSpec], config: UpdateConfig) -> list[SyncReport]:
    """Update ``path`` from ``specs``; all sources succeed and swap in together, or none does."""
    if not specs:
        raise UsageError("no sources to update")
    reports: list[SyncReport] = []
    with (
        Fetcher(
            retry=config.retry, max_bytes=config.max_bytes, progress=config.progress
        ) as fetcher,
        StoreBuilder(path) as builder,
    ):
        for spec in specs:
            if spec.kind == "osv":
                assert spec.arg is not None
                reports.append(
                    _osvfeed.sync_osv(
                        builder, fetcher, spec.arg, base_url=config.osv_url, full=config.full
                    )
                )
            elif spec.kind == "debian":
                reports.append(
                    _debian.sync_debian(builder, fetcher, url=config.debian_url, full=config.full)
                )
        alpine = [s.arg for s in specs if s.kind == "alpine" and s.arg]
        if alpine:
            reports.append(sync_alpine(builder, fetcher, alpine, base_url=config.alpine_url))
        if any(s.kind == "nvd" for s in specs):
            reports.append(
                _nvd.sync_nvd(
                    builder,
                    fetcher,
                    url=config.nvd_url,
                    api_key=config.nvd_api_key,
                    rate=config.nvd_rate,
                    full=config.full,
                )
            )
        else:
            _nvd.apply_nvd(builder)  # vectors fetched earlier still apply to new records
    return reports


def sync_alpine(
    builder: StoreBuilder,
    fetcher: Fetcher,
    files: Sequence[str],
    *,
    base_url: str = ALPINE_DEFAULT_URL,
) -> SyncReport:
    """The ``alpine`` source from secdb files (``v3.19/main`` ...), merged into one record per ID.

    Each file is fetched conditionally. When every file is unchanged and the set of
    files is the same as last time, the source is kept; otherwise it is rebuilt from
    all of them (unchanged files are fetched again: they are small).
    """
    base = base_url.rstrip("/")
    report = SyncReport(ALPINE_SOURCE, base)
    info = builder.source_info(ALPINE_SOURCE)
    previous = info.extra.get("files", {}) if info else {}
    if not isinstance(previous, dict):
        previous = {}
    wanted = sorted(dict.fromkeys(files))
    validators: dict[str, dict[str, str | None]] = {}
    bodies: dict[str, Any] = {}
    conditional = set(previous) == set(wanted)
    for name in wanted:
        url = f"{base}/{name}.json"
        old = previous.get(name) if conditional else None
        old = old if isinstance(old, dict) else {}
        got = fetcher.download(
            url,
            what=f"alpine secdb {name}",
            etag=old.get("etag"),
            last_modified=old.get("last_modified"),
            max_bytes=_MAX_SECDB_BYTES,
        )
        if got.not_modified:
            validators[name] = {"etag": old.get("etag"), "last_modified": old.get("last_modified")}
            continue
        assert got.path is not None
        report.downloaded_bytes += got.size
        bodies[name] = _load_secdb(got.path, url)
        validators[name] = {"etag": got.etag, "last_modified": got.last_modified}
    if not bodies and info is not None:
        report.mode = "unchanged"
        builder.set_source(ALPINE_SOURCE, url=base, extra=dict(info.extra))
        report.records = info.record_count
        return report
    for name in wanted:  # files that answered 304 while others changed: fetch them again
        if name not in bodies:
            url = f"{base}/{name}.json"
            got = fetcher.download(url, what=f"alpine secdb {name}", max_bytes=_MAX_SECDB_BYTES)
            assert got.path is not None
            report.downloaded_bytes += got.size
            bodies[name] = _load_secdb(got.path, url)
            validators[name] = {"etag": got.etag, "last_modified": got.last_modified}
    collector = SecdbCollector()
    for name in wanted:
        try:
            collector.add(bodies[name], f"{base}/{name}.json")
        except AdvisoryError as e:
            raise FetchError(f"alpine secdb {name}: {e}") from None
    records = collector.records()
    builder.clear_source(ALPINE_SOURCE)
    report.written = builder.add(records, ALPINE_SOURCE)
    report.skipped = list(collector.skipped)
    report.details = {
        "secdb fix entries": collector.entries,
        "never-affected entries": collector.never_affected,
        "packages": len(collector.packages),
    }
    builder.set_source(ALPINE_SOURCE, url=base, extra={"files": validators, **report.details})
    report.records = report.written
    return report


def _load_secdb(path: Path, url: str) -> Any:
    try:
        with open(path, "rb") as f:
            doc = json.load(f)
    except (ValueError, RecursionError) as e:
        raise FetchError(f"alpine secdb: {url} is not valid JSON: {e}", url=url) from None
    finally:
        path.unlink(missing_ok=True)
    if not is_secdb(doc):
        raise FetchError(f"alpine secdb: {url} is not a secdb file", url=url)
    return doc
