"""Debian (and Ubuntu) package versions, as deb-version(7) and dpkg define them.

``[epoch:]upstream_version[-debian_revision]``: the epoch is a number; the
revision is whatever follows the last hyphen. Upstream and revision compare
with the same algorithm: alternating runs of non-digits (compared character by
character, letters before all non-letters, ``~`` before everything, even the
end of the string) and runs of digits (compared as numbers). An absent revision
equals ``0``.

Validation follows dpkg's own parser: what ``dpkg --compare-versions`` rejects
as an error *or* a warning is rejected here.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterator

from customhouse.versions._keys import padded_key
from customhouse.versions.interface import VersionScheme

_INT_MAX = 2**31 - 1
_SPACE = " \t\n\v\f\r"
_UPSTREAM_EXTRA = frozenset(".-+~:")
_REVISION_EXTRA = frozenset(".+~")


def _order(c: str) -> int:
    # letters sort by their code, "~" before everything, other symbols after letters
    if c.isascii() and c.isalpha():
        return ord(c)
    if c == "~":
        return -1
    return ord(c) + 256


def _flatten(part: str) -> Iterator[int]:
    """The character orders of the non-digit runs, each run closed by 0, and the numbers."""
    i, n = 0, len(part)
    while i < n:
        while i < n and not ("0" <= part[i] <= "9"):
            yield _order(part[i])
            i += 1
        yield 0
        j = i
        while j < n and "0" <= part[j] <= "9":
            j += 1
        yield int(part[i:j]) if j > i else 0
        i = j


def _part_key(part: str) -> tuple[tuple[int, ...], ...]:
    # compared as if both strings went on with order-0 characters forever
    return padded_key(_flatten(part), lambda x: None if x == 0 else x > 0)


class DpkgScheme(VersionScheme):
    name = "dpkg"

    def _parse_key(self, text: str) -> Hashable:
        s = text.strip(_SPACE)
        if not s:
            raise self._invalid(text, "version string is empty")
        if any(c in _SPACE for c in s):
            raise self._invalid(text, "version string has embedded spaces")
        epoch = 0
        colon = s.find(":")
        if colon >= 0:
            digits = s[:colon]
            if not digits:
                raise self._invalid(text, "epoch in version is empty")
            if not (digits.isascii() and digits.isdigit()):
                raise self._invalid(text, "epoch in version is not a number")
            epoch = int(digits)
            if epoch > _INT_MAX:
                raise self._invalid(text, "epoch in version is too big")
            s = s[colon + 1 :]
            if not s:
                raise self._invalid(text, "nothing after colon in version number")
        upstream, hyphen, revision = s.rpartition("-")
        if not hyphen:
            upstream, revision = s, ""
        elif not revision:
            raise self._invalid(text, "revision number is empty")
        if not upstream:
            raise self._invalid(text, "version number is empty")
        if not ("0" <= upstream[0] <= "9"):
            raise self._invalid(text, "version number does not start with a digit")
        for c in upstream:
            if not (c.isascii() and c.isalnum()) and c not in _UPSTREAM_EXTRA:
                raise self._invalid(text, f"invalid character {c!r} in version number")
        for c in revision:
            if not (c.isascii() and c.isalnum()) and c not in _REVISION_EXTRA:
                raise self._invalid(text, f"invalid character {c!r} in revision number")
        return (epoch, _part_key(upstream), _part_key(revision))
