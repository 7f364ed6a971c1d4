"""rpm cataloger: the three database formats, against what rpm itself says about them.

The databases under tests/data/catalog/rpm were written by real tools (rpm 4.18 for
SQLite and ndb, libdb 5.3's db_load for Berkeley DB) from packages built by rpmbuild
from the specs there; each directory's ``rpm-qa.tsv``/``rpm-files.txt`` is rpm's own
``-qa`` output on that database (see the README there and
tests/integration/test_inventory_rpm.py, which regenerates and re-checks them).
"""

from __future__ import annotations

import gzip
import random
import sqlite3
import struct
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customhouse.catalog import rpm as rpm_mod
from customhouse.catalog._rpmdb_header import HeaderError, parse_header
from customhouse.catalog.interface import FileResult, Package
from customhouse.catalog.rpm import RpmCataloger, split_sourcerpm

DATA = Path(__file__).resolve().parents[2] / "data" / "catalog" / "rpm"
# fixture directory -> (database file, the path it has in an image)
DATABASES = {
    "sqlite": ("rpmdb.sqlite.gz", "var/lib/rpm/rpmdb.sqlite"),
    "ndb": ("Packages.db", "usr/lib/sysimage/rpm/Packages.db"),
    "bdb-hash": ("Packages", "var/lib/rpm/Packages"),
    "bdb-btree": ("Packages", "var/lib/rpm/Packages"),
    "bdb-hash-be": ("Packages", "var/lib/rpm/Packages"),
}


def _db(name: str) -> tuple[str, bytes]:
    file, path = DATABASES[name]
    raw = (DATA / name / file).read_bytes()
    return path, gzip.decompress(raw) if file.endswith(".gz") else raw


def _parse(name: str) -> FileResult:
    path, data = _db(name)
    return RpmCataloger().parse(path, data)


def _by_name(result: FileResult) -> dict[str, Package]:
    return {p.name: p for p in result.packages}


def _as_rpm_qa(p: Package) -> str:
    """Our package in the stored oracle's format (rpm prints "(none)" for a missing tag)."""
    e = p.extra
    return "\t".join(
        [
            p.name,
            p.version,
            p.arch or "(none)",
            e.get("sourcerpm", "(none)"),
            e.get("vendor", "(none)"),
            p.licenses[0] if p.licenses else "(none)",
            e.get("modularity_label", "(none)"),
        ]
    )


# ------------------------------------------------------------------- against rpm -qa


@pytest.mark.parametrize("name", sorted(DATABASES))
def test_packages_equal_rpm_qa_of_the_same_database(name: str) -> None:
    result = _parse(name)
    assert result.warnings == []
    expected = (DATA / name / "rpm-qa.tsv").read_text().splitlines()
    assert len(expected) == 26
    assert sorted(_as_rpm_qa(p) for p in result.packages) == sorted(expected)


@pytest.mark.parametrize("name", sorted(DATABASES))
def test_owned_files_equal_rpm_filenames(name: str) -> None:
    result = _parse(name)
    expected = (DATA / name / "rpm-files.txt").read_text().splitlines()
    assert result.owned_files == expected
    assert not any(f.startswith("/") for f in result.owned_files)


@pytest.mark.parametrize("name", sorted(DATABASES))
def test_erased_packages_are_not_reported(name: str) -> None:
    names = set(_by_name(_parse(name)))
    assert {"hello", "hello-tools", "libwidget", "bulk-part12", "bulk-part14"} <= names
    assert not names & {"meta-empty", "bulk-part13"}  # rpm -e --justdb after install


@pytest.mark.parametrize("name", sorted(DATABASES))
def test_every_format_yields_identical_packages(name: str) -> None:
    ours = {p.name: (p.purl, p.source_name, p.source_version) for p in _parse(name).packages}
    ref = {p.name: (p.purl, p.source_name, p.source_version) for p in _parse("sqlite").packages}
    assert ours == ref


# ---------------------------------------------------------------------- field details

