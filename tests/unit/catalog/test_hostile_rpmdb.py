"""Hostile rpm databases whose cost must stay proportional to their size.

Each input is small, but without the guard it makes the reader repeat work per entry:
the tests count the work done (pages read, checksums computed, path bytes built) or
check the refusal, never the time taken.
"""

from __future__ import annotations

import struct
import zlib
from collections.abc import Callable
from types import SimpleNamespace

import pytest

from customhouse.catalog import _rpmdb_bdb, _rpmdb_header, _rpmdb_ndb
from customhouse.catalog._rpmdb_header import HeaderError, parse_header
from customhouse.catalog.rpm import RpmCataloger

from .test_rpm import _db, _real_header

# ----------------------------------------------------------------------------- builders


def _header(dirname: bytes, basenames: list[bytes], name: bytes = b"x") -> bytes:
    """A bare header blob: NAME, VERSION, one DIRNAMES entry shared by every file."""
    store = bytearray()
    entries: list[tuple[int, int, int, int]] = []

    def add(tag: int, type_: int, payload: bytes, count: int) -> None:
        while len(store) % 4:
            store.append(0)
        entries.append((tag, type_, len(store), count))
        store.extend(payload)

    n = len(basenames)
    add(_rpmdb_header.NAME, 6, name + b"\0", 1)
    add(_rpmdb_header.VERSION, 6, b"1\0", 1)
    add(_rpmdb_header.DIRINDEXES, 4, b"\0\0\0\0" * n, n)
    add(_rpmdb_header.DIRNAMES, 8, dirname + b"\0", 1)
    add(_rpmdb_header.BASENAMES, 8, b"".join(b + b"\0" for b in basenames), n)
    index = b"".join(struct.pack(">IIII", *e) for e in entries)
    return struct.pack(">II", len(entries), len(store)) + index + bytes(store)


def _ndb_blob(pkgidx: int, blob: bytes, *, adler: int | None = None) -> bytes:
    """One ndb blob region (head, blob, padding, tail), 16-byte aligned."""
    head = b"BlbS" + struct.pack("<III", pkgidx, 0, len(blob))
    total = 16 + len(blob) + 12
    total += -total % 16
    region = head + blob + bytes(total - 16 - len(blob) - 12)
    checksum = zlib.adler32(region) if adler is None else adler
    return region + struct.pack("<II4s", checksum, len(blob), b"BlbE")


def _ndb(slots: list[tuple[int, int, int]], body: bytes) -> bytes:
    """An ndb file of one slot page: ``slots`` are (package, block offset, count) with
    block offsets relative to ``body``, which follows the slot page."""
    page = bytearray(b"Slot" + bytes(12)) * 256  # free slots, as rpm writes them
    page[0:32] = b"RpmP" + struct.pack("<IIII", 0, 0, 1, len(slots) + 1) + bytes(12)
    for k, (pkgidx, blkoff, blkcnt) in enumerate(slots):
        page[32 + 16 * k : 48 + 16 * k] = b"Slot" + struct.pack(
            "<III", pkgidx, 256 + blkoff, blkcnt
        )
    return bytes(page) + body


_PS = 4096  # Berkeley DB page size of the hand-built btree databases


