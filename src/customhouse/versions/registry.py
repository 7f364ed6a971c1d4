"""Scheme names and OSV ecosystems mapped to their :class:`VersionScheme`."""

from __future__ import annotations

import importlib

from customhouse.versions.interface import UnknownScheme, VersionScheme

# scheme name -> (module, class); a scheme's module is imported when it is first asked
# for, so matching Debian packages never pays for PEP 440 (packaging) or Maven
_MODULES: dict[str, tuple[str, str]] = {
    "dpkg": ("customhouse.versions.dpkg", "DpkgScheme"),
    "apk": ("customhouse.versions.apk", "ApkScheme"),
    "rpm": ("customhouse.versions.rpm", "RpmScheme"),
    "pep440": ("customhouse.versions.pep440", "Pep440Scheme"),
    "semver": ("customhouse.versions.semver", "SemverScheme"),
    "maven": ("customhouse.versions.maven", "MavenScheme"),
    "gem": ("customhouse.versions.gem", "GemScheme"),
    "go": ("customhouse.versions.go", "GoScheme"),
}
_SCHEMES: dict[str, VersionScheme] = {}

SCHEME_NAMES: tuple[str, ...] = tuple(_MODULES)

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
    scheme = _SCHEMES.get(name)
    if scheme is not None:
        return scheme
    spec = _MODULES.get(name)
    if spec is None:
        raise UnknownScheme(f"unknown version scheme {name!r} (known: {', '.join(SCHEME_NAMES)})")
    module, cls = spec
    made: VersionScheme = getattr(importlib.import_module(module), cls)()
    _SCHEMES[name] = made
    return made


def scheme_for_ecosystem(ecosystem: str) -> VersionScheme:
    """The scheme of an OSV ecosystem such as ``"Debian:12"`` or ``"Alpine:v3.19"``."""
    name = ECOSYSTEMS.get(ecosystem.split(":", 1)[0])
    if name is None:
        raise UnknownScheme(f"no version scheme for OSV ecosystem {ecosystem!r}")
    return get_scheme(name)
