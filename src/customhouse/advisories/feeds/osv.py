"""OSV records from files: JSON or YAML records, directories of them, and zips (osv.dev's ``all.zip``)."""

from __future__ import annotations

import json
import lzma
import os
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

from customhouse.advisories.osv import (
    MAX_RECORD_BYTES,
    AdvisoryError,
    Vulnerability,
    parse_vulnerability,
)
from customhouse.yamltree import YamlAliasError, load_without_aliases

RECORD_SUFFIXES = (".json", ".yaml", ".yml")  # the files (and zip entries) read as records
MAX_ZIP_ENTRIES = 2_000_000
MAX_ZIP_RATIO = 200


@dataclass
class ImportReport:
    """What an import read: files, records, and the problems it skipped (never silently)."""

    files: int = 0
    records: int = 0
    skipped: list[str] = field(default_factory=list)
    by_kind: dict[str, int] = field(default_factory=dict)


def load_text(data: bytes, name: str) -> Any:
    if name.endswith((".yaml", ".yml")):
        import yaml

        try:
            return load_without_aliases(data, _yaml_loader())
        except YamlAliasError as e:
            raise AdvisoryError(f"{name}: {e}") from None
        except yaml.YAMLError as e:
            raise AdvisoryError(f"{name}: invalid YAML: {e}") from None
    try:
        return _json_loads(data)
    except (ValueError, RecursionError) as e:
        raise AdvisoryError(f"{name}: invalid JSON: {e}") from None


def _json_loads(data: bytes) -> Any:
    # msgspec, as the typed import path (typed.py) decodes: integers beyond 64 bits stay
    # exact (orjson makes floats of them); the stdlib takes what it refuses (NaN, a lone
    # surrogate, UTF-16), and its message names the problem better
    import msgspec

    try:
        return msgspec.json.decode(data)
    except msgspec.DecodeError:
        return json.loads(data)


_LOADER: Any = None


def _yaml_loader() -> Any:
    """A safe YAML loader that keeps timestamps as the strings OSV requires."""
    global _LOADER
    if _LOADER is None:
        import yaml

        base = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

        class Loader(base):  # type: ignore[valid-type,misc]
            pass

        Loader.yaml_implicit_resolvers = {
            ch: [(tag, rx) for tag, rx in resolvers if tag != "tag:yaml.org,2002:timestamp"]
            for ch, resolvers in base.yaml_implicit_resolvers.items()
        }
        _LOADER = Loader
    return _LOADER


def records_from_object(obj: Any, name: str, text: bytes | None = None) -> list[Vulnerability]:
    """OSV records from a parsed file; ``text``, the file's JSON, is kept for a single record."""
    if isinstance(obj, list):
        return [parse_vulnerability(o, f"{name}[{i}]") for i, o in enumerate(obj)]
    kept = None
    if text is not None:
        try:
            kept = text.decode("utf-8")
        except UnicodeDecodeError:  # JSON in UTF-16 or -32: the parsed record is stored
            pass
    return [parse_vulnerability(obj, name, text=kept)]


# What zipfile raises for a damaged zip or member
_ZIPFILE_ERRORS = (
    zipfile.BadZipFile,
    OSError,  # (bz2's "invalid data stream" too)
    EOFError,
    ValueError,  # a name that is not the UTF-8 it claims
    NotImplementedError,  # a "version needed" or method zipfile does not know
    RuntimeError,  # an encrypted member
    struct.error,
    zlib.error,
    lzma.LZMAError,
)


def open_zip(path: Path) -> zipfile.ZipFile:
    try:
        return zipfile.ZipFile(path)
    except _ZIPFILE_ERRORS as e:
        raise AdvisoryError(f"{path}: not a readable zip: {e}") from None