def _btree(pairs: list[int], chain_pages: int) -> bytes:
    """A little-endian btree ``Packages``: one leaf page whose pairs (one per entry of
    ``pairs``, the key is that header number) all name one overflow chain of
    ``chain_pages`` full pages, the key entries repeating where the numbers do."""
    npages = 2 + chain_pages
    pages = [bytearray(_PS) for _ in range(npages)]
    struct.pack_into("<IIII", pages[0], 12, _rpmdb_bdb._BTREE_MAGIC, 9, _PS, 0)
    struct.pack_into("<I", pages[0], 32, npages - 1)
    used = _PS - 26
    for k in range(chain_pages):
        pgno = 2 + k
        page = pages[pgno]
        struct.pack_into("<I", page, 8, pgno)
        struct.pack_into("<I", page, 16, pgno + 1 if k + 1 < chain_pages else 0)
        struct.pack_into("<H", page, 22, used)
        page[25] = 7
        page[26 : 26 + used] = bytes([k + 1]) * used
    leaf = pages[1]
    struct.pack_into("<I", leaf, 8, 1)
    leaf[25] = 5
    value = _PS - 12  # one BOVERFLOW shared by every pair
    leaf[value + 2] = 3
    struct.pack_into("<II", leaf, value + 4, 2, used * chain_pages)
    keys: dict[int, int] = {}
    low = value
    for hnum in pairs:
        if hnum not in keys:
            low -= 8
            struct.pack_into("<HB", leaf, low, 4, 1)
            struct.pack_into("<I", leaf, low + 3, hnum)
            keys[hnum] = low
    struct.pack_into("<H", leaf, 20, 2 * len(pairs))
    for i, hnum in enumerate(pairs):
        struct.pack_into("<HH", leaf, 26 + 4 * i, keys[hnum], value)
    assert 26 + 4 * len(pairs) <= low
    return b"".join(bytes(p) for p in pages)


def _counting(monkeypatch: pytest.MonkeyPatch, cls: object, name: str) -> list[int]:
    calls = [0]
    original: Callable[..., object] = getattr(cls, name)

    def wrapper(*args: object, **kw: object) -> object:
        calls[0] += 1
        return original(*args, **kw)

    monkeypatch.setattr(cls, name, wrapper)
    return calls


# ----------------------------------------------------------------------------- Berkeley DB


