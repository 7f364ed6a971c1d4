"""The version-scheme plug-in point: one :class:`VersionScheme` per ecosystem.

A scheme turns text into an immutable :class:`Version` once (validating it and
precomputing its sort key) and orders versions exactly as the ecosystem's own
tool does. It also evaluates OSV ``ECOSYSTEM``/``SEMVER`` ranges and explicit
``versions`` lists, following the evaluation pseudocode of the OSV schema.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Hashable, Iterable, Sequence
from typing import Any, ClassVar, Protocol

from customhouse._records import Frozen
from customhouse.errors import InputError

_MEMO_MAX = 1 << 16  # versions remembered per scheme

MAX_VERSION_LENGTH = 1024
"""No real version is longer; longer input is rejected before any parsing work."""


class InvalidVersion(InputError):
    """A string is not a valid version under the named scheme."""

    def __init__(self, scheme: str, version: str, reason: str) -> None:
        shown = version if len(version) <= 120 else version[:117] + "..."
        super().__init__(f"invalid {scheme} version {shown!r}: {reason}")
        self.scheme = scheme
        self.version = version
        self.reason = reason


class UnknownScheme(InputError):
    """No version scheme is registered under a name or for an OSV ecosystem."""


class Version(Frozen):
    """One parsed version: its text, its scheme and a precomputed sort key.

    Built only by :meth:`VersionScheme.parse`. Versions of the same scheme order
    and compare equal exactly as the ecosystem's tool says; ordering versions of
    different schemes is a ``TypeError``. Immutable (a :class:`Frozen`).
    """

    _fields = ("text", "scheme", "key")
    __slots__ = _fields
    __match_args__ = ("text", "scheme", "key")
    text: str
    scheme: VersionScheme
    key: Hashable

    def __init__(self, text: str, scheme: VersionScheme, key: Hashable) -> None:
        self._init(text, scheme, key)

    def __repr__(self) -> str:
        return f"Version(text={self.text!r})"

    def _cmp(self, other: Version) -> int:
        if other.scheme.name != self.scheme.name:
            raise TypeError(
                f"cannot compare a {self.scheme.name} version with a {other.scheme.name} version"
            )
        return self.scheme._cmp_keys(self.key, other.key)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Version) or other.scheme.name != self.scheme.name:
            return False
        return self.scheme._cmp_keys(self.key, other.key) == 0

    def __hash__(self) -> int:
        return hash((self.scheme.name, self.scheme._hash_key(self.key)))

    def __lt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._cmp(other) < 0

    def __le__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._cmp(other) <= 0

    def __gt__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._cmp(other) > 0

    def __ge__(self, other: object) -> bool:
        if not isinstance(other, Version):
            return NotImplemented
        return self._cmp(other) >= 0

    def __str__(self) -> str:
        return self.text


class OsvEvent(Protocol):
    """One event of an OSV range (``customhouse.advisories.osv.Event`` fits)."""

    @property
    def kind(self) -> str: ...  # introduced | fixed | last_affected | limit

    @property
    def value(self) -> str: ...


class OsvRange(Protocol):
    """One OSV range (``customhouse.advisories.osv.Range`` fits)."""

    @property
    def type(self) -> str: ...  # ECOSYSTEM | SEMVER | GIT

    @property
    def events(self) -> Sequence[OsvEvent]: ...


class VersionScheme(ABC):
    """Parse, order and range-match the versions of one ecosystem."""

    name: ClassVar[str]

    _memo: dict[str, Version | tuple[str, str]]  # text -> its Version, or (scheme, why not)

    def parse(self, text: str) -> Version:
        """Validate ``text`` and return its :class:`Version`, or raise :class:`InvalidVersion`.

        Results are remembered (Versions are immutable): a scan evaluates the same range
        bounds for every package that shares an advisory, and every image it scans.
        """
        if not isinstance(text, str):
            raise InvalidVersion(self.name, repr(text), "a version must be a string")
        if len(text) > MAX_VERSION_LENGTH:  # (never remembered: a hostile text may be huge)
            raise InvalidVersion(self.name, text, f"longer than {MAX_VERSION_LENGTH} characters")
        try:
            memo = self._memo
        except AttributeError:
            memo = self._memo = {}
        known = memo.get(text)
        if known is None:
            if len(memo) >= _MEMO_MAX:
                memo.clear()
            try:
                known = Version(text, self, self._parse_key(text))
            except InvalidVersion as e:
                known = (e.scheme, e.reason)
            memo[text] = known
        if type(known) is tuple:
            raise InvalidVersion(known[0], text, known[1])
        return known  # type: ignore[return-value]

    def compare(self, a: str | Version, b: str | Version) -> int:
        """-1, 0 or 1 as ``a`` sorts before, equal to, or after ``b``."""
        va = a if isinstance(a, Version) else self.parse(a)
        vb = b if isinstance(b, Version) else self.parse(b)
        return va._cmp(vb)

    def affected(
        self,
        version: str | Version,
        ranges: Iterable[OsvRange] = (),
        versions: Iterable[str] = (),
    ) -> bool:
        """Whether ``version`` is listed in ``versions`` or lies in any ``ranges``.

        ``ECOSYSTEM`` ranges use this scheme, ``SEMVER`` ranges SemVer 2.0
        precedence (as the OSV schema defines them); ``GIT`` ranges name commits,
        not versions, and are not evaluated here.
        """
        from customhouse.versions._osv import affected

        v = version if isinstance(version, Version) else self.parse(version)
        if v.scheme.name != self.name:
            raise TypeError(f"a {v.scheme.name} version given to the {self.name} scheme")
        return affected(self, v, ranges, versions)

    # --- for implementations ---------------------------------------------

    @abstractmethod
    def _parse_key(self, text: str) -> Hashable:
        """Validate ``text`` and return its precomputed key (raise InvalidVersion)."""

    def _cmp_keys(self, a: Any, b: Any) -> int:
        """Order two keys; the default is Python's own ordering of the keys."""
        return (a > b) - (a < b)  # type: ignore[no-any-return]

    def _hash_key(self, key: Any) -> Hashable:
        """A value equal for any two keys that compare equal."""
        return key  # type: ignore[no-any-return]

    def _invalid(self, text: str, reason: str) -> InvalidVersion:
        return InvalidVersion(self.name, text, reason)
