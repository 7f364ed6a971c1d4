"""A streaming tar reader for untrusted layers.

It parses ustar, pax (``x``/``g``) and GNU long-name headers over a chunked byte
stream, never seeks, never buffers a file's content unless asked, and turns every
irregularity into a :class:`LayerError` that names the layer and the entry.
Header blocks are decoded here too (checksum, octal and base-256 numbers, the ustar
prefix), numbers as Go's archive/tar reads them, so that a header means to us what it
means to the runtime that unpacks the image; extension headers are applied with limits.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from zlib import adler32

from customhouse.errors import LayerError, LimitExceededError
from customhouse.limits import Limits

BLOCK = 512
_ENC = "utf-8"
_ERR = "surrogateescape"

# tar type flags
REG = b"0"
AREG = b"\0"
CONT = b"7"
LNK = b"1"
SYM = b"2"
CHR = b"3"
BLK = b"4"
DIR = b"5"
FIFO = b"6"
_GNU_LONGNAME = b"L"
_GNU_LONGLINK = b"K"
_PAX = b"x"
_PAX_GLOBAL = b"g"
_SOLARIS_PAX = b"X"
_GNU_SPARSE = b"S"

FILE_TYPES = frozenset({REG, AREG, CONT})
KNOWN_TYPES = FILE_TYPES | {LNK, SYM, CHR, BLK, DIR, FIFO}


_MAGIC_USTAR = b"ustar\x00"


# header fields (offset:end): name 0:100, mode 100:108, uid 108:116, gid 116:124, size 124:136,
# mtime 136:148, chksum 148:156, type 156, linkname 157:257, magic 257:263, version 263:265,
# uname 265:297, gname 297:329, devmajor 329:337, devminor 337:345, prefix 345:500
_NUL_TO_SPACE = bytes.maketrans(b"\0", b" ")
_OCTAL = frozenset(b"01234567")
_LINK_TYPES = frozenset({LNK, SYM})
_EXTENSION_TYPES = frozenset({_PAX, _SOLARIS_PAX, _PAX_GLOBAL, _GNU_LONGNAME, _GNU_LONGLINK})
_DEVICE_TYPES = frozenset({CHR, BLK})


def _num(field: bytes) -> int:
    """A numeric header field, read as Go's archive/tar (the reader Docker and containerd use)
    reads it: GNU base-256 if the high bit of the first byte is set, else octal digits with
    leading and trailing NULs and spaces trimmed ("" is 0); anything else is malformed."""
    if field and field[0] & 0x80:
        # base-256: first byte 0x80 (positive) or 0xff (negative)
        n = int.from_bytes(field[1:], "big")
        return n if field[0] == 0x80 else n - (1 << (8 * (len(field) - 1)))
    digits = field.strip(b" \0")
    if not digits:
        return 0
    if not _OCTAL.issuperset(digits):
        raise ValueError(f"bad octal field {field!r}")
    return int(digits, 8)


def _str(field: bytes) -> str:
    return field.partition(b"\0")[0].decode(_ENC, _ERR)


def _numbers(block: bytes) -> tuple[int, int, int, int, int, int]:
    """mode, uid, gid, size, mtime and checksum of a header block."""
    nums = block[100:156].translate(_NUL_TO_SPACE)
    if not nums.translate(None, b"01234567 "):
        try:  # the common case: space/NUL padded octal digits, which int() reads directly
            return (
                int(nums[0:8], 8),
                int(nums[8:16], 8),
                int(nums[16:24], 8),
                int(nums[24:36], 8),
                int(nums[36:48], 8),
                int(nums[48:56], 8),
            )
        except ValueError:
            pass  # an empty field, or spaces between digits: read field by field
    return (
        _num(block[100:108]),
        _num(block[108:116]),
        _num(block[116:124]),
        _num(block[124:136]),
        _num(block[136:148]),
        _num(block[148:156]),
    )


def _byte_sum(block: bytes) -> int:
    """The sum of a 512-byte block's bytes, in C: Adler-32's low half is 1 + the byte sum
    modulo 65521, which is exact for 256 bytes (at most 65280), so sum the two halves."""
    return (adler32(block[:256]) & 0xFFFF) + (adler32(block[256:]) & 0xFFFF) - 2


_names: dict[bytes, tuple[str, str]] = {}


def _owner_names(raw: bytes) -> tuple[str, str]:
    """uname and gname (the 64 bytes at offset 265), decoded once per distinct pair."""
    names = _names.get(raw)
    if names is None:
        names = (_str(raw[:32]), _str(raw[32:]))
        if len(_names) < 4096:
            _names[raw] = names
    return names


@dataclass(slots=True)
class Member:
    """One tar member, with extension headers applied. ``name`` is raw (not normalized)."""

    name: str
    type: bytes
    mode: int
    uid: int
    gid: int
    uname: str
    gname: str
    mtime: float
    size: int
    linkname: str
    devmajor: int
    devminor: int
    xattrs: dict[str, str] = field(default_factory=dict)

    @property
    def is_file(self) -> bool:
        return self.type in FILE_TYPES


def _parse_header(block: bytes, label: str, previous: str | None) -> Member:
    """Decode one 512-byte header block, checking its checksum.

    The link name is kept for links only and the device numbers for devices only: in
    any other entry those fields carry nothing a consumer may act on.
    """
    try:
        mode, uid, gid, size, mtime, chksum = _numbers(block)
    except ValueError:
        raise LayerError(
            "malformed tar header (bad numeric field)", layer=label, entry=previous
        ) from None
    unsigned = _byte_sum(block) - sum(block[148:156]) + 256
    if chksum != unsigned:
        signed = unsigned - 2 * sum(b for b in block[:148] + block[156:] if b > 127)
        if chksum != signed:
            raise LayerError(
                "malformed tar header (checksum mismatch)", layer=label, entry=previous
            )
    typ = block[156:157]
    name = block[:100].partition(b"\0")[0].decode(_ENC, _ERR)
    if block[257:263] == _MAGIC_USTAR:  # POSIX ustar: a prefix extends the name
        prefix = block[345:500].partition(b"\0")[0]
        if prefix:
            name = prefix.decode(_ENC, _ERR) + "/" + name
    if typ == b"\0" and name.endswith("/"):
        typ = DIR  # old tars mark directories by a trailing slash
    uname, gname = _owner_names(block[265:329])
    major = minor = 0
    if typ in _DEVICE_TYPES:
        try:
            major, minor = _num(block[329:337]), _num(block[337:345])
        except ValueError:
            raise LayerError(
                "malformed tar header (bad device number)", layer=label, entry=previous
            ) from None
    return Member(
        name,
        typ,
        mode,
        uid,
        gid,
        uname,
        gname,
        float(mtime),
        size,
        _str(block[157:257]) if typ in _LINK_TYPES else "",
        major,
        minor,
        {},
    )


class TarStream:
    """Iterate members of a tar given a ``next_chunk`` callable returning b"" at EOF."""

    def __init__(self, next_chunk: Callable[[], bytes], *, label: str, limits: Limits) -> None:
        self._next_chunk = next_chunk
        self._buf = b""
        self._off = 0
        self._eof = False
        self.label = label
        self.limits = limits
        self._remaining = 0  # content bytes of the current member not yet consumed
        self._padding = 0
        self._current: str | None = None
        self.members = 0
        self._global: dict[str, str] = {}

    # -- buffer ------------------------------------------------------------
    def _available(self) -> int:
        return len(self._buf) - self._off

    def _fill(self, n: int) -> bool:
        """Ensure ``n`` bytes are buffered; False at EOF with fewer."""
        if self._available() >= n:
            return True
        rest = self._buf[self._off :] if self._off < len(self._buf) else b""
        parts = [rest] if rest else []
        have = len(rest)
        while have < n and not self._eof:
            try:
                chunk = self._next_chunk()
            except LimitExceededError as e:
                if self._current is None or "entry" in str(e):
                    raise
                raise LimitExceededError(f"{e}, while reading entry {self._current!r}") from None
            if not chunk:
                self._eof = True
                break
            parts.append(chunk)
            have += len(chunk)
        # a single part is kept as is: no copy of the (usually 1 MiB) chunk
        self._buf = parts[0] if len(parts) == 1 else b"".join(parts)
        self._off = 0
        return have >= n

    def _take(self, n: int, what: str) -> bytes:
        if not self._fill(n):
            raise LayerError(
                f"truncated tar stream while reading {what}", layer=self.label, entry=self._current
            )
        data = self._buf[self._off : self._off + n]
        self._off += n
        return data

    def _skip(self, n: int) -> None:
        while n > 0:
            avail = self._available()
            if avail == 0:
                if not self._fill(1):
                    raise LayerError(
                        "truncated tar stream inside a file's content",
                        layer=self.label,
                        entry=self._current,
                    )
                avail = self._available()
            step = min(avail, n)
            self._off += step
            n -= step

    # -- content -------------------------------------------------------------
    def read_chunks(self) -> Iterator[memoryview | bytes]:
        """Yield the rest of the current member's content in stream-sized pieces."""
        while self._remaining > 0:
            avail = self._available()
            if avail == 0:
                if not self._fill(1):
                    raise LayerError(
                        "truncated tar stream inside a file's content",
                        layer=self.label,
                        entry=self._current,
                    )
                avail = self._available()
            step = min(avail, self._remaining)
            piece = memoryview(self._buf)[self._off : self._off + step]
            self._off += step
            self._remaining -= step
            yield piece

    def read_all(self, limit: int | None = None) -> bytes:
        if limit is not None and self._remaining > limit:
            raise LimitExceededError(
                f"layer {self.label}: entry {self._current!r} is {self._remaining} bytes, limit {limit}"
            )
        if self._remaining == 0:
            return b""
        if self._fill(self._remaining):
            data = self._buf[self._off : self._off + self._remaining]
            self._off += self._remaining
            self._remaining = 0
            return data
        return b"".join(bytes(c) for c in self.read_chunks())

    def _finish_member(self) -> None:
        if self._remaining:
            self._skip(self._remaining)
            self._remaining = 0
        if self._padding:
            self._skip(self._padding)
            self._padding = 0

    # -- headers -------------------------------------------------------------
    def __iter__(self) -> Iterator[Member]:
        pax: dict[str, str] = {}
        longname: str | None = None
        longlink: str | None = None
        limits = self.limits
        label = self.label
        zero = bytes(BLOCK)
        while True:
            # skip the previous member's unread content and padding
            skip = self._remaining + self._padding
            self._remaining = self._padding = 0
            if skip:
                if skip <= len(self._buf) - self._off:
                    self._off += skip
                else:
                    self._skip(skip)
            if len(self._buf) - self._off < BLOCK and not self._fill(BLOCK):
                if self._available() == 0:
                    return  # clean EOF on a block boundary without the end marker
                raise LayerError("truncated tar header", layer=label, entry=self._current)
            block = self._buf[self._off : self._off + BLOCK]
            self._off += BLOCK
            if block == zero:
                self._drain_end()
                return
            member = _parse_header(block, label, self._current)
            self.members += 1
            if self.members > limits.max_members:
                raise LimitExceededError(
                    f"layer {label}: more than {limits.max_members} tar entries"
                )
            t = member.type
            size = member.size
            if size < 0:
                raise LayerError("negative size in tar header", layer=label, entry=member.name)
            if t in _EXTENSION_TYPES:
                if size > limits.max_header_bytes:
                    raise LimitExceededError(
                        f"layer {label}: extension header of {size} bytes after entry"
                        f" {self._current!r} exceeds the limit of {limits.max_header_bytes}"
                    )
                payload = self._take(size, "an extension header")
                self._skip(-size % BLOCK)
                if t == _GNU_LONGNAME:
                    longname = self._cstr(payload)
                elif t == _GNU_LONGLINK:
                    longlink = self._cstr(payload)
                elif t == _PAX_GLOBAL:
                    self._global.update(self._parse_pax(payload))
                else:
                    pax.update(self._parse_pax(payload))
                continue
            if t == _GNU_SPARSE or (pax and any(k.startswith("GNU.sparse") for k in pax)):
                raise LayerError(
                    "sparse files are not supported in layers", layer=label, entry=member.name
                )
            if t not in KNOWN_TYPES:
                raise LayerError(f"unknown tar entry type {t!r}", layer=label, entry=member.name)
            if longname is not None:
                member.name = longname
                longname = None
            if longlink is not None:
                member.linkname = longlink
                longlink = None
            if pax or self._global:
                self._apply_pax(member, {**self._global, **pax})
                pax = {}
            if member.size and t not in FILE_TYPES:
                # content on a link, dir or device is a parser-confusion vector: refuse it
                raise LayerError(
                    f"non-file entry declares {member.size} bytes of content",
                    layer=label,
                    entry=member.name,
                )
            name = member.name
            # UTF-8 takes at most 4 bytes a character: encode only names that may be too long
            if (
                len(name) * 4 > limits.max_path_bytes
                and len(name.encode(_ENC, _ERR)) > limits.max_path_bytes
            ):
                raise LimitExceededError(
                    f"layer {label}: entry name longer than {limits.max_path_bytes} bytes"
                )
            if member.size > limits.max_file_bytes:
                raise LimitExceededError(
                    f"layer {label}: entry {name!r} is {member.size} bytes,"
                    f" limit {limits.max_file_bytes}"
                )
            self._current = name
            if t in FILE_TYPES:
                self._remaining = member.size
                self._padding = -member.size % BLOCK
            yield member

    def _drain_end(self) -> None:
        """After the end marker only zero padding may follow (read it so digests cover it)."""
        while True:
            # Docker ignores data after the end marker; so do we, but it is read for the digests
            self._off = len(self._buf)
            if not self._fill(1):
                return

    def _cstr(self, payload: bytes) -> str:
        return payload.split(b"\0", 1)[0].decode(_ENC, _ERR)

    def _parse_pax(self, payload: bytes) -> dict[str, str]:
        out: dict[str, str] = {}
        pos = 0
        n = len(payload)
        while pos < n:
            if payload[pos] == 0:
                break
            sp = payload.find(b" ", pos, pos + 24)
            if sp < 0:
                raise LayerError(
                    "malformed pax header record", layer=self.label, entry=self._current
                )
            try:
                length = int(payload[pos:sp])
            except ValueError:
                raise LayerError(
                    "malformed pax header length", layer=self.label, entry=self._current
                ) from None
            end = pos + length
            if length < 5 or end > n or payload[end - 1 : end] != b"\n":
                raise LayerError(
                    "malformed pax header record", layer=self.label, entry=self._current
                )
            record = payload[sp + 1 : end - 1]
            key, eq, value = record.partition(b"=")
            if not eq:
                raise LayerError(
                    "malformed pax header record", layer=self.label, entry=self._current
                )
            k = key.decode(_ENC, _ERR)
            # xattr values are binary; keep them as latin-1 so bytes round-trip
            out[k] = value.decode("latin-1" if k.startswith("SCHILY.xattr.") else _ENC, _ERR)
            pos = end
        return out

    def _apply_pax(self, m: Member, pax: dict[str, str]) -> None:
        try:
            if "path" in pax:
                m.name = pax["path"]
            if "linkpath" in pax:
                m.linkname = pax["linkpath"]
            if "size" in pax:
                m.size = int(pax["size"])
            if "uid" in pax:
                m.uid = int(pax["uid"])
            if "gid" in pax:
                m.gid = int(pax["gid"])
            if "uname" in pax:
                m.uname = pax["uname"]
            if "gname" in pax:
                m.gname = pax["gname"]
            if "mtime" in pax:
                m.mtime = float(pax["mtime"])
        except ValueError:
            raise LayerError(
                "malformed numeric field in pax header", layer=self.label, entry=m.name
            ) from None
        if m.size < 0:
            raise LayerError("negative size in pax header", layer=self.label, entry=m.name)
        for k, v in pax.items():
            if k.startswith("SCHILY.xattr."):
                m.xattrs[k[len("SCHILY.xattr.") :]] = v
        if "\0" in m.name or "\0" in m.linkname:
            raise LayerError(
                "NUL byte in entry name", layer=self.label, entry=m.name.replace("\0", "\\0")
            )
