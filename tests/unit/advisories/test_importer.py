"""``db import`` in worker processes: same outcome as one process, failures still abort cleanly."""

from __future__ import annotations

import hashlib
import json
import zipfile
import zlib
from pathlib import Path

import pytest

from customhouse.advisories import importer
from customhouse.advisories.feeds.osv import records_from_data
from customhouse.advisories.importer import import_paths
from customhouse.advisories.osv import AdvisoryError
from customhouse.advisories.store import (
    AdvisoryStore,
    DatabaseError,
    StoreBuilder,
    record_text,
)


def _record(vid: str, name: str, versions: list[str]) -> dict[str, object]:
    return {
        "id": vid,
        "modified": "2024-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": "PyPI", "name": name}, "versions": versions}],
    }


@pytest.mark.parametrize("workers", [1, 2])
def test_later_files_replace_earlier_records_across_batches(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    monkeypatch.setattr(importer, "_BATCH", 2)  # several batches, so several workers' results
    feed = tmp_path / "feed"
    feed.mkdir()
    for i in range(7):
        (feed / f"a{i}.json").write_text(json.dumps(_record(f"X-{i}", "demo", [f"{i}.0"])))
    (feed / "b.json").write_text("{broken")
    (feed / "c.json").write_text(json.dumps(_record("X-1", "other", ["9.0"])))  # same id, later
    db = tmp_path / "a.db"
    with StoreBuilder(db) as b:
        (report,) = import_paths(b, [feed], workers=workers).values()
    assert report.files == 9 and report.records == 7
    assert [s.split(": ")[1] for s in report.skipped] == ["invalid JSON"]
    with AdvisoryStore(db) as store:
        assert sorted(c.vuln_id for c in store.candidates("PyPI", "demo", "1")) == [
            "X-0",
            "X-2",
            "X-3",
            "X-4",
            "X-5",
            "X-6",
        ]
        assert [(c.vuln_id, c.listed) for c in store.candidates("PyPI", "other", "9")] == [
            ("X-1", True)
        ]


def test_a_corrupt_zip_entry_in_a_worker_aborts_and_keeps_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(importer, "_BATCH", 1)
    archive = tmp_path / "all.zip"
    with zipfile.ZipFile(archive, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(4):
            zf.writestr(
                f"X-{i}.json",
                json.dumps(_record(f"X-{i}", "demo", ["1.0"]) | {"details": "x" * 5000}),
            )
    data = bytearray(archive.read_bytes())
    with zipfile.ZipFile(archive) as zf:
        info = zf.getinfo("X-2.json")
    start = info.header_offset + 30 + len(info.filename) + 10  # inside its deflated data
    data[start : start + 8] = b"\xff" * 8
    archive.write_bytes(bytes(data))
    db = tmp_path / "a.db"
    with StoreBuilder(db) as b:
        b.add([], "empty")
    before = hashlib.sha256(db.read_bytes()).hexdigest()
    with pytest.raises(AdvisoryError, match="corrupt zip entry"), StoreBuilder(db) as b:
        import_paths(b, [archive], workers=2)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert not list(tmp_path.glob(".a.db.*"))


def _table_rows(db: Path) -> dict[str, list[tuple[object, ...]]]:
    import sqlite3

    conn = sqlite3.connect(db)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        return {
            "vulns": sorted(
                conn.execute("SELECT id, source, modified, withdrawn, json FROM vulns")
            ),
            "affected": sorted(conn.execute("SELECT * FROM affected")),
            "aliases": sorted(conn.execute("SELECT * FROM aliases")),
        }
    finally:
        conn.close()


def _zip_with_repeats(path: Path) -> None:
    """Records whose ids repeat in later batches (the last one must win)."""
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        for i in range(40):
            vid = f"X-{i % 25}"  # X-0 .. X-14 come twice, far apart
            record = _record(vid, f"pkg{i % 7}", [f"{i}.0", f"{i}.1"])
            record["aliases"] = [f"CVE-2024-{i}"]
            zf.writestr(f"{i:03d}.json", json.dumps(record, indent=2))


@pytest.mark.parametrize("existing", [False, True])
def test_workers_writing_the_database_store_what_one_process_stores(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, existing: bool
) -> None:
    monkeypatch.setattr(importer, "_BATCH", 3)  # many batches, finished out of order
    archive = tmp_path / "all.zip"
    _zip_with_repeats(archive)
    results = []
    for workers in (1, 2):
        db = tmp_path / f"w{workers}.db"
        with StoreBuilder(db) as b:
            # a record of another source with an id the import has too: replaced by it
            b.add(
                list(
                    records_from_data(json.dumps(_record("X-3", "old", ["1"])).encode(), "o.json")
                ),
                "other",
            )
        if not existing:  # the same, in the same new (unindexed) database
            db.unlink()
        with StoreBuilder(db) as b:
            if not existing:
                b.add(
                    list(
                        records_from_data(
                            json.dumps(_record("X-3", "old", ["1"])).encode(), "o.json"
                        )
                    ),
                    "other",
                )
            (report,) = import_paths(b, [archive], workers=workers).values()
        assert report.records == 25 and not report.skipped
        results.append(_table_rows(db))
    assert results[0] == results[1]
    vulns = {r[0]: r for r in results[1]["vulns"]}
    assert len(vulns) == 25 and vulns["X-3"][1] == "import:all.zip"
    stored = vulns["X-3"][4]
    assert isinstance(stored, bytes)  # the zip entry's DEFLATE stream, as the zip held it
    assert json.loads(record_text(stored, "X-3"))["affected"][0]["versions"] == ["28.0", "28.1"]
    with AdvisoryStore(tmp_path / "w2.db") as store:
        assert store.candidates("PyPI", "old", "1") == []
        listed = [c.vuln_id for c in store.candidates("PyPI", "pkg0", "28.0") if c.listed]
        assert listed == ["X-3"]
        assert store.get("CVE-2024-3") is None  # the alias of X-3's first record went with it
        assert store.get("CVE-2024-28") is not None
        # the count the import recorded for its source is the count the table holds
        assert {i.name: i.record_count for i in store.sources()}["import:all.zip"] == 25


def test_a_worker_that_dies_is_an_operational_error_and_keeps_the_database(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os

    from customhouse.errors import OperationalError

    monkeypatch.setattr(importer, "_BATCH", 2)
    archive = tmp_path / "all.zip"
    _zip_with_repeats(archive)
    db = tmp_path / "a.db"
    with StoreBuilder(db) as b:
        b.add([], "empty")
    before = hashlib.sha256(db.read_bytes()).hexdigest()

    def killed(units: object, source: str) -> object:  # as the OOM killer would
        os._exit(9)

    monkeypatch.setattr(importer, "_load_batch", killed)  # (inherited by the forked workers)
    with (
        pytest.raises(OperationalError, match="worker process of the import died"),
        StoreBuilder(db) as b,
    ):
        import_paths(b, [archive], workers=2)
    assert hashlib.sha256(db.read_bytes()).hexdigest() == before
    assert not list(tmp_path.glob(".a.db.*"))


def test_a_zip_import_stores_each_record_as_the_zip_held_it_and_reads_it_back(
    tmp_path: Path,
) -> None:
    """A deflated entry is stored as its DEFLATE stream (schema 5); a stored one as compact
    text. Either reads back as the record the same files give from a directory."""
    records = [
        _record(f"X-{i}", f"pkg{i}", [f"{i}.0"]) | {"details": "é ünïcode"} for i in range(3)
    ]
    archive = tmp_path / "all.zip"
    feed = tmp_path / "feed"
    feed.mkdir()
    with zipfile.ZipFile(archive, "w") as zf:
        for i, record in enumerate(records):
            text = json.dumps(record, indent=2, ensure_ascii=False)
            method = zipfile.ZIP_STORED if i == 2 else zipfile.ZIP_DEFLATED
            zf.writestr(f"X-{i}.json", text, compress_type=method)
            (feed / f"X-{i}.json").write_text(text, encoding="utf-8")
    for source in (archive, feed):
        with StoreBuilder(tmp_path / f"{source.name}.db") as b:
            import_paths(b, [source], workers=1)
    stored = dict(_table_rows(tmp_path / "all.zip.db")["vulns"][i][::4] for i in range(3))
    assert isinstance(stored["X-0"], bytes) and isinstance(stored["X-1"], bytes)
    assert (
        zlib.decompress(stored["X-0"], -15)
        == json.dumps(records[0], indent=2, ensure_ascii=False).encode()
    )
    assert stored["X-2"] == json.dumps(records[2], separators=(",", ":"), ensure_ascii=False)
    with AdvisoryStore(tmp_path / "all.zip.db") as z, AdvisoryStore(tmp_path / "feed.db") as d:
        for i, record in enumerate(records):
            vid = f"X-{i}"
            assert z.get(vid) is not None and z.get(vid).raw == record == d.get(vid).raw  # type: ignore[union-attr]
            assert z.get_many([vid])[vid].raw == record
            assert [v.raw for v in z.lookup("PyPI", f"pkg{i}")] == [record]
            assert [json.loads(t) for t in z.lookup_raw("PyPI", f"pkg{i}")] == [record]
        assert [(s, json.loads(t)) for s, t in z.iter_records()] == [
            ("import:all.zip", r) for r in records
        ]


@pytest.mark.parametrize(
    ("stored", "problem"),
    [
        (b"\xff\x00garbage", "corrupt stored JSON"),
        (zlib.compress(b'{"id": "X-1"}' * 50, 9)[2:-10], "corrupt stored JSON: truncated"),
        (zlib.compress(b"{", 9)[2:-4], "corrupt stored JSON"),  # a whole stream, not JSON
        # a bomb: 17 MB of spaces, deflated to ~17 KB: refused after MAX_RECORD_BYTES + 1
        (zlib.compress(b" " * (17 << 20), 9)[2:-4], "larger than a record can be"),
        (b"\xff\xfe", "corrupt stored JSON"),
    ],
)
def test_a_corrupt_stored_record_is_a_database_error_naming_it(
    tmp_path: Path, stored: bytes, problem: str
) -> None:
    import sqlite3

    db = tmp_path / "a.db"
    with StoreBuilder(db) as b:
        b.add(
            list(records_from_data(json.dumps(_record("X-1", "a", ["1"])).encode(), "x.json")), "t"
        )
    conn = sqlite3.connect(db)
    conn.execute("UPDATE vulns SET json = ? WHERE id = 'X-1'", (stored,))
    conn.commit()
    conn.close()
    with AdvisoryStore(db) as store, pytest.raises(DatabaseError) as e:
        store.get("X-1")
    assert str(e.value).startswith("database record X-1: ") and problem in str(e.value)


@pytest.mark.parametrize("count", [0, 1, 63, 64, 65, 200])
def test_rows_inserted_many_a_statement_are_those_one_a_statement_inserts(count: int) -> None:
    import sqlite3

    from customhouse.advisories.store import _insert_many

    rows = [(f"X-{i % 50}", i, None if i % 7 else b"\x00blob", "é" * (i % 3)) for i in range(count)]
    tables = []
    for many in (False, True):
        db = sqlite3.connect(":memory:")
        db.execute("CREATE TABLE t (id TEXT NOT NULL, n INTEGER, b, s TEXT)")
        db.execute("CREATE UNIQUE INDEX t_id ON t (id)")  # ids repeat: the later row wins
        if many:
            _insert_many(db, "INSERT OR REPLACE INTO t", 4, rows)
        else:
            db.executemany("INSERT OR REPLACE INTO t VALUES (?, ?, ?, ?)", rows)
        tables.append(db.execute("SELECT rowid, * FROM t ORDER BY rowid").fetchall())
        db.close()
    assert tables[0] == tables[1] and len(tables[0]) == min(count, 50)
