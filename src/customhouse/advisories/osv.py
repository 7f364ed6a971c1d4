"""The OSV record (https://ossf.github.io/osv-schema/), immutable, with one parse path.

Records keep the JSON object they were parsed from (``raw``), so the store can
hand back exactly what the feed said, and tests can validate it against the
published OSV schema.
"""

# Annotations are evaluated, not postponed (no ``from __future__ import annotations``):
# typing.NamedTuple compiles every string annotation, ~60 us a field at each start-up.
import json
import re
from collections.abc import Mapping, Sequence
from functools import lru_cache
from typing import Any, NamedTuple

from customhouse.errors import InputError


class AdvisoryError(InputError):
    """An advisory record or feed file is malformed."""


MAX_RECORD_BYTES = 16 * 1024 * 1024  # the largest record (file, zip entry) read


_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._:-]*$")


_PEP503_SEPARATORS = re.compile(r"[-_.]+")


@lru_cache(maxsize=1 << 16)
def normalize_name(ecosystem: str, name: str) -> str:
    """The package-name key of the store: PEP 503 for PyPI, lowercase where the ecosystem is case-insensitive."""
    base = ecosystem.split(":", 1)[0]
    if base == "PyPI":
        return _PEP503_SEPARATORS.sub("-", name).lower()
    if base in ("npm", "Go", "crates.io", "Packagist", "NuGet", "RubyGems", "Hex", "Pub"):
        return name.lower() if base in ("NuGet", "Packagist") else name
    return name


class Event(NamedTuple):  # a tuple: records carry thousands of events, built at C speed
    kind: str  # introduced | fixed | last_affected | limit
    value: str


class Range(NamedTuple):
    type: str  # ECOSYSTEM | SEMVER | GIT
    events: tuple[Event, ...]
    repo: str | None = None


class Affected(NamedTuple):  # a tuple too: a lookup builds hundreds of them
    ecosystem: str  # "PyPI", "Alpine:v3.19", "Debian:12"
    name: str
    purl: str | None
    ranges: tuple[Range, ...]
    versions: tuple[str, ...]
    ecosystem_specific: Mapping[str, Any]
    database_specific: Mapping[str, Any]
    severity: tuple[tuple[str, str], ...] = ()


class Candidate(NamedTuple):
    """One affected entry of a record naming a package, as the store answers a lookup.

    ``affected.versions`` holds only the listed versions the store could not key;
    ``listed`` says whether the others include the version asked about.
    """

    vuln_id: str
    affected: Affected
    listed: bool


class Vulnerability(NamedTuple):
    """One validated OSV record. ``affected`` and ``references`` are decoded when asked
    for: an import only needs the index fields, and a lookup only the entries of the
    package it asked for (a NamedTuple: defining a dataclass costs every scan ~1 ms)."""

    id: str
    modified: str
    published: str | None
    withdrawn: str | None
    aliases: tuple[str, ...]
    related: tuple[str, ...]
    summary: str | None
    details: str | None
    severity: tuple[tuple[str, str], ...]  # (type, score) e.g. ("CVSS_V3", "CVSS:3.1/AV:N/...")
    database_specific: Mapping[str, Any]
    raw: Mapping[str, Any]
    package_keys: tuple[tuple[str, str], ...]  # (ecosystem, normalized name) it is filed under
    text: str | None = None  # the JSON it came as, when known

    @property
    def affected(self) -> tuple[Affected, ...]:
        entries = self.raw.get("affected") or []
        return tuple(
            parse_affected(a, f"advisory {self.id} affected[{i}]") for i, a in enumerate(entries)
        )

    @property
    def references(self) -> tuple[tuple[str, str], ...]:
        """(type, url) of each reference with a URL (others are left out, not refused)."""
        return tuple(
            (str(r.get("type", "WEB")), r["url"])
            for r in self.raw.get("references") or ()
            if isinstance(r, dict) and isinstance(r.get("url"), str)
        )

    @property
    def all_ids(self) -> tuple[str, ...]:
        return (self.id, *self.aliases)

    def to_json_bytes(self) -> bytes:
        return json.dumps(self.raw, separators=(",", ":"), sort_keys=True).encode()


