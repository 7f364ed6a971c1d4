"""rpm's Berkeley DB ``Packages`` file (rpm < 4.16; RHEL/CentOS ≤ 8, Amazon Linux 2).

Only the on-disk layout is needed, read page by page (facts from Berkeley DB's
``db_page.h``/``db_dbm.h`` and rpm's read-only reader):

- page 0 is the metadata page: magic at 12 (0x061561 hash, 0x053162 btree), version
  at 16, page size at 20, encryption algorithm at 24, page type at 25, meta flags at
  26, last page number at 32. Its byte order (the writer's) is the byte order of the
  whole file: the magic read little-endian or big-endian says which.
- every page starts with a 26-byte header: its own number at 8, previous/next page at
  12/16, entry count (u16) at 20, free-space offset (u16) at 22, level at 24, type at
  25; the entry offsets (u16 each) follow at 26.
- hash pages (types 2 and 13) hold key/value pairs, items laid out from the end of
  the page downward, so item *i* ends where item *i-1* starts. An item is
  ``H_KEYDATA`` (1: the bytes follow) or ``H_OFFPAGE`` (3: first overflow page at 4,
  total length at 8).
- btree leaf pages (type 5) hold key/value pairs of ``BKEYDATA`` (length u16 at 0,
  type at 2 with 0x80 meaning deleted, bytes from 3) or ``BOVERFLOW`` (type 3, page
  at 4, length at 8).
- overflow pages (type 7) carry ``free-space offset`` bytes from 26 and chain by their
  next-page number.

The key is the package's header number (u32, the writer's byte order); key 0 is rpm's
counter of header numbers, not a package. Pages are scanned in file order rather than
by bucket, so a damaged bucket chain loses only its own pages; every page number is
bounds-checked and every overflow chain is walked with a visited set.

Entry offsets are untrusted and may repeat, so many entries can name one overflow
chain: each overflow page is read at most once per file (a chain reaching a page that
an earlier entry already read is refused), and a pair's key is checked before its
value is read, so the work stays proportional to the file's size.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Iterator
from functools import partial

__all__ = ["blobs", "is_bdb"]

_HASH_MAGIC = 0x061561
_BTREE_MAGIC = 0x053162
_P_HASH_UNSORTED = 2
_P_LBTREE = 5
_P_OVERFLOW = 7
_P_HASH = 13
_H_KEYDATA = 1
_H_OFFPAGE = 3
_B_KEYDATA = 1
_B_OVERFLOW = 3
_B_DELETE = 0x80
_PAGE_HEADER = 26
_VALID_PAGE_SIZES = frozenset(1 << n for n in range(9, 17))  # 512 .. 65536
_MAX_VALUE = 256 * 1024 * 1024


def _order(data: bytes) -> str | None:
    if len(data) < 16:
        return None
    for order in ("<", ">"):
        (magic,) = struct.unpack_from(order + "I", data, 12)
        if magic in (_HASH_MAGIC, _BTREE_MAGIC):
            return order
    return None


def is_bdb(data: bytes) -> bool:
    return _order(data) is not None


class _Reader:
    def __init__(
        self, data: bytes, order: str, page_size: int, pages: int, warn: Callable[[str], None]
    ) -> None:
        self.data = data
        self.page_size = page_size
        self.pages = pages  # pages present in the file
        self.warn = warn
        self.u16 = struct.Struct(order + "H")
        self.u32 = struct.Struct(order + "I")
        self.overflow_read: set[int] = set()  # overflow pages already read, file-wide

    def page(self, pgno: int) -> memoryview | None:
        if not 0 < pgno < self.pages:
            return None
        start = pgno * self.page_size
        page = memoryview(self.data)[start : start + self.page_size]
        if self.u32.unpack_from(page, 8)[0] != pgno:
            return None  # a free or never-written page
        return page

    def overflow(self, first: int, length: int, where: str) -> bytes | None:
        if length == 0 or length > _MAX_VALUE:
            self.warn(f"{where}: implausible overflow length {length}")
            return None
        out = bytearray()
        seen: set[int] = set()
        pgno = first
        while len(out) < length:
            if pgno in seen:
                self.warn(f"{where}: overflow chain loops back to page {pgno}")
                return None
            if pgno in self.overflow_read:
                self.warn(
                    f"{where}: overflow page {pgno} was already read for another entry "
                    "(shared overflow chain); the entry is ignored"
                )
                return None
            seen.add(pgno)
            self.overflow_read.add(pgno)
            page = self.page(pgno)
            if page is None or page[25] != _P_OVERFLOW:
                self.warn(
                    f"{where}: overflow page {pgno} is missing or not an overflow page "
                    f"({len(out)} of {length} bytes read)"
                )
                return None
            used = self.u16.unpack_from(page, 22)[0]
            if _PAGE_HEADER + used > self.page_size or len(out) + used > length:
                self.warn(f"{where}: overflow page {pgno} declares {used} bytes, too many")
                return None
            if used == 0:
                self.warn(f"{where}: overflow page {pgno} is empty")
                return None
            out += page[_PAGE_HEADER : _PAGE_HEADER + used]
            pgno = self.u32.unpack_from(page, 16)[0]
        return bytes(out)

    def offsets(self, page: memoryview, pgno: int) -> list[int] | None:
        n = self.u16.unpack_from(page, 20)[0]
        if _PAGE_HEADER + 2 * n > self.page_size:
            self.warn(f"page {pgno}: {n} entries do not fit in a page")
            return None
        offs = [self.u16.unpack_from(page, _PAGE_HEADER + 2 * i)[0] for i in range(n)]
        low = _PAGE_HEADER + 2 * n
        if any(not low <= o < self.page_size for o in offs):
            self.warn(f"page {pgno}: an entry offset points outside the page")
            return None
        return offs

    def hash_item(self, page: memoryview, off: int, end: int, where: str) -> bytes | None:
        if end <= off:
            self.warn(f"{where}: entry has no bytes")
            return None
        kind = page[off]
        if kind == _H_KEYDATA:
            return bytes(page[off + 1 : end])
        if kind == _H_OFFPAGE and end - off >= 12:
            first = self.u32.unpack_from(page, off + 4)[0]
            length = self.u32.unpack_from(page, off + 8)[0]
            return self.overflow(first, length, where)
        self.warn(f"{where}: unsupported hash entry type {kind}")
        return None

    def btree_item(self, page: memoryview, off: int, where: str) -> bytes | None:
        if off + 3 > self.page_size:
            self.warn(f"{where}: entry runs past the page")
            return None
        kind = page[off + 2] & 0x7F
        if kind == _B_KEYDATA:
            length = self.u16.unpack_from(page, off)[0]
            if off + 3 + length > self.page_size:
                self.warn(f"{where}: entry of {length} bytes runs past the page")
                return None
            return bytes(page[off + 3 : off + 3 + length])
        if kind == _B_OVERFLOW and off + 12 <= self.page_size:
            first = self.u32.unpack_from(page, off + 4)[0]
            length = self.u32.unpack_from(page, off + 8)[0]
            return self.overflow(first, length, where)
        self.warn(f"{where}: unsupported btree entry type {kind}")
        return None

    def pairs(
        self, pgno: int, page: memoryview
    ) -> Iterator[tuple[bytes, Callable[[], bytes | None]]]:
        """Yield ``(key, read value)`` for the page's pairs: the caller reads a value only
        once it wants the key (reading one may walk an overflow chain)."""
        offs = self.offsets(page, pgno)
        if offs is None:
            return
        if len(offs) % 2:
            self.warn(f"page {pgno}: odd number of entries ({len(offs)}); the last is ignored")
        is_hash = page[25] != _P_LBTREE
        for i in range(0, len(offs) - 1, 2):
            where = f"page {pgno} entry {i // 2}"
            if is_hash:
                key_end = self.page_size if i == 0 else offs[i - 1]
                key = self.hash_item(page, offs[i], key_end, where)
                value = partial(self.hash_item, page, offs[i + 1], offs[i], where)
            else:
                if offs[i] + 2 >= self.page_size or page[offs[i] + 2] & _B_DELETE:
                    continue  # deleted (or cut off): not a live pair
                key = self.btree_item(page, offs[i], where)
                value = partial(self.btree_item, page, offs[i + 1], where)
            if key is not None:
                yield key, value


def blobs(data: bytes, warn: Callable[[str], None]) -> Iterator[tuple[int, bytes]]:
    """Yield ``(header number, header blob)`` for each package of a ``Packages`` file."""
    order = _order(data)
    if order is None or len(data) < 512:
        warn("not a Berkeley DB hash or btree database")
        return
    u32 = struct.Struct(order + "I")
    version, page_size = u32.unpack_from(data, 16)[0], u32.unpack_from(data, 20)[0]
    if page_size not in _VALID_PAGE_SIZES:
        warn(f"Berkeley DB: invalid page size {page_size}")
        return
    if data[24] != 0:
        warn("Berkeley DB: the database is encrypted; cannot read it")
        return
    last = u32.unpack_from(data, 32)[0]
    pages = len(data) // page_size
    if len(data) % page_size or pages < last + 1:
        warn(
            f"Berkeley DB: truncated: {len(data)} bytes hold {pages} whole pages of "
            f"{page_size}, the metadata page says {last + 1}"
        )
    if not 8 <= version <= 10:
        warn(f"Berkeley DB: unknown format version {version}; reading anyway")
    reader = _Reader(data, order, page_size, min(pages, last + 1), warn)
    seen: set[int] = set()
    for pgno in range(1, reader.pages):
        page = reader.page(pgno)
        if page is None or page[25] not in (_P_HASH, _P_HASH_UNSORTED, _P_LBTREE):
            continue
        for key, read_value in reader.pairs(pgno, page):
            if len(key) != 4:
                warn(f"page {pgno}: a key of {len(key)} bytes is not a header number; skipped")
                continue
            hnum = u32.unpack(key)[0]
            if hnum == 0:  # rpm's counter of header numbers
                continue
            if hnum in seen:
                warn(f"header number {hnum} appears twice; the second is ignored")
                continue
            value = read_value()
            if value is None:
                continue
            seen.add(hnum)
            yield hnum, value
