"""Alpine (apk-tools) package versions.

Grammar, as apk-tools validates it::

    digits {.digits} [letter] {_suffix[digits]} [-r digits]

with suffixes ``_alpha _beta _pre _rc`` (pre-releases: before the bare version)
and ``_cvs _svn _git _hg _p`` (after it). Versions are read as a sequence of
tokens; each token's kind may only follow certain kinds (a dot-number may
follow a number, a suffix may follow a suffix number, a number may follow a
letter, and otherwise kinds only move forward). A dot-number that starts with
zeros counts as the negated number of those zeros, followed by the rest as a
plain number, so ``1.05 < 1.5``.

Comparison walks both token sequences while kinds and values agree. A differing
value decides; otherwise the version that goes on is newer, unless what follows
is a pre-release suffix, and an earlier token kind beats a later one (``1.2.1 >
1.2a``, ``1.0-r1 > 1.0``).
"""

from __future__ import annotations

from collections.abc import Hashable

from customhouse.versions.interface import VersionScheme

# token kinds, in the order apk-tools numbers them
_DOT_NUMBER, _NUMBER, _LETTER, _SUFFIX, _SUFFIX_NUMBER, _REVISION, _END = range(7)
_INVALID = -1
_PRE_SUFFIXES = ("alpha", "beta", "pre", "rc")
_POST_SUFFIXES = ("cvs", "svn", "git", "hg", "p")
# kind transitions allowed although they go backwards
_BACKWARD_OK = frozenset({(_NUMBER, _DOT_NUMBER), (_SUFFIX_NUMBER, _SUFFIX), (_LETTER, _NUMBER)})
_PRE_SUFFIX_RANK = -100


def _next_kind(kind: int, s: str, i: int) -> tuple[int, int]:
    """The kind of the token starting at ``s[i]`` after a ``kind`` token, and where it starts."""
    if i >= len(s):
        return _END, i
    c = s[i]
    if kind in (_NUMBER, _DOT_NUMBER) and "a" <= c <= "z":
        n = _LETTER
    elif kind == _LETTER and "0" <= c <= "9":
        n = _NUMBER
    elif kind == _SUFFIX and "0" <= c <= "9":
        n = _SUFFIX_NUMBER
    else:
        if c == ".":
            n = _DOT_NUMBER
        elif c == "_":
            n = _SUFFIX
        elif c == "-" and i + 1 < len(s) and s[i + 1] == "r":
            n = _REVISION
            i += 1
        else:
            n = _INVALID
        i += 1
    if n < kind and (kind, n) not in _BACKWARD_OK:
        n = _INVALID
    return n, i


def _digits(s: str, i: int) -> tuple[int, int]:
    j = i
    while j < len(s) and "0" <= s[j] <= "9":
        j += 1
    return (int(s[i:j]) if j > i else 0), j


def tokens(text: str) -> list[tuple[int, int]] | None:
    """The (kind, value) tokens of an apk version, or None when it is invalid."""
    out: list[tuple[int, int]] = []
    kind, i, s = _NUMBER, 0, text
    while True:
        if i >= len(s):
            return out
        follow = None
        if kind == _DOT_NUMBER and s[i] == "0":
            j = i
            while j < len(s) and s[j] == "0":
                j += 1
            value, follow = -(j - i), _NUMBER
        elif kind in (_DOT_NUMBER, _NUMBER, _SUFFIX_NUMBER, _REVISION):
            value, j = _digits(s, i)
        elif kind == _LETTER:
            value, j = ord(s[i]), i + 1
        elif kind == _SUFFIX:
            for idx, name in enumerate(_PRE_SUFFIXES):
                if s.startswith(name, i):
                    value, j = idx - len(_PRE_SUFFIXES), i + len(name)
                    break
            else:
                for idx, name in enumerate(_POST_SUFFIXES):
                    if s.startswith(name, i):
                        value, j = idx, i + len(name)
                        break
                else:
                    return None
        else:
            return None
        out.append((kind, value))
        i = j
        if i >= len(s):
            return out
        if follow is not None:
            kind = follow
        else:
            kind, i = _next_kind(kind, s, i)
            if kind == _INVALID:
                return None
            if kind == _END:
                return out


def _entry(kind: int, value: int) -> tuple[int, int]:
    # where kinds differ, a pre-release suffix sorts lowest, then later kinds below earlier ones
    if kind == _SUFFIX and value < 0:
        return (_PRE_SUFFIX_RANK, value)
    return (-kind, value)


class ApkScheme(VersionScheme):
    name = "apk"

    def _parse_key(self, text: str) -> Hashable:
        if not text:
            raise self._invalid(text, "version string is empty")
        toks = tokens(text)
        if toks is None:
            raise self._invalid(
                text, "not of the form digits{.digits}[letter]{_suffix[digits]}[-rN]"
            )
        return (*(_entry(k, v) for k, v in toks), (-_END, 0))