def _s(obj: Mapping[str, Any], key: str, what: str, required: bool = False) -> str | None:
    v = obj.get(key)
    if v is None:
        if required:
            raise AdvisoryError(f"{what}: missing {key!r}")
        return None
    if not isinstance(v, str):
        raise AdvisoryError(f"{what}: {key!r} must be a string")
    return v


def _strs(obj: Mapping[str, Any], key: str, what: str) -> tuple[str, ...]:
    v = obj.get(key)
    if not v:
        return ()
    if not _strings_ok(v):
        raise AdvisoryError(f"{what}: {key!r} must be a list of strings")
    return tuple(v)


def _map(v: Any, what: str) -> Mapping[str, Any]:
    if v is None:
        return {}
    if not isinstance(v, dict):
        raise AdvisoryError(f"{what}: expected an object")
    return v


def _severity(v: Any, what: str) -> tuple[tuple[str, str], ...]:
    if not v:
        return ()
    if not isinstance(v, list):
        raise AdvisoryError(f"{what}: 'severity' must be a list")
    out = []
    for s in v:
        if (
            not isinstance(s, dict)
            or not isinstance(s.get("type"), str)
            or not isinstance(s.get("score"), str)
        ):
            raise AdvisoryError(f"{what}: severity entries need 'type' and 'score' strings")
        out.append((s["type"], s["score"]))
    return tuple(out)


def parse_affected(a: Any, aw: str) -> Affected:
    """Decode one ``affected`` entry (already checked by :func:`parse_vulnerability`)."""
    if not isinstance(a, dict):
        raise AdvisoryError(f"{aw}: must be an object")
    pkg = _map(a.get("package"), f"{aw} package")
    ranges = []
    for j, r in enumerate(a.get("ranges") or []):
        rw = f"{aw} ranges[{j}]"
        if not isinstance(r, dict):
            raise AdvisoryError(f"{rw}: must be an object")
        rtype = _s(r, "type", rw, required=True)
        assert rtype is not None
        ranges.append(Range(rtype, tuple(_events(r.get("events"), rw)), _s(r, "repo", rw)))
    versions = a.get("versions") or []
    if not isinstance(versions, list):
        raise AdvisoryError(f"{aw}: 'versions' must be a list")
    return Affected(
        ecosystem=_s(pkg, "ecosystem", aw) or "",
        name=_s(pkg, "name", aw) or "",
        purl=_s(pkg, "purl", aw),
        ranges=tuple(ranges),
        versions=tuple(versions),  # strings: checked when the record was stored
        ecosystem_specific=_map(a.get("ecosystem_specific"), aw),
        database_specific=_map(a.get("database_specific"), aw),
        severity=_severity(a.get("severity"), aw),
    )


_EVENT_KINDS = frozenset({"introduced", "fixed", "last_affected", "limit"})


def _events(events: Any, rw: str) -> list[Event]:
    if not isinstance(events, list):
        raise AdvisoryError(f"{rw}: 'events' must be a list")
    out = []
    for ev in events:
        if not isinstance(ev, dict) or len(ev) != 1:
            raise AdvisoryError(f"{rw}: each event has exactly one key")
        ((k, v),) = ev.items()
        if k not in _EVENT_KINDS or not isinstance(v, str):
            raise AdvisoryError(f"{rw}: invalid event {ev!r}")
        out.append(Event(k, v))
    return out


