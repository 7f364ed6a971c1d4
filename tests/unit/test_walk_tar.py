"""The tar reader, header by header: what it reads must equal what the stdlib's tarfile reads
from archives tarfile writes (ustar, GNU and pax), and numeric fields follow Go's archive/tar."""

from __future__ import annotations

import io
import os
import tarfile
from collections.abc import Iterator

import pytest

from customhouse.errors import LayerError
from customhouse.limits import DEFAULT_LIMITS
from customhouse.walk.tar import LNK, SYM, Member, TarStream, _byte_sum, _num

FORMATS = {"ustar": tarfile.USTAR_FORMAT, "gnu": tarfile.GNU_FORMAT, "pax": tarfile.PAX_FORMAT}


def _members(data: bytes) -> list[Member]:
    chunks: Iterator[bytes] = iter([data[i : i + 1000] for i in range(0, len(data), 1000)])
    return list(TarStream(lambda: next(chunks, b""), label="test", limits=DEFAULT_LIMITS))


def _info(name: str, type_: bytes, **kw: object) -> tarfile.TarInfo:
    ti = tarfile.TarInfo(name)
    ti.type = type_
    for k, v in kw.items():
        setattr(ti, k, v)
    return ti


def _entries(fmt: int) -> list[tuple[tarfile.TarInfo, bytes | None]]:
    long_dir = "usr/share/" + "d" * 60 + "/" + "e" * 60  # > 100 bytes: ustar prefix or extension
    out: list[tuple[tarfile.TarInfo, bytes | None]] = [
        (_info("etc", tarfile.DIRTYPE, mode=0o755, mtime=1_700_000_000), None),
        (
            _info(
                "etc/passwd",
                tarfile.REGTYPE,
                mode=0o644,
                uid=0,
                gid=42,
                uname="root",
                gname="shadow",
                mtime=1_600_000_000,
            ),
            b"root:x:0:0::/root:/bin/sh\n",
        ),
        (_info("bin", tarfile.SYMTYPE, linkname="usr/bin", mode=0o777), None),
        (_info("etc/pw", tarfile.LNKTYPE, linkname="etc/passwd", mode=0o644), None),
        (_info("run/fifo", tarfile.FIFOTYPE, mode=0o600), None),
        (_info(long_dir, tarfile.DIRTYPE, mode=0o700), None),
        (
            _info(long_dir + "/file.txt", tarfile.REGTYPE, mode=0o4755, uid=1000, gid=1000),
            b"x" * 513,
        ),
        (_info("empty", tarfile.REGTYPE, mode=0o600), b""),
    ]
    if fmt != tarfile.USTAR_FORMAT:
        # beyond ustar: a name no prefix split can hold, a long link target, a big uid
        # (base-256 in GNU, a pax record in pax) and non-ASCII names
        out += [
            (_info("a/" + "n" * 240, tarfile.REGTYPE, mode=0o644), b"long"),
            (_info("lnk", tarfile.SYMTYPE, linkname="t/" * 70 + "target", mode=0o777), None),
            (_info("big-uid", tarfile.REGTYPE, uid=0o7777777 + 10, gid=3_000_000_000), b"u"),
            (_info("caf\u00e9/na\u00efve.txt", tarfile.REGTYPE, mode=0o644), b"utf8"),
        ]
    return out


@pytest.mark.parametrize("fmt", sorted(FORMATS))
def test_headers_read_equal_to_tarfile(fmt: str) -> None:
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=FORMATS[fmt], encoding="utf-8") as tf:
        for ti, content in _entries(FORMATS[fmt]):
            if content is not None:
                ti.size = len(content)
            tf.addfile(ti, io.BytesIO(content) if content is not None else None)
    data = buf.getvalue()
    ours = _members(data)
    with tarfile.open(fileobj=io.BytesIO(data), mode="r", encoding="utf-8") as tf:
        theirs = tf.getmembers()
    assert len(ours) == len(theirs)
    for m, ti in zip(ours, theirs, strict=True):
        assert m.name.rstrip("/") == ti.name.rstrip("/")  # names are raw; tarfile strips the "/"
        assert m.type == ti.type
        assert (m.mode, m.uid, m.gid, m.size) == (ti.mode, ti.uid, ti.gid, ti.size)
        assert (m.uname, m.gname) == (ti.uname, ti.gname)
        assert m.mtime == float(ti.mtime)
        assert m.linkname == (ti.linkname if ti.type in (LNK, SYM) else "")


