"""The local advisory database: one SQLite file, indexed by (ecosystem, package).

Writers never modify the live file: :class:`StoreBuilder` copies it (SQLite backup
API) into a temporary file beside it, applies the changes in one transaction, and
renames the result over the original. A failed or interrupted update therefore
leaves the previous database exactly as it was.
"""

# Annotations are evaluated, not postponed (no ``from __future__ import annotations``):
# typing.NamedTuple compiles every string annotation, ~60 us a field at each start-up.
import json
import os
import re
import sqlite3
import time
import zlib
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from functools import partial
from itertools import chain, filterfalse
from operator import itemgetter
from pathlib import Path
from typing import Any, NamedTuple

from customhouse.advisories.osv import (
    MAX_RECORD_BYTES,
    Affected,
    Candidate,
    Event,
    Range,
    Vulnerability,
    normalize_name,
    parse_vulnerability,
)
from customhouse.errors import InputError, StorageError

# 3: a row per affected entry; listed versions kept as canonical keys
# 4: an entry is stored laid out as osv.Affected (its ecosystem included): it decodes in one call
# 5: a record read from a zip is stored as the zip held it, a DEFLATE stream (see record_text)
SCHEMA_VERSION = 5

_SCHEMA = """
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE sources (
  name TEXT PRIMARY KEY,
  url TEXT,
  fetched_at TEXT,
  etag TEXT,
  last_modified TEXT,
  record_count INTEGER NOT NULL DEFAULT 0,
  extra TEXT
);
CREATE TABLE vulns (
  id TEXT NOT NULL,
  source TEXT NOT NULL,
  modified TEXT NOT NULL,
  withdrawn TEXT,
  json NOT NULL
);
CREATE TABLE affected (
  ecosystem TEXT NOT NULL,
  name TEXT NOT NULL,
  vuln_id TEXT NOT NULL,
  live INTEGER NOT NULL,
  entry TEXT NOT NULL,
  vkeys TEXT
);
CREATE TABLE aliases (alias TEXT NOT NULL, vuln_id TEXT NOT NULL);
"""
# ``vulns.json`` is the record's JSON: compact text, or (a BLOB) the raw DEFLATE stream of
# the JSON as the zip it was imported from held it (see record_text). Storing the stream
# spares an import of osv.dev's all.zip compacting and writing every record (osv.dev
# indents its files): 12 us a record, a tenth of the import, and a third of the file.
# One ``affected`` row per entry of a record that names a package: ``live`` is 0 when
# the record is withdrawn; ``entry`` is the entry's matching view (see entry_json)
# without the listed versions that have a canonical key (see _version_keys); ``vkeys``
# holds those keys as " k1 k2 ... ", so "is the installed version listed?" is one
# substring test instead of decoding and comparing the list.
# The indexes are built after a bulk insert into a new database (one sort each beats
# updating them row by row). Those that only find the rows of a record to replace or
# delete (_REPLACE_INDEXES) are built the first time a builder replaces or deletes: a new
# database that nothing has changed yet has no use for them (they were a third of the
# end of an import: 0.2 s per 100,000 records).
_INDEXES = """
CREATE UNIQUE INDEX IF NOT EXISTS vulns_id ON vulns (id);
CREATE INDEX IF NOT EXISTS affected_pkg ON affected (ecosystem, name, vuln_id);
CREATE INDEX IF NOT EXISTS aliases_alias ON aliases (alias);
"""
_REPLACE_INDEXES = """
CREATE INDEX IF NOT EXISTS affected_vuln ON affected (vuln_id);
CREATE INDEX IF NOT EXISTS aliases_vuln ON aliases (vuln_id);
"""
_DROP_INDEXES = """
DROP INDEX IF EXISTS vulns_id;
DROP INDEX IF EXISTS affected_pkg;
DROP INDEX IF EXISTS affected_vuln;
DROP INDEX IF EXISTS aliases_alias;
DROP INDEX IF EXISTS aliases_vuln;
"""
_PAGE_SIZE = 16384

AffectedRow = tuple[str, str, str, int, str, str | None]
# (id, source, modified, withdrawn, JSON text or DEFLATE stream: see record_text)
VulnRow = tuple[str, str, str, str | None, str | bytes]
PreparedRows = tuple[list[VulnRow], list[AffectedRow], list[tuple[str, str]]]


class DatabaseError(InputError):
    """The advisory database is missing, corrupt or of another schema version."""


def default_db_path() -> Path:
    env = os.environ.get("CUSTOMHOUSE_DB")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_DATA_HOME") or os.path.join(
        os.path.expanduser("~"), ".local", "share"
    )
    return Path(xdg) / "customhouse" / "advisories.db"


class SourceInfo(NamedTuple):
    name: str
    url: str | None
    fetched_at: str | None
    etag: str | None
    last_modified: str | None
    record_count: int
    extra: dict[str, Any]


