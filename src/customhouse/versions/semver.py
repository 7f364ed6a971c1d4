"""npm versions: SemVer 2.0.0 precedence, as the npm ``semver`` package compares them.

``MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]`` with no leading zeros in numbers or
numeric prerelease identifiers. A prerelease sorts before its release; its
identifiers compare one by one, numeric ones as numbers and below alphanumeric
ones, and a shorter list of equal identifiers sorts first. Build metadata is
ignored. As npm does, surrounding whitespace and a leading ``v`` are accepted
(and a leading ``=``, which npm accepts in its loose mode); numbers above
2**53-1 and versions longer than 256 characters are rejected, as npm rejects
them.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from typing import Any

from customhouse.versions.interface import VersionScheme

MAX_LENGTH = 256
MAX_SAFE_INTEGER = 2**53 - 1

_NUM = r"0|[1-9][0-9]*"
_PRE_ID = r"(?:0|[1-9][0-9]*|[0-9]*[A-Za-z-][0-9A-Za-z-]*)"
_BUILD_ID = r"[0-9A-Za-z-]+"
SEMVER_RE = re.compile(
    rf"(?P<major>{_NUM})\.(?P<minor>{_NUM})\.(?P<patch>{_NUM})"
    rf"(?:-(?P<pre>{_PRE_ID}(?:\.{_PRE_ID})*))?"
    rf"(?:\+(?P<build>{_BUILD_ID}(?:\.{_BUILD_ID})*))?",
    re.ASCII,
)
# JavaScript's String.prototype.trim whitespace
_JS_SPACE = " \t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000\ufeff"

RELEASE: tuple[int, ...] = (1,)


def prerelease_key(pre: str | None) -> tuple[Any, ...]:
    """Order prereleases: none last; identifiers numeric (as numbers) below alphanumeric."""
    if pre is None:
        return RELEASE
    ids = tuple((0, int(p), "") if p.isdigit() else (1, 0, p) for p in pre.split("."))
    return (0, ids)


class SemverScheme(VersionScheme):
    name = "semver"

    def _parse_key(self, text: str) -> Hashable:
        if len(text) > MAX_LENGTH:
            raise self._invalid(text, f"longer than {MAX_LENGTH} characters")
        s = text.strip(_JS_SPACE)
        if s.startswith("="):
            s = s[1:]
        if s.startswith("v"):
            s = s[1:]
        m = SEMVER_RE.fullmatch(s)
        if m is None:
            raise self._invalid(text, "not MAJOR.MINOR.PATCH[-PRERELEASE][+BUILD]")
        nums = (int(m["major"]), int(m["minor"]), int(m["patch"]))
        if max(nums) > MAX_SAFE_INTEGER:
            raise self._invalid(text, "a version number is larger than 2**53-1")
        return (*nums, prerelease_key(m["pre"]))