def _header(**fields: bytes) -> bytes:
    """A ustar header with the given raw fields and a correct checksum."""
    offsets = {
        "name": (0, 100),
        "mode": (100, 8),
        "uid": (108, 8),
        "gid": (116, 8),
        "size": (124, 12),
        "mtime": (136, 12),
        "type": (156, 1),
        "linkname": (157, 100),
        "magic": (257, 8),
        "devmajor": (329, 8),
        "devminor": (337, 8),
    }
    block = bytearray(512)
    defaults = {"name": b"f", "mode": b"0000644\0", "type": b"0", "magic": b"ustar\x0000"}
    for key, value in {**defaults, **fields}.items():
        off, length = offsets[key]
        assert len(value) <= length
        block[off : off + len(value)] = value
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)
    return bytes(block)


def test_link_name_of_a_regular_file_is_ignored() -> None:
    (m,) = _members(_header(linkname=b"garbage") + bytes(1024))
    assert m.linkname == ""


def test_device_numbers_are_read_for_devices_only() -> None:
    dev = _header(type=b"3", devmajor=b"0000001\0", devminor=b"0000003\0")
    reg = _header(name=b"g", devmajor=b"0000001\0", devminor=b"0000003\0")
    d, r = _members(dev + reg + bytes(1024))
    assert (d.devmajor, d.devminor) == (1, 3)
    assert (r.devmajor, r.devminor) == (0, 0)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        (b"0000644\0", 0o644),
        (b"0000644 ", 0o644),
        (b" 644  \0\0", 0o644),
        (b"\0\0 644 \0", 0o644),  # leading NULs and spaces are trimmed, as Go does
        (b"\0" * 8, 0),
        (b" " * 8, 0),
        (b"00000000000\0", 0),
        (b"\x80" + (10**12).to_bytes(11, "big"), 10**12),  # GNU base-256, positive
        (b"\xff" * 12, -1),  # GNU base-256, negative
    ],
)
def test_numeric_field_values(field: bytes, value: int) -> None:
    assert _num(field) == value


@pytest.mark.parametrize(
    "field",
    [
        b"0o17\0\0\0\0",
        b"+12\0\0\0\0\0",
        b"-12\0\0\0\0\0",
        b"1_2\0\0\0\0\0",
        b"12 34\0\0\0",
        b"0009\0\0\0\0",
    ],
)
def test_numeric_field_malformed(field: bytes) -> None:
    with pytest.raises(ValueError):
        _num(field)
    with pytest.raises(LayerError, match="bad numeric field"):
        _members(_header(mode=field) + bytes(1024))


@pytest.mark.parametrize(
    "field", [b"0000644\0", b"\0\0 644 \0", b"\0" * 8, b"\x80" + bytes(6) + b"\x01"]
)
def test_fast_and_field_by_field_reading_agree(field: bytes) -> None:
    (m,) = _members(_header(mode=field) + bytes(1024))
    assert m.mode == _num(field)


def test_byte_sum_equals_sum() -> None:
    for block in [bytes(512), b"\xff" * 512, os.urandom(512), bytes(range(256)) * 2]:
        assert _byte_sum(block) == sum(block)


def test_checksum_mismatch_refused() -> None:
    block = bytearray(_header())
    block[0:1] = b"g"
    with pytest.raises(LayerError, match="checksum mismatch"):
        _members(bytes(block) + bytes(1024))
