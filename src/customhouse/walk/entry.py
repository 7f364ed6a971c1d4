"""The file-system entry every walk yields, whatever the source."""

from __future__ import annotations

import enum
import posixpath
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Protocol

from customhouse.errors import LayerError


class Kind(enum.Enum):
    FILE = "file"
    DIR = "dir"
    SYMLINK = "symlink"
    HARDLINK = "hardlink"
    FIFO = "fifo"


@dataclass(slots=True)
class Entry:
    """One entry of one layer.

    ``path`` is normalized and relative to the image root ("" is the root itself).
    ``visible`` is False when a later layer deleted or replaced the entry: it is not
    in the final image, yet its bytes still ship with the image.
    """

    path: str
    kind: Kind
    mode: int
    uid: int
    gid: int
    uname: str
    gname: str
    mtime: float
    size: int
    linkname: str  # symlink: the target as stored; hardlink: normalized path of the target
    layer: int
    visible: bool = True
    hidden_by: int | None = None  # index of the layer that deleted or replaced it
    target_hidden: bool = False  # hardlink whose target was replaced above (content differs)
    xattrs: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return posixpath.basename(self.path)


def normalize(name: str, *, layer: str, entry: str | None = None) -> str:
    """Normalize a tar member name to a relative path; refuse traversal and absolute names."""
    if name and name[0] not in "/." and "//" not in name and "/." not in name:
        return name[:-1] if name[-1] == "/" else name  # already normal (the usual case)
    shown = entry if entry is not None else name
    if name.startswith("/"):
        raise LayerError("absolute path in layer (path traversal)", layer=layer, entry=shown)
    parts = []
    for part in name.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            raise LayerError("'..' in path (path traversal)", layer=layer, entry=shown)
        parts.append(part)
    return "/".join(parts)


def ancestors(path: str) -> list[str]:
    """Proper ancestors of a relative path, shallowest first ("a/b/c" -> ["a", "a/b"])."""
    out = []
    i = path.find("/")
    while i >= 0:
        out.append(path[:i])
        i = path.find("/", i + 1)
    return out


class Content(Protocol):
    """A regular file's bytes, readable once, before the walk advances."""

    def read_all(self, limit: int | None = None) -> bytes: ...

    def read_chunks(self) -> Iterator[memoryview | bytes]: ...
