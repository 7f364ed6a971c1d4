"""The rpm header blob, as an rpm database stores one package.

A header blob (no lead, no magic: the rpmdb stores it bare) is, big-endian::

    il  u32        number of index entries
    dl  u32        size of the data store
    il * entry     tag u32, type u32, offset u32 (into the data store), count u32
    dl bytes       the data store

Installed headers begin with a region entry (tag 63, HEADERIMMUTABLE; type BIN,
count 16) whose 16-byte trailer sits in the data store; entries after the region
("dribbles", added at install time) replace entries of the same tag inside it, so
the last entry of a tag wins here.

Types (rpm's ``rpmTagType``): 0 NULL, 1 CHAR, 2 INT8, 3 INT16, 4 INT32, 5 INT64,
6 STRING, 7 BIN, 8 STRING_ARRAY, 9 I18NSTRING. Strings are NUL-terminated.

Every number read from the blob is untrusted: entry counts, offsets and element
counts are checked against the blob's size before anything is sliced, and counts are
capped, so a garbled blob yields :class:`HeaderError`, never an over-read or a hang.
File paths are built by joining a DIRNAMES entry to each BASENAMES entry, and many files
may share one long directory, so their total length is budgeted against the data store
(:data:`PATH_BYTES_PER_DATA_BYTE`) and a header over budget is refused before any path
is built.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from customhouse.errors import InputError

__all__ = ["Header", "HeaderError", "parse_header"]

# tags (rpm's rpmtag.h)
NAME = 1000
VERSION = 1001
RELEASE = 1002
EPOCH = 1003
VENDOR = 1011
LICENSE = 1014
ARCH = 1022
OLDFILENAMES = 1027
SOURCERPM = 1044
DIRINDEXES = 1116
BASENAMES = 1117
DIRNAMES = 1118
MODULARITYLABEL = 5096

_INT32 = 4
_STRING = 6
_STRING_ARRAY = 8
_I18NSTRING = 9

_STRINGS = frozenset({NAME, VERSION, RELEASE, VENDOR, LICENSE, ARCH, SOURCERPM, MODULARITYLABEL})
_ARRAYS = frozenset({BASENAMES, DIRNAMES, OLDFILENAMES})
_WANTED = _STRINGS | _ARRAYS | {EPOCH, DIRINDEXES}

#: rpm itself refuses more than 0xffff index entries and more than 256 MiB of data
MAX_ENTRIES = 0xFFFF
MAX_DATA = 256 * 1024 * 1024
#: the file paths of a header may total at most this many bytes per byte of its data store
#: (real headers stay below 1: each file also stores its digest, size, mode, owner...)
PATH_BYTES_PER_DATA_BYTE = 8
_ENTRY = struct.Struct(">IIII")


class HeaderError(InputError, ValueError):
    """A header blob that cannot be read."""


@dataclass(frozen=True, slots=True)
class Header:
    """The fields of one installed package that customhouse uses."""

    name: str
    version: str
    release: str
    epoch: int | None
    arch: str | None
    sourcerpm: str | None
    vendor: str | None
    license: str | None
    modularity_label: str | None
    files: tuple[str, ...]  # absolute paths as rpm records them


def _strings(store: bytes, offset: int, count: int, tag: int) -> list[bytes]:
    out: list[bytes] = []
    pos = offset
    for _ in range(count):
        end = store.find(b"\0", pos)
        if end < 0:
            raise HeaderError(f"tag {tag}: string runs past the end of the data store")
        out.append(store[pos:end])
        pos = end + 1
    return out


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _path(raw: bytes) -> str:
    # surrogateescape keeps a non-UTF-8 file name equal to the tar reader's name for it
    return raw.decode("utf-8", "surrogateescape")


def parse_header(blob: bytes) -> Header:
    """Parse a bare header blob; raise :class:`HeaderError` if it is malformed."""
    size = len(blob)
    if size < 8:
        raise HeaderError(f"{size} bytes is too short for a header")
    il, dl = struct.unpack_from(">II", blob, 0)
    if il == 0 or il > MAX_ENTRIES:
        raise HeaderError(f"implausible index entry count {il}")
    if dl > MAX_DATA:
        raise HeaderError(f"implausible data store size {dl}")
    store_start = 8 + il * 16
    if store_start + dl > size:
        raise HeaderError(
            f"header declares {il} entries and {dl} data bytes, more than its {size} bytes"
        )
    store = blob[store_start : store_start + dl]
    values: dict[int, tuple[int, int, int]] = {}
    for i in range(il):
        tag, type_, offset, count = _ENTRY.unpack_from(blob, 8 + i * 16)
        if tag in _WANTED:
            values[tag] = (type_, offset, count)  # the last entry of a tag wins (dribbles)

    def strings(tag: int) -> list[bytes] | None:
        entry = values.get(tag)
        if entry is None:
            return None
        type_, offset, count = entry
        if type_ not in (_STRING, _STRING_ARRAY, _I18NSTRING):
            raise HeaderError(f"tag {tag} has type {type_}, not a string type")
        if offset >= dl:
            raise HeaderError(f"tag {tag}: offset {offset} is outside the {dl}-byte data store")
        if type_ == _STRING:
            count = 1
        if count == 0 or count > dl - offset:  # each string takes at least its NUL
            raise HeaderError(f"tag {tag}: implausible count {count}")
        return _strings(store, offset, count, tag)

    def string(tag: int) -> str | None:
        got = strings(tag)
        return _text(got[0]) if got else None

    def int32s(tag: int) -> list[int] | None:
        entry = values.get(tag)
        if entry is None:
            return None
        type_, offset, count = entry
        if type_ != _INT32:
            raise HeaderError(f"tag {tag} has type {type_}, not INT32")
        if offset % 4 or count == 0 or offset + 4 * count > dl:
            raise HeaderError(f"tag {tag}: {count} numbers at offset {offset} do not fit")
        return list(struct.unpack_from(f">{count}I", store, offset))

    name = string(NAME)
    if not name:
        raise HeaderError("no NAME")
    epochs = int32s(EPOCH)
    files: list[str] = []
    basenames = strings(BASENAMES)
    if basenames is not None:
        dirnames = strings(DIRNAMES) or []
        dirindexes = int32s(DIRINDEXES) or []
        if len(dirindexes) != len(basenames):
            raise HeaderError(f"{len(basenames)} BASENAMES but {len(dirindexes)} DIRINDEXES")
        dirlens = [len(d) for d in dirnames]
        total = sum(len(base) for base in basenames)
        for idx in dirindexes:
            if idx >= len(dirlens):
                raise HeaderError(f"DIRINDEXES value {idx} is past the {len(dirnames)} DIRNAMES")
            total += dirlens[idx]
        budget = PATH_BYTES_PER_DATA_BYTE * dl
        if total > budget:
            raise HeaderError(
                f"its {len(basenames)} file paths would total {total} bytes, more than "
                f"{PATH_BYTES_PER_DATA_BYTE} times its {dl}-byte data store"
            )
        files = [_path(dirnames[i] + base) for base, i in zip(basenames, dirindexes, strict=True)]
    else:
        files = [_path(p) for p in strings(OLDFILENAMES) or ()]
    return Header(
        name=name,
        version=string(VERSION) or "",
        release=string(RELEASE) or "",
        epoch=epochs[0] if epochs else None,
        arch=string(ARCH),
        sourcerpm=string(SOURCERPM),
        vendor=string(VENDOR),
        license=string(LICENSE),
        modularity_label=string(MODULARITYLABEL),
        files=tuple(files),
    )
