"""``.customhouse-ignore.yaml``: reviewed exceptions, each with a reason and an optional expiry.

    vulnerabilities:
      - id: CVE-2023-1234          # or GHSA-..., PYSEC-...; aliases match too
        package: openssl           # optional: only for this package
        reason: not reachable, see ticket 42
        expires: 2027-01-31        # optional; an expired entry no longer applies and is reported
    secrets:
      - rule: private-key          # optional
        path: app/tests/**         # optional glob
        fingerprint: private-key:0123abcd...   # optional
        reason: test fixture, not a real key

An entry must say why (``reason``) and must name something to match; an empty
entry would silence everything and is refused.
"""

# Annotations are evaluated, not postponed (no ``from __future__ import annotations``):
# typing.NamedTuple compiles every string annotation, ~60 us a field at each start-up.
import datetime as dt
from pathlib import Path
from typing import Any, NamedTuple

from customhouse._records import Frozen
from customhouse.errors import InputError

DEFAULT_NAME = ".customhouse-ignore.yaml"


class IgnoreFileError(InputError):
    """The ignore file is malformed."""


class IgnoreEntry(Frozen):
    """One reviewed exception: immutable once built.

    A :class:`Frozen` (``index`` would clash with ``tuple.index``).
    """

    _fields = ("kind", "reason", "expires", "id", "package", "rule", "path", "fingerprint", "index")
    __slots__ = _fields
    kind: str  # vulnerability | secret
    reason: str
    expires: dt.date | None
    id: str | None
    package: str | None
    rule: str | None
    path: str | None
    fingerprint: str | None
    index: int  # position in its section of the file

    def __init__(
        self,
        kind: str,
        reason: str,
        expires: dt.date | None,
        id: str | None = None,
        package: str | None = None,
        rule: str | None = None,
        path: str | None = None,
        fingerprint: str | None = None,
        index: int = 0,
    ) -> None:
        self._init(kind, reason, expires, id, package, rule, path, fingerprint, index)

    def expired(self, today: dt.date | None = None) -> bool:
        return self.expires is not None and (today or dt.date.today()) > self.expires

    def describe(self) -> str:
        parts = [
            f"{k}={v}"
            for k in ("id", "package", "rule", "path", "fingerprint")
            if (v := getattr(self, k))
        ]
        return f"{self.kind} ignore #{self.index} ({', '.join(parts)})"


class IgnoreFile(NamedTuple):
    path: Path | None
    vulnerabilities: tuple[IgnoreEntry, ...] = ()
    secrets: tuple[IgnoreEntry, ...] = ()

    def active(
        self, entries: tuple[IgnoreEntry, ...], today: dt.date | None = None
    ) -> list[IgnoreEntry]:
        return [e for e in entries if not e.expired(today)]

    def expired(self, today: dt.date | None = None) -> list[IgnoreEntry]:
        return [e for e in (*self.vulnerabilities, *self.secrets) if e.expired(today)]


def _date(value: Any, where: str) -> dt.date | None:
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    try:
        return dt.date.fromisoformat(str(value))
    except ValueError:
        raise IgnoreFileError(f"{where}: expires {value!r} is not a date (YYYY-MM-DD)") from None


def _entries(items: Any, kind: str, keys: tuple[str, ...], where: str) -> tuple[IgnoreEntry, ...]:
    if items is None:
        return ()
    if not isinstance(items, list):
        raise IgnoreFileError(f"{where}: '{kind}s' must be a list")
    out = []
    for i, item in enumerate(items):
        w = f"{where} {kind}s[{i}]"
        if not isinstance(item, dict):
            raise IgnoreFileError(f"{w}: must be a mapping")
        unknown = set(item) - {*keys, "reason", "expires"}
        if unknown:
            raise IgnoreFileError(f"{w}: unknown keys {sorted(unknown)}")
        if not any(item.get(k) for k in keys):
            raise IgnoreFileError(f"{w}: names nothing to match (give one of {', '.join(keys)})")
        reason = item.get("reason")
        if not isinstance(reason, str) or not reason.strip():
            raise IgnoreFileError(f"{w}: needs a 'reason'")
        values = {k: str(item[k]) for k in keys if item.get(k) is not None}
        out.append(
            IgnoreEntry(
                kind=kind,
                reason=reason.strip(),
                expires=_date(item.get("expires"), w),
                index=i,
                **values,
            )
        )
    return tuple(out)


def load_ignore_file(path: Path | None, *, required: bool = False) -> IgnoreFile:
    """Load ``path``, or ``./.customhouse-ignore.yaml`` when ``path`` is None and it exists."""
    if path is None:
        candidate = Path(DEFAULT_NAME)
        if not candidate.is_file():
            return IgnoreFile(None)
        path = candidate
    if not path.is_file():
        if required:
            raise IgnoreFileError(f"{path}: no such ignore file")
        return IgnoreFile(None)
    import yaml

    from customhouse.yamltree import YamlAliasError, load_without_aliases

    try:
        doc = load_without_aliases(path.read_text(), yaml.SafeLoader)  # (as yaml.safe_load)
    except (OSError, UnicodeDecodeError, yaml.YAMLError, YamlAliasError) as e:
        raise IgnoreFileError(f"{path}: cannot read ignore file: {e}") from None
    if doc is None:
        return IgnoreFile(path)
    if not isinstance(doc, dict):
        raise IgnoreFileError(f"{path}: expected a mapping with 'vulnerabilities' and/or 'secrets'")
    unknown = set(doc) - {"vulnerabilities", "secrets"}
    if unknown:
        raise IgnoreFileError(f"{path}: unknown sections {sorted(unknown)}")
    return IgnoreFile(
        path,
        vulnerabilities=_entries(
            doc.get("vulnerabilities"), "vulnerability", ("id", "package"), str(path)
        ),
        secrets=_entries(doc.get("secrets"), "secret", ("rule", "path", "fingerprint"), str(path)),
    )
