"""OSV range evaluation, as the OSV schema's "Evaluation" pseudocode defines it.

A version is affected when it is listed in ``versions`` or lies in any range.
Within a range the events are sorted by version (``introduced: "0"`` first: it
means "from the beginning"); walking them in order, ``introduced`` at or below
the version turns the verdict on, ``fixed`` at or below it or ``last_affected``
strictly below it turns it off. When a range has ``limit`` events the version
must also be below at least one of them.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from customhouse.versions.interface import InvalidVersion, Version

if TYPE_CHECKING:
    from customhouse.versions.interface import OsvRange, VersionScheme

_EVENT_KINDS = ("introduced", "fixed", "last_affected", "limit")
# at equal versions, "introduced" is applied before the events that end a range,
# so {introduced: X, last_affected: X} affects exactly X and
# {introduced: X, fixed: X} affects nothing
_TIE_ORDER = {"introduced": 0, "fixed": 1, "last_affected": 1, "limit": 2}


def affected(
    scheme: VersionScheme,
    version: Version,
    ranges: Iterable[OsvRange],
    versions: Iterable[str],
) -> bool:
    for listed in versions:
        if listed == version.text:
            return True
        try:
            if scheme.parse(listed) == version:
                return True
        except InvalidVersion:
            continue  # a malformed list entry can only match by its exact text
    for rng in ranges:
        if rng.type == "ECOSYSTEM":
            if _in_range(scheme, version, rng):
                return True
        elif rng.type == "SEMVER":
            from customhouse.versions.registry import get_scheme

            semver = get_scheme("semver")
            v = version if scheme.name == "semver" else semver.parse(version.text)
            if _in_range(semver, v, rng):
                return True
        # GIT ranges name commits: they cannot be evaluated against a version
    return False


def _in_range(scheme: VersionScheme, v: Version, rng: OsvRange) -> bool:
    events: list[tuple[str, Version | None]] = []
    limits: list[Version] = []
    star = False  # an explicit "*" limit: unbounded
    for event in rng.events:
        if event.kind not in _EVENT_KINDS:
            raise InvalidVersion(scheme.name, event.value, f"unknown OSV event {event.kind!r}")
        if event.kind == "limit":
            if event.value == "*":
                star = True
            else:
                limits.append(scheme.parse(event.value))
        elif event.kind == "introduced" and event.value == "0":
            events.append((event.kind, None))  # the earliest possible version
        else:
            events.append((event.kind, scheme.parse(event.value)))
    # BeforeLimits: with no limit events the implicit "*" applies
    if limits and not star and not any(v < limit for limit in limits):
        return False
    return _walk(events, v)


def _walk(events: list[tuple[str, Version | None]], v: Version) -> bool:
    ordered = sorted(
        events,
        key=_SortKey,
    )
    vulnerable = False
    for kind, at in ordered:
        if kind == "introduced":
            if at is None or v >= at:
                vulnerable = True
        elif kind == "fixed":
            if at is not None and v >= at:
                vulnerable = False
        elif kind == "last_affected" and at is not None and v > at:
            vulnerable = False
    return vulnerable


class _SortKey:
    """Sorts events by version ("0" first), introduced before fixed at a tie."""

    __slots__ = ("at", "tie")

    def __init__(self, event: tuple[str, Version | None]) -> None:
        self.at = event[1]
        self.tie = _TIE_ORDER[event[0]]

    def __lt__(self, other: _SortKey) -> bool:
        if self.at is None or other.at is None:
            if self.at is None and other.at is None:
                return self.tie < other.tie
            return self.at is None
        if self.at == other.at:
            return self.tie < other.tie
        return self.at < other.at