class AdvisoryStore:
    """Read access. Opened read-only; safe to share across threads of one process."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._cache: dict[str, Vulnerability] = {}
        if not path.is_file():
            raise DatabaseError(
                f"no advisory database at {path}; run 'customhouse db import PATH' or 'customhouse db update'"
            )
        try:
            self._db = sqlite3.connect(
                f"file:{path}?mode=ro&immutable=1", uri=True, check_same_thread=False
            )
            row = self._db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
        except sqlite3.DatabaseError as e:
            raise DatabaseError(f"{path} is not a customhouse advisory database: {e}") from None
        if row is None or int(row[0]) != SCHEMA_VERSION:
            raise DatabaseError(
                f"{path} has schema version {row[0] if row else '?'}; this customhouse reads {SCHEMA_VERSION}."
                " Rebuild it with 'customhouse db update' or 'customhouse db import'."
            )

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> "AdvisoryStore":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lookup(self, ecosystem: str, name: str) -> list[Vulnerability]:
        rows = self._db.execute(
            "SELECT id, json FROM vulns WHERE withdrawn IS NULL AND id IN"
            " (SELECT vuln_id FROM affected WHERE ecosystem = ? AND name = ?) ORDER BY id",
            (ecosystem, normalize_name(ecosystem, name)),
        ).fetchall()
        return [_stored_record(j, i) for i, j in rows]

    def lookup_raw(self, ecosystem: str, name: str) -> list[str]:
        rows = self._db.execute(
            "SELECT id, json FROM vulns WHERE id IN"
            " (SELECT vuln_id FROM affected WHERE ecosystem = ? AND name = ?) ORDER BY id",
            (ecosystem, normalize_name(ecosystem, name)),
        ).fetchall()
        return [record_text(j, i) for i, j in rows]

    def candidates(self, ecosystem: str, name: str, version: str) -> list[Candidate]:
        """The affected entries of every live record naming the package, and whether each lists ``version``.

        This is what the matcher asks for each installed package. Whether the entry's
        ``versions`` list holds the version (by the ecosystem's version equality:
        PyPI "1.0" lists "1.0.0") is answered by SQLite from canonical keys, so the
        lists are never decoded; the few listed versions without a key (unparseable,
        or of a scheme without exact keys, such as Maven) stay in ``Affected.versions``
        for the caller to compare. The entry is its matching view: ``GIT`` ranges
        (commits, which no version is compared with) are left out. Whole records are
        fetched (:meth:`get_many`) for the hits alone.
        """
        rows = self._db.execute(
            "SELECT vuln_id, entry, vkeys FROM affected"
            " WHERE ecosystem = ? AND name = ? AND live ORDER BY vuln_id",
            (ecosystem, normalize_name(ecosystem, name)),
        ).fetchall()
        if not rows:
            return []  # most installed packages have no advisory: no version key to compute
        key = version_key(ecosystem, version) if any(r[2] for r in rows) else None
        # Python's substring search beats SQLite's instr() on long lists by far
        needle = f" {key} " if key is not None else None
        entries = _decode_entries(f"[{','.join(r[1] for r in rows)}]")  # one parse for all
        return [
            _new(
                Candidate,
                (vid, entry, needle is not None and vkeys is not None and needle in vkeys),
            )
            for (vid, _, vkeys), entry in zip(rows, entries, strict=True)
        ]

    def get_many(self, ids: Iterable[str]) -> dict[str, Vulnerability]:
        """Whole records by id (cached: a scan of many images asks for the same ones)."""
        out: dict[str, Vulnerability] = {}
        missing = []
        for i in ids:
            cached = self._cache.get(i)
            if cached is not None:
                out[i] = cached
            else:
                missing.append(i)
        for start in range(0, len(missing), 500):
            chunk = missing[start : start + 500]
            marks = ",".join("?" * len(chunk))
            for vid, text in self._db.execute(
                f"SELECT id, json FROM vulns WHERE id IN ({marks})", chunk
            ):
                v = _stored_record(text, vid)
                if len(self._cache) > 4096:
                    self._cache.clear()
                self._cache[vid] = out[vid] = v
        return out

    def has_ecosystem(self, ecosystem: str) -> bool:
        """Whether any record is filed under ``ecosystem`` (e.g. "Debian:12")."""
        row = self._db.execute(
            "SELECT 1 FROM affected WHERE ecosystem = ? LIMIT 1", (ecosystem,)
        ).fetchone()
        return row is not None

    def get(self, vuln_id: str) -> Vulnerability | None:
        row = self._db.execute("SELECT id, json FROM vulns WHERE id = ?", (vuln_id,)).fetchone()
        if row is None:
            row = self._db.execute(
                "SELECT v.id, v.json FROM aliases a JOIN vulns v ON v.id = a.vuln_id"
                " WHERE a.alias = ? LIMIT 1",
                (vuln_id,),
            ).fetchone()
        return _stored_record(row[1], row[0]) if row else None

    def search(
        self, name: str, ecosystem: str | None = None, limit: int = 200
    ) -> list[tuple[str, str, str]]:
        pattern = name.lower().replace("%", "\\%").replace("_", "\\_")
        sql = (
            "SELECT DISTINCT a.ecosystem, a.name, a.vuln_id FROM affected a"
            " WHERE lower(a.name) LIKE ? ESCAPE '\\'"
        )
        args: list[Any] = [f"%{pattern}%"]
        if ecosystem:
            sql += " AND (a.ecosystem = ? OR a.ecosystem LIKE ?)"
            args += [ecosystem, f"{ecosystem}:%"]
        sql += " ORDER BY a.ecosystem, a.name, a.vuln_id LIMIT ?"
        args.append(limit)
        return [(r[0], r[1], r[2]) for r in self._db.execute(sql, args)]

    def sources(self) -> list[SourceInfo]:
        return [
            SourceInfo(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]) if r[6] else {})
            for r in self._db.execute(
                "SELECT name, url, fetched_at, etag, last_modified, record_count, extra FROM sources ORDER BY name"
            )
        ]

    def meta(self) -> dict[str, str]:
        return {k: v for k, v in self._db.execute("SELECT key, value FROM meta")}

    def counts(self) -> dict[str, int]:
        return {
            "vulnerabilities": self._db.execute("SELECT count(*) FROM vulns").fetchone()[0],
            "withdrawn": self._db.execute(
                "SELECT count(*) FROM vulns WHERE withdrawn IS NOT NULL"
            ).fetchone()[0],
            "packages": self._db.execute(
                "SELECT count(*) FROM (SELECT DISTINCT ecosystem, name FROM affected)"
            ).fetchone()[0],
        }

    def ecosystems(self) -> dict[str, int]:
        return {
            r[0]: r[1]
            for r in self._db.execute(
                "SELECT ecosystem, count(DISTINCT vuln_id) FROM affected GROUP BY ecosystem ORDER BY ecosystem"
            )
        }

    def iter_records(self) -> Iterator[tuple[str, str]]:
        """(source, JSON text) for every record, in id order."""
        for vid, source, stored in self._db.execute(
            "SELECT id, source, json FROM vulns ORDER BY id"
        ):
            yield source, record_text(stored, vid)


class StoreBuilder:
    """Build a new database file from the current one plus changes, then swap it in."""

    def __init__(self, path: Path, *, fresh: bool = False) -> None:
        self.path = path
        self.fresh = fresh
        self._db: sqlite3.Connection | None = None
        self._tmp: str | None = None
        self._bulk: set[str] | None = None  # ids added to a new database, before indexing
        self._handed_over = False  # to writers in other processes (see hand_over)
        self.added = 0

    def __enter__(self) -> "StoreBuilder":
        import tempfile  # writers only: a scan that just reads never pays for it (~10 ms)

        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            fd, self._tmp = tempfile.mkstemp(
                dir=self.path.parent, prefix=f".{self.path.name}.", suffix=".part"
            )
            os.close(fd)
            db = sqlite3.connect(self._tmp, isolation_level=None)
        except OSError as e:
            raise StorageError(
                f"cannot create a database beside {self.path}: {e.strerror}"
            ) from None
        if self.path.exists() and not self.fresh:
            try:
                src = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True)
                src.backup(db)
                src.close()
                v = db.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()
            except sqlite3.DatabaseError as e:
                self._abort()
                raise DatabaseError(
                    f"{self.path} is not a customhouse advisory database: {e}"
                ) from None
            if v is None or int(v[0]) != SCHEMA_VERSION:
                db.close()
                os.unlink(self._tmp)
                db = sqlite3.connect(self._tmp, isolation_level=None)
                _create(db)
        else:
            _create(db)
        if db.execute("SELECT 1 FROM vulns LIMIT 1").fetchone() is None:
            db.executescript(_DROP_INDEXES)  # a new database: indexes are built at the end
            self._bulk = set()
        else:  # an update replaces records
            db.executescript(_REPLACE_INDEXES)
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
        db.execute("PRAGMA cache_size=-65536")  # KiB: the indexes being built stay in memory
        db.execute("BEGIN")
        db.execute(
            "INSERT OR REPLACE INTO meta VALUES ('schema_version', ?), ('built_at', ?)",
            (str(SCHEMA_VERSION), _now()),
        )
        self._db = db
        return self

    def _abort(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
        if self._tmp and os.path.exists(self._tmp):
            os.unlink(self._tmp)

    def __exit__(self, exc_type: object, exc: object, tb: object) -> None:
        if exc_type is not None:
            self._abort()
            return
        assert self._db is not None and self._tmp is not None
        _KEY_CACHES.clear()  # (a long-lived process need not keep them)
        _LIST_CACHE.clear()
        try:
            self._index(replacing=False)
            self._db.execute("COMMIT")
            # statistics from a sample of each index: as good for these lookups, and free
            self._db.execute("PRAGMA analysis_limit=1000")
            self._db.execute("ANALYZE")
            self._db.close()
            self._db = None
            os.replace(self._tmp, self.path)
        except (OSError, sqlite3.Error) as e:
            self._abort()
            raise StorageError(f"cannot write {self.path}: {e}") from None

    def _index(self, *, replacing: bool = True) -> None:
        """Create the indexes a bulk insert into a new database left for the end, and
        (``replacing``) those that replacing or deleting records needs."""
        assert self._db is not None
        if self._bulk is not None:
            self._bulk = None
            _execute_each(self._db, _INDEXES)
            if replacing:
                _execute_each(self._db, _REPLACE_INDEXES)

    @property
    def _conn(self) -> sqlite3.Connection:  # for the tables that need no deferred index
        assert self._db is not None
        return self._db

    @property
    def db(self) -> sqlite3.Connection:
        """The connection (indexed: callers query it, and replace or delete records)."""
        assert self._db is not None
        self._index()
        return self._db

    def clear_source(self, source: str) -> None:
        if self._bulk is not None and not self._bulk:
            return  # a new database: nothing to clear
        db = self.db
        db.execute(
            "DELETE FROM affected WHERE vuln_id IN (SELECT id FROM vulns WHERE source = ?)",
            (source,),
        )
        db.execute(
            "DELETE FROM aliases WHERE vuln_id IN (SELECT id FROM vulns WHERE source = ?)",
            (source,),
        )
        db.execute("DELETE FROM vulns WHERE source = ?", (source,))

    def add(self, records: Iterable[Vulnerability], source: str) -> int:
        """Insert records, replacing any with the same id (the last of equal ids wins).

        Returns the count written. Each affected entry of a package gets its own row,
        without the listed versions that have a canonical key (those go to ``vkeys``).
        """
        return self.add_rows(prepare_rows(records, source))

    def add_rows(self, rows: PreparedRows) -> int:
        """Insert what :func:`prepare_rows` made (possibly in another process)."""
        db = self._db
        assert db is not None
        ids = [r[0] for r in rows[0]]
        if self._bulk is not None and self._bulk.isdisjoint(ids):
            self._bulk.update(ids)  # new ids into a new database: nothing to replace
            _insert_rows(db, rows, replace=False)
        else:
            _insert_rows(self.db, rows, replace=True)  # (indexed)
        self.added += len(ids)
        return len(ids)

    def hand_over(self) -> "WriterSpec":
        """Let other processes write rows into the new database (:class:`RowWriter`), until
        :meth:`take_back`: what this connection wrote is committed, and it holds no lock.

        A worker writing its rows itself spares sending them to this process and this
        process inserting them: a third of the CPU time of a large import."""
        assert self._db is not None and self._tmp is not None and not self._handed_over
        self._db.execute("COMMIT")
        self._handed_over = True
        return WriterSpec(self._tmp, replace=self._bulk is None)

    def take_back(self, ids: Iterable[str]) -> list[str]:
        """Resume after :meth:`hand_over`; ``ids``: the records the writers wrote. Returns
        those of them that were in the database before (in a new database, which has no
        index yet, the writers could not replace them: the caller must)."""
        assert self._db is not None
        if not self._handed_over:
            return []
        self._handed_over = False
        self._db.execute("BEGIN")
        ids = list(ids)
        self.added += len(ids)
        if self._bulk is None:
            return []
        before = [i for i in ids if i in self._bulk]
        self._bulk.update(ids)
        return before

    def drop(self, ids: Iterable[str]) -> None:
        """Delete every row of ``ids``, even where a bulk insert left an id twice (a new
        database has no index yet: each table is scanned once, however many ids)."""
        db = self._db
        assert db is not None
        db.execute("CREATE TEMP TABLE IF NOT EXISTS dropped (id TEXT PRIMARY KEY)")
        db.execute("DELETE FROM temp.dropped")
        db.executemany("INSERT OR IGNORE INTO temp.dropped VALUES (?)", [(i,) for i in ids])
        db.execute("DELETE FROM affected WHERE vuln_id IN (SELECT id FROM temp.dropped)")
        db.execute("DELETE FROM aliases WHERE vuln_id IN (SELECT id FROM temp.dropped)")
        db.execute("DELETE FROM vulns WHERE id IN (SELECT id FROM temp.dropped)")
        db.execute("DELETE FROM temp.dropped")

    def delete(self, ids: Iterable[str]) -> None:
        rows = [(i,) for i in ids]
        self.db.executemany("DELETE FROM affected WHERE vuln_id = ?", rows)
        self.db.executemany("DELETE FROM aliases WHERE vuln_id = ?", rows)
        self.db.executemany("DELETE FROM vulns WHERE id = ?", rows)

    def set_source(
        self,
        name: str,
        *,
        url: str | None = None,
        etag: str | None = None,
        last_modified: str | None = None,
        extra: dict[str, Any] | None = None,
        count: int | None = None,
    ) -> None:
        """Record a source's metadata; ``count``: its records, when the caller knows them
        (else they are counted: a scan of the table, 0.1 s per 100,000 records)."""
        if count is None:
            count = self._conn.execute(
                "SELECT count(*) FROM vulns WHERE source = ?", (name,)
            ).fetchone()[0]
        self._conn.execute(
            "INSERT OR REPLACE INTO sources VALUES (?, ?, ?, ?, ?, ?, ?)",
            (
                name,
                url,
                _now(),
                etag,
                last_modified,
                count,
                json.dumps(extra or {}, sort_keys=True),
            ),
        )

    def source_info(self, name: str) -> SourceInfo | None:
        r = self._conn.execute(
            "SELECT name, url, fetched_at, etag, last_modified, record_count, extra FROM sources WHERE name = ?",
            (name,),
        ).fetchone()
        return (
            SourceInfo(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]) if r[6] else {})
            if r
            else None
        )


def _execute_each(db: sqlite3.Connection, script: str) -> None:
    """The statements of ``script``, in the open transaction (executescript commits it)."""
    for statement in script.strip().split(";"):
        if statement.strip():
            db.execute(statement)


def _insert_rows(db: sqlite3.Connection, rows: PreparedRows, *, replace: bool) -> None:
    """Insert rows; ``replace``: first delete the affected and alias rows of their ids
    (through the indexes, which must exist)."""
    vuln_rows, aff_rows, alias_rows = rows
    if replace:
        keys = [(r[0],) for r in vuln_rows]
        db.executemany("DELETE FROM affected WHERE vuln_id = ?", keys)
        db.executemany("DELETE FROM aliases WHERE vuln_id = ?", keys)
    _insert_many(db, "INSERT OR REPLACE INTO vulns", 5, vuln_rows)
    _insert_many(db, "INSERT INTO affected", 6, aff_rows)
    _insert_many(db, "INSERT INTO aliases", 2, alias_rows)


# Rows bound into one INSERT statement: a statement's step and reset then count once for
# many rows. A large import writes its rows in a quarter less time (13.5 against 17.5 us a
# record here). (64 rows of 6 values stay far below SQLite's limit on bound values.)
_ROWS_PER_INSERT = 64
_INSERTS: dict[tuple[str, int, int], str] = {}


def _insert_many(db: sqlite3.Connection, insert: str, width: int, rows: list[Any]) -> None:
    """``executemany`` of ``insert`` (up to VALUES) over ``rows``, many rows a statement;
    the rows are inserted in order, as one row a statement would insert them."""
    n = len(rows)
    whole = n - n % _ROWS_PER_INSERT
    if whole:
        per = _ROWS_PER_INSERT
        db.executemany(
            _statement(insert, width, per),
            [tuple(_chain(rows[i : i + per])) for i in range(0, whole, per)],
        )
    if whole < n:
        db.executemany(_statement(insert, width, 1), rows[whole:])


def _statement(insert: str, width: int, count: int) -> str:
    key = (insert, width, count)
    sql = _INSERTS.get(key)
    if sql is None:
        one = "(" + ", ".join("?" * width) + ")"
        sql = _INSERTS[key] = f"{insert} VALUES {', '.join([one] * count)}"
    return sql


class WriterSpec(NamedTuple):
    """Where a :class:`RowWriter` writes (see :meth:`StoreBuilder.hand_over`)."""

    path: str
    replace: bool  # the database is indexed: replace the rows of ids it holds


class RowWriter:
    """Writes rows into a database a :class:`StoreBuilder` in another process builds.

    One transaction per call; ``lock`` (shared by the writers) orders them, so that no
    writer polls SQLite's lock. The ids of different calls must differ, or the caller
    settles which one wins (see :meth:`StoreBuilder.drop`)."""

    def __init__(self, spec: WriterSpec, lock: Any) -> None:
        self._spec = spec
        self._lock = lock
        self._db: sqlite3.Connection | None = None

    def write(self, rows: PreparedRows) -> None:
        try:
            db = self._db
            if db is None:
                db = self._db = sqlite3.connect(self._spec.path, isolation_level=None, timeout=60)
                db.execute("PRAGMA journal_mode=OFF")  # (as the builder: the file is not live)
                db.execute("PRAGMA synchronous=OFF")
            with self._lock:
                db.execute("BEGIN IMMEDIATE")
                _insert_rows(db, rows, replace=self._spec.replace)
                db.execute("COMMIT")
        except sqlite3.Error as e:
            raise StorageError(f"cannot write {self._spec.path}: {e}") from None


_ORJSON: Any = None  # the module once imported, False where it is absent
_ENTRIES: Any = None  # msgspec's decoder of a list of entries, once imported
_parsed = 0  # characters parsed by the stdlib so far
_SWITCH = 1 << 20  # after this many, orjson's import (~15 ms here) has paid for itself


def _orjson() -> Any:
    """orjson, imported on first need: it parses and writes JSON several times faster,
    but importing it (with the dataclasses and inspect modules it loads) costs a process
    ~15 ms, more than the stdlib takes for the few small lookups of a typical scan."""
    global _ORJSON
    if _ORJSON is None:
        try:
            import orjson
        except ImportError:  # pragma: no cover - exercised where orjson is absent
            _ORJSON = False
        else:
            _ORJSON = orjson
    return _ORJSON


def _stdlib_phase() -> bool:
    """Whether this process still parses stored JSON with the stdlib: until it has parsed
    1 MB (a scan's lookups rarely do), unless orjson is loaded already (by a writer)."""
    return _ORJSON is None and _parsed < _SWITCH


def _loads(text: str | bytes) -> Any:
    """Parse JSON the database holds: with the stdlib in its first MB (see
    :func:`_stdlib_phase`), then with orjson (a scan of many images, a server)."""
    global _parsed
    if _stdlib_phase():
        _parsed += len(text)
        return json.loads(text)
    fast = _orjson()
    return fast.loads(text) if fast else json.loads(text)


def _decode_entries(text: str) -> list[Affected]:
    """Stored entries, a JSON list of them: decoded by the stdlib in a process's first MB
    (as :func:`_loads`); then straight into ``Affected`` tuples by msgspec, three times as
    fast (its import, ~50 ms, would be most of a small scan's lookups)."""
    global _ENTRIES
    if _ENTRIES is None and not _stdlib_phase():
        try:
            import msgspec
        except ImportError:  # pragma: no cover - msgspec is a dependency
            _ENTRIES = False
        else:
            _ENTRIES = (msgspec.json.Decoder(list[Affected]).decode, msgspec.MsgspecError)
    if _ENTRIES:
        decode, errors = _ENTRIES
        try:
            return decode(text)  # type: ignore[no-any-return]
        except errors:  # a value of a type the general import path let through (a purl)
            pass
    return list(map(_decode_entry, _loads(text)))


def record_text(stored: str | bytes, vuln_id: str) -> str:
    """The JSON text of a record as ``vulns.json`` holds it: text, or a DEFLATE stream
    (inflated here, to at most the size an import accepts; a database can be hostile too)."""
    if isinstance(stored, str):
        return stored
    try:
        inflater = zlib.decompressobj(-15)
        data = inflater.decompress(stored, MAX_RECORD_BYTES + 1)
        if not inflater.eof or len(data) > MAX_RECORD_BYTES:
            raise zlib.error("truncated, or larger than a record can be")
        return str(data, "utf-8")
    except (zlib.error, TypeError, UnicodeDecodeError) as e:
        raise DatabaseError(f"database record {vuln_id}: corrupt stored JSON: {e}") from None


def _stored_record(stored: str | bytes, vuln_id: str) -> Vulnerability:
    text = record_text(stored, vuln_id)
    try:
        obj = _loads(text)
    except ValueError as e:  # (the decoders' errors are ValueErrors)
        raise DatabaseError(f"database record {vuln_id}: corrupt stored JSON: {e}") from None
    return parse_vulnerability(obj, f"database record {vuln_id}")


def _dumps(obj: Any) -> str:
    fast = _orjson()
    if fast:
        try:
            return str(fast.dumps(obj), "utf-8")
        except TypeError:  # an integer beyond 64 bits, a lone surrogate: JSON allows both
            pass
    # ASCII: a lone surrogate, escaped, is still stored (SQLite takes only UTF-8)
    return json.dumps(obj, separators=(",", ":"))


RecordRows = tuple[VulnRow, list[AffectedRow], list[tuple[str, str]]]


def prepare_rows(records: Iterable[Vulnerability], source: str) -> PreparedRows:
    """The rows of ``records`` (the last of equal ids wins): pure work, picklable result."""
    return join_rows({v.id: record_rows(v, source) for v in records}.values())


def record_rows(v: Vulnerability, source: str) -> RecordRows:
    """One record's rows. An import makes them right after parsing the record, while its
    objects are still in the CPU's caches: a second pass over a batch took twice as long."""
    vid = v.id
    raw = v.raw
    text = (v.text is not None and stored_json(v.text)) or _dumps(raw)
    live = v.withdrawn is None
    aff_rows: list[AffectedRow] = []
    for a in raw.get("affected") or ():
        pkg = a.get("package")
        if not pkg:
            continue
        eco, name = pkg.get("ecosystem"), pkg.get("name")
        if not eco or not name:
            continue
        versions = a.get("versions")
        vkeys, rest = _version_keys(eco, versions) if versions else (None, None)
        ranges = [
            # each event is an object of exactly one key (validated): its one (kind, value) pair
            [r["type"], list(_chain(map(dict.items, r.get("events") or ()))), r.get("repo")]
            for r in a.get("ranges") or ()
            if r["type"] != "GIT"
        ]
        severity = [[x["type"], x["score"]] for x in a.get("severity") or ()]
        entry = entry_json(
            eco,
            name,
            pkg.get("purl"),
            ranges,
            rest,
            a.get("ecosystem_specific"),
            a.get("database_specific"),
            severity,
        )
        aff_rows.append((eco, normalize_name(eco, name), vid, live, entry, vkeys))
    return (
        (vid, source, v.modified, v.withdrawn, text),
        aff_rows,
        [(alias, vid) for alias in v.aliases],
    )


def stored_json(text: str) -> str | None:
    """The JSON a record that arrived as JSON ``text`` is stored as: the text itself,
    made compact when it is not (osv.dev writes its files indented); None when only the
    stdlib could parse it (NaN, a lone surrogate): the parsed record is written instead."""
    if "\n" not in text:  # (a newline in JSON can only be whitespace between tokens)
        return text
    import msgspec  # (writers only)

    try:
        return msgspec.json.format(text, indent=-1)
    except msgspec.DecodeError:
        return None


def join_rows(records: Iterable[RecordRows]) -> PreparedRows:
    """The tables' rows of records made by :func:`record_rows` (ids already unique)."""
    vuln_rows = []
    aff_rows: list[AffectedRow] = []
    alias_rows: list[tuple[str, str]] = []
    for vuln_row, affected, aliases in records:
        vuln_rows.append(vuln_row)
        aff_rows += affected
        alias_rows += aliases
    # a package's rows side by side (and in id order): a lookup reads one or two pages
    aff_rows.sort(key=_package_order)
    return vuln_rows, aff_rows, alias_rows


# The stored matching view of an entry, as a JSON array laid out as osv.Affected (so it
# decodes without looking up keys, and straight into the tuple): [ecosystem, name, purl,
# [[type, [[kind, value], ...], repo], ...], versions without a key, ecosystem_specific,
# database_specific, [[type, score], ...]]. GIT ranges are left out.
_chain = chain.from_iterable


def entry_json(
    ecosystem: str,
    name: str,
    purl: Any,
    ranges: list[Any],
    rest: list[str] | None,
    ecosystem_specific: Any,
    database_specific: Any,
    severity: list[list[str]],
) -> str:
    """An entry's stored matching view (see above), from its parts: ``ranges`` are
    [type, [(kind, value), ...], repo] without GIT ones, ``rest`` the listed versions
    without a key, ``severity`` [type, score] pairs."""
    return _dumps(
        [
            ecosystem,
            name,
            purl,
            ranges,
            rest or [],
            ecosystem_specific or {},
            database_specific or {},
            severity,
        ]
    )


# tuple.__new__ builds the named tuples at C speed (a lookup builds thousands of them)
_new = tuple.__new__
_event = partial(_new, Event)


def _decode_entry(entry: list[Any]) -> Affected:
    ecosystem, name, purl, ranges, rest, eco_specific, db_specific, severity = entry
    return _new(
        Affected,
        (
            ecosystem,
            name,
            purl,
            tuple([_new(Range, (t, tuple(map(_event, ev)), repo)) for t, ev, repo in ranges]),
            tuple(rest),
            eco_specific,
            db_specific,
            tuple(map(tuple, severity)),
        ),
    )


def _create(db: sqlite3.Connection) -> None:
    db.execute(
        f"PRAGMA page_size = {_PAGE_SIZE}"
    )  # records of 2-4 KB pack better than in 4 KB pages
    db.executescript(_SCHEMA)


# an affected row's (ecosystem, name, vuln_id), taken at C speed
_package_order = itemgetter(0, 1, 2)


# --- canonical keys of listed versions ---------------------------------------------
#
# An entry's ``versions`` list matches by the ecosystem's version EQUALITY, not by text
# (PEP 440: "1.0" == "1.0.0" == "1.0.0.0"; dpkg: "0:1.0" == "1.0"; semver ignores build
# metadata).
# Each listed version is stored as a key that is equal exactly when the versions are:
# - PEP 440: the normalized text with the release's trailing zeros dropped ("1.0.post2"
#   -> "1.post2"), built from packaging's parse, or directly for text in normalized form;
# - schemes whose parsed key is a plain tuple ordered by Python (dpkg, apk, rpm, semver,
#   RubyGems, Go): "#" + a 96-bit BLAKE2b digest of that tuple's repr;
# - Maven (its equality is not tuple equality) and ecosystems without a scheme: no key;
#   those versions stay in the entry and are compared by the scheme, as are versions
#   that do not parse (they can only ever equal an installed text that does not parse).


def _normal_form(number: str) -> str:
    """PEP 440's normalized form (release, pre, post, dev), numbers written as ``number``."""
    n = number
    return rf"{n}(?:\.{n})*(?:(?:a|b|rc){n})?(?:\.post{n})?(?:\.dev{n})?"


def _zeros(zero: str) -> str:
    r"""A run of ".0" release components that ends the release (only the release has
    ".0"), "0" written as ``zero``; it ends a version, or a version in a list joined by
    spaces. It starts with a literal, which lets the regex engine skip ahead to each
    ".0" (twice as fast as "(?:\.0)+")."""
    return rf"\.{zero}(?:\.{zero})*(?= |$|a|b|rc|\.post|\.dev)"


_PEP440_NORMAL = _normal_form(r"(?:0|[1-9][0-9]*)")
_PEP440_ONE = re.compile(_PEP440_NORMAL, re.ASCII)
_PEP440_ZEROS = re.compile(_zeros("0"), re.ASCII)
_TUPLE_KEYED = frozenset({"dpkg", "apk", "rpm", "semver", "gem", "go"})
_KEYERS: dict[str, Callable[[str], str | None] | None] = {}


_MAX_VERSION_LENGTH = 1024  # = versions.interface.MAX_VERSION_LENGTH (longer never parses)


_strip_zeros = partial(_PEP440_ZEROS.sub, "")


def _pep440_key(text: str) -> str | None:
    if len(text) <= _MAX_VERSION_LENGTH and _PEP440_ONE.fullmatch(text):
        return _strip_zeros(text)
    from customhouse.versions import InvalidVersion, get_scheme

    try:
        pv: Any = get_scheme("pep440").parse(text).key  # a packaging Version
    except InvalidVersion:
        return None
    release = list(pv.release)
    while len(release) > 1 and release[-1] == 0:
        release.pop()
    key = (f"{pv.epoch}!" if pv.epoch else "") + ".".join(map(str, release))
    if pv.pre is not None:
        key += f"{pv.pre[0]}{pv.pre[1]}"
    if pv.post is not None:
        key += f".post{pv.post}"
    if pv.dev is not None:
        key += f".dev{pv.dev}"
    if pv.local is not None:
        key += f"+{pv.local}"
    return key


def _keyer(ecosystem: str) -> Callable[[str], str | None] | None:
    """The canonical-key function of an ecosystem's versions, or None if it has none."""
    base = ecosystem.split(":", 1)[0]
    if base in _KEYERS:
        return _KEYERS[base]
    from customhouse.versions import InvalidVersion, UnknownScheme, scheme_for_ecosystem

    try:
        scheme = scheme_for_ecosystem(base)
    except UnknownScheme:
        scheme = None
    keyer: Callable[[str], str | None] | None = None
    if scheme is not None and scheme.name == "pep440":
        keyer = _pep440_key
    elif scheme is not None and scheme.name in _TUPLE_KEYED:
        import base64
        import hashlib

        parse = scheme.parse

        def keyer(text: str) -> str | None:
            try:
                key = parse(text).key
            except InvalidVersion:
                return None
            digest = hashlib.blake2b(repr(key).encode(), digest_size=12).digest()
            return "#" + base64.urlsafe_b64encode(digest).decode()

    _KEYERS[base] = keyer
    return keyer


def version_key(ecosystem: str, version: str) -> str | None:
    """The canonical key of ``version``: equal keys exactly for equal versions of the
    ecosystem; None when the version does not parse or the ecosystem has no exact key."""
    keyer = _keyer(ecosystem)
    return keyer(version) if keyer is not None else None


# A list of PEP 440 versions all in normalized form (most of them, in any feed) is keyed
# without looking at each version: the list is joined, its digits are replaced ("0" by
# "#", the others by "%"), and the few distinct "shapes" this gives ("%.%.#", "%.%rc%")
# say whether every version is in normalized form (the shape matches _PEP440_NORMAL
# with digits so replaced), and whether any has zeros to strip. A large cache of each
# version's key costs ~0.3 us a version here (memory, not computing), and a list that
# is new to a worker lists ~60: this takes a fifth of that.
_SHAPE_OF = str.maketrans("0123456789", "#%%%%%%%%%")
_SHAPE_NORMAL = re.compile(_normal_form(r"(?:#|%[#%]*)"))
_SHAPE_ZEROS = re.compile(_zeros("#"))
_SHAPES: dict[str, int] = {}  # shape -> 0: not normalized, 1: its own key, 2: zeros to strip
_SHAPES_MAX = 4096


def _normal_pep440_keys(versions: list[str]) -> str | None:
    """ " k1 k2 ... " when every version is in normalized form (the keys of the others
    need packaging's parse), else None."""
    joined = " ".join(versions)
    if "#" in joined or "%" in joined or joined.count(" ") != len(versions) - 1:
        return None  # (the shapes would not say; a version with a space is not normalized)
    strip = False
    for shape in set(joined.translate(_SHAPE_OF).split(" ")):
        kind = _SHAPES.get(shape)
        if kind is None:
            if len(shape) > _MAX_VERSION_LENGTH or not _SHAPE_NORMAL.fullmatch(shape):
                kind = 0
            else:
                kind = 2 if _SHAPE_ZEROS.search(shape) else 1
            if len(shape) <= 64:
                if len(_SHAPES) >= _SHAPES_MAX:
                    _SHAPES.clear()
                _SHAPES[shape] = kind
        if not kind:
            return None
        strip = strip or kind == 2
    return f" {_strip_zeros(joined) if strip else joined} "


_KEY_CACHES: dict[str, dict[str, str]] = {}  # per ecosystem: version -> key ("" for none)
_KEY_CACHE_MAX = 1 << 19


_LIST_CACHE: dict[tuple[str, tuple[str, ...]], tuple[str | None, list[str]]] = {}
_LIST_CACHE_MAX = 1 << 14


def _version_keys(ecosystem: str, versions: list[str]) -> tuple[str | None, list[str]]:
    """(" k1 k2 ... " for the listed versions with a key, or None; the others, as listed).

    Feeds list the same versions again and again: the records of a package often
    list exactly the same releases (half of the real PyPA lists are repeats), and
    the others share most of them. So whole lists are remembered (here), and else the
    key of each version (:func:`list_keys`).
    """
    if _keyer(ecosystem) is None:
        return None, list(versions)
    whole = (ecosystem, tuple(versions))
    known = _LIST_CACHE.get(whole)
    if known is not None:
        return known[0], list(known[1])
    if len(_LIST_CACHE) >= _LIST_CACHE_MAX:
        _LIST_CACHE.clear()
    result = _LIST_CACHE[whole] = list_keys(ecosystem, versions)
    return result[0], list(result[1])


def list_keys(ecosystem: str, versions: list[str]) -> tuple[str | None, list[str]]:
    """:func:`_version_keys` without its cache of whole lists: a PEP 440 list all in
    normalized form is keyed from its shapes (:func:`_normal_pep440_keys`); else each
    version's key is remembered, and most lists cost one lookup per item, in a C-speed
    loop."""
    keyer = _keyer(ecosystem)
    if keyer is None:
        return None, list(versions)
    if keyer is _pep440_key:
        normal = _normal_pep440_keys(versions)
        if normal is not None:
            return normal, []
    cache = _KEY_CACHES.get(ecosystem)
    if cache is None or len(cache) > _KEY_CACHE_MAX:
        cache = _KEY_CACHES[ecosystem] = {}
    keys = list(map(cache.get, versions))
    if None in keys:  # versions not seen before: key them, then look the list up again
        for text in filterfalse(cache.__contains__, versions):
            cache[text] = keyer(text) or ""
        keys = list(map(cache.__getitem__, versions))
    if "" not in keys:
        return f" {' '.join(keys)} ", []  # type: ignore[arg-type]
    rest = [v for v, k in zip(versions, keys, strict=True) if not k]
    keyed = [k for k in keys if k]
    return (f" {' '.join(keyed)} " if keyed else None), rest  # type: ignore[arg-type]


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@contextmanager
def open_store(path: Path | None = None) -> Iterator[AdvisoryStore]:
    store = AdvisoryStore(path or default_db_path())
    try:
        yield store
    finally:
        store.close()
