"""Scheme names and OSV ecosystems mapped to their :class:`VersionScheme`."""

from __future__ import annotations

from customhouse.versions.apk import ApkScheme
from customhouse.versions.dpkg import DpkgScheme
from customhouse.versions.gem import GemScheme
from customhouse.versions.go import GoScheme
from customhouse.versions.interface import UnknownScheme, VersionScheme
from customhouse.versions.maven import MavenScheme
from customhouse.versions.pep440 import Pep440Scheme
from customhouse.versions.rpm import RpmScheme
from customhouse.versions.semver import SemverScheme

_SCHEMES: dict[str, VersionScheme] = {
    s.name: s
    for s in (
        DpkgScheme(),
        ApkScheme(),
        RpmScheme(),
        Pep440Scheme(),
        SemverScheme(),
        MavenScheme(),
        GemScheme(),
        GoScheme(),
    )
}

SCHEME_NAMES: tuple[str, ...] = tuple(_SCHEMES)

# OSV ecosystem (without its ":release" suffix) -> scheme name
ECOSYSTEMS: dict[str, str] = {
    "Debian": "dpkg",
    "Ubuntu": "dpkg",
    "Alpine": "apk",
    "Chainguard": "apk",
    "Wolfi": "apk",
    "Red Hat": "rpm",
    "Rocky Linux": "rpm",
    "AlmaLinux": "rpm",
    "openSUSE": "rpm",
    "SUSE": "rpm",
    "Mageia": "rpm",
    "openEuler": "rpm",
    "Photon OS": "rpm",
    "PyPI": "pep440",
    "npm": "semver",
    "crates.io": "semver",
    "Maven": "maven",
    "RubyGems": "gem",
    "Go": "go",
}


def get_scheme(name: str) -> VersionScheme:
    """The scheme registered under ``name`` (see :data:`SCHEME_NAMES`)."""
    try:
        return _SCHEMES[name]
    except KeyError:
        raise UnknownScheme(
            f"unknown version scheme {name!r} (known: {', '.join(SCHEME_NAMES)})"
        ) from None


def scheme_for_ecosystem(ecosystem: str) -> VersionScheme:
    """The scheme of an OSV ecosystem such as ``"Debian:12"`` or ``"Alpine:v3.19"``."""
    base = ecosystem.split(":", 1)[0]
    try:
        return _SCHEMES[ECOSYSTEMS[base]]
    except KeyError:
        raise UnknownScheme(f"no version scheme for OSV ecosystem {ecosystem!r}") from None
