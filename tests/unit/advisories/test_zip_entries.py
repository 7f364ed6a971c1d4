"""Reading feed zips entry by entry (``feeds/osv.py``): every entry's bytes equal what
``zipfile`` reads, and each way a zip can lie about an entry is caught."""

from __future__ import annotations

import hashlib
import io
import json
import os
import struct
import zipfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customhouse.advisories import importer
from customhouse.advisories.feeds import osv as feeds_osv
from customhouse.advisories.feeds.osv import (
    CorruptZipError,
    ImportReport,
    _central_directory,
    _zipfile_members,
    read_zip_member,
    zip_entries,
)
from customhouse.advisories.osv import AdvisoryError


@pytest.fixture(params=["libdeflate", "zlib"])
def inflater(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A test twice: small members inflated by libdeflate (which only says that it
    failed, and hands over to the zlib path to name why), and by the zlib path alone."""
    if request.param == "libdeflate":
        assert feeds_osv._libdeflate is not None, "the deflate package is a dependency"
    else:
        monkeypatch.setattr(feeds_osv, "_libdeflate", None)


def _record(vid: str) -> bytes:
    return json.dumps(
        {
            "id": vid,
            "modified": "2024-01-01T00:00:00Z",
            "details": "d" * 3000,
            "affected": [{"package": {"ecosystem": "PyPI", "name": "demo"}, "versions": ["1.0"]}],
        }
    ).encode()


def _read_all(path: Path) -> dict[str, bytes]:
    report = ImportReport()
    entries = zip_entries(path, report)
    fd = os.open(path, os.O_RDONLY)
    try:
        return {e.name: read_zip_member(fd, e, str(path))[0] for e in entries}
    finally:
        os.close(fd)


@pytest.mark.usefixtures("inflater")
@pytest.mark.parametrize(
    "method", [zipfile.ZIP_DEFLATED, zipfile.ZIP_STORED, zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA]
)
def test_entries_read_as_zipfile_reads_them(tmp_path: Path, method: int) -> None:
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w", method) as zf:
        for i in range(5):
            zf.writestr(f"PYSEC-{i}.json", _record(f"PYSEC-{i}"))
        zf.writestr("empty.json", b"")
        zf.writestr("notes/README.txt", b"not a record")  # not a record file: left out
    with zipfile.ZipFile(archive) as zf:
        expected = {n: zf.read(n) for n in zf.namelist() if n.endswith(".json")}
    assert _read_all(archive) == expected


def _one_entry_zip(tmp_path: Path) -> tuple[Path, zipfile.ZipInfo, bytearray]:
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("PYSEC-1.json", _record("PYSEC-1"))
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("PYSEC-1.json")
    return archive, info, bytearray(archive.read_bytes())


def _central_offset(data: bytearray) -> int:
    return data.rindex(b"PK\x01\x02")


@pytest.mark.usefixtures("inflater")
def test_a_crc_mismatch_is_a_corrupt_entry(tmp_path: Path) -> None:
    archive, _, data = _one_entry_zip(tmp_path)
    crc_at = _central_offset(data) + 16  # the central directory's CRC-32, which we check
    data[crc_at : crc_at + 4] = struct.pack("<I", 0x12345678)
    archive.write_bytes(bytes(data))
    with pytest.raises(CorruptZipError, match="CRC mismatch"):
        _read_all(archive)


@pytest.mark.usefixtures("inflater")
def test_an_entry_larger_than_the_directory_says_is_corrupt_not_followed(tmp_path: Path) -> None:
    archive, info, data = _one_entry_zip(tmp_path)
    size_at = _central_offset(data) + 24  # uncompressed size
    data[size_at : size_at + 4] = struct.pack("<I", info.file_size - 100)
    archive.write_bytes(bytes(data))
    with pytest.raises(CorruptZipError, match="size differs"):
        _read_all(archive)


@pytest.mark.usefixtures("inflater")
def test_a_truncated_zip_is_corrupt(tmp_path: Path) -> None:
    archive, info, data = _one_entry_zip(tmp_path)
    central = _central_offset(data)
    start = info.header_offset + 30 + len(info.filename)
    # drop the second half of the deflated data, keep the directory: the entry ends early
    cut = start + info.compress_size // 2
    archive.write_bytes(
        bytes(data[:cut] + data[start + info.compress_size : central] + data[central:])
    )
    with pytest.raises(CorruptZipError):
        _read_all(archive)


@pytest.mark.usefixtures("inflater")
def test_a_bad_local_header_is_corrupt(tmp_path: Path) -> None:
    archive, info, data = _one_entry_zip(tmp_path)
    data[info.header_offset : info.header_offset + 4] = b"XXXX"
    archive.write_bytes(bytes(data))
    with pytest.raises(CorruptZipError, match="bad local header"):
        _read_all(archive)


def test_lying_compressed_sizes_and_encrypted_entries_are_reported_and_left_out(
    tmp_path: Path,
) -> None:
    archive, _, data = _one_entry_zip(tmp_path)
    central = _central_offset(data)
    size_at = central + 20  # compressed size: far more than deflate's worst case
    data[size_at : size_at + 4] = struct.pack("<I", 50_000_000)
    archive.write_bytes(bytes(data))
    report = ImportReport()
    assert zip_entries(archive, report) == []
    assert "corrupt sizes" in report.skipped[0]

    archive, _, data = _one_entry_zip(tmp_path)
    central = _central_offset(data)
    flags = struct.unpack_from("<H", data, central + 8)[0]
    struct.pack_into("<H", data, central + 8, flags | 1)  # "encrypted"
    archive.write_bytes(bytes(data))
    report = ImportReport()
    assert zip_entries(archive, report) == []
    assert report.skipped == [f"{archive}!PYSEC-1.json: encrypted"]


def _with_zip64_end(data: bytes) -> bytes:
    """The zip ``data`` (no comment) with a ZIP64 end of central directory record, as zipfile
    writes one for more than 65,535 members."""
    end = len(data) - 22
    count, cd_size, cd_offset = struct.unpack_from("<HLL", data, end + 10)
    record = struct.pack(
        "<4sQHHLLQQQQ", b"PK\x06\x06", 44, 45, 45, 0, 0, count, count, cd_size, cd_offset
    )
    locator = struct.pack("<4sLQL", b"PK\x06\x07", 0, end, 1)
    eocd = struct.pack("<4s4H2LH", b"PK\x05\x06", 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return data[:end] + record + locator + eocd


@pytest.mark.parametrize(
    "variant",
    ["plain", "utf8-names", "cp437-names", "comment", "zip64", "zip64-end", "prepended", "dirs"],
)
def test_the_central_directory_is_read_as_zipfile_reads_it(tmp_path: Path, variant: str) -> None:
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        if variant == "dirs":
            zf.writestr("vulns/", b"")
        for i in range(3):
            name = f"caf\u00e9-{i}.json" if "names" in variant else f"vulns/PYSEC-{i}.json"
            if variant == "zip64":
                with zf.open(name, "w", force_zip64=True) as f:
                    f.write(_record(f"PYSEC-{i}"))
            else:
                zf.writestr(name, _record(f"PYSEC-{i}"))
        if variant == "comment":
            zf.comment = b"osv"
    if variant == "prepended":  # a zip after other data: offsets are shifted (zipfile allows it)
        archive.write_bytes(b"#!/bin/sh\nexit 0\n" + archive.read_bytes())
    if variant == "zip64-end":
        archive.write_bytes(_with_zip64_end(archive.read_bytes()))
    if variant == "cp437-names":  # the same bytes, not flagged UTF-8: read as code page 437
        data = bytearray(archive.read_bytes())
        for signature, flags_at in ((b"PK\x01\x02", 8), (b"PK\x03\x04", 6)):
            at = data.find(signature)
            while at >= 0:
                (flags,) = struct.unpack_from("<H", data, at + flags_at)
                struct.pack_into("<H", data, at + flags_at, flags & ~0x800)
                at = data.find(signature, at + 4)
        archive.write_bytes(bytes(data))
    fast = _central_directory(archive)
    expected = _zipfile_members(archive)  # zipfile's own reading
    if variant == "cp437-names":
        assert expected[0][0] == "caf\u251c\u2310-0.json"  # (UTF-8's bytes, as code page 437)
    if variant in ("comment", "prepended"):
        assert fast is None  # left to zipfile
    else:  # (small ZIP64 members have ZIP64 fields in their local headers only)
        assert fast == expected  # read in one pass
    report = ImportReport()
    entries = zip_entries(archive, report)
    assert [(e.name, e.offset, e.crc) for e in entries] == [
        (m[0], m[6], m[3]) for m in expected if m[0].endswith(".json")
    ]
    assert len(_read_all(archive)) == 3


def test_a_zip_of_more_than_65535_members_is_read_in_one_pass(tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_STORED) as zf:
        for i in range(65_540):  # zipfile writes ZIP64 end records for these
            zf.writestr(f"R-{i}.json", b"{}")
    assert archive.read_bytes()[-42:-38] == b"PK\x06\x07"  # a ZIP64 locator
    fast = _central_directory(archive)
    assert fast is not None and fast == _zipfile_members(archive)


def test_a_name_that_is_not_the_utf8_it_claims_is_an_input_error(tmp_path: Path) -> None:
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.writestr("caf\u00e9.json", _record("PYSEC-1"))  # flagged UTF-8
    data = bytearray(archive.read_bytes())
    at = data.rindex("caf\u00e9".encode())  # the central directory's copy of the name
    data[at + 3 : at + 5] = b"\xff\xfe"
    archive.write_bytes(bytes(data))
    with pytest.raises(AdvisoryError, match="not a readable zip"):
        zip_entries(archive, ImportReport())


@pytest.mark.usefixtures("inflater")
def test_long_local_extra_fields_and_large_members_read_as_zipfile_reads_them(
    tmp_path: Path,
) -> None:
    archive = tmp_path / "all.zip"
    noise = b"".join(hashlib.sha256(str(i).encode()).digest() for i in range(2000))  # 64 KB
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        info = zipfile.ZipInfo("PYSEC-1.json")
        info.compress_type = zipfile.ZIP_DEFLATED
        info.extra = b"\xca\xfe" + struct.pack("<H", 996) + b"x" * 996  # past the read-ahead
        zf.writestr(info, _record("PYSEC-1"))
        # incompressible: more compressed bytes than are inflated in one call
        zf.writestr("PYSEC-2.json", json.dumps({"id": "PYSEC-2", "details": noise.hex()}))
    with zipfile.ZipFile(archive) as zf:
        expected = {n: zf.read(n) for n in zf.namelist()}
        assert zf.getinfo("PYSEC-2.json").compress_size > 16 * 1024
    assert _read_all(archive) == expected


_GOOD_ZIP_CACHE: list[bytes] = []


def _good_zip() -> bytes:
    if not _GOOD_ZIP_CACHE:
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
            for i in range(3):
                zf.writestr(f"PYSEC-{i}.json", _record(f"PYSEC-{i}"))
            zf.writestr("PYSEC-9.json", b'{"id": "PYSEC-9"}', compress_type=zipfile.ZIP_STORED)
            for method in (zipfile.ZIP_BZIP2, zipfile.ZIP_LZMA):  # read by zipfile
                zf.writestr(f"PYSEC-{method}.json", _record("PYSEC-M"), compress_type=method)
        _GOOD_ZIP_CACHE.append(buf.getvalue())
    return _GOOD_ZIP_CACHE[0]


@pytest.mark.usefixtures("inflater")
@settings(
    max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(st.tuples(st.integers(0, 1 << 16), st.integers(0, 255)), min_size=1, max_size=6),
    st.booleans(),
)
def test_a_damaged_zip_is_an_input_error_never_a_crash(
    tmp_path: Path, flips: list[tuple[int, int]], zip64_end: bool
) -> None:
    data = bytearray(_with_zip64_end(_good_zip()) if zip64_end else _good_zip())
    for at, value in flips:
        data[at % len(data)] = value
    archive = tmp_path / "damaged.zip"
    archive.write_bytes(bytes(data))
    report = ImportReport()
    try:
        entries = zip_entries(archive, report)
        try:
            for entry in entries:  # as the import reads them (typed path, then general)
                try:
                    importer._load_batch([(str(archive), entry)], "src")  # skips bad records
                except CorruptZipError:
                    break  # the whole zip is refused
        finally:
            importer._close_zips()
    except AdvisoryError:
        pass  # "not a readable zip", "too many entries", ...
