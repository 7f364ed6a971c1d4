"""RPM package versions (Red Hat, Fedora, Rocky, Alma, SUSE, ...), as rpm compares them.

``[epoch:]version[-release]``. Version and release compare with rpmvercmp:
both strings split into runs of ASCII letters and runs of ASCII digits; every
other character only separates runs. Runs compare pairwise: numbers
numerically, letters bytewise, and a number is newer than letters. ``~`` sorts
before everything, even the end of the string (``1.0~rc1 < 1.0``); ``^`` sorts
after the end of the string but before anything else (``1.0 < 1.0^git1 <
1.0.1``). A missing epoch is 0. A version without a release sorts before the
same version with any release, as ``rpm.vercmp`` orders them.
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from customhouse.versions.interface import VersionScheme

# ranks for rpmvercmp tokens: "~" < end of string < "^" < letters < digits
_TILDE, _END, _CARET, _ALPHA, _NUM = range(5)
_END_ENTRY: tuple[int, Any] = (_END, "")
_NO_RELEASE: tuple[int, ...] = (0,)


def _is_alpha(c: str) -> bool:
    return ("a" <= c <= "z") or ("A" <= c <= "Z")


def _is_digit(c: str) -> bool:
    return "0" <= c <= "9"


def vercmp_key(s: str) -> tuple[tuple[int, Any], ...]:
    """A key whose tuple order is rpmvercmp's order on ``s``."""
    out: list[tuple[int, Any]] = []
    i, n = 0, len(s)
    while i < n:
        c = s[i]
        if c == "~":
            out.append((_TILDE, ""))
            i += 1
        elif c == "^":
            out.append((_CARET, ""))
            i += 1
        elif _is_digit(c):
            j = i
            while j < n and _is_digit(s[j]):
                j += 1
            out.append((_NUM, int(s[i:j])))
            i = j
        elif _is_alpha(c):
            j = i
            while j < n and _is_alpha(s[j]):
                j += 1
            out.append((_ALPHA, s[i:j].encode()))
            i = j
        else:
            i += 1  # a separator
    out.append(_END_ENTRY)
    return tuple(out)


class RpmScheme(VersionScheme):
    name = "rpm"

    def _parse_key(self, text: str) -> Hashable:
        # rpm accepts any non-empty string: characters that are neither ASCII
        # letters, digits, "~" nor "^" only separate runs
        if not text:
            raise self._invalid(text, "version string is empty")
        i = 0
        while i < len(text) and _is_digit(text[i]):
            i += 1
        epoch, rest = "0", text
        if i < len(text) and text[i] == ":":
            epoch, rest = text[:i] or "0", text[i + 1 :]
        version, hyphen, release = rest.rpartition("-")
        if not hyphen:
            return (vercmp_key(epoch), vercmp_key(rest), _NO_RELEASE)
        # a version with a release (even an empty one) is newer than one without
        return (vercmp_key(epoch), vercmp_key(version), (1, vercmp_key(release)))
