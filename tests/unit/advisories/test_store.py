"""The advisory store: imports of real feeds, OSV schema validity, atomic swaps, lookups."""

from __future__ import annotations

import hashlib
import json
import sqlite3
import zipfile
from pathlib import Path

import jsonschema
import pytest
import yaml

from customhouse.advisories.feeds.alpine import parse_id
from customhouse.advisories.importer import import_paths
from customhouse.advisories.osv import AdvisoryError, parse_vulnerability
from customhouse.advisories.store import AdvisoryStore, DatabaseError, StoreBuilder
from customhouse.errors import SourceError

SCHEMA = json.loads(
    (Path(__file__).parents[2] / "data" / "schemas" / "osv-schema.json").read_text()
)


def _record(
    vid: str, name: str = "demo", fixed: str = "1.0", eco: str = "PyPI", **extra: object
) -> dict:
    rec = {
        "id": vid,
        "modified": "2024-01-01T00:00:00Z",
        "affected": [
            {
                "package": {"ecosystem": eco, "name": name},
                "ranges": [
                    {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}
                ],
            }
        ],
    }
    rec.update(extra)
    return rec


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _build(db: Path, *paths: Path) -> dict:
    with StoreBuilder(db) as b:
        return import_paths(b, list(paths))


@pytest.fixture(scope="module")
def pypa_db(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    db = tmp_path_factory.mktemp("pypa") / "a.db"
    return db, _build(db, shared_dir / "advisories" / "pypa")


def test_pypa_import_counts_equal_source_files(
    shared_dir: Path, pypa_db: tuple[Path, dict]
) -> None:
    src = shared_dir / "advisories" / "pypa"
    files = [p for p in (src / "vulns").rglob("*.yaml")]
    db, reports = pypa_db
    (report,) = reports.values()
    assert report.files == len(files) == 2661
    assert report.records == len(files)
    assert report.skipped == []
    with AdvisoryStore(db) as store:
        assert store.counts()["vulnerabilities"] == len(files)
        (source,) = store.sources()
        assert source.record_count == len(files)
        # every stored record is valid OSV
        validator = jsonschema.Draft202012Validator(SCHEMA)
        bad = []
        for _, raw in store.iter_records():
            errors = list(validator.iter_errors(json.loads(raw)))
            if errors:
                bad.append(errors[0].message)
        assert bad == []


def test_pypa_lookup_normalizes_names(pypa_db: tuple[Path, dict]) -> None:
    db, _ = pypa_db
    with AdvisoryStore(db) as store:
        ids = {v.id for v in store.lookup("PyPI", "Jinja2")}
        assert ids and ids == {v.id for v in store.lookup("PyPI", "jinja2")}
        urllib3 = {v.id for v in store.lookup("PyPI", "urllib3")}
        assert "PYSEC-2017-98" in urllib3
        assert store.get("CVE-2016-9015").id == "PYSEC-2017-98"  # by alias
        assert store.lookup("PyPI", "no-such-package-anywhere") == []


def _secdb_oracle(root: Path) -> set[tuple[str, str, str, str]]:
    """Independent reading of secdb: (branch, origin, fixed version, ID) for every real fix."""
    out = set()
    for path in root.rglob("*"):
        if path.suffix not in (".yaml", ".json"):
            continue
        doc = (
            yaml.safe_load(path.read_text())
            if path.suffix == ".yaml"
            else json.loads(path.read_text())
        )
        branch = doc["distroversion"]
        branch = branch if branch.startswith("v") else "v" + branch
        pkgs = [doc] if "secfixes" in doc else [p["pkg"] for p in doc.get("packages") or []]
        for pkg in pkgs:
            for version, ids in (pkg.get("secfixes") or {}).items():
                if str(version) == "0" or not ids:
                    continue
                for raw in ids if isinstance(ids, list) else str(ids).split():
                    vid = parse_id(str(raw))
                    if vid:
                        out.add((branch, pkg["name"], str(version), vid))
    return out


def test_alpine_secdb_import_matches_an_independent_reading(
    shared_dir: Path, tmp_path: Path
) -> None:
    src = shared_dir / "advisories" / "alpine-secdb"
    db = tmp_path / "a.db"
    (report,) = _build(db, src).values()
    expected = _secdb_oracle(src)
    got = set()
    with AdvisoryStore(db) as store:
        validator = jsonschema.Draft202012Validator(SCHEMA)
        for _, raw in store.iter_records():
            rec = json.loads(raw)
            assert not list(validator.iter_errors(rec)), rec["id"]
            vid = rec["id"].removeprefix("ALPINE-")
            for a in rec["affected"]:
                fixed = a["ranges"][0]["events"][1]["fixed"]
                got.add(
                    (
                        a["package"]["ecosystem"].removeprefix("Alpine:"),
                        a["package"]["name"],
                        fixed,
                        vid,
                    )
                )
        assert report.records == len({vid for *_, vid in expected})
    # where one ID is fixed twice in a branch the store keeps one fix; everything else is identical
    assert got <= expected
    assert {(b, o, i) for b, o, _, i in got} == {(b, o, i) for b, o, _, i in expected}


def test_alpine_zero_means_never_affected(tmp_path: Path) -> None:
    f = tmp_path / "main.json"
    f.write_text(
        json.dumps(
            {
                "distroversion": "v3.19",
                "reponame": "main",
                "packages": [
                    {
                        "pkg": {
                            "name": "zlib",
                            "secfixes": {"0": ["CVE-2000-1"], "1.3-r1": ["CVE-2000-2"]},
                        }
                    }
                ],
            }
        )
    )
    db = tmp_path / "a.db"
    _build(db, f)
    with AdvisoryStore(db) as store:
        assert [v.id for v in store.lookup("Alpine:v3.19", "zlib")] == ["ALPINE-CVE-2000-2"]
        assert store.get("CVE-2000-1") is None


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("CVE-2019-1", "CVE-2019-1"),
        ("CVE_2019-2426", "CVE-2019-2426"),
        ("CVE 2018-16859", "CVE-2018-16859"),
        ("CVE-????-?????  XSA-295", "XSA-295"),
        ("wnpa-sec-2017-18", "wnpa-sec-2017-18"),
        ("CVE-2020-1 (partial fix)", "CVE-2020-1"),
        ("???", None),
    ],
)
def test_secdb_hand_written_ids(raw: str, expected: str | None) -> None:
    assert parse_id(raw) == expected


