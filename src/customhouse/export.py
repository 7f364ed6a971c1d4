"""Flatten an image into one tar of its final filesystem (what ``crane export`` does).

The walk goes top layer first, so each entry is known to survive or not when it is
read. Directories (with the metadata of their topmost definition) are written
first, parents before children; the other survivors of each layer are spooled to a
temporary tar fragment in their original order, and the fragments are then joined
bottom layer first, so a hardlink comes after its target, as extractors require.
Single-layer images skip the spool and keep the layer's own order. A hardlink whose target was replaced by a
later layer (so the final target holds other bytes) is re-materialized from the
target as it was in the link's own layer, in a second pass over the layers.
"""

from __future__ import annotations

import shutil
import tarfile
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from typing import IO

from customhouse.limits import DEFAULT_LIMITS, Limits
from customhouse.sources.interface import Image, Layer
from customhouse.walk.entry import Content, Entry, Kind
from customhouse.walk.layers import Walk

_TYPES = {
    Kind.FILE: tarfile.REGTYPE,
    Kind.DIR: tarfile.DIRTYPE,
    Kind.SYMLINK: tarfile.SYMTYPE,
    Kind.HARDLINK: tarfile.LNKTYPE,
    Kind.FIFO: tarfile.FIFOTYPE,
}
_ZEROS = bytes(tarfile.BLOCKSIZE)


@dataclass
class ExportStats:
    entries: int = 0
    files: int = 0
    bytes: int = 0
    hidden: int = 0
    rematerialized: int = 0


def _header(entry: Entry, *, name: str | None = None, as_file_of: Entry | None = None) -> bytes:
    ti = tarfile.TarInfo(name if name is not None else (entry.path or "."))
    src = as_file_of or entry
    ti.type = _TYPES[Kind.FILE] if as_file_of else _TYPES[entry.kind]
    ti.mode = src.mode
    ti.uid, ti.gid, ti.uname, ti.gname = src.uid, src.gid, src.uname, src.gname
    ti.mtime = int(src.mtime)
    ti.size = src.size if ti.type == tarfile.REGTYPE else 0
    if entry.kind in (Kind.SYMLINK, Kind.HARDLINK) and not as_file_of:
        ti.linkname = entry.linkname
    if src.xattrs:
        ti.pax_headers = {f"SCHILY.xattr.{k}": v for k, v in src.xattrs.items()}
    return ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape")


def _write_member(out: IO[bytes], header: bytes, content: Content | None, size: int) -> int:
    out.write(header)
    written = 0
    if content is not None:
        for chunk in content.read_chunks():
            out.write(chunk)
            written += len(chunk)
        pad = -written % tarfile.BLOCKSIZE
        if pad:
            out.write(_ZEROS[:pad])
    return written


def export_image(
    image: Image,
    out: IO[bytes],
    *,
    limits: Limits = DEFAULT_LIMITS,
    progress: Callable[[Layer, int], None] | None = None,
) -> ExportStats:
    stats = ExportStats()
    direct = len(image.layers) <= 1  # one layer (or a rootfs): no spool needed
    spools: dict[int, IO[bytes]] = {}
    deferred: dict[int, list[Entry]] = {}
    dirs: list[tuple[tuple[str, ...], bytes]] = []
    try:
        for entry, content in Walk(image, limits=limits, progress=progress):
            if not entry.visible:
                stats.hidden += 1
                continue
            if not entry.path:
                continue  # the root directory itself is implicit
            if entry.kind is Kind.HARDLINK and entry.target_hidden:
                deferred.setdefault(entry.layer, []).append(entry)
                continue
            if entry.kind is Kind.DIR and not direct:
                dirs.append((tuple(entry.path.split("/")), _header(entry)))
                stats.entries += 1
                continue
            target = out if direct else spools.get(entry.layer)
            if target is None:
                target = spools[entry.layer] = tempfile.TemporaryFile(prefix="customhouse-export-")
            stats.bytes += _write_member(target, _header(entry), content, entry.size)
            stats.entries += 1
            stats.files += entry.kind is Kind.FILE
        fixups = _rematerialize(image, deferred, limits, stats) if deferred else {}
        dirs.sort()
        for _, header in dirs:
            out.write(header)
        for idx in sorted(set(spools) | set(fixups)):
            spool = spools.get(idx)
            if spool is not None and not direct:
                spool.seek(0)
                shutil.copyfileobj(spool, out, 1 << 20)
            fix = fixups.get(idx)
            if fix is not None:
                fix.seek(0)
                shutil.copyfileobj(fix, out, 1 << 20)
        out.write(_ZEROS * 2)
    finally:
        for f in spools.values():
            f.close()
    return stats


def _rematerialize(
    image: Image, deferred: dict[int, list[Entry]], limits: Limits, stats: ExportStats
) -> dict[int, IO[bytes]]:
    """Second pass: copy each replaced hardlink target's bytes as of the link's layer."""
    wanted: dict[str, list[Entry]] = {}
    for links in deferred.values():
        for link in links:
            wanted.setdefault(link.linkname, []).append(link)
    out: dict[int, IO[bytes]] = {}
    done: set[int] = set()
    for entry, content in Walk(image, limits=limits):
        wanted_links = wanted.get(entry.path)
        if not wanted_links or entry.kind is not Kind.FILE or content is None:
            continue
        mine = [link for link in wanted_links if link.layer >= entry.layer and id(link) not in done]
        if not mine:
            continue
        # one copy per layer; further links in that layer point at the copy
        by_layer: dict[int, list[Entry]] = {}
        for link in mine:
            by_layer.setdefault(link.layer, []).append(link)
        with tempfile.TemporaryFile(prefix="customhouse-export-") as data:
            for chunk in content.read_chunks():
                data.write(chunk)
            for idx, group in by_layer.items():
                f = out.get(idx)
                if f is None:
                    f = out[idx] = tempfile.TemporaryFile(prefix="customhouse-export-")
                first = group[0]
                f.write(_header(first, name=first.path, as_file_of=entry))
                data.seek(0)
                shutil.copyfileobj(data, f, 1 << 20)
                f.write(_ZEROS[: -entry.size % tarfile.BLOCKSIZE])
                stats.rematerialized += 1
                stats.entries += 1
                for other in group[1:]:
                    other.linkname = first.path
                    f.write(_header(other))
                    stats.entries += 1
                done.update(id(link) for link in group)
    return out