def _check_affected(aff_json: Any, what: str) -> tuple[tuple[str, str], ...]:
    """Validate every ``affected`` entry's shape (cheaply: no objects built); return the index keys."""
    if not isinstance(aff_json, list):
        raise AdvisoryError(f"{what}: 'affected' must be a list")
    keys = set()
    for i, a in enumerate(aff_json):
        if not isinstance(a, dict):
            raise AdvisoryError(f"{what} affected[{i}]: must be an object")
        pkg = a.get("package")
        if pkg is not None:
            if not isinstance(pkg, dict):
                raise AdvisoryError(f"{what} affected[{i}] package: expected an object")
            eco, name = pkg.get("ecosystem"), pkg.get("name")
            if not isinstance(eco, str) or not isinstance(name, str):
                raise AdvisoryError(
                    f"{what} affected[{i}] package: 'ecosystem' and 'name' must be strings"
                )
            if eco and name:
                keys.add((eco, normalize_name(eco, name)))
        ranges = a.get("ranges")
        if ranges:
            if not isinstance(ranges, list):
                raise AdvisoryError(f"{what} affected[{i}]: 'ranges' must be a list")
            for j, r in enumerate(ranges):
                if not isinstance(r, dict) or not isinstance(r.get("type"), str):
                    raise AdvisoryError(f"{what} affected[{i}] ranges[{j}]: needs a 'type' string")
                if not _events_ok(r.get("events")):
                    _events(r.get("events"), f"{what} affected[{i}] ranges[{j}]")  # raises
        versions = a.get("versions")
        if versions and not _strings_ok(versions):
            raise AdvisoryError(f"{what} affected[{i}]: 'versions' must be a list of strings")
        for key in ("ecosystem_specific", "database_specific"):
            if a.get(key) is not None and not isinstance(a[key], dict):
                raise AdvisoryError(f"{what} affected[{i}]: {key!r} must be an object")
        if a.get("severity"):
            _severity(a["severity"], f"{what} affected[{i}]")
    return tuple(sorted(keys))


def _events_ok(events: Any) -> bool:
    """Whether ``events`` is a valid event list (the fast check; :func:`_events` says what is wrong)."""
    if type(events) is not list:
        return False
    for ev in events:
        if type(ev) is not dict or len(ev) != 1:
            return False
        for k, v in ev.items():
            if k not in _EVENT_KINDS or type(v) is not str:
                return False
    return True


def _strings_ok(items: Any) -> bool:
    """Whether ``items`` is a list of strings (``str.join`` checks every item at C speed)."""
    if not isinstance(items, list):
        return False
    try:
        "".join(items)
    except TypeError:
        return False
    return True


def parse_vulnerability(
    obj: Any, what: str = "advisory", *, text: str | None = None
) -> Vulnerability:
    """Validate and freeze one OSV record (a parsed JSON/YAML object).

    ``text`` is the record's own JSON, when it arrived as such: the store keeps it
    as it is instead of serialising the record again.
    """
    if not isinstance(obj, dict):
        raise AdvisoryError(f"{what}: an OSV record must be an object")
    vid = _s(obj, "id", what, required=True)
    assert vid is not None
    if not _ID.match(vid) or len(vid) > 200:
        raise AdvisoryError(f"{what}: invalid id {vid[:80]!r}")
    what = f"{what} {vid}"
    modified = _s(obj, "modified", what, required=True)
    assert modified is not None
    keys = _check_affected(obj.get("affected") or [], what)
    related = obj.get("related")
    return Vulnerability(
        id=vid,
        modified=modified,
        published=_s(obj, "published", what),
        withdrawn=_s(obj, "withdrawn", what),
        aliases=_strs(obj, "aliases", what),
        # a related list with other items than strings is ignored, not refused
        related=_strs(obj, "related", what)
        if not isinstance(related, list) or _strings_ok(related)
        else (),
        summary=_s(obj, "summary", what),
        details=_s(obj, "details", what),
        severity=_severity(obj.get("severity"), what),
        database_specific=_map(obj.get("database_specific"), what),
        raw=obj,
        package_keys=keys,
        text=text,
    )


def iter_package_keys(v: Vulnerability) -> Sequence[tuple[str, str]]:
    """(ecosystem, normalized name) pairs a record is filed under."""
    return v.package_keys
