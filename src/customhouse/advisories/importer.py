"""``db import``: offline files, directories and zips, in any supported feed format."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

from customhouse.advisories.feeds.alpine import SecdbCollector, is_secdb
from customhouse.advisories.feeds.osv import (
    MAX_RECORD_BYTES,
    ImportReport,
    iter_zip,
    load_text,
    records_from_object,
)
from customhouse.advisories.osv import AdvisoryError, Vulnerability
from customhouse.advisories.store import StoreBuilder
from customhouse.errors import SourceError

_SUFFIXES = (".json", ".yaml", ".yml")


def _files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for p in sorted(root.rglob("*")):
        if p.is_file() and not p.is_symlink() and (p.suffix in _SUFFIXES or p.suffix == ".zip"):
            yield p


def import_paths(builder: StoreBuilder, paths: Sequence[Path]) -> dict[str, ImportReport]:
    """Import each path as its own source, named after it; returns a report per source."""
    reports: dict[str, ImportReport] = {}
    for root in paths:
        if not root.exists():
            raise SourceError(f"{root}: no such file or directory")
        report = ImportReport()
        secdb = SecdbCollector()
        osv: dict[str, Vulnerability] = {}
        for path in _files(root):
            if path.suffix == ".zip":
                for v in iter_zip(path, report):
                    osv[v.id] = v
                continue
            report.files += 1
            try:
                if path.stat().st_size > MAX_RECORD_BYTES * 8:
                    raise AdvisoryError(f"{path}: too large for an advisory file")
                data = path.read_bytes()
                obj = load_text(data, path.name)
                if obj is None:
                    report.skipped.append(f"{path}: empty")
                    continue
                if is_secdb(obj):
                    secdb.add(obj, str(path))
                    report.by_kind["secdb files"] = report.by_kind.get("secdb files", 0) + 1
                    continue
                text = data if path.suffix == ".json" else None
                for v in records_from_object(obj, str(path), text):
                    osv[v.id] = v
            except AdvisoryError as e:
                report.skipped.append(str(e))
        records = list(osv.values()) + secdb.records()
        report.skipped.extend(secdb.skipped)
        if osv:
            report.by_kind["osv records"] = len(osv)
        if secdb.entries:
            report.by_kind["secdb fix entries"] = secdb.entries
            report.by_kind["secdb never-affected entries"] = secdb.never_affected
            report.by_kind["secdb packages"] = len(secdb.packages)
            report.by_kind["alpine records"] = len(secdb.fixes)
        source = f"import:{root.resolve().name}"
        builder.clear_source(source)
        report.records = builder.add(records, source)
        builder.set_source(
            source, url=root.resolve().as_uri(), extra={"files": report.files, **report.by_kind}
        )
        reports[source] = report
    return reports