# name -> (version, purl, source name, source version, licenses)
EXPECTED_FIELDS = {
    "hello": (
        "2:1.2~rc1-3.ch1",
        "pkg:rpm/hello@1.2~rc1-3.ch1?arch=x86_64&epoch=2",
        "hello",
        "2:1.2~rc1-3.ch1",
        ("MIT",),
    ),
    "hello-tools": (
        "2:1.2~rc1-3.ch1",
        "pkg:rpm/hello-tools@1.2~rc1-3.ch1?arch=x86_64&epoch=2",
        "hello",
        "2:1.2~rc1-3.ch1",
        ("GPL-2.0-or-later AND LGPL-2.1-only",),
    ),
    "libwidget": (
        "0.9^20240101git1a2b3c-1",
        "pkg:rpm/libwidget@0.9%5E20240101git1a2b3c-1?arch=noarch",
        "libwidget",
        "0.9^20240101git1a2b3c-1",
        ("BSD-3-Clause",),
    ),
    "bulk-part07": (
        "3.0-7.ch1",
        "pkg:rpm/bulk-part07@3.0-7.ch1?arch=noarch",
        "bulk",
        "3.0-7.ch1",
        ("Apache-2.0",),
    ),
}


@pytest.mark.parametrize("pkg_name", sorted(EXPECTED_FIELDS))
def test_version_purl_source_and_license(pkg_name: str) -> None:
    p = _by_name(_parse("sqlite"))[pkg_name]
    assert (p.version, p.purl, p.source_name, p.source_version, p.licenses) == EXPECTED_FIELDS[
        pkg_name
    ]
    assert p.ecosystem == "rpm"
    assert p.path == "var/lib/rpm/rpmdb.sqlite"


def test_modularity_label_vendor_epoch_and_release_are_kept() -> None:
    p = _by_name(_parse("ndb"))["hello-tools"]
    assert p.extra["modularity_label"] == "hello:stable:20240101:abcdef01"
    assert p.extra["vendor"] == "Customhouse Test Vendor"
    assert p.extra["epoch"] == "2"
    assert p.extra["release"] == "3.ch1"
    assert p.extra["sourcerpm"] == "hello-1.2~rc1-3.ch1.src.rpm"
    assert p.extra["db"] == "ndb"
    assert "epoch" not in _by_name(_parse("ndb"))["libwidget"].extra


@pytest.mark.parametrize(
    ("sourcerpm", "expected"),
    [
        ("bash-5.1.8-6.el9.src.rpm", ("bash", "5.1.8", "6.el9")),
        ("gcc12-12.2.1+git416-150000.1.5.1.src.rpm", ("gcc12", "12.2.1+git416", "150000.1.5.1")),
        ("python-3.11-libs-3.11.2-1.fc38.src.rpm", ("python-3.11-libs", "3.11.2", "1.fc38")),
        ("kernel-5.14.0-1.nosrc.rpm", ("kernel", "5.14.0", "1")),
        ("bash-5.1.8.src.rpm", None),
        ("bash-5.1.8-6.el9.x86_64.rpm", None),
        ("--.src.rpm", None),
    ],
)
def test_split_sourcerpm(sourcerpm: str, expected: tuple[str, str, str] | None) -> None:
    assert split_sourcerpm(sourcerpm) == expected


@pytest.mark.parametrize(
    ("vendor", "namespace"),
    [
        ("Red Hat, Inc.", "redhat"),
        ("Fedora Project", "fedora"),
        ("SUSE LLC <https://www.suse.com/>", "suse"),
        ("openSUSE", "opensuse"),
        ("Amazon Linux", "amazon"),
        ("Rocky Enterprise Software Foundation", "rocky"),
        ("CentOS", "centos"),
        ("Customhouse Test Vendor", None),
        (None, None),
    ],
)
def test_purl_namespace_from_vendor(vendor: str | None, namespace: str | None) -> None:
    assert rpm_mod._namespace(vendor) == namespace


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("var/lib/rpm/rpmdb.sqlite", True),
        ("usr/lib/sysimage/rpm/rpmdb.sqlite", True),
        ("var/lib/rpm/Packages", True),
        ("var/lib/rpm/Packages.db", True),
        ("usr/lib/sysimage/rpm/Packages.db", True),
        ("var/lib/rpm/rpmdb.sqlite-wal", True),
        ("var/lib/rpm/rpmdb.sqlite-shm", False),
        ("var/lib/rpm/Name", False),
        ("var/lib/rpm/Index.db", False),
        ("srv/var/lib/rpm/Packages", False),
        ("var/lib/dpkg/status", False),
    ],
)
def test_match(path: str, wanted: bool) -> None:
    assert RpmCataloger().match(path, 0o100644, 1000) is wanted


# ------------------------------------------------------------------------ robustness