def test_yaml_timestamps_stay_strings(tmp_path: Path) -> None:
    f = tmp_path / "X-1.yaml"
    f.write_text("id: X-1\nmodified: 2024-01-02T03:04:05Z\npublished: 2024-01-01T00:00:00Z\n")
    db = tmp_path / "a.db"
    _build(db, f)
    with AdvisoryStore(db) as store:
        v = store.get("X-1")
        assert v is not None and v.modified == "2024-01-02T03:04:05Z"


def test_zip_import_and_zip_bomb_entry_skipped(tmp_path: Path) -> None:
    z = tmp_path / "all.zip"
    with zipfile.ZipFile(z, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr("GHSA-aaaa.json", json.dumps(_record("GHSA-aaaa", name="left-pad", eco="npm")))
        zf.writestr("BOMB-1.json", b"{" + b" " * (40 * 1024 * 1024) + b"}")
    db = tmp_path / "a.db"
    (report,) = _build(db, z).values()
    assert report.records == 1
    assert any("BOMB-1.json" in s for s in report.skipped)


def test_failed_import_leaves_previous_database_intact(tmp_path: Path) -> None:
    good = tmp_path / "good"
    good.mkdir()
    (good / "A-1.json").write_text(json.dumps(_record("A-1")))
    db = tmp_path / "a.db"
    _build(db, good)
    before = _digest(db)
    (good / "A-2.json").write_text(json.dumps(_record("A-2")))
    with pytest.raises(SourceError):
        _build(db, good, tmp_path / "missing")
    assert _digest(db) == before
    assert not list(tmp_path.glob(".a.db.*"))  # no temp file left behind
    with AdvisoryStore(db) as store:
        assert store.get("A-2") is None


def test_reimport_replaces_the_source(tmp_path: Path) -> None:
    d = tmp_path / "feed"
    d.mkdir()
    (d / "A-1.json").write_text(json.dumps(_record("A-1")))
    (d / "A-2.json").write_text(json.dumps(_record("A-2")))
    db = tmp_path / "a.db"
    _build(db, d)
    (d / "A-2.json").unlink()
    _build(db, d)
    with AdvisoryStore(db) as store:
        assert store.get("A-2") is None and store.get("A-1") is not None
        assert store.sources()[0].record_count == 1


def test_malformed_records_are_reported_not_stored(tmp_path: Path) -> None:
    d = tmp_path / "feed"
    d.mkdir()
    (d / "ok.json").write_text(json.dumps(_record("OK-1")))
    (d / "broken.json").write_text("{not json")
    (d / "noid.json").write_text(json.dumps({"modified": "2024-01-01T00:00:00Z"}))
    (d / "badevent.json").write_text(
        json.dumps(
            _record("B-1")
            | {
                "affected": [
                    {
                        "package": {"ecosystem": "PyPI", "name": "x"},
                        "ranges": [{"type": "ECOSYSTEM", "events": [{"fixed": 1}]}],
                    }
                ]
            }
        )
    )
    (d / "deep.json").write_text("[" * 100_000)
    db = tmp_path / "a.db"
    (report,) = _build(db, d).values()
    assert report.records == 1
    joined = "\n".join(report.skipped)
    assert "broken.json: invalid JSON" in joined
    assert "missing 'id'" in joined
    assert "invalid event" in joined
    assert "deep.json" in joined


def _alias_bomb(vid: str, where: str) -> str:
    """An OSV record in YAML whose ``where`` is nine nested aliases of ten items each:
    ~600 bytes that stand for 10^9 strings."""
    anchors = ['a0: &a0 ["x", "x", "x", "x", "x", "x", "x", "x", "x", "x"]']
    anchors += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]
    body = "\n  ".join(anchors)
    return (
        f"id: {vid}\nmodified: '2024-01-01T00:00:00Z'\nanchors:\n  {body}\n"
        f"affected:\n  - package: {{ecosystem: PyPI, name: x}}\n    {where}: *a8\n"
    )


