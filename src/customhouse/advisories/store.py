"""The local advisory database: one SQLite file, indexed by (ecosystem, package).

Writers never modify the live file: :class:`StoreBuilder` copies it (SQLite backup
API) into a temporary file beside it, applies the changes in one transaction, and
renames the result over the original. A failed or interrupted update therefore
leaves the previous database exactly as it was.
"""

from __future__ import annotations

import json
import os
import sqlite3
import tempfile
import time
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from customhouse.advisories.osv import (
    Affected,
    Vulnerability,
    decode_stored_affected,
    iter_package_keys,
    normalize_name,
    parse_vulnerability,
)
from customhouse.errors import InputError, StorageError

SCHEMA_VERSION = 2  # 2: affected rows carry their package's entries

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
  id TEXT PRIMARY KEY,
  source TEXT NOT NULL,
  modified TEXT NOT NULL,
  withdrawn TEXT,
  json TEXT NOT NULL
);
CREATE TABLE affected (
  ecosystem TEXT NOT NULL,
  name TEXT NOT NULL,
  vuln_id TEXT NOT NULL,
  entries TEXT NOT NULL
);
CREATE INDEX affected_pkg ON affected (ecosystem, name);
CREATE INDEX affected_vuln ON affected (vuln_id);
CREATE TABLE aliases (alias TEXT NOT NULL, vuln_id TEXT NOT NULL);
CREATE INDEX aliases_alias ON aliases (alias);
CREATE INDEX aliases_vuln ON aliases (vuln_id);
"""


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


@dataclass(frozen=True, slots=True)
class SourceInfo:
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

    def __enter__(self) -> AdvisoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def lookup(self, ecosystem: str, name: str) -> list[Vulnerability]:
        rows = self._db.execute(
            "SELECT v.id, v.json FROM affected a JOIN vulns v ON v.id = a.vuln_id"
            " WHERE a.ecosystem = ? AND a.name = ? AND v.withdrawn IS NULL",
            (ecosystem, normalize_name(ecosystem, name)),
        ).fetchall()
        return [parse_vulnerability(json.loads(j), f"database record {i}") for i, j in rows]

    def lookup_raw(self, ecosystem: str, name: str) -> list[str]:
        rows = self._db.execute(
            "SELECT v.json FROM affected a JOIN vulns v ON v.id = a.vuln_id WHERE a.ecosystem = ? AND a.name = ?",
            (ecosystem, normalize_name(ecosystem, name)),
        ).fetchall()
        return [r[0] for r in rows]

    def lookup_affected(self, ecosystem: str, name: str) -> list[tuple[str, list[Affected]]]:
        """(record id, this package's affected entries) for every live record naming the package.

        This is what the matcher asks for each package: it decodes only the package's
        own entries; whole records are fetched (:meth:`get_many`) for the hits alone.
        """
        rows = self._db.execute(
            "SELECT a.vuln_id, a.entries FROM affected a JOIN vulns v ON v.id = a.vuln_id"
            " WHERE a.ecosystem = ? AND a.name = ? AND v.withdrawn IS NULL",
            (ecosystem, normalize_name(ecosystem, name)),
        ).fetchall()
        return [
            (vid, [decode_stored_affected(a) for a in _loads(entries)]) for vid, entries in rows
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
                v = parse_vulnerability(_loads(text), f"database record {vid}")
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
        row = self._db.execute("SELECT json FROM vulns WHERE id = ?", (vuln_id,)).fetchone()
        if row is None:
            row = self._db.execute(
                "SELECT v.json FROM aliases a JOIN vulns v ON v.id = a.vuln_id WHERE a.alias = ? LIMIT 1",
                (vuln_id,),
            ).fetchone()
        return parse_vulnerability(json.loads(row[0]), vuln_id) if row else None

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
        """(source, json) for every record, in id order (for export)."""
        yield from self._db.execute("SELECT source, json FROM vulns ORDER BY id")


class StoreBuilder:
    """Build a new database file from the current one plus changes, then swap it in."""

    def __init__(self, path: Path, *, fresh: bool = False) -> None:
        self.path = path
        self.fresh = fresh
        self._db: sqlite3.Connection | None = None
        self._tmp: str | None = None
        self._had_rows = True
        self.added = 0

    def __enter__(self) -> StoreBuilder:
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
                db.executescript(_SCHEMA)
        else:
            db.executescript(_SCHEMA)
        self._had_rows = db.execute("SELECT 1 FROM vulns LIMIT 1").fetchone() is not None
        db.execute("PRAGMA journal_mode=OFF")
        db.execute("PRAGMA synchronous=OFF")
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
        try:
            self._db.execute("COMMIT")
            self._db.execute("ANALYZE")
            self._db.close()
            self._db = None
            os.replace(self._tmp, self.path)
        except (OSError, sqlite3.Error) as e:
            self._abort()
            raise StorageError(f"cannot write {self.path}: {e}") from None

    @property
    def db(self) -> sqlite3.Connection:
        assert self._db is not None
        return self._db

    def clear_source(self, source: str) -> None:
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
        """Insert records, replacing any with the same id. Returns the count written.

        Each (ecosystem, package) row also keeps that package's own ``affected``
        entries, so a lookup decodes only what it asked for, not whole records.
        """
        db = self.db
        n = 0
        vuln_rows = []
        aff_rows: list[tuple[str, str, str, str]] = []
        alias_rows: list[tuple[str, str]] = []
        ids = []
        for v in records:
            ids.append((v.id,))
            vuln_rows.append((v.id, source, v.modified, v.withdrawn, v.text or _dumps(v.raw)))
            keys = iter_package_keys(v)
            entries = v.raw.get("affected") or []
            if len(keys) == 1:
                aff_rows.append((keys[0][0], keys[0][1], v.id, _dumps(entries)))
            else:
                for eco, name in keys:
                    mine = [
                        a
                        for a in entries
                        if (a.get("package") or {}).get("ecosystem") == eco
                        and normalize_name(eco, (a.get("package") or {}).get("name") or "") == name
                    ]
                    aff_rows.append((eco, name, v.id, _dumps(mine)))
            alias_rows.extend((a, v.id) for a in v.aliases)
            n += 1
        if self._had_rows or self.added:
            db.executemany("DELETE FROM affected WHERE vuln_id = ?", ids)
            db.executemany("DELETE FROM aliases WHERE vuln_id = ?", ids)
        db.executemany("INSERT OR REPLACE INTO vulns VALUES (?, ?, ?, ?, ?)", vuln_rows)
        db.executemany("INSERT INTO affected VALUES (?, ?, ?, ?)", aff_rows)
        db.executemany("INSERT INTO aliases VALUES (?, ?)", alias_rows)
        self.added += n
        return n

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
    ) -> None:
        count = self.db.execute("SELECT count(*) FROM vulns WHERE source = ?", (name,)).fetchone()[
            0
        ]
        self.db.execute(
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
        r = self.db.execute(
            "SELECT name, url, fetched_at, etag, last_modified, record_count, extra FROM sources WHERE name = ?",
            (name,),
        ).fetchone()
        return (
            SourceInfo(r[0], r[1], r[2], r[3], r[4], r[5], json.loads(r[6]) if r[6] else {})
            if r
            else None
        )


try:  # orjson parses and writes JSON several times faster; the stdlib is the fallback
    import orjson

    def _loads(text: str | bytes) -> Any:
        return orjson.loads(text)

    def _dumps(obj: Any) -> str:
        return str(orjson.dumps(obj), "utf-8")

except ImportError:  # pragma: no cover - exercised where orjson is absent

    def _loads(text: str | bytes) -> Any:
        return json.loads(text)

    def _dumps(obj: Any) -> str:
        return json.dumps(obj, separators=(",", ":"), ensure_ascii=False)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


@contextmanager
def open_store(path: Path | None = None) -> Iterator[AdvisoryStore]:
    store = AdvisoryStore(path or default_db_path())
    try:
        yield store
    finally:
        store.close()
