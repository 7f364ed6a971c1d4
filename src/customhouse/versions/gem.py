"""RubyGems versions, as ``Gem::Version`` parses and orders them.

A version is ``digits{.alnum}`` optionally followed by ``-alnum{.alnum}``
(whitespace around it is ignored); a hyphen means ``.pre.``. Segments are the
runs of digits (numbers) and of letters (strings) in it, and any version with a
string segment is a prerelease. Comparison drops the trailing zeros of the
numeric part and of the string part, then walks the segments padding the
shorter list with 0: equal segments continue, a string sorts before a number,
numbers compare as numbers and strings bytewise.
"""

from __future__ import annotations

import re
from collections.abc import Hashable
from typing import Any

from customhouse.versions._keys import padded_key
from customhouse.versions.interface import VersionScheme

_PATTERN = re.compile(
    r"[ \t\r\n\f\v]*([0-9]+(?:\.[0-9a-zA-Z]+)*(?:-[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*)?)[ \t\r\n\f\v]*",
    re.ASCII,
)
_SEGMENT = re.compile(r"[0-9]+|[a-zA-Z]+", re.ASCII)


def canonical_segments(version: str) -> list[int | str]:
    segments: list[int | str] = [
        int(s) if s.isdigit() else s for s in _SEGMENT.findall(version.replace("-", ".pre."))
    ]
    first_string = next((i for i, s in enumerate(segments) if isinstance(s, str)), len(segments))
    out: list[int | str] = []
    for part in (segments[:first_string], segments[first_string:]):
        while part and part[-1] == 0:
            part.pop()
        out.extend(part)
    return out


def _above_zero(seg: Any) -> bool | None:
    if isinstance(seg, str):
        return False  # a string (prerelease) segment sorts before any number
    return None if seg == 0 else True


class GemScheme(VersionScheme):
    name = "gem"

    def _parse_key(self, text: str) -> Hashable:
        m = _PATTERN.fullmatch(text)
        if m is None:
            raise self._invalid(text, "malformed version number string")
        return padded_key(canonical_segments(m[1]), _above_zero)
