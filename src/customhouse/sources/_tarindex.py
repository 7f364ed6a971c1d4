"""Random access to members of an uncompressed tar on disk (oci-archive, docker-archive).

Nothing is extracted. Member links are resolved inside the archive's own namespace
only; a link that leaves it, loops, or names a non-file is refused.
"""

from __future__ import annotations

import io
import posixpath
import tarfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any, cast

from customhouse.digest import VerifyingReader
from customhouse.errors import ImageFormatError, LimitExceededError, SourceError
from customhouse.limits import Limits
from customhouse.oci.model import Descriptor

MAX_ARCHIVE_MEMBERS = 100_000
MAX_LINK_HOPS = 16


def _norm(name: str) -> str | None:
    name = name.replace("\\", "/")
    if name.startswith("/"):
        return None
    norm = posixpath.normpath(name)
    if norm == ".." or norm.startswith("../"):
        return None
    return "" if norm == "." else norm


class TarIndex:
    def __init__(self, path: Path, what: str) -> None:
        self.path = path
        self.what = what
        try:
            self._file: IO[bytes] = open(path, "rb")
        except OSError as e:
            raise SourceError(f"{what}: cannot open {path}: {e.strerror}") from None
        try:
            head = self._file.read(512)
            self._file.seek(0)
            if head[:2] == b"\x1f\x8b" or head[:4] == b"\x28\xb5\x2f\xfd":
                raise SourceError(
                    f"{what}: {path} is compressed; decompress it first (archives must be plain tar)"
                )
            self._tar = tarfile.open(fileobj=self._file, mode="r:")
            self.members: dict[str, tarfile.TarInfo] = {}
            for count, member in enumerate(self._tar, 1):
                if count > MAX_ARCHIVE_MEMBERS:
                    raise LimitExceededError(
                        f"{what}: archive has more than {MAX_ARCHIVE_MEMBERS} members"
                    )
                norm = _norm(member.name)
                if norm is not None:
                    self.members[norm] = member
                self._tar.members = []  # type: ignore[attr-defined]  # keep memory flat; we index ourselves
        except tarfile.TarError as e:
            self._file.close()
            raise SourceError(f"{what}: {path} is not a valid tar archive: {e}") from None
        except BaseException:
            self._file.close()
            raise

    def close(self) -> None:
        self._file.close()

    def __contains__(self, name: str) -> bool:
        return self.resolve(name, required=False) is not None

    def resolve(self, name: str, *, required: bool = True) -> tarfile.TarInfo | None:
        norm = _norm(name)
        if norm is None:
            raise ImageFormatError(f"{self.what}: archive path {name!r} leaves the archive")
        for _ in range(MAX_LINK_HOPS):
            member = self.members.get(norm)
            if member is None:
                if required:
                    raise ImageFormatError(f"{self.what}: archive has no member {name!r}")
                return None
            if member.isfile():
                return member
            if member.issym():
                target = posixpath.join(posixpath.dirname(norm), member.linkname)
            elif member.islnk():
                target = member.linkname
            else:
                raise ImageFormatError(
                    f"{self.what}: archive member {name!r} is not a regular file"
                )
            nxt = _norm(target)
            if nxt is None:
                raise ImageFormatError(
                    f"{self.what}: archive member {name!r} links outside the archive ({member.linkname!r})"
                )
            norm = nxt
        raise ImageFormatError(f"{self.what}: archive member {name!r}: too many levels of links")

    def read(self, name: str, limit: int) -> bytes:
        member = self.resolve(name)
        assert member is not None
        if member.size > limit:
            raise LimitExceededError(f"{self.what}: {name} is {member.size} bytes, limit {limit}")
        f = self._tar.extractfile(member)
        assert f is not None
        return f.read()

    def open(self, name: str) -> tuple[IO[bytes], int]:
        """A reader of one member's bytes. Plain members are read straight from the file
        (their data is contiguous), which is several times faster than tarfile's reader."""
        member = self.resolve(name)
        assert member is not None
        if member.issparse():
            f = self._tar.extractfile(member)
            assert f is not None
            return f, member.size
        return cast(IO[bytes], _Slice(self.path, member.offset_data, member.size)), member.size

    def names(self) -> list[str]:
        return list(self.members)


class TarBlobStore:
    """Blobs of an OCI layout stored inside a tar (``blobs/<alg>/<hex>``), or at explicit paths."""

    def __init__(self, index: TarIndex, limits: Limits, prefix: str = "") -> None:
        self.index = index
        self.limits = limits
        self.prefix = prefix
        self.paths: dict[str, str] = {}  # digest -> member path, for docker-archive layers

    def member_for(self, desc: Descriptor) -> str:
        return self.paths.get(str(desc.digest)) or posixpath.join(
            self.prefix, "blobs", desc.digest.algorithm, desc.digest.hex
        )

    @contextmanager
    def open_blob(self, descriptor: Descriptor, what: str) -> Iterator[VerifyingReader]:
        name = self.member_for(descriptor)
        if self.index.resolve(name, required=False) is None:
            raise SourceError(f"{what}: blob {descriptor.digest} is missing from {self.index.path}")
        f, _size = self.index.open(name)
        try:
            yield VerifyingReader(f, descriptor.digest, what=what, expected_size=descriptor.size)
        finally:
            f.close()


class _Slice(io.RawIOBase):
    """``size`` bytes of ``path`` from ``offset``, through a file descriptor of its own."""

    def __init__(self, path: Path, offset: int, size: int) -> None:
        super().__init__()
        self._f = open(path, "rb", buffering=0)
        self._f.seek(offset)
        self._start = offset
        self._left = size
        self._size = size

    def readable(self) -> bool:
        return True

    def seekable(self) -> bool:
        return True

    def seek(self, pos: int, whence: int = 0) -> int:
        if whence != 0 or not 0 <= pos <= self._size:
            raise OSError("only absolute seeks inside the member are supported")
        self._f.seek(self._start + pos)
        self._left = self._size - pos
        return pos

    def tell(self) -> int:
        return self._size - self._left

    def readinto(self, buffer: Any) -> int:
        view = memoryview(buffer)
        if self._left <= 0 or not len(view):
            return 0
        n = self._f.readinto(view[: min(len(view), self._left)])
        self._left -= n or 0
        return n or 0

    def read(self, n: int = -1) -> bytes:
        if n is None or n < 0 or n > self._left:
            n = self._left
        if n <= 0:
            return b""
        data = self._f.read(n)
        self._left -= len(data)
        return data

    def close(self) -> None:
        self._f.close()
        super().close()
