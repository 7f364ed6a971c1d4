"""What a cataloger is, and what it finds.

A cataloger declares which files it needs (:meth:`Cataloger.match`, called for every
regular file of every layer, so it must be cheap) and parses one file's bytes at a
time (:meth:`Cataloger.parse`). The walk hands it only the files it matched; nothing
is extracted to disk. Results are per file and per layer, so they can be cached by
the layer's diffID and merged across layers with whiteouts applied.
"""

# Annotations are evaluated, not postponed (no ``from __future__ import annotations``):
# typing.NamedTuple compiles every string annotation, ~60 us a field at each start-up.
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple, Protocol

from customhouse._records import Record

# purl types double as our ecosystem names
DEB = "deb"
APK = "apk"
RPM = "rpm"
PYPI = "pypi"
NPM = "npm"
GOLANG = "golang"
MAVEN = "maven"
GEM = "gem"

OS_ECOSYSTEMS = frozenset({DEB, APK, RPM})

# Distro and Package are NamedTuples, not frozen dataclasses: as immutable and typed, and
# much cheaper to define (``dataclasses`` stays off the start-up path of a warm scan).
# Being tuples, they compare equal to plain tuples of the same items and serialise as
# JSON arrays: always write them through ``to_json``.
_NO_EXTRA: Mapping[str, str] = MappingProxyType({})


class Distro(NamedTuple):
    """The operating system of an image, from os-release and friends."""

    id: str  # "debian", "alpine", "rhel", "ubuntu", ...
    version_id: str | None = None  # "12", "3.19.4"
    codename: str | None = None  # "bookworm"
    name: str | None = None
    pretty_name: str | None = None
    id_like: tuple[str, ...] = ()
    source: str = ""  # the file it came from

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "version_id": self.version_id,
            "codename": self.codename,
            "name": self.name,
            "pretty_name": self.pretty_name,
            "id_like": list(self.id_like),
            "source": self.source,
        }

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Distro":
        return cls(
            id=d["id"],
            version_id=d.get("version_id"),
            codename=d.get("codename"),
            name=d.get("name"),
            pretty_name=d.get("pretty_name"),
            id_like=tuple(d.get("id_like") or ()),
            source=d.get("source", ""),
        )


class Package(NamedTuple):
    """One installed package. ``layer``/``layer_diff_id`` are filled in by the merge."""

    ecosystem: str
    name: str
    version: str
    purl: str
    path: str  # the file it was found in
    source_name: str | None = None  # OS source package (dpkg Source:, apk origin, rpm SRPM)
    source_version: str | None = None
    arch: str | None = None
    licenses: tuple[str, ...] = ()
    os_owned: bool = False  # a language package whose files belong to an OS package
    layer: int | None = None
    layer_diff_id: str | None = None
    extra: Mapping[str, str] = _NO_EXTRA  # ecosystem-specific metadata (read-only)

    @property
    def key(self) -> tuple[str, str, str, str]:
        return (self.ecosystem, self.name, self.version, self.path)

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {
            "ecosystem": self.ecosystem,
            "name": self.name,
            "version": self.version,
            "purl": self.purl,
            "path": self.path,
        }
        for k in ("source_name", "source_version", "arch", "layer", "layer_diff_id"):
            v = getattr(self, k)
            if v is not None:
                d[k] = v
        if self.licenses:
            d["licenses"] = list(self.licenses)
        if self.os_owned:
            d["os_owned"] = True
        if self.extra:
            d["extra"] = dict(self.extra)
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "Package":
        return cls(
            ecosystem=d["ecosystem"],
            name=d["name"],
            version=d["version"],
            purl=d["purl"],
            path=d["path"],
            source_name=d.get("source_name"),
            source_version=d.get("source_version"),
            arch=d.get("arch"),
            licenses=tuple(d.get("licenses") or ()),
            os_owned=bool(d.get("os_owned", False)),
            layer=d.get("layer"),
            layer_diff_id=d.get("layer_diff_id"),
            extra=dict(d.get("extra") or {}),
        )


class FileResult(Record):
    """What one file yielded: packages, files owned by OS packages, the distro, warnings.

    A mutable :class:`Record` (the walk merges several catalogers' results into one).
    """

    _fields = ("packages", "owned_files", "distro", "warnings", "licenses_for")
    __slots__ = _fields

    def __init__(
        self,
        packages: list[Package] | None = None,
        owned_files: list[str] | None = None,  # normalized paths, no leading "/"
        distro: Distro | None = None,
        warnings: list[str] | None = None,
        #: licenses declared for packages by name in a file of their own (Debian's copyright files)
        licenses_for: dict[str, list[str]] | None = None,
    ) -> None:
        self.packages: list[Package] = [] if packages is None else packages
        self.owned_files: list[str] = [] if owned_files is None else owned_files
        self.distro = distro
        self.warnings: list[str] = [] if warnings is None else warnings
        self.licenses_for: dict[str, list[str]] = {} if licenses_for is None else licenses_for

    def to_json(self) -> dict[str, Any]:
        d: dict[str, Any] = {}
        if self.licenses_for:
            d["licenses_for"] = self.licenses_for
        if self.packages:
            d["packages"] = [p.to_json() for p in self.packages]
        if self.owned_files:
            # one string, NUL-separated (no path holds a NUL): a few thousand paths of a
            # status or .list file then parse as one JSON string, not thousands
            d["owned_files"] = "\0".join(self.owned_files)
        if self.distro is not None:
            d["distro"] = self.distro.to_json()
        if self.warnings:
            d["warnings"] = self.warnings
        return d

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> "FileResult":
        return cls(
            packages=[Package.from_json(p) for p in d.get("packages", ())],
            owned_files=d["owned_files"].split("\0") if d.get("owned_files") else [],
            distro=Distro.from_json(d["distro"]) if d.get("distro") else None,
            warnings=list(d.get("warnings", ())),
            licenses_for={k: list(v) for k, v in (d.get("licenses_for") or {}).items()},
        )


class Wants:
    """Which files a cataloger may want, as plain data: a cheap superset of its ``match``.

    The walk combines the declarations of every cataloger into one test per file (a
    set lookup of the base name, one ``endswith`` and one ``startswith`` over all the
    suffixes and prefixes), so most files never reach a cataloger's ``match``.
    Suffixes are compared case-insensitively.
    """

    __slots__ = ("executables", "names", "prefixes", "suffixes")

    def __init__(
        self,
        *,
        names: frozenset[str] = frozenset(),
        suffixes: tuple[str, ...] = (),
        prefixes: tuple[str, ...] = (),
        executables: bool = False,
    ) -> None:
        self.names = names
        self.suffixes = tuple(s.lower() for s in suffixes)
        self.prefixes = prefixes
        self.executables = executables


class Cataloger(Protocol):
    """One ecosystem's reader. Implementations live one per module in this package.

    A cataloger may also declare ``wants`` (a :class:`Wants`); one without it has its
    ``match`` called on every regular file.
    """

    #: stable identifier, also part of the cache key
    name: str
    #: bump when parsing changes, to invalidate cached layer analyses
    version: int
    #: files larger than this are skipped with a warning (never read whole)
    max_bytes: int

    def match(self, path: str, mode: int, size: int) -> bool:
        """Cheap test on every regular file: does this cataloger want it?"""
        ...

    def parse(self, path: str, data: bytes) -> FileResult:
        """Parse one file. Must not raise on bad input: report it in ``warnings``."""
        ...