def test_a_yaml_alias_bomb_is_refused_without_expanding_it(tmp_path: Path) -> None:
    d = tmp_path / "feed"
    d.mkdir()
    (d / "ok.yaml").write_text(yaml.safe_dump(_record("OK-1")))
    (d / "quoted.yaml").write_text(  # a '*' that is no alias
        "id: OK-2\nmodified: '2024-01-01T00:00:00Z'\ndetails: '**bold** *'\n"
    )
    (d / "bomb1.yaml").write_text(_alias_bomb("BOMB-1", "database_specific"))
    (d / "bomb2.yaml").write_text(_alias_bomb("BOMB-2", "versions"))
    (d / "merge.yaml").write_text(
        "id: M-1\nmodified: '2024-01-01T00:00:00Z'\nbase: &b {x: 1}\ndatabase_specific: {<<: *b}\n"
    )
    db = tmp_path / "a.db"
    (report,) = _build(db, d).values()  # (expanded, bomb1 took 9 GB and 30 s, then crashed)
    assert sorted(report.skipped) == [
        "bomb1.yaml: a YAML alias *a0 (line 5, column 12) (an alias bomb?): not accepted",
        "bomb2.yaml: a YAML alias *a0 (line 5, column 12) (an alias bomb?): not accepted",
        "merge.yaml: a YAML alias *b (line 4, column 25) (an alias bomb?): not accepted",
    ]
    assert report.records == 2
    with AdvisoryStore(db) as store:
        assert store.get("OK-2").details == "**bold** *"


def test_not_a_database(tmp_path: Path) -> None:
    bogus = tmp_path / "x.db"
    bogus.write_bytes(b"hello, not sqlite" * 100)
    with pytest.raises(DatabaseError, match="not a customhouse advisory database"):
        AdvisoryStore(bogus)
    with pytest.raises(DatabaseError, match="no advisory database"):
        AdvisoryStore(tmp_path / "absent.db")


def test_schema_version_mismatch_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    with StoreBuilder(db):
        pass
    con = sqlite3.connect(db)
    con.execute("UPDATE meta SET value='999' WHERE key='schema_version'")
    con.commit()
    con.close()
    with pytest.raises(DatabaseError, match="schema version 999"):
        AdvisoryStore(db)


def test_osv_parse_rejects_bad_ids() -> None:
    with pytest.raises(AdvisoryError, match="invalid id"):
        parse_vulnerability({"id": "../etc/passwd", "modified": "x"})


def _entries_both_ways(db: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[list, list]:
    """Every package's candidates, decoded by the stdlib and, after the switch, by msgspec."""
    from customhouse.advisories import store as store_module

    with AdvisoryStore(db) as store:
        keys = store._db.execute("SELECT DISTINCT ecosystem, name FROM affected").fetchall()
        monkeypatch.setattr(store_module, "_ENTRIES", None)
        monkeypatch.setattr(store_module, "_ORJSON", None)
        monkeypatch.setattr(store_module, "_SWITCH", 1 << 60)
        slow = [store.candidates(e, n, "1.0") for e, n in keys]
        assert store_module._ENTRIES is None  # (not imported yet)
        monkeypatch.setattr(store_module, "_SWITCH", 0)
        fast = [store.candidates(e, n, "1.0") for e, n in keys]
        assert store_module._ENTRIES  # (msgspec decoded them)
    return slow, fast


def test_entries_decode_the_same_before_and_after_the_switch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    feed = tmp_path / "feed"
    feed.mkdir()
    odd = _record("X-2", "odd", ecosystem_specific=None)
    odd["affected"][0]["package"]["purl"] = 5  # let through by the general path
    odd["affected"][0]["severity"] = [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N"}]
    odd["affected"][0]["ecosystem_specific"] = {"n": 2**70, "f": 1.5, "l": [None, True]}
    records = [
        _record("X-1"),
        odd,
        _record("X-3", "deb", eco="Debian:12"),
        {**_record("X-4"), "withdrawn": "2024-02-01T00:00:00Z"},
    ]
    records[0]["affected"][0]["versions"] = ["0.9", "1.0.0", "not a version"]
    for r in records:
        (feed / f"{r['id']}.json").write_text(json.dumps(r))
    db = tmp_path / "a.db"
    _build(db, feed)
    slow, fast = _entries_both_ways(db, monkeypatch)
    assert slow == fast and sum(map(len, slow)) == 3
    (odd_candidate,) = [c for group in fast for c in group if c.vuln_id == "X-2"]
    assert odd_candidate.affected.purl == 5  # (decoded by the stdlib: msgspec refused it)


def test_real_entries_decode_the_same_before_and_after_the_switch(
    pypa_db: tuple[Path, dict], monkeypatch: pytest.MonkeyPatch
) -> None:
    slow, fast = _entries_both_ways(pypa_db[0], monkeypatch)
    assert slow == fast and sum(map(len, slow)) > 2000
