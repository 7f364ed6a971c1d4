"""rpm: installed packages from the rpm database, read without rpm.

Three database formats, told apart by their magic, not their name:

- SQLite ``rpmdb.sqlite`` (rpm ≥ 4.16: Fedora ≥ 33, RHEL/UBI ≥ 9, Amazon Linux 2023);
- Berkeley DB ``Packages`` (RHEL/CentOS ≤ 8, Amazon Linux 2, older SUSE);
- rpm's own ndb ``Packages.db`` (SUSE Linux Enterprise ≥ 15 SP3, openSUSE).

Each yields rpm header blobs, parsed by :mod:`._rpmdb_header`. A package's version is
rpm's ``%{EVR}``: ``EPOCH:VERSION-RELEASE``, the epoch only when the header has one.
The source package comes from ``SOURCERPM`` (``name-version-release.src.rpm``). The
PURL follows PURL-TYPES for rpm: ``pkg:rpm/<vendor>/<name>@<version>-<release>?arch=…
&epoch=…``; the namespace is derived from the ``VENDOR`` tag for the vendors listed
in :data:`_VENDORS` and left out otherwise (the distro qualifier is added at merge).

Writes that sit in ``rpmdb.sqlite-wal`` (rpm was stopped before it checkpointed) are a
separate file that the per-file cataloger cannot join to the database: such a WAL is
reported as a warning.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from customhouse.catalog import _rpmdb_bdb, _rpmdb_ndb, _rpmdb_sqlite
from customhouse.catalog._problems import Problems
from customhouse.catalog._rpmdb_header import Header, HeaderError, parse_header
from customhouse.catalog.interface import RPM, FileResult, Package, Wants
from customhouse.catalog.purl import PurlError, purl

__all__ = ["RpmCataloger", "split_sourcerpm"]

_DIRS = ("var/lib/rpm/", "usr/lib/sysimage/rpm/", "usr/share/rpm/")
_DATABASES = frozenset(d + f for d in _DIRS for f in ("rpmdb.sqlite", "Packages", "Packages.db"))
_WALS = frozenset(d + "rpmdb.sqlite-wal" for d in _DIRS)
_PATHS = _DATABASES | _WALS
_MAX_PACKAGES = 100_000

#: substrings of the VENDOR tag (lowercased) -> PURL namespace
_VENDORS = (
    ("red hat", "redhat"),
    ("fedora", "fedora"),
    ("centos", "centos"),
    ("rocky", "rocky"),
    ("almalinux", "almalinux"),
    ("oracle", "oracle"),
    ("amazon", "amazon"),
    ("opensuse", "opensuse"),
    ("suse", "suse"),
    ("microsoft", "mariner"),
    ("openmandriva", "openmandriva"),
)


def split_sourcerpm(sourcerpm: str) -> tuple[str, str, str] | None:
    """``name-version-release.src.rpm`` -> (name, version, release), or None."""
    for suffix in (".src.rpm", ".nosrc.rpm"):
        if sourcerpm.endswith(suffix):
            stem = sourcerpm[: -len(suffix)]
            break
    else:
        return None
    parts = stem.rsplit("-", 2)
    if len(parts) != 3 or not all(parts):
        return None
    return parts[0], parts[1], parts[2]


def _namespace(vendor: str | None) -> str | None:
    if not vendor:
        return None
    v = vendor.lower()
    for needle, namespace in _VENDORS:
        if needle in v:
            return namespace
    return None


def _format(
    data: bytes,
) -> tuple[str, Callable[[bytes, Callable[[str], None]], Iterator[tuple[int, bytes]]]] | None:
    if data.startswith(_rpmdb_sqlite.MAGIC):
        return "sqlite", _rpmdb_sqlite.blobs
    if data.startswith(_rpmdb_ndb.MAGIC):
        return "ndb", _rpmdb_ndb.blobs
    if _rpmdb_bdb.is_bdb(data):
        return "bdb", _rpmdb_bdb.blobs
    return None


class RpmCataloger:
    name = "rpm"
    version = 2  # 2: shared bdb overflow, overlapping ndb slots, paths over budget refused
    max_bytes = 1024 * 1024 * 1024
    wants = Wants(names=frozenset(p.rpartition("/")[2] for p in _PATHS))

    def match(self, path: str, mode: int, size: int) -> bool:
        return path in _PATHS

    def parse(self, path: str, data: bytes) -> FileResult:
        problems = Problems(path)
        result = FileResult()
        if path.endswith("-wal"):
            _check_wal(data, problems)
            result.warnings = problems.finish()
            return result
        if not data:
            problems.add("empty file")
            result.warnings = problems.finish()
            return result
        fmt = _format(data)
        if fmt is None:
            problems.add("not an rpm database (no SQLite, ndb or Berkeley DB magic)")
            result.warnings = problems.finish()
            return result
        kind, reader = fmt
        owned: set[str] = set()
        try:
            for hnum, blob in reader(data, problems.add):
                if len(result.packages) >= _MAX_PACKAGES:
                    problems.add(f"more than {_MAX_PACKAGES} packages; the rest are ignored")
                    break
                try:
                    header = parse_header(blob)
                except HeaderError as e:
                    problems.add(f"package record {hnum}: {e}; skipped")
                    continue
                pkg = _package(path, kind, header, problems)
                if pkg is not None:
                    result.packages.append(pkg)
                    owned.update(f.lstrip("/") for f in header.files)
        except (
            ValueError,
            IndexError,
            OverflowError,
            MemoryError,
        ) as e:  # a guard: readers check bounds
            problems.add(f"{kind} database unreadable: {type(e).__name__}: {e}")
        owned.discard("")
        result.owned_files = sorted(owned)
        result.warnings = problems.finish()
        return result


def _check_wal(data: bytes, problems: Problems) -> None:
    if not data:
        return  # rpm leaves an empty WAL after a clean checkpoint
    frames = _rpmdb_sqlite.wal_frames(data)
    if frames is None:
        problems.add("not an SQLite write-ahead log")
    elif frames:
        problems.add(
            f"{frames} page writes of rpmdb.sqlite are still in its write-ahead log, which "
            "is not read: packages installed or removed last may be missing or stale"
        )


def _package(path: str, kind: str, h: Header, problems: Problems) -> Package | None:
    where = f"package {h.name[:60]!r}"
    if not h.version:
        problems.add(f"{where} has no VERSION; skipped")
        return None
    upstream = f"{h.version}-{h.release}" if h.release else h.version
    version = f"{h.epoch}:{upstream}" if h.epoch is not None else upstream
    source_name = source_version = None
    if h.sourcerpm:
        parts = split_sourcerpm(h.sourcerpm)
        if parts is None:
            problems.add(f"{where}: unreadable SOURCERPM {h.sourcerpm[:80]!r}")
        else:
            source_name = parts[0]
            source_version = f"{parts[1]}-{parts[2]}"
            if h.epoch is not None:  # the SRPM file name has no epoch; the package's applies
                source_version = f"{h.epoch}:{source_version}"
    qualifiers = {}
    if h.arch:
        qualifiers["arch"] = h.arch
    if h.epoch is not None:
        qualifiers["epoch"] = str(h.epoch)
    try:
        url = purl(RPM, h.name, upstream, _namespace(h.vendor), qualifiers)
    except PurlError as e:
        problems.add(f"{where}: {e}; skipped")
        return None
    extra = {"db": kind, "release": h.release}
    if h.epoch is not None:
        extra["epoch"] = str(h.epoch)
    for key, value in (
        ("sourcerpm", h.sourcerpm),
        ("vendor", h.vendor),
        ("modularity_label", h.modularity_label),
    ):
        if value:
            extra[key] = value
    return Package(
        ecosystem=RPM,
        name=h.name,
        version=version,
        purl=url,
        path=path,
        source_name=source_name,
        source_version=source_version,
        arch=h.arch,
        licenses=(h.license,) if h.license else (),
        extra=extra,
    )
