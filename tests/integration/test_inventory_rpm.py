"""The rpm cataloger against databases written by real rpm, and in a real image.

Packages are built with ``rpmbuild -bb`` from ``tests/data/catalog/rpm/specs``,
registered with ``rpm --root TMP --dbpath /var/lib/rpm -i --nodeps --justdb`` (two
then erased with ``rpm -e --justdb``, so the databases carry free space), one database
per backend, and ``rpm -qa`` on the same root is the oracle:

- ``sqlite``: Debian's ``rpm`` (apt package ``rpm``, which also brings ``rpmbuild``);
- ``ndb``: an ``rpm`` built with ``--enable-ndb`` (Debian's is not): set
  ``CUSTOMHOUSE_RPM_NDB=/path/to/rpm``, or put one on PATH whose ``--showrc`` lists it;
- ``bdb``: rpm ≥ 4.16 cannot write Berkeley DB any more, so ``db5.3_load`` (apt package
  ``db5.3-util``) writes the ``Packages`` file from the SQLite database's headers (hash,
  btree, and big-endian hash), and Debian's rpm reads it back with its ``bdb_ro`` backend
  as the oracle.

Every check skips when its tool is absent. ``python tests/integration/test_inventory_rpm.py
--regenerate`` rewrites the stored databases under ``tests/data/catalog/rpm`` used by the
unit tests (see the README there).
"""

from __future__ import annotations

import gzip
import os
import shutil
import sqlite3
import struct
import subprocess
import sys
from pathlib import Path

import pytest

from customhouse.catalog.analyze import inventory
from customhouse.catalog.rpm import RpmCataloger
from customhouse.sources import open_image

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data" / "catalog" / "rpm"
SPECS = DATA / "specs"
# one line per package: the fields the cataloger reports, as rpm prints them
QUERY_FORMAT = (
    "%{NAME}\\t%{EVR}\\t%{ARCH}\\t%{SOURCERPM}\\t%{VENDOR}\\t%{LICENSE}\\t%{MODULARITYLABEL}\\n"
)
FILES_FORMAT = "[%{FILENAMES}\\n]"
ERASED = ("meta-empty", "bulk-part13")
# (fixture directory, database file, backend, Berkeley DB type, page size, byte order)
BDB_VARIANTS = [
    ("bdb-hash", "hash", 4096, "1234"),
    ("bdb-btree", "btree", 512, "1234"),
    ("bdb-hash-be", "hash", 1024, "4321"),
]
TIMEOUT = 300


