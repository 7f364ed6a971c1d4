"""Maven versions, as Maven's ``ComparableVersion`` (maven-artifact 3.8) orders them.

The lower-cased version is split into items: numbers, strings and nested lists.
``.`` separates items of one list; ``-`` and a switch between digits and
letters open a nested list; a string after ``.`` that ends the version or is
followed by a digit is treated as if ``-`` preceded it (``1.0.a`` is ``1-a``,
``1.x9`` is ``1-x-9``). An empty item is 0. Single letters
followed by a digit stand for alpha, beta and milestone; ``ga``, ``final`` and
``release`` mean the release itself and ``cr`` means ``rc``. Each list then
drops its trailing "null" items (0, the release qualifier, empty lists).

Items compare as: number > list > string; numbers numerically; strings by
qualifier (alpha < beta < milestone < rc < snapshot < release < sp < anything
else, the rest alphabetically); lists item by item, a missing item comparing
as "null".
"""

from __future__ import annotations

from collections.abc import Hashable
from typing import Any

from customhouse.versions.interface import VersionScheme

_INT, _LIST, _STR = "i", "l", "s"
Item = tuple[Any, ...]  # (_INT, n) | (_STR, s) | (_LIST, (items...))

_QUALIFIERS = ("alpha", "beta", "milestone", "rc", "snapshot", "", "sp")
_RELEASE_INDEX = str(_QUALIFIERS.index(""))
_ALIASES = {"ga": "", "final": "", "release": "", "cr": "rc"}
_LETTER_ALIASES = {"a": "alpha", "b": "beta", "m": "milestone"}
_ZERO: Item = (_INT, 0)


def _qualifier_rank(q: str) -> str:
    try:
        return str(_QUALIFIERS.index(q))
    except ValueError:
        return f"{len(_QUALIFIERS)}-{q}"


def _string_item(s: str, followed_by_digit: bool) -> Item:
    if followed_by_digit and s in _LETTER_ALIASES:
        s = _LETTER_ALIASES[s]
    return (_STR, _ALIASES.get(s, s))


def _item(is_digit: bool, s: str) -> Item:
    return (_INT, int(s)) if is_digit else _string_item(s, False)


def _is_null(item: Item) -> bool:
    kind, value = item
    if kind == _INT:
        return bool(value == 0)
    if kind == _STR:
        return bool(value == "")
    return len(value) == 0


def _normalize(items: list[Any]) -> None:
    # drop trailing null items, looking past (non-null) nested lists
    i = len(items) - 1
    while i >= 0:
        item = items[i]
        if isinstance(item, list):  # a nested list, already normalized
            if not item:
                del items[i]
        elif _is_null(item):
            del items[i]
        else:
            break
        i -= 1


def _parse(version: str) -> Item:
    version = version.lower()
    root: list[Any] = []
    lists = [root]  # each list is nested in the one before it
    current = root
    is_digit = False
    start = 0

    def open_list() -> None:
        nonlocal current
        new: list[Any] = []
        current.append(new)
        lists.append(new)
        current = new

    for i, c in enumerate(version):
        if c == ".":
            current.append(_ZERO if i == start else _item(is_digit, version[start:i]))
            start = i + 1
        elif c == "-":
            current.append(_ZERO if i == start else _item(is_digit, version[start:i]))
            start = i + 1
            open_list()
        elif c.isdecimal():
            if not is_digit and i > start:
                if current:
                    open_list()  # 1.0.0.X1 is read as 1.0.0-X1
                current.append(_string_item(version[start:i], True))
                start = i
                open_list()
            is_digit = True
        else:
            if is_digit and i > start:
                current.append(_item(True, version[start:i]))
                start = i
                open_list()
            is_digit = False
    if len(version) > start:
        if not is_digit and current:
            open_list()  # 1.0.0.X is read as 1.0.0-X
        current.append(_item(is_digit, version[start:]))
    for lst in reversed(lists):
        _normalize(lst)
    return _freeze(root)


def _freeze(items: list[Any]) -> Item:
    return (_LIST, tuple(_freeze(x) if isinstance(x, list) else x for x in items))


def _cmp_null(item: Item) -> int:
    """How an item compares with a missing one."""
    kind, value = item
    if kind == _INT:
        return 0 if value == 0 else 1
    if kind == _STR:
        return _sign(_qualifier_rank(value), _RELEASE_INDEX)
    for sub in value:
        r = _cmp_null(sub)
        if r:
            return r
    return 0


def _sign(a: Any, b: Any) -> int:
    return (a > b) - (a < b)  # type: ignore[no-any-return]


_TYPE_RANK = {_STR: 0, _LIST: 1, _INT: 2}


def compare_items(a: Item, b: Item) -> int:
    ka, va = a
    kb, vb = b
    if ka != kb:
        return _sign(_TYPE_RANK[ka], _TYPE_RANK[kb])
    if ka == _INT:
        return _sign(va, vb)
    if ka == _STR:
        return _sign(_qualifier_rank(va), _qualifier_rank(vb))
    for i in range(max(len(va), len(vb))):
        if i >= len(va):
            r = -_cmp_null(vb[i])
        elif i >= len(vb):
            r = _cmp_null(va[i])
        else:
            r = compare_items(va[i], vb[i])
        if r:
            return r
    return 0


class MavenScheme(VersionScheme):
    name = "maven"

    def _parse_key(self, text: str) -> Hashable:
        if not text.strip():
            raise self._invalid(text, "version string is empty")
        return _parse(text)

    def _cmp_keys(self, a: Any, b: Any) -> int:
        return compare_items(a, b)

    def _hash_key(self, key: Any) -> Hashable:
        # equal-comparing items have equal normalized forms except where a
        # trailing run compares as null; hash only the leading numbers to be safe
        _, items = key
        lead = []
        for item in items:
            if item[0] != _INT:
                break
            lead.append(item[1])
        while lead and lead[-1] == 0:
            lead.pop()
        return tuple(lead)