class ZipEntry(NamedTuple):
    """Where one record file lies in a zip, from the zip's central directory.

    Reading it takes one or two ``pread`` calls (:func:`read_zip_member`) instead of
    ``zipfile``'s per-member machinery, and a worker process that is handed entries
    never parses the central directory (hundreds of thousands of entries in an
    ``all.zip``) again.
    """

    name: str
    offset: int  # of the local file header
    compress_size: int
    file_size: int
    crc: int
    method: int


def zip_entries(path: Path, report: ImportReport) -> list[ZipEntry]:
    """The record files of a zip; entries that are suspicious or unreadable are reported and left out."""
    members = _central_directory(path)
    if members is None:  # not a plain zip: zipfile knows every variant
        members = _zipfile_members(path)
    if len(members) > MAX_ZIP_ENTRIES:
        raise AdvisoryError(f"{path}: {len(members)} entries is more than {MAX_ZIP_ENTRIES}")
    out = []
    for name, flags, method, crc, compress_size, file_size, offset in members:
        if not name.endswith(RECORD_SUFFIXES):  # (a directory ends with "/")
            continue
        if file_size > MAX_RECORD_BYTES or file_size > MAX_ZIP_RATIO * (compress_size or 1) + 65536:
            report.skipped.append(f"{path}!{name}: {file_size} bytes (zip bomb?)")
        elif compress_size > file_size + file_size // 64 + 1024:
            # more than deflate's worst case, or than a stored entry's size
            report.skipped.append(
                f"{path}!{name}: {compress_size} compressed bytes for {file_size} (corrupt sizes)"
            )
        elif flags & 1:
            report.skipped.append(f"{path}!{name}: encrypted")
        else:  # (tuple.__new__: at C speed; an all.zip has hundreds of thousands)
            out.append(_new(ZipEntry, (name, offset, compress_size, file_size, crc, method)))
    return out


_new = tuple.__new__
_EOCD = struct.Struct("<4s4H2LH")  # end of central directory record
# ZIP64 end of central directory record: signature, its length after this field, (the
# versions), disk, disk of the directory, entries on this disk, entries, directory size
# and offset; and its locator: signature, disk of the record, its offset, disks
_ZIP64_EOCD = struct.Struct("<4sQ4x2L4Q")
_ZIP64_LOCATOR = struct.Struct("<4sLQL")
# central directory file header: signature, (versions), flags, method, (time, date), CRC,
# sizes, lengths of name, extra field and comment, (disk, attributes), local header offset
_CENTRAL = struct.Struct("<4s4xHH4xLLLHHH8xL")
_Member = tuple[str, int, int, int, int, int, int]  # name, flags, method, crc, sizes, offset


def _zipfile_members(path: Path) -> list[_Member]:
    with open_zip(path) as zf:
        return [
            (
                i.filename,
                i.flag_bits,
                i.compress_type,
                i.CRC,
                i.compress_size,
                i.file_size,
                i.header_offset,
            )
            for i in zf.infolist()
        ]