def _run(cmd: list[str], **kw: object) -> str:
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=TIMEOUT, check=False, **kw)  # type: ignore[call-overload]
    if proc.returncode != 0:
        raise RuntimeError(f"{cmd[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    out: str = proc.stdout
    return out


def _backends(rpm: str) -> set[str]:
    try:
        showrc = _run([rpm, "--showrc"])
    except (OSError, RuntimeError, subprocess.TimeoutExpired):
        return set()
    for line in showrc.splitlines():
        if line.strip().startswith("available backends"):
            return set(line.partition(":")[2].split())
    return set()


def system_rpm() -> str | None:
    rpm = shutil.which("rpm")
    return rpm if rpm and shutil.which("rpmbuild") and "sqlite" in _backends(rpm) else None


def ndb_rpm() -> str | None:
    for cand in (os.environ.get("CUSTOMHOUSE_RPM_NDB"), shutil.which("rpm")):
        if cand and "ndb" in _backends(cand):
            return cand
    return None


def db_load() -> str | None:
    return shutil.which("db5.3_load") or shutil.which("db_load")


# ------------------------------------------------------------------------ generation


def build_rpms(topdir: Path) -> list[Path]:
    """``rpmbuild -bb`` every spec into ``topdir``; the binary packages built."""
    for spec in sorted(SPECS.glob("*.spec")):
        _run(
            ["rpmbuild", "--define", f"_topdir {topdir}", "--define", "dist .ch1", "-bb", str(spec)]
        )
    return sorted((topdir / "RPMS").rglob("*.rpm"))


def _rpm_args(rpm: str, root: Path, backend: str) -> list[str]:
    return [
        rpm,
        "--root",
        str(root),
        "--dbpath",
        "/var/lib/rpm",
        "--define",
        f"_db_backend {backend}",
    ]


def install(rpm: str, root: Path, backend: str, packages: list[Path]) -> None:
    args = _rpm_args(rpm, root, backend)
    _run([*args, "-i", "--nodeps", "--justdb", *map(str, packages)])
    _run([*args, "-e", "--nodeps", "--justdb", *ERASED])


def oracle(rpm: str, root: Path, backend: str) -> tuple[list[str], list[str]]:
    """``rpm -qa`` lines and owned files (no leading "/"), both sorted."""
    args = _rpm_args(rpm, root, backend)
    lines = _run([*args, "-qa", "--qf", QUERY_FORMAT]).splitlines()
    files = _run([*args, "-qa", "--qf", FILES_FORMAT]).splitlines()
    return sorted(lines), sorted({f.lstrip("/") for f in files if f.strip("/")})


def bdb_from_sqlite(sqlite_db: Path, dest: Path, db_type: str, page_size: int, lorder: str) -> None:
    """Write a Berkeley DB ``Packages`` with db_load: the SQLite database's headers, keyed
    by header number in the chosen byte order, plus rpm's key-0 counter record."""
    fmt = "<I" if lorder == "1234" else ">I"
    conn = sqlite3.connect(f"file:{sqlite_db}?mode=ro", uri=True)
    try:
        rows = list(conn.execute("SELECT hnum, blob FROM Packages ORDER BY hnum"))
    finally:
        conn.close()
    lines = [
        "VERSION=3",
        "format=bytevalue",
        f"type={db_type}",
        f"db_pagesize={page_size}",
        f"db_lorder={lorder}",
        "HEADER=END",
        " " + struct.pack(fmt, 0).hex(),
        " " + struct.pack(fmt, max(h for h, _ in rows) + 1).hex(),
    ]
    for hnum, blob in rows:
        lines += [" " + struct.pack(fmt, hnum).hex(), " " + bytes(blob).hex()]
    lines.append("DATA=END")
    dest.parent.mkdir(parents=True, exist_ok=True)
    dump = dest.with_suffix(".dump")
    dump.write_text("\n".join(lines) + "\n")
    loader = db_load()
    assert loader is not None
    _run([loader, "-f", str(dump), str(dest)])
    dump.unlink()


def generate(work: Path) -> dict[str, tuple[Path, list[str], list[str]]]:
    """Every database the tools here can write: name -> (file, rpm -qa lines, files)."""
    out: dict[str, tuple[Path, list[str], list[str]]] = {}
    rpm = system_rpm()
    if rpm is None:
        return out
    packages = build_rpms(work / "top")
    root = work / "sqlite"
    install(rpm, root, "sqlite", packages)
    sqlite_db = root / "var/lib/rpm/rpmdb.sqlite"
    out["sqlite"] = (sqlite_db, *oracle(rpm, root, "sqlite"))
    ndb = ndb_rpm()
    if ndb is not None:
        root = work / "ndb"
        install(ndb, root, "ndb", packages)
        out["ndb"] = (root / "var/lib/rpm/Packages.db", *oracle(ndb, root, "ndb"))
    if db_load() is not None and "bdb_ro" in _backends(rpm):
        for name, db_type, page_size, lorder in BDB_VARIANTS:
            root = work / name
            bdb_from_sqlite(sqlite_db, root / "var/lib/rpm/Packages", db_type, page_size, lorder)
            out[name] = (root / "var/lib/rpm/Packages", *oracle(rpm, root, "bdb_ro"))
    return out


def regenerate(work: Path) -> None:
    for name, (db, lines, files) in generate(work).items():
        dest = DATA / name
        dest.mkdir(parents=True, exist_ok=True)
        if db.name == "rpmdb.sqlite":
            with gzip.GzipFile(dest / "rpmdb.sqlite.gz", "wb", mtime=0) as f:
                f.write(db.read_bytes())
        else:
            shutil.copyfile(db, dest / db.name)
        (dest / "rpm-qa.tsv").write_text("\n".join(lines) + "\n")
        (dest / "rpm-files.txt").write_text("\n".join(files) + "\n")
        print(f"{dest}: {len(lines)} packages, {len(files)} files")


# ----------------------------------------------------------------------------- tests


def _ours(db: Path) -> tuple[list[str], list[str], list[str]]:
    """Our packages in the oracle's line format, owned files, warnings."""
    path = "var/lib/rpm/" + db.name
    result = RpmCataloger().parse(path, db.read_bytes())
    lines = []
    for p in result.packages:
        e = p.extra
        fields = [
            p.name,
            p.version,
            p.arch or "(none)",
            e.get("sourcerpm", "(none)"),
            e.get("vendor", "(none)"),
            p.licenses[0] if p.licenses else "(none)",
            e.get("modularity_label", "(none)"),
        ]
        lines.append("\t".join(fields))
    return sorted(lines), sorted(result.owned_files), result.warnings


@pytest.fixture(scope="module")
def generated(
    tmp_path_factory: pytest.TempPathFactory,
) -> dict[str, tuple[Path, list[str], list[str]]]:
    if system_rpm() is None:
        pytest.skip("rpm and rpmbuild with the sqlite backend are not installed (apt: rpm)")
    return generate(tmp_path_factory.mktemp("rpmdb"))


@pytest.mark.parametrize("name", ["sqlite", "ndb", *(v[0] for v in BDB_VARIANTS)])
def test_fresh_database_matches_rpm_qa(
    generated: dict[str, tuple[Path, list[str], list[str]]], name: str
) -> None:
    if name not in generated:
        tool = "an rpm built with --enable-ndb" if name == "ndb" else "db5.3_load (apt: db5.3-util)"
        pytest.skip(f"cannot write a {name} database here: needs {tool}")
    db, lines, files = generated[name]
    assert len(lines) == 26  # 28 built, 2 erased
    ours, owned, warnings = _ours(db)
    assert warnings == []
    assert ours == lines
    assert owned == files


@pytest.mark.parametrize("name", ["sqlite", "ndb", *(v[0] for v in BDB_VARIANTS)])
def test_stored_oracle_is_what_rpm_says_today(
    generated: dict[str, tuple[Path, list[str], list[str]]], name: str
) -> None:
    """The stored fixtures' rpm -qa output is reproduced by a fresh build (no drift)."""
    if name not in generated:
        pytest.skip(f"cannot write a {name} database here")
    _, lines, files = generated[name]
    stored = DATA / name
    assert (stored / "rpm-qa.tsv").read_text().splitlines() == lines
    assert (stored / "rpm-files.txt").read_text().splitlines() == files


def test_sqlite_rpmdb_in_an_oci_image_is_inventoried_with_its_layer(tmp_path: Path) -> None:
    from helpers import run_cli
    from helpers.imagewriter import Layer, directory, file, write_layout

    db = gzip.decompress((DATA / "sqlite" / "rpmdb.sqlite.gz").read_bytes())
    expected = sorted(
        (line.split("\t")[0], line.split("\t")[1])
        for line in (DATA / "sqlite" / "rpm-qa.tsv").read_text().splitlines()
    )
    os_release = b'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=40\n'
    img = write_layout(
        tmp_path / "img",
        [
            Layer([directory("etc"), file("etc/os-release", os_release)]),
            Layer(
                [
                    directory("usr"),
                    directory("usr/lib"),
                    directory("usr/lib/sysimage"),
                    directory("usr/lib/sysimage/rpm"),
                    file("usr/lib/sysimage/rpm/rpmdb.sqlite", db),
                    file("usr/lib/sysimage/rpm/rpmdb.sqlite-wal", b""),
                ]
            ),
        ],
    )
    with open_image(img.source) as image:
        inv = inventory(image, catalogers=[RpmCataloger()], use_cache=False)
    rpms = [p for p in inv.packages if p.ecosystem == "rpm"]
    assert sorted((p.name, p.version) for p in rpms) == expected
    assert {p.layer for p in rpms} == {1}
    assert {p.layer_diff_id for p in rpms} == {img.layers[1].diff_id}
    assert {p.path for p in rpms} == {"usr/lib/sysimage/rpm/rpmdb.sqlite"}
    assert inv.warnings == []

    proc = run_cli("sbom", img.source, "--format", "json", "--no-cache", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    import json

    doc = json.loads(proc.stdout)
    listed = sorted((p["name"], p["version"]) for p in doc["packages"] if p["ecosystem"] == "rpm")
    assert listed == expected
    hello = next(p for p in doc["packages"] if p["name"] == "hello-tools")
    assert hello["source_name"] == "hello"
    # the merge adds the distro's namespace and qualifier (os-release: fedora 40)
    assert hello["purl"] == (
        "pkg:rpm/fedora/hello-tools@1.2~rc1-3.ch1?arch=x86_64&distro=fedora-40&epoch=2"
    )


if __name__ == "__main__":
    if sys.argv[1:] != ["--regenerate"]:
        sys.exit(f"usage: {sys.argv[0]} --regenerate")
    import tempfile

    with tempfile.TemporaryDirectory() as tmp:
        regenerate(Path(tmp))
