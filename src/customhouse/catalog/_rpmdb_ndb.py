"""rpm's own "ndb" package database ``Packages.db`` (SUSE, rpm ≥ 4.15 built with ndb).

Layout (facts from rpm's ``lib/backend/ndb/rpmpkg.c``), all numbers little-endian u32:

- a 32-byte file header: magic ``RpmP``, format version 0, generation, the number of
  4096-byte slot pages, the next package index;
- the slot pages: 16-byte slots (magic ``Slot``, package index, block offset, block
  count) from byte 32 of page 0 on; a block offset of 0 marks a free slot;
- blobs at ``block offset * 16``, filling ``block count * 16`` bytes: a 16-byte head
  (magic ``BlbS``, package index, generation, blob length), the header blob, zero
  padding, and a 12-byte tail at the very end (Adler-32 of everything before it,
  blob length, magic ``BlbE``).

Every slot is bounds-checked against the file; a blob whose head, tail or checksum
disagrees is reported and skipped. Slots are untrusted and may name the same blocks
or the same package many times, so, as rpm does, slots whose block ranges overlap are
refused, and a package index is examined once (its second slot is ignored even if its
first blob was bad): each block of the file is checksummed at most once.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable, Iterator

__all__ = ["MAGIC", "blobs"]

MAGIC = b"RpmP"
_SLOT_MAGIC = b"Slot"
_HEAD_MAGIC = b"BlbS"
_TAIL_MAGIC = b"BlbE"
_HEADER = 32
_SLOT = 16
_BLK = 16
_PAGE = 4096
_BLOB_HEAD = 16
_BLOB_TAIL = 12
_MAX_SLOT_PAGES = 4096  # 1M slots: far more packages than any system holds


def blobs(data: bytes, warn: Callable[[str], None]) -> Iterator[tuple[int, bytes]]:
    """Yield ``(package index, header blob)`` for each used slot of a ``Packages.db``."""
    if len(data) < _HEADER or not data.startswith(MAGIC):
        warn("not an rpm ndb database (bad magic or shorter than its 32-byte header)")
        return
    version, _generation, slot_pages, _next = struct.unpack_from("<IIII", data, 4)
    if version != 0:
        warn(f"ndb: unknown format version {version}")
        return
    if not 0 < slot_pages <= _MAX_SLOT_PAGES:
        warn(f"ndb: implausible number of slot pages {slot_pages}")
        return
    if len(data) < slot_pages * _PAGE:
        warn(
            f"ndb: truncated: {len(data)} bytes, less than the {slot_pages} slot pages "
            f"({slot_pages * _PAGE} bytes) the header declares"
        )
    if len(data) % _BLK:
        warn(f"ndb: the size {len(data)} is not a multiple of {_BLK} (truncated?)")
    file_blks = len(data) // _BLK
    min_blk = slot_pages * _PAGE // _BLK
    slots_end = min(slot_pages * _PAGE, len(data) - len(data) % _SLOT)
    slots: list[tuple[int, int, int, int]] = []  # (slot number, package, block offset, count)
    for off in range(_HEADER, slots_end, _SLOT):
        slot_no = off // _SLOT
        if data[off : off + 4] != _SLOT_MAGIC:
            warn(f"ndb: slot {slot_no} has no slot magic; the slot table ends here")
            break
        pkgidx, blkoff, blkcnt = struct.unpack_from("<III", data, off + 4)
        if blkoff == 0:
            continue  # a free slot
        where = f"ndb: slot {slot_no} (package {pkgidx})"
        if pkgidx == 0 or blkoff < min_blk or blkcnt * _BLK < _BLOB_HEAD + _BLOB_TAIL:
            warn(f"{where}: invalid slot (block offset {blkoff}, count {blkcnt})")
            continue
        if blkoff + blkcnt > file_blks:
            warn(f"{where}: its blob runs past the end of the file (truncated database)")
            continue
        slots.append((slot_no, pkgidx, blkoff, blkcnt))
    overlaps = _overlaps(slots)
    seen: set[int] = set()
    for slot_no, pkgidx, blkoff, blkcnt in slots:
        where = f"ndb: slot {slot_no} (package {pkgidx})"
        if slot_no in overlaps:
            warn(f"{where}: its blocks overlap those of slot {overlaps[slot_no]}; ignored")
            continue
        if pkgidx in seen:
            warn(f"{where}: second slot for the same package; ignored")
            continue
        seen.add(pkgidx)  # examined once, whether or not its blob is good
        blob = _blob(data, pkgidx, blkoff * _BLK, blkcnt * _BLK, where, warn)
        if blob is not None:
            yield pkgidx, blob


def _overlaps(slots: list[tuple[int, int, int, int]]) -> dict[int, int]:
    """Slots whose block ranges overlap another slot's: slot number -> one such other."""
    out: dict[int, int] = {}
    end, owner = 0, 0  # the furthest block end so far, and the slot it belongs to
    for slot_no, _pkgidx, blkoff, blkcnt in sorted(slots, key=lambda s: s[2]):
        if blkoff < end:
            out[slot_no] = owner
            out.setdefault(owner, slot_no)
        if blkoff + blkcnt > end:
            end, owner = blkoff + blkcnt, slot_no
    return out


def _blob(
    data: bytes, pkgidx: int, start: int, size: int, where: str, warn: Callable[[str], None]
) -> bytes | None:
    # head and tail are checked in place; the region is copied only once it is good
    magic, idx, _gen, length = struct.unpack_from("<4sIII", data, start)
    if magic != _HEAD_MAGIC or idx != pkgidx:
        warn(f"{where}: the blob head is missing or names another package")
        return None
    if _BLOB_HEAD + length + _BLOB_TAIL > size or size - (_BLOB_HEAD + length + _BLOB_TAIL) >= _BLK:
        warn(f"{where}: blob length {length} does not match its {size}-byte slot")
        return None
    adler, tail_len, tail_magic = struct.unpack_from("<I I4s", data, start + size - _BLOB_TAIL)
    if tail_magic != _TAIL_MAGIC or tail_len != length:
        warn(f"{where}: the blob tail is missing or disagrees with the head")
        return None
    with memoryview(data) as view:
        if zlib.adler32(view[start : start + size - _BLOB_TAIL]) != adler:
            warn(f"{where}: blob checksum mismatch (corrupt)")
            return None
    return data[start + _BLOB_HEAD : start + _BLOB_HEAD + length]