@pytest.mark.parametrize("name", sorted(DATABASES))
@pytest.mark.parametrize("keep", [0.9, 0.5, 0.1])
def test_truncated_database_warns_and_does_not_crash(name: str, keep: float) -> None:
    path, data = _db(name)
    cut = data[: int(len(data) * keep)]
    result = RpmCataloger().parse(path, cut)
    assert result.warnings, "a truncated database must be reported"
    assert all(w.startswith(f"{path}: ") for w in result.warnings)
    assert any("truncated" in w or "past the end" in w for w in result.warnings)
    full = {p.name for p in _parse(name).packages}
    assert {p.name for p in result.packages} <= full


@pytest.mark.parametrize("name", sorted(DATABASES))
def test_database_cut_by_one_byte_keeps_its_intact_packages(name: str) -> None:
    path, data = _db(name)
    result = RpmCataloger().parse(path, data[:-1])
    assert result.warnings
    assert len(result.packages) >= 25  # at most the package whose bytes were cut is lost


@pytest.mark.parametrize("name", sorted(DATABASES))
def test_random_byte_flips_never_raise(name: str) -> None:
    path, data = _db(name)
    rng = random.Random(f"rpm-{name}")  # deterministic
    for _ in range(40):
        buf = bytearray(data)
        for _ in range(rng.randint(1, 8)):
            buf[rng.randrange(len(buf))] = rng.randrange(256)
        result = RpmCataloger().parse(path, bytes(buf))
        assert all(w.startswith(f"{path}: ") for w in result.warnings)
        assert len(result.warnings) <= 26  # capped


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    name=st.sampled_from(sorted(DATABASES)),
    start=st.integers(min_value=0, max_value=300_000),
    junk=st.binary(max_size=64),
)
def test_spliced_garbage_never_raises(name: str, start: int, junk: bytes) -> None:
    path, data = _db(name)
    start %= len(data)
    mutated = data[:start] + junk + data[start + len(junk) :]
    result = RpmCataloger().parse(path, mutated)
    assert isinstance(result, FileResult)


def _bdb_overflow_page(data: bytes, page_size: int) -> int:
    for pgno in range(1, len(data) // page_size):
        page = data[pgno * page_size : (pgno + 1) * page_size]
        if page[25] == 7 and struct.unpack_from("<I", page, 16)[0] != 0:
            return pgno
    raise AssertionError("no chained overflow page in the fixture")


def test_bdb_overflow_chain_that_loops_is_reported() -> None:
    path, data = _db("bdb-btree")  # 512-byte pages: header blobs span chains of pages
    pgno = _bdb_overflow_page(data, 512)
    buf = bytearray(data)
    struct.pack_into("<I", buf, pgno * 512 + 16, pgno)  # next page: itself
    result = RpmCataloger().parse(path, bytes(buf))
    assert any("loops back" in w for w in result.warnings)
    assert len(result.packages) == 25  # only the looping package is lost


def test_ndb_blob_checksum_mismatch_is_reported() -> None:
    path, data = _db("ndb")
    first_blob = struct.unpack_from("<I", data, 32 + 8)[0] * 16  # slot 2's block offset
    buf = bytearray(data)
    buf[first_blob + 100] ^= 0xFF
    result = RpmCataloger().parse(path, bytes(buf))
    assert any("checksum mismatch" in w for w in result.warnings)
    assert len(result.packages) == 25


def _real_header(name: str = "sqlite") -> bytes:
    _, data = _db(name)
    conn = sqlite3.connect(":memory:")
    try:
        conn.deserialize(_rollback(data))
        blob: bytes = conn.execute("SELECT blob FROM Packages ORDER BY hnum LIMIT 1").fetchone()[0]
    finally:
        conn.close()
    return blob


def _rollback(data: bytes) -> bytes:
    """The database with its WAL-mode marker reset, so SQLite can open a copy of it."""
    buf = bytearray(data)
    buf[18] = buf[19] = 1
    return bytes(buf)


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        (lambda b: struct.pack(">I", 0x01000000) + b[4:], "implausible index entry count"),
        (lambda b: b[:4] + struct.pack(">I", 0x20000000) + b[8:], "implausible data store size"),
        (lambda b: b[: len(b) // 2], "more than its"),
        (lambda b: b[:6], "too short"),
    ],
)
def test_garbled_header_blob_raises_header_error(patch: object, message: str) -> None:
    blob = _real_header()
    assert parse_header(blob).name == "hello-tools"  # the first installed
    with pytest.raises(HeaderError, match=message):
        parse_header(patch(blob))  # type: ignore[operator]


def test_header_offsets_outside_the_data_store_are_rejected() -> None:
    blob = bytearray(_real_header())
    il = struct.unpack_from(">I", blob, 0)[0]
    for i in range(il):  # point NAME past the end of the data store
        if struct.unpack_from(">I", blob, 8 + 16 * i)[0] == 1000:
            struct.pack_into(">I", blob, 8 + 16 * i + 8, 0x7FFFFFF0)
    with pytest.raises(HeaderError, match="outside"):
        parse_header(bytes(blob))


def test_garbled_header_in_a_database_is_a_warning_naming_the_record(tmp_path: Path) -> None:
    path, data = _db("sqlite")
    db = tmp_path / "rpmdb.sqlite"
    db.write_bytes(_rollback(data))
    conn = sqlite3.connect(db)
    conn.execute("UPDATE Packages SET blob = X'0000FFFF00000010' WHERE hnum = 1")
    conn.commit()
    conn.close()
    result = RpmCataloger().parse(path, db.read_bytes())
    assert [w for w in result.warnings if "package record 1:" in w]
    assert len(result.packages) == 25


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "empty file"),
        (b"hello world, not a database at all", "not an rpm database"),
        (b"SQLite format 3\0" + bytes(20), "not an SQLite 3 database"),
        (b"RpmP" + bytes(28), "implausible number of slot pages"),
        (b"RpmP" + struct.pack("<I", 3) + bytes(24), "unknown format version 3"),
    ],
)
def test_not_an_rpm_database_is_a_warning(data: bytes, message: str) -> None:
    result = RpmCataloger().parse("var/lib/rpm/Packages", data)
    assert result.packages == []
    assert any(message in w for w in result.warnings), result.warnings
    assert all(w.startswith("var/lib/rpm/Packages: ") for w in result.warnings)


