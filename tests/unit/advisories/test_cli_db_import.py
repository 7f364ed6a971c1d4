"""``customhouse db import`` as a user runs it: the acceptance command, reports, --strict."""

from __future__ import annotations

import hashlib
import json
import zipfile
from pathlib import Path

from helpers import run_cli


def _record(vid: str) -> dict:
    return {
        "id": vid,
        "modified": "2024-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": "PyPI", "name": "demo"},
                "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1"}]}],
            }
        ],
    }


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _zip_with_bomb(path: Path) -> Path:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("PYSEC-OK-1.json", json.dumps(_record("PYSEC-OK-1")))
        # 40 MB of spaces, deflated to ~40 KB: over the record size limit and ratio
        zf.writestr("PYSEC-BOMB-1.json", b"{" + b" " * (40 * 1024 * 1024) + b"}")
    return path


def test_the_acceptance_import_reports_counts_equal_to_the_source_files(
    shared_dir: Path, tmp_path: Path
) -> None:
    pypa = shared_dir / "advisories" / "pypa"
    secdb = shared_dir / "advisories" / "alpine-secdb"
    db = tmp_path / "a.db"
    r = run_cli(
        "db", "import", str(pypa), str(secdb), "--db", str(db), "--format", "json", cwd=tmp_path
    )
    assert r.returncode == 0, r.stderr
    sources = json.loads(r.stdout)["sources"]
    osv = sources["import:pypa"]
    yaml_files = list(pypa.rglob("*.yaml"))
    assert osv["files"] == osv["records"] == osv["osv records"] == len(yaml_files)
    assert osv["skipped"] == []
    alpine = sources["import:alpine-secdb"]
    secdb_files = [p for p in secdb.rglob("*") if p.suffix in (".yaml", ".json")]
    assert alpine["files"] == alpine["secdb files"] == len(secdb_files)
    assert alpine["records"] == alpine["alpine records"] > 0
    r = run_cli("db", "status", "--db", str(db), "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    status = json.loads(r.stdout)
    assert sum(s["records"] for s in status["sources"]) == osv["records"] + alpine["records"]


def test_a_skipped_entry_is_listed_and_the_rest_imported(tmp_path: Path) -> None:
    z = _zip_with_bomb(tmp_path / "all.zip")
    db = tmp_path / "a.db"
    r = run_cli("db", "import", str(z), "--db", str(db), "--format", "json", cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    (report,) = json.loads(r.stdout)["sources"].values()
    assert report["records"] == 1
    assert len(report["skipped"]) == 1 and "PYSEC-BOMB-1.json" in report["skipped"][0]


def test_strict_refuses_an_import_that_skips_anything_and_keeps_the_database(
    tmp_path: Path,
) -> None:
    good = tmp_path / "good"
    good.mkdir()
    (good / "PYSEC-A-1.json").write_text(json.dumps(_record("PYSEC-A-1")))
    db = tmp_path / "a.db"
    r = run_cli("db", "import", str(good), "--db", str(db), "--strict", cwd=tmp_path)
    assert r.returncode == 0, r.stderr  # nothing skipped: --strict changes nothing
    before = _digest(db)

    z = _zip_with_bomb(tmp_path / "all.zip")
    r = run_cli(
        "db", "import", str(z), "--db", str(db), "--strict", "--format", "json", cwd=tmp_path
    )
    assert r.returncode == 2
    assert r.stdout == ""
    assert "PYSEC-BOMB-1.json" in r.stderr and "zip bomb" in r.stderr
    assert "--strict: 1 item skipped" in r.stderr and "unchanged" in r.stderr
    assert "Traceback" not in r.stderr
    assert _digest(db) == before
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".a.db")) == []
    # the good record of the refused zip was not imported either; the earlier one is kept
    r = run_cli("db", "show", "PYSEC-OK-1", "--db", str(db), cwd=tmp_path)
    assert r.returncode == 2 and "no advisory 'PYSEC-OK-1'" in r.stderr
    r = run_cli("db", "show", "PYSEC-A-1", "--db", str(db), cwd=tmp_path)
    assert r.returncode == 0 and json.loads(r.stdout)["id"] == "PYSEC-A-1"


def test_strict_counts_every_source_s_skipped_items(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.json").write_text("{not json")
    (bad / "b.json").write_text(json.dumps({"id": "X-1"}))  # no "modified"
    db = tmp_path / "a.db"
    r = run_cli("db", "import", str(bad), "--db", str(db), "--strict", cwd=tmp_path)
    assert r.returncode == 2
    assert "--strict: 2 items skipped" in r.stderr
    assert "a.json" in r.stderr and "b.json" in r.stderr
    assert not db.exists()
