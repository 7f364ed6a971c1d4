"""rpm's SQLite database (``rpmdb.sqlite``, rpm ≥ 4.16): table ``Packages(hnum, blob)``.

The bytes are loaded into an in-memory database (``Connection.deserialize``): the image's
file is never opened on disk, and nothing is written. rpm keeps the database in WAL
mode; an in-memory copy cannot use a WAL, so the file-format bytes 18-19 of the copy
are set back to the rollback journal (1, 1). Writes that sit in ``rpmdb.sqlite-wal``
are another file; :func:`wal_frames` counts them so the cataloger can say so.

A progress handler bounds the work SQLite may do, so a crafted schema (a view named
``Packages`` with a runaway query) is stopped instead of hanging the scan.
"""

from __future__ import annotations

import sqlite3
import struct
from collections.abc import Callable, Iterator

__all__ = ["MAGIC", "blobs", "wal_frames"]

MAGIC = b"SQLite format 3\0"
_WAL_MAGICS = frozenset({0x377F0682, 0x377F0683})
_WAL_HEADER = 32
_WAL_FRAME_HEADER = 24
#: SQLite virtual-machine steps between progress-handler calls, and how many calls
_STEP = 10_000
_MAX_CALLS = 20_000  # 2e8 steps: far beyond any real rpmdb, small enough to stop a trap


def blobs(data: bytes, warn: Callable[[str], None]) -> Iterator[tuple[int, bytes]]:
    """Yield ``(hnum, header blob)`` for each row of ``Packages``."""
    if len(data) < 100 or not data.startswith(MAGIC):
        warn("not an SQLite 3 database (bad magic or shorter than its 100-byte header)")
        return
    image = bytearray(data)
    missing = _missing_bytes(data, warn)
    if 0 < missing <= len(data):
        # zero-filled pages read as corrupt, not absent: rows on intact pages are kept
        image += bytes(missing)
    if image[18] == 2 or image[19] == 2:  # WAL mode: read the copy as a rollback database
        image[18] = image[19] = 1
    conn = sqlite3.connect(":memory:")
    calls = 0

    def progress() -> int:
        nonlocal calls
        calls += 1
        return 1 if calls > _MAX_CALLS else 0  # non-zero aborts the statement

    try:
        conn.deserialize(bytes(image))
        conn.execute("PRAGMA query_only = ON")
        conn.execute("PRAGMA trusted_schema = OFF")
        conn.set_progress_handler(progress, _STEP)
        kind = conn.execute(
            "SELECT type FROM sqlite_master WHERE name = 'Packages' COLLATE NOCASE"
        ).fetchone()
        if kind is None:
            warn("no Packages table: not an rpm database")
            return
        if kind[0] != "table":
            warn(f"Packages is a {kind[0]}, not a table: not an rpm database")
            return
        rows = conn.execute("SELECT hnum, blob FROM Packages ORDER BY hnum")
        for hnum, blob in rows:
            if not isinstance(blob, bytes):
                warn(f"package {hnum!r}: the blob is a {type(blob).__name__}, not bytes; skipped")
                continue
            yield (hnum if isinstance(hnum, int) else -1), blob
    except sqlite3.Error as e:
        reason = "too much work (aborted)" if calls > _MAX_CALLS else str(e)
        warn(f"SQLite: {reason}")
    finally:
        conn.close()


def _missing_bytes(data: bytes, warn: Callable[[str], None]) -> int:
    """How many bytes a truncated file lacks, from the page size and count in its header."""
    (page_size,) = struct.unpack_from(">H", data, 16)
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        warn(f"SQLite: invalid page size {page_size}")
        return 0
    change_counter, pages = struct.unpack_from(">II", data, 24)
    (valid_for,) = struct.unpack_from(">I", data, 92)
    expected = len(data) + (-len(data) % page_size)
    if pages and change_counter == valid_for:
        expected = max(expected, pages * page_size)
    if expected > len(data):
        warn(
            f"SQLite: truncated: {len(data)} bytes, the header records {pages} pages of "
            f"{page_size} ({expected} bytes); packages on the missing pages are lost"
        )
    return expected - len(data)


def wal_frames(data: bytes) -> int | None:
    """The number of frames in a ``-wal`` file, or None if it is not a WAL."""
    if len(data) < _WAL_HEADER:
        return None
    magic, _version, page_size = struct.unpack_from(">III", data, 0)
    if page_size == 1:  # the encoding of 65536
        page_size = 65536
    if magic not in _WAL_MAGICS or page_size < 512 or page_size & (page_size - 1):
        return None
    frames: int = (len(data) - _WAL_HEADER) // (_WAL_FRAME_HEADER + page_size)
    return frames
