"""Content digests (OCI image-spec ``algorithm:encoded``) and verifying streams."""

# Annotations are evaluated, not postponed (no ``from __future__ import annotations``):
# typing.NamedTuple compiles every string annotation, ~60 us a field at each start-up.
import re
from typing import IO, Any, NamedTuple, Protocol

from customhouse.errors import DigestError, DigestMismatchError, LimitExceededError

_HEX_LENGTHS = {"sha256": 64, "sha512": 128}  # the algorithms supported
_SMALL = 1 << 18  # bytes: below this the interpreter's own SHA-2 is as good as OpenSSL's
_BUILTIN: dict[str, Any] = {}


def _new(algorithm: str, size: int | None = None) -> Any:
    """A hash object for ``algorithm``: hashlib's (OpenSSL, several times faster on large
    data) unless ``size`` says the data is small. Then the interpreter's built-in SHA-2 is
    used when it has one: importing hashlib loads OpenSSL, ~5 ms of every command that
    only checks a manifest and a config (a warm scan)."""
    if size is not None and size < _SMALL:
        builtin: Any = _BUILTIN.get(algorithm)
        if builtin is None:
            builtin = _BUILTIN[algorithm] = _builtin(algorithm) or False
        if builtin:
            return builtin()
    import hashlib

    return hashlib.new(algorithm)


def _builtin(algorithm: str) -> Any:
    import sys

    module = "_sha2" if sys.version_info >= (3, 12) else f"_{algorithm}"
    try:
        return getattr(__import__(module), algorithm)
    except (ImportError, AttributeError):  # a build without them: hashlib it is
        return None


_GRAMMAR = re.compile(r"^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$")


class Digest(NamedTuple):
    """A validated content digest. Only constructed through :meth:`parse` or :meth:`of`.

    A NamedTuple (immutable, typed, and far cheaper to define at start-up than a
    frozen dataclass); ``str()`` gives ``algorithm:hex``.
    """

    algorithm: str
    hex: str

    @classmethod
    def parse(cls, text: object) -> "Digest":
        if not isinstance(text, str):
            raise DigestError(f"digest must be a string, got {type(text).__name__}")
        if len(text) > 256 or not _GRAMMAR.match(text):
            raise DigestError(f"malformed digest {_short(text)!r}: expected 'algorithm:hex'")
        algorithm, _, encoded = text.partition(":")
        length = _HEX_LENGTHS.get(algorithm)
        if length is None:
            raise DigestError(
                f"unsupported digest algorithm {algorithm!r} in {_short(text)!r}"
                f" (supported: {', '.join(sorted(_HEX_LENGTHS))})"
            )
        if len(encoded) != length or not re.fullmatch(r"[0-9a-f]+", encoded):
            raise DigestError(
                f"malformed digest {_short(text)!r}: {algorithm} needs {length} lowercase hex digits"
            )
        return cls(algorithm, encoded)

    @classmethod
    def of(cls, data: bytes, algorithm: str = "sha256") -> "Digest":
        h = _new(algorithm, len(data))
        h.update(data)
        return cls(algorithm, h.hexdigest())

    def hasher(self, size: int | None = None) -> Any:
        """A new hash object of this digest's algorithm, for ``size`` bytes if known."""
        return _new(self.algorithm, size)

    @property
    def short(self) -> str:
        return f"{self.algorithm}:{self.hex[:12]}"

    def __str__(self) -> str:
        return f"{self.algorithm}:{self.hex}"

    def verify_bytes(self, data: bytes, what: str = "content") -> None:
        actual = Digest.of(data, self.algorithm).hex
        if actual != self.hex:
            raise DigestMismatchError(
                f"{what}: digest mismatch, expected {self}, got {self.algorithm}:{actual}",
                expected=str(self),
                actual=f"{self.algorithm}:{actual}",
            )


def _short(text: str) -> str:
    return text if len(text) <= 80 else text[:77] + "..."


class Readable(Protocol):
    def read(self, n: int = -1, /) -> bytes: ...


class VerifyingReader:
    """Wraps a stream; hashes and counts every byte; checks digest and size at EOF.

    ``expected_size`` (when known, as in a descriptor) is a hard ceiling as well as
    an exact-length check; ``max_bytes`` is a ceiling when the size is unknown.
    A mismatch raises :class:`DigestMismatchError` naming ``what`` and the digest.
    """

    __slots__ = (
        "_bg",
        "_bg_slot",
        "_done",
        "_expected",
        "_hasher",
        "_max",
        "_raw",
        "_size",
        "count",
        "what",
    )

    def __init__(
        self,
        raw: IO[bytes] | Readable,
        expected: Digest,
        *,
        what: str,
        expected_size: int | None = None,
        max_bytes: int | None = None,
    ) -> None:
        self._raw = raw
        self._expected = expected
        self._hasher = expected.hasher(expected_size)
        self._size = expected_size
        self._max = expected_size if expected_size is not None else max_bytes
        self._done = False
        self._bg: Any = None
        self._bg_slot = -1
        self.count = 0
        self.what = what

    @property
    def expected(self) -> Digest:
        return self._expected

    def hash_in_background(self, bg: Any) -> None:
        """Hand hashing to a :class:`~customhouse.walk.hashing.BackgroundHasher`."""
        self._bg = bg
        self._bg_slot = bg.add(self._hasher)

    def read(self, n: int = -1, /) -> bytes:
        if self._done:
            return b""
        if n is None or n < 0:
            chunks: list[bytes] = []
            while True:
                chunk = self.read(1 << 20)
                if not chunk:
                    return b"".join(chunks)
                chunks.append(chunk)
        if self._max is not None:
            # ask for one byte past the ceiling so oversize input is noticed
            n = min(n, self._max - self.count + 1)
        data = self._raw.read(n) if n > 0 else b""
        if data:
            self.count += len(data)
            if self._max is not None and self.count > self._max:
                if self._size is not None:
                    raise DigestMismatchError(
                        f"{self.what}: blob {self._expected} is longer than its declared"
                        f" size {self._size}",
                        expected=str(self._expected),
                    )
                raise LimitExceededError(
                    f"{self.what}: blob {self._expected} exceeds the limit of {self._max} bytes"
                )
            if self._bg is not None:
                self._bg.update(self._bg_slot, data)
            else:
                self._hasher.update(data)
            return data
        self._finish()
        return b""

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def _finish(self) -> None:
        self._done = True
        if self._size is not None and self.count != self._size:
            raise DigestMismatchError(
                f"{self.what}: blob {self._expected} is truncated: got {self.count} of"
                f" {self._size} bytes",
                expected=str(self._expected),
            )
        if self._bg is not None:
            actual = self._bg.hexdigest(self._bg_slot)
        else:
            actual = self._hasher.hexdigest()
        if actual != self._expected.hex:
            raise DigestMismatchError(
                f"{self.what}: digest mismatch for {self._expected}: content hashes to"
                f" {self._expected.algorithm}:{actual}",
                expected=str(self._expected),
                actual=f"{self._expected.algorithm}:{actual}",
            )

    def drain(self) -> None:
        """Read to EOF so the digest is checked even if the consumer stopped early."""
        while self.read(1 << 20):
            pass

    def readable(self) -> bool:
        return True

    def close(self) -> None:
        close = getattr(self._raw, "close", None)
        if close is not None:
            close()
