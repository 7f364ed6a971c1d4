"""Walk an unpacked root filesystem (``dir:`` source) as one visible layer.

Links are reported, never followed; files are opened with O_NOFOLLOW; device
nodes and sockets are skipped (an image cannot carry them).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from customhouse.errors import LimitExceededError, SourceError
from customhouse.limits import Limits
from customhouse.walk.entry import Content, Entry, Kind

_CHUNK = 1 << 20


class _FileContent:
    def __init__(self, path: str, display: str) -> None:
        self._path = path
        self._display = display

    def _open(self) -> int:
        try:
            fd = os.open(self._path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as e:
            raise SourceError(f"cannot read {self._display}: {e.strerror}") from None
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            os.close(fd)
            raise SourceError(f"{self._display} changed while being read")
        return fd

    def read_chunks(self) -> Iterator[bytes]:
        fd = self._open()
        try:
            while chunk := os.read(fd, _CHUNK):
                yield chunk
        finally:
            os.close(fd)

    def read_all(self, limit: int | None = None) -> bytes:
        if limit is not None and os.lstat(self._path).st_size > limit:
            raise LimitExceededError(f"{self._display} is larger than {limit} bytes")
        return b"".join(self.read_chunks())


def walk_rootfs(root: Path, *, limits: Limits) -> Iterator[tuple[Entry, Content | None]]:
    seen_inodes: dict[tuple[int, int], str] = {}
    count = 0
    stack = [""]
    root_s = str(root)
    while stack:
        rel = stack.pop()
        full = os.path.join(root_s, rel) if rel else root_s
        try:
            with os.scandir(full) as it:
                items = sorted(it, key=lambda d: d.name)
        except OSError as e:
            raise SourceError(f"cannot list {full}: {e.strerror}") from None
        subdirs = []
        for d in items:
            count += 1
            if count > limits.max_members:
                raise LimitExceededError(f"{root}: more than {limits.max_members} entries")
            path = f"{rel}/{d.name}" if rel else d.name
            st = d.stat(follow_symlinks=False)
            mode = st.st_mode

            def make(kind: Kind, size: int = 0, linkname: str = "") -> Entry:
                return Entry(
                    path=path,  # noqa: B023 - used immediately
                    kind=kind,
                    mode=stat.S_IMODE(mode),  # noqa: B023
                    uid=st.st_uid,  # noqa: B023
                    gid=st.st_gid,  # noqa: B023
                    uname="",
                    gname="",
                    mtime=float(int(st.st_mtime)),  # noqa: B023
                    size=size,
                    linkname=linkname,
                    layer=0,
                )

            if stat.S_ISDIR(mode):
                yield make(Kind.DIR), None
                subdirs.append(path)
            elif stat.S_ISLNK(mode):
                yield make(Kind.SYMLINK, linkname=os.readlink(d.path)), None
            elif stat.S_ISREG(mode):
                key = (st.st_dev, st.st_ino)
                if st.st_nlink > 1 and key in seen_inodes:
                    yield make(Kind.HARDLINK, linkname=seen_inodes[key]), None
                    continue
                if st.st_nlink > 1:
                    seen_inodes[key] = path
                yield make(Kind.FILE, size=st.st_size), _FileContent(d.path, f"{root}/{path}")
            elif stat.S_ISFIFO(mode):
                yield make(Kind.FIFO), None
            # device nodes and sockets cannot be part of an image: skipped
        stack.extend(reversed(subdirs))