def test_bdb_repeated_key_does_not_reread_a_shared_overflow_chain(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chain = 4
    data = _btree([7] * 200, chain)
    pages = _counting(monkeypatch, _rpmdb_bdb._Reader, "page")
    warnings: list[str] = []
    got = list(_rpmdb_bdb.blobs(data, warnings.append))
    assert [hnum for hnum, _ in got] == [7]
    assert len(got[0][1]) == chain * (_PS - 26)
    assert sum("header number 7 appears twice" in w for w in warnings) == 199
    # the scan reads each page once, the value's chain is walked once
    assert pages[0] <= (len(data) // _PS - 1) + chain


def test_bdb_overflow_chain_shared_by_many_keys_is_read_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    chain = 4
    data = _btree(list(range(1, 201)), chain)
    pages = _counting(monkeypatch, _rpmdb_bdb._Reader, "page")
    warnings: list[str] = []
    got = list(_rpmdb_bdb.blobs(data, warnings.append))
    assert [hnum for hnum, _ in got] == [1]  # the chain belongs to its first entry only
    assert sum("shared overflow chain" in w for w in warnings) == 199
    assert pages[0] <= (len(data) // _PS - 1) + chain


def test_bdb_overflow_check_keeps_every_real_package() -> None:
    for name in ("bdb-btree", "bdb-hash", "bdb-hash-be"):
        path, data = _db(name)
        result = RpmCataloger().parse(path, data)
        assert result.warnings == []
        assert len(result.packages) == 26


# ----------------------------------------------------------------------------- ndb


def _adler_calls(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    calls = [0]

    def adler32(data: bytes, value: int = 1) -> int:
        calls[0] += 1
        return zlib.adler32(data, value)

    monkeypatch.setattr(_rpmdb_ndb, "zlib", SimpleNamespace(adler32=adler32))
    return calls


def test_ndb_slots_naming_one_bad_blob_are_checked_once(monkeypatch: pytest.MonkeyPatch) -> None:
    region = _ndb_blob(1, bytes(4096), adler=12345)  # valid head and tail, wrong checksum
    data = _ndb([(1, 0, len(region) // 16)] * 200, region)
    calls = _adler_calls(monkeypatch)
    warnings: list[str] = []
    assert list(_rpmdb_ndb.blobs(data, warnings.append)) == []
    assert calls[0] <= 1
    assert sum("overlap" in w for w in warnings) == 200


def test_ndb_second_slot_of_a_bad_package_is_not_checked(monkeypatch: pytest.MonkeyPatch) -> None:
    region = _ndb_blob(1, bytes(4096), adler=12345)
    cnt = len(region) // 16
    data = _ndb([(1, k * cnt, cnt) for k in range(50)], region * 50)  # disjoint copies
    calls = _adler_calls(monkeypatch)
    warnings: list[str] = []
    assert list(_rpmdb_ndb.blobs(data, warnings.append)) == []
    assert calls[0] == 1
    assert sum("second slot for the same package" in w for w in warnings) == 49


def test_ndb_staggered_overlapping_blobs_are_refused(monkeypatch: pytest.MonkeyPatch) -> None:
    # 100 packages whose blobs start one block apart and each span almost all of the
    # others: every head and tail is valid, so only overlap detection stops them
    n, gap = 100, 4096
    body = bytearray(16 * n + gap + 16 * n)
    slots = []
    for k in range(n):
        start, end = 16 * k, 16 * n + gap + 16 * k + 16
        length = end - start - 28
        body[start : start + 16] = b"BlbS" + struct.pack("<III", k + 1, 0, length)
        body[end - 12 : end] = struct.pack("<II4s", 0, length, b"BlbE")
        slots.append((k + 1, start // 16, (end - start) // 16))
    data = _ndb(slots, bytes(body))
    calls = _adler_calls(monkeypatch)
    warnings: list[str] = []
    assert list(_rpmdb_ndb.blobs(data, warnings.append)) == []
    assert calls[0] == 0
    assert sum("overlap" in w for w in warnings) == n


def test_ndb_disjoint_blobs_and_the_real_database_still_read() -> None:
    blobs = [_header(b"/usr/", [b"a"], name=b"p%d" % i) for i in range(3)]
    regions = [_ndb_blob(i + 1, b) for i, b in enumerate(blobs)]
    slots, off = [], 0
    for i, r in enumerate(regions):
        slots.append((i + 1, off // 16, len(r) // 16))
        off += len(r)
    warnings: list[str] = []
    got = list(_rpmdb_ndb.blobs(_ndb(slots, b"".join(regions)), warnings.append))
    assert [(i, b) for i, b in got] == [(i + 1, b) for i, b in enumerate(blobs)]
    assert warnings == []
    path, data = _db("ndb")
    result = RpmCataloger().parse(path, data)
    assert result.warnings == []
    assert len(result.packages) == 26


# ----------------------------------------------------------------------------- header


def test_header_with_one_long_dirname_shared_by_many_files_is_refused() -> None:
    blob = _header(b"/" + b"d" * 2000, [b""] * 3000)  # 17 KB of header, 6 MB of paths
    with pytest.raises(HeaderError, match="file paths would total 6003000 bytes"):
        parse_header(blob)


def test_header_path_budget_refusal_is_a_warning_naming_the_record() -> None:
    good = _header(b"/usr/share/", [b"a", b"b"], name=b"good")
    bad = _header(b"/" + b"d" * 2000, [b""] * 3000, name=b"bad")
    regions = [_ndb_blob(1, good), _ndb_blob(2, bad)]
    slots = [(1, 0, len(regions[0]) // 16), (2, len(regions[0]) // 16, len(regions[1]) // 16)]
    result = RpmCataloger().parse("var/lib/rpm/Packages.db", _ndb(slots, b"".join(regions)))
    assert [p.name for p in result.packages] == ["good"]
    assert result.owned_files == ["usr/share/a", "usr/share/b"]
    assert [w for w in result.warnings if "package record 2:" in w and "file paths" in w]


def test_headers_within_the_path_budget_keep_their_files() -> None:
    blob = _header(b"/usr/share/" + b"d" * 50, [b"f%d" % i for i in range(20)])
    assert len(parse_header(blob).files) == 20
    assert parse_header(_real_header()).files  # a real header keeps its files