def test_sqlite_without_packages_table_is_a_warning(tmp_path: Path) -> None:
    db = tmp_path / "other.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE Names(x)")
    conn.commit()
    conn.close()
    result = RpmCataloger().parse("var/lib/rpm/rpmdb.sqlite", db.read_bytes())
    assert result.warnings == ["var/lib/rpm/rpmdb.sqlite: no Packages table: not an rpm database"]


def test_sqlite_packages_view_with_a_runaway_query_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "trap.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE t(x)")
    conn.execute(
        "CREATE VIEW Packages AS WITH RECURSIVE c(hnum) AS (SELECT 1 UNION ALL "
        "SELECT hnum + 1 FROM c) SELECT hnum, X'00' AS blob FROM c WHERE hnum < 0"
    )
    conn.commit()
    conn.close()
    result = RpmCataloger().parse("var/lib/rpm/rpmdb.sqlite", db.read_bytes())
    assert result.packages == []
    assert result.warnings == [
        "var/lib/rpm/rpmdb.sqlite: Packages is a view, not a table: not an rpm database"
    ]


def test_wal_with_pending_writes_is_reported(tmp_path: Path) -> None:
    db = tmp_path / "rpmdb.sqlite"
    conn = sqlite3.connect(db)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE Packages(hnum INTEGER PRIMARY KEY, blob BLOB)")
    conn.execute("INSERT INTO Packages VALUES (1, X'00')")
    conn.commit()
    wal = (tmp_path / "rpmdb.sqlite-wal").read_bytes()  # read while the writer is open
    conn.close()
    cat = RpmCataloger()
    result = cat.parse("var/lib/rpm/rpmdb.sqlite-wal", wal)
    assert result.packages == []
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith("var/lib/rpm/rpmdb.sqlite-wal: ")
    assert "write-ahead log" in result.warnings[0]
    assert cat.parse("var/lib/rpm/rpmdb.sqlite-wal", b"").warnings == []
    assert cat.parse("var/lib/rpm/rpmdb.sqlite-wal", b"x" * 100).warnings == [
        "var/lib/rpm/rpmdb.sqlite-wal: not an SQLite write-ahead log"
    ]


def test_image_path_is_never_opened(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """parse works on bytes alone: with the cwd empty, the image path does not exist on disk."""
    monkeypatch.chdir(tmp_path)
    path, data = _db("sqlite")
    assert not Path(path).exists()
    assert len(RpmCataloger().parse(path, data).packages) == 26
    assert list(tmp_path.iterdir()) == []
