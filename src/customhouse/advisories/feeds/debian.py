"""The Debian security tracker's JSON (``security-tracker.debian.org/tracker/data/json``) into OSV.

The document maps source package -> issue (CVE-… or TEMP-…) -> ``releases``: per
release codename a ``status`` (``resolved``, ``open``, ``undetermined``), the
``fixed_version`` when resolved, an ``urgency``, the versions in its
``repositories``, and for issues without a DSA a ``nodsa`` note and ``nodsa_reason``
(``ignored``, ``postponed``).

One OSV record is made per issue, id ``DEBIAN-<issue>`` with the CVE as alias, and
one ``affected`` entry per (release, source package). Package names are SOURCE
package names: binary packages are matched through their source. The ecosystem is
``Debian:<major>`` (``bookworm`` -> ``Debian:12``) and ``Debian:unstable`` for sid.

- resolved with ``fixed_version`` ``0``: that release never had the bug -> no entry;
- resolved with a version: range ``introduced 0 -> fixed VERSION``;
- open / undetermined: ``introduced 0`` with no fix; ``ecosystem_specific.status``
  says which, and ``wont_fix`` when ``nodsa_reason`` is ``ignored``.

``ecosystem_specific.urgency`` keeps Debian's urgency (``**`` marks removed) and
``ecosystem_specific.severity`` maps it: unimportant/low -> LOW, medium -> MEDIUM,
high -> HIGH; "not yet assigned" and end-of-life carry no severity. These are not
CVSS, so they stay out of OSV's ``severity`` (NVD enrichment can add CVSS).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from email.utils import parsedate_to_datetime
from typing import Any

from customhouse.advisories.feeds.fetch import Fetcher, FetchError, SyncReport
from customhouse.advisories.osv import AdvisoryError, Vulnerability, parse_vulnerability
from customhouse.advisories.store import StoreBuilder

__all__ = [
    "CODENAMES",
    "DEFAULT_URL",
    "SOURCE",
    "TrackerConversion",
    "convert_tracker",
    "ecosystem_for",
    "sync_debian",
]

DEFAULT_URL = "https://security-tracker.debian.org/tracker/data/json"
SOURCE = "debian"
_MAX_BYTES = 1024 * 1024 * 1024

# Debian release codenames -> major versions (https://www.debian.org/releases/)
CODENAMES: Mapping[str, str] = {
    "etch": "4",
    "lenny": "5",
    "squeeze": "6",
    "wheezy": "7",
    "jessie": "8",
    "stretch": "9",
    "buster": "10",
    "bullseye": "11",
    "bookworm": "12",
    "trixie": "13",
    "forky": "14",
    "duke": "15",
    "sid": "unstable",
}

_SEVERITY = {"unimportant": "LOW", "low": "LOW", "medium": "MEDIUM", "high": "HIGH"}


def ecosystem_for(codename: str) -> str | None:
    major = CODENAMES.get(codename)
    return f"Debian:{major}" if major else None


@dataclass
class TrackerConversion:
    records: list[Vulnerability] = field(default_factory=list)
    stats: dict[str, int] = field(default_factory=dict)
    skipped: list[str] = field(default_factory=list)

    def count(self, key: str, n: int = 1) -> None:
        self.stats[key] = self.stats.get(key, 0) + n


def _status(release: Mapping[str, Any]) -> str | None:
    """The OSV-side status of one release entry; None when not affected."""
    status = release.get("status")
    if status == "resolved":
        fixed = release.get("fixed_version")
        if fixed == "0":
            return None
        return "resolved"
    if status in ("open", "undetermined"):
        return "wont_fix" if release.get("nodsa_reason") == "ignored" else str(status)
    raise AdvisoryError(f"unknown status {status!r}")


def _affected(
    package: str, codename: str, release: Mapping[str, Any], status: str
) -> dict[str, Any]:
    ecosystem = ecosystem_for(codename)
    events: list[dict[str, str]] = [{"introduced": "0"}]
    if status == "resolved":
        fixed = release.get("fixed_version")
        if not isinstance(fixed, str) or not fixed:
            raise AdvisoryError("resolved without a fixed_version")
        events.append({"fixed": fixed})
    specific: dict[str, Any] = {"status": status, "release": codename}
    urgency = release.get("urgency")
    if isinstance(urgency, str) and urgency:
        specific["urgency"] = urgency
        severity = _SEVERITY.get(urgency.rstrip("*").strip())
        if severity:
            specific["severity"] = severity
    for key in ("nodsa", "nodsa_reason"):
        value = release.get(key)
        if isinstance(value, str) and value:
            specific[key] = value
    repos = release.get("repositories")
    if isinstance(repos, dict) and repos:
        specific["repositories"] = {str(k): str(v) for k, v in sorted(repos.items())}
    return {
        "package": {
            "ecosystem": ecosystem,
            "name": package,
            "purl": f"pkg:deb/debian/{package}?arch=source",
        },
        "ranges": [{"type": "ECOSYSTEM", "events": events}],
        "ecosystem_specific": specific,
    }


def convert_tracker(doc: Any, *, modified: str, what: str = "debian tracker") -> TrackerConversion:
    """OSV records from a parsed tracker document; odd entries are skipped and reported."""
    if not isinstance(doc, dict):
        raise AdvisoryError(f"{what}: expected a JSON object of source packages")
    out = TrackerConversion()
    issues: dict[str, dict[str, Any]] = {}
    for package, by_issue in doc.items():
        if not isinstance(by_issue, dict):
            out.skipped.append(f"{what} {package}: expected an object of issues")
            continue
        out.count("source packages")
        for issue, entry in by_issue.items():
            if not isinstance(entry, dict) or not isinstance(entry.get("releases"), dict):
                out.skipped.append(f"{what} {package} {issue}: no 'releases' object")
                continue
            item = issues.setdefault(issue, {"affected": [], "packages": set()})
            item["packages"].add(package)
            description = entry.get("description")
            if isinstance(description, str) and description and "details" not in item:
                item["details"] = description
            for key in ("scope", "debianbug"):
                value = entry.get(key)
                if value is not None and key not in item:
                    item[key] = value
            for codename, release in sorted(entry["releases"].items()):
                if not isinstance(release, dict):
                    out.skipped.append(f"{what} {package} {issue} {codename}: not an object")
                    continue
                if ecosystem_for(codename) is None:
                    out.count("entries for unknown releases")
                    out.skipped.append(f"{what} {package} {issue}: unknown release {codename!r}")
                    continue
                try:
                    status = _status(release)
                    if status is None:
                        out.count("not affected")
                        continue
                    item["affected"].append(_affected(package, codename, release, status))
                except AdvisoryError as e:
                    out.skipped.append(f"{what} {package} {issue} {codename}: {e}")
                    continue
                out.count(f"status {status}")
    for issue in sorted(issues):
        item = issues[issue]
        if not item["affected"]:
            out.count("issues affecting no release")
            continue
        obj: dict[str, Any] = {
            "schema_version": "1.6.0",
            "id": f"DEBIAN-{issue}",
            "modified": modified,
            "affected": item["affected"],
            "references": [
                {
                    "type": "ADVISORY",
                    "url": f"https://security-tracker.debian.org/tracker/{issue}",
                }
            ],
            "database_specific": {"source": "debian-security-tracker"},
        }
        if issue.startswith("CVE-"):
            obj["aliases"] = [issue]
        if "details" in item:
            obj["details"] = item["details"]
        if isinstance(item.get("scope"), str):
            obj["database_specific"]["scope"] = item["scope"]
        bug = item.get("debianbug")
        if isinstance(bug, int) and not isinstance(bug, bool):
            obj["database_specific"]["debianbug"] = bug
            obj["references"].append({"type": "REPORT", "url": f"https://bugs.debian.org/{bug}"})
        try:
            out.records.append(parse_vulnerability(obj, what))
        except AdvisoryError as e:
            out.skipped.append(str(e))
    out.count("records", len(out.records))
    return out


def _modified_from(last_modified: str | None) -> str:
    if last_modified:
        try:
            when = parsedate_to_datetime(last_modified)
            return when.strftime("%Y-%m-%dT%H:%M:%SZ")
        except (TypeError, ValueError, IndexError):
            pass
    from datetime import UTC, datetime

    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def sync_debian(
    builder: StoreBuilder, fetcher: Fetcher, *, url: str = DEFAULT_URL, full: bool = False
) -> SyncReport:
    """Replace the ``debian`` source with the tracker's current state (304: keep it)."""
    import json

    report = SyncReport(SOURCE, url)
    info = builder.source_info(SOURCE)
    got = fetcher.download(
        url,
        what="debian security tracker",
        etag=None if full or info is None else info.etag,
        last_modified=None if full or info is None else info.last_modified,
        max_bytes=_MAX_BYTES,
    )
    if got.not_modified:
        assert info is not None
        report.mode = "unchanged"
        builder.set_source(
            SOURCE, url=url, etag=info.etag, last_modified=info.last_modified, extra=info.extra
        )
        report.records = info.record_count
        return report
    assert got.path is not None
    report.downloaded_bytes = got.size
    try:
        with open(got.path, "rb") as f:
            doc = json.load(f)
    except (ValueError, RecursionError) as e:
        raise FetchError(f"debian security tracker: {url} is not valid JSON: {e}") from None
    finally:
        got.path.unlink(missing_ok=True)
    try:
        conv = convert_tracker(doc, modified=_modified_from(got.last_modified), what=url)
    except AdvisoryError as e:
        raise FetchError(f"debian security tracker: {e}", url=url) from None
    del doc
    if not conv.records:
        raise FetchError(
            f"debian security tracker: {url} yields no records; keeping the stored ones"
        )
    builder.clear_source(SOURCE)
    report.written = builder.add(conv.records, SOURCE)
    report.skipped = conv.skipped
    report.details = dict(conv.stats)
    builder.set_source(
        SOURCE, url=url, etag=got.etag, last_modified=got.last_modified, extra=dict(conv.stats)
    )
    report.records = report.written
    return report
