"""``dir:PATH``: an unpacked root filesystem, read without following links out of it."""

from __future__ import annotations

from pathlib import Path

from customhouse.errors import SourceError
from customhouse.sources.interface import Image


def open_rootfs(path: Path, *, source: str) -> Image:
    if not path.is_dir() or path.is_symlink():
        raise SourceError(f"{source}: {path} is not a directory")
    return Image(
        source=source,
        transport="dir",
        reference=None,
        manifest=None,
        config=None,
        layers=(),
        blobs=None,
        rootfs=path.resolve(),
    )
