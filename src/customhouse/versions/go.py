"""Go module versions: semantic versions as golang.org/x/mod/semver orders them.

``vMAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]``; the leading ``v`` is optional here
because OSV records Go versions without it. ``v1`` and ``v1.2`` are shorthands
for ``v1.0.0`` and ``v1.2.0`` (without prerelease or build). Numbers may be of
any size. Build metadata, which carries ``+incompatible``, is ignored for
ordering but kept in the text. Pseudo-versions
(``v0.0.0-20191109021931-daa7c04131f5``, ``v1.2.4-0.2019...``) are prereleases
and so order naturally before the release they precede.
"""

from __future__ import annotations

import re
from collections.abc import Hashable

from customhouse.versions.interface import VersionScheme
from customhouse.versions.semver import prerelease_key

_NUM = r"0|[1-9][0-9]*"
_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_BUILD_ID = r"[0-9A-Za-z-]+"
_GO_RE = re.compile(
    rf"v?(?P<major>{_NUM})(?:\.(?P<minor>{_NUM})(?:\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_PRE_ID}(?:\.{_PRE_ID})*))?"
    rf"(?:\+(?P<build>{_BUILD_ID}(?:\.{_BUILD_ID})*))?)?)?",
    re.ASCII,
)
_PSEUDO_RE = re.compile(r"(?:^|[-.])(?:0\.)?\d{14}-[0-9a-f]{12}$", re.ASCII)


class GoScheme(VersionScheme):
    name = "go"

    def _parse_key(self, text: str) -> Hashable:
        m = _GO_RE.fullmatch(text)
        if m is None:
            raise self._invalid(text, "not v?MAJOR[.MINOR[.PATCH[-PRERELEASE][+BUILD]]]")
        minor, patch = m["minor"] or "0", m["patch"] or "0"
        return (int(m["major"]), int(minor), int(patch), prerelease_key(m["pre"]))


def is_pseudo_version(text: str) -> bool:
    """Whether a Go version is a pseudo-version (a commit, not a tag)."""
    m = _GO_RE.fullmatch(text)
    return bool(m and m["pre"] and _PSEUDO_RE.search(m["pre"]))


def is_incompatible(text: str) -> bool:
    """Whether a Go version carries ``+incompatible`` (a v2+ module without go.mod)."""
    m = _GO_RE.fullmatch(text)
    return bool(m and m["build"] == "incompatible")