def _central_directory(path: Path) -> list[_Member] | None:
    """The members of a plain zip (one disk, no comment, nothing before it; ZIP64 only for
    the member count, as zipfile writes more than 65,535 members), read in one pass:
    ``zipfile`` builds a ZipInfo per member, 17 us each here, which was most of an
    ``all.zip``'s listing. None for any other zip, which ``zipfile`` then reads."""
    try:
        with open(path, "rb") as f:
            size = f.seek(0, os.SEEK_END)
            if size < _EOCD.size:
                return None
            end = size - _EOCD.size
            f.seek(end)
            sig, disk, cd_disk, on_disk, count, cd_size, cd_offset, comment = _EOCD.unpack(
                f.read(_EOCD.size)
            )
            if sig != b"PK\x05\x06" or disk or cd_disk or on_disk != count or comment:
                return None
            if count == 0xFFFF or 0xFFFFFFFF in (cd_size, cd_offset):  # see the ZIP64 record
                end -= _ZIP64_LOCATOR.size + _ZIP64_EOCD.size
                if end < 0:
                    return None
                f.seek(end)
                record = f.read(_ZIP64_EOCD.size + _ZIP64_LOCATOR.size)
                (sig, length, disk, cd_disk, on_disk, count, cd_size, cd_offset) = (
                    _ZIP64_EOCD.unpack_from(record)
                )
                lsig, ldisk, where, disks = _ZIP64_LOCATOR.unpack_from(record, _ZIP64_EOCD.size)
                if (
                    sig != b"PK\x06\x06"
                    or length != _ZIP64_EOCD.size - 12  # (no extensible data)
                    or disk
                    or cd_disk
                    or on_disk != count
                    or lsig != b"PK\x06\x07"
                    or ldisk
                    or where != end
                    or disks != 1
                ):
                    return None
            if count > MAX_ZIP_ENTRIES or cd_offset + cd_size != end:
                return None
            f.seek(cd_offset)
            cd = f.read(cd_size)
    except OSError:
        return None
    members: list[_Member] = []
    pos, header, unpack = 0, _CENTRAL.size, _CENTRAL.unpack_from
    # Names are sliced from the directory decoded once as Latin-1 (byte n -> code point
    # n): a name that slice shows to be ASCII (a flag of the string: no scan) reads the
    # same in every encoding a zip may use; any other is decoded from its bytes.
    text = cd.decode("latin-1")
    try:
        for _ in range(count):
            sig, flags, method, crc, csize, usize, nlen, xlen, clen, offset = unpack(cd, pos)
            if sig != b"PK\x01\x02" or 0xFFFFFFFF in (csize, usize, offset):
                return None  # ZIP64 sizes or offsets
            start = pos + header
            name = text[start : start + nlen]
            if not name.isascii():
                name = cd[start : start + nlen].decode("utf-8" if flags & 0x800 else "cp437")
            if "\0" in name:
                name = name.split("\0", 1)[0]
            members.append((name, flags, method, crc, csize, usize, offset))
            pos = start + nlen + xlen + clen
    except (struct.error, UnicodeDecodeError):
        return None
    return members if pos == cd_size else None


_LOCAL_HEADER = struct.Struct("<4s22xHH")  # signature, ..., file name length, extra field length

_zlib: Any = zlib  # the stdlib is the fallback
try:  # ISA-L inflates a small record in two thirds of zlib's time
    from isal import isal_zlib

    _zlib = isal_zlib
except ImportError:  # pragma: no cover - isal is a dependency
    pass

_INFLATE_ERRORS: tuple[type[Exception], ...] = (zlib.error, _zlib.error)
_libdeflate: Any = None
_DEFLATE_ERRORS: tuple[type[Exception], ...] = ()
try:  # libdeflate inflates a small record whole in ~75% of ISA-L's time (8 against 11 us)
    import deflate

    _libdeflate = deflate.deflate_decompress
    _DEFLATE_ERRORS = (deflate.DeflateError,)
except ImportError:  # pragma: no cover - deflate is a dependency
    pass
_HEADER_SLACK = 256  # bytes read beyond the name for the local extra field (0-36 in practice)
# Deflate expands at most ~1032:1, so a member this small inflates to at most ~17 MB:
# it is inflated in one call; a larger one in bounded steps.
_ONE_SHOT = 16 * 1024


def read_zip_member(fd: int, entry: ZipEntry, path: str) -> tuple[bytes, bytes | None]:
    """One entry's bytes, checked against the directory's size and CRC (CorruptZipError if
    they differ), and the DEFLATE stream they were inflated from (None when the entry is
    not deflated): a store can keep a record as the stream. One ``pread`` fetches the
    local header and the data together."""
    size = entry.compress_size
    try:
        guess = _LOCAL_HEADER.size + len(entry.name) * 3 + _HEADER_SLACK
        blob = os.pread(fd, guess + size, entry.offset)
        if len(blob) < _LOCAL_HEADER.size:
            raise CorruptZipError(f"{path}!{entry.name}: corrupt zip entry: truncated header")
        signature, name_len, extra_len = _LOCAL_HEADER.unpack_from(blob)
        if signature != b"PK\x03\x04":
            raise CorruptZipError(f"{path}!{entry.name}: corrupt zip entry: bad local header")
        start = _LOCAL_HEADER.size + name_len + extra_len
        if start + size <= len(blob):
            raw = blob[start : start + size]
        else:  # a long extra field, or the data ends early
            raw = os.pread(fd, size, entry.offset + start)
    except OSError as e:
        raise CorruptZipError(f"{path}!{entry.name}: cannot read zip entry: {e.strerror}") from None
    except OverflowError:  # an offset or size no file has (a damaged ZIP64 field)
        raise CorruptZipError(f"{path}!{entry.name}: corrupt zip entry: bad offset") from None
    if len(raw) != size:
        raise CorruptZipError(f"{path}!{entry.name}: corrupt zip entry: truncated data")
    stream = None
    if entry.method == zipfile.ZIP_STORED:
        data = raw
    elif entry.method == zipfile.ZIP_DEFLATED:
        data = _inflate(raw, entry, path)
        stream = raw
    else:  # bzip2, lzma: rare in feeds; zipfile reads them
        data = _read_with_zipfile(path, entry.name, f"{path}!{entry.name}")
    if len(data) != entry.file_size:
        raise CorruptZipError(
            f"{path}!{entry.name}: corrupt zip entry: size differs from the directory's"
        )
    if _zlib.crc32(data) != entry.crc:
        raise CorruptZipError(f"{path}!{entry.name}: corrupt zip entry: CRC mismatch")
    return data, stream


def _inflate(raw: bytes, entry: ZipEntry, path: str) -> bytes:
    if _libdeflate is not None and len(raw) <= _ONE_SHOT:
        # into a buffer of the size the directory gives: a stream that inflates to more
        # fails, and so does a truncated or corrupt one; the path below then names why
        try:
            return bytes(_libdeflate(raw, entry.file_size))
        except _DEFLATE_ERRORS:
            pass
    try:
        if len(raw) <= _ONE_SHOT:  # (raises on a stream that stops early)
            return bytes(_zlib.decompress(raw, -15, entry.file_size or 1))
        inflater = _zlib.decompressobj(-15)
        # at most one byte more than the directory says: a liar is caught, not followed
        data = bytes(inflater.decompress(raw, entry.file_size + 1))
    except _INFLATE_ERRORS as e:
        raise CorruptZipError(f"{path}!{entry.name}: corrupt zip entry: {e}") from None
    if not inflater.eof and len(data) <= entry.file_size:
        raise CorruptZipError(f"{path}!{entry.name}: corrupt zip entry: truncated deflate stream")
    return data


def _read_with_zipfile(path: str, member: str, name: str) -> bytes:
    try:
        with zipfile.ZipFile(path) as zf, zf.open(member) as f:
            return f.read(MAX_RECORD_BYTES + 1)
    except _ZIPFILE_ERRORS as e:
        raise CorruptZipError(f"{name}: corrupt zip entry: {e}") from None


def records_from_data(data: bytes, what: str) -> list[Vulnerability]:
    """The records of a file's (or zip entry's) bytes; ``what`` names it, and its suffix
    says the format (JSON, whose text is kept, or YAML)."""
    text = data if what.endswith(".json") else None
    return records_from_object(load_text(data, what), what, text)


class CorruptZipError(AdvisoryError):
    """A zip entry cannot be read: the whole zip is refused, not just the entry."""


def open_fd(path: Path) -> int:
    try:
        return os.open(path, os.O_RDONLY)
    except OSError as e:
        raise AdvisoryError(f"{path}: cannot open: {e.strerror}") from None
