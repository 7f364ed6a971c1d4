"""Listed versions in the store: membership by each ecosystem's version equality, through canonical keys.

The store answers "does this entry's ``versions`` list hold the installed version?"
without decoding the list (``AdvisoryStore.candidates``). The oracle everywhere is
the behaviour before the keys existed: the version scheme comparing the installed
version with every listed one (``VersionScheme.affected`` on the whole list).
"""

from __future__ import annotations

import json
import random
import re
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from hypothesis import example, given, settings
from hypothesis import strategies as st

from customhouse.advisories.importer import import_paths
from customhouse.advisories.osv import Vulnerability, normalize_name, parse_vulnerability
from customhouse.advisories.store import (
    _PEP440_ONE,
    SCHEMA_VERSION,
    AdvisoryStore,
    DatabaseError,
    StoreBuilder,
    _normal_pep440_keys,
    _pep440_key,
    _version_keys,
    version_key,
)
from customhouse.versions import InvalidVersion, get_scheme, scheme_for_ecosystem


def _listing(vid: str, eco: str, name: str, versions: list[str], **extra: Any) -> dict[str, Any]:
    return {
        "id": vid,
        "modified": "2024-01-01T00:00:00Z",
        "affected": [{"package": {"ecosystem": eco, "name": name}, "versions": versions}],
        **extra,
    }


def _old_verdict(eco: str, listed: list[str], installed: str) -> bool:
    """What the matcher concluded before the store kept keys: the scheme over the whole list."""
    scheme = scheme_for_ecosystem(eco)
    return scheme.affected(scheme.parse(installed), (), listed)


# (ecosystem, listed version, installed version, listed means installed)
EQUALITY = [
    # PEP 440: release zero padding, normal forms, epochs, local versions
    ("PyPI", "1.0", "1.0.0", True),
    ("PyPI", "1.0", "1.0.0.0", True),
    ("PyPI", "1.0.0", "1", True),
    ("PyPI", "01.2", "1.2", True),
    ("PyPI", "1.0-rc1", "1.0rc1", True),
    ("PyPI", "1.0.0RC1", "1.0rc1", True),
    ("PyPI", "1.0alpha2", "1.0a2", True),
    ("PyPI", "v1.0", "1.0", True),
    ("PyPI", "1.0.post0", "1.0.0.post0", True),
    ("PyPI", "1.0-1", "1.0.post1", True),
    ("PyPI", "1.0.dev", "1.0.dev0", True),
    ("PyPI", "1!1.0", "1!1", True),
    ("PyPI", "1.0+Local.01", "1.0.0+local.1", True),
    ("PyPI", "1!1.0", "1.0", False),
    ("PyPI", "1.0", "1.0+local", False),
    ("PyPI", "1.0", "1.0.1", False),
    ("PyPI", "1.0", "1.0.post1", False),
    ("PyPI", "1.0a1", "1.0", False),
    ("PyPI", "1.0.dev0", "1.0", False),
    ("PyPI", "1.10", "1.1", False),
    ("PyPI", "1.0.10", "1.0.1", False),
    # dpkg: epoch 0, absent revision = "0", numbers compared as numbers, tilde
    ("Debian:12", "0:1.0-1", "1.0-1", True),
    ("Debian:12", "1.0", "1.0-0", True),
    ("Debian:12", "1.00", "1.0", True),
    ("Debian:12", "1.0~rc1", "1.0", False),
    # apk, rpm
    ("Alpine:v3.19", "1.2.3-r0", "1.2.3-r0", True),
    ("Alpine:v3.19", "1.2.3-r1", "1.2.3", False),
    ("Red Hat", "0:1.0-1", "1.0-1", True),
    ("Red Hat", "1.0-1", "1.0-01", True),
    ("Red Hat", "1.0", "1.0-1", False),
    # SemVer: build metadata is not part of the version's identity
    ("npm", "1.0.0+build.1", "1.0.0", True),
    ("npm", "v1.0.0", "1.0.0", True),
    ("npm", "1.0.0-rc.1", "1.0.0", False),
    ("crates.io", "1.0.0+x", "1.0.0", True),
    # Go: +incompatible, short forms
    ("Go", "v1.2.3+incompatible", "v1.2.3", True),
    ("Go", "v1.2", "v1.2.0", True),
    # RubyGems: zero padding, prereleases
    ("RubyGems", "1.0", "1.0.0", True),
    ("RubyGems", "1.0.a", "1.0", False),
    # Maven has no exact key: its lists stay in the entry and the scheme compares them
    ("Maven", "1.0", "1.0.0", True),
    ("Maven", "1.0-final", "1.0", True),
    ("Maven", "1.0-SNAPSHOT", "1.0", False),
    # a listed version that does not parse matches nothing, as before
    ("PyPI", "not a version", "1.0", False),
    ("npm", "1.0", "1.0.0", False),
]


@pytest.mark.parametrize(("eco", "listed", "installed", "same"), EQUALITY)
def test_listed_version_matches_by_ecosystem_equality(
    tmp_path: Path, eco: str, listed: str, installed: str, same: bool
) -> None:
    assert _old_verdict(eco, [listed], installed) is same  # the table agrees with the schemes
    db = tmp_path / "a.db"
    with StoreBuilder(db) as b:
        b.add([parse_vulnerability(_listing("X-1", eco, "pkg", ["99.99.99", listed]))], "t")
    with AdvisoryStore(db) as store:
        (found,) = store.candidates(eco, "pkg", installed)
        scheme = scheme_for_ecosystem(eco)
        # the matcher's verdict: listed by key, or by the versions the store could not key
        verdict = found.listed or scheme.affected(
            scheme.parse(installed), found.affected.ranges, found.affected.versions
        )
        assert verdict is same


@pytest.mark.parametrize(
    ("eco", "versions", "kept"),
    [
        ("PyPI", ["1.0", "2.0"], ()),  # all keyed: nothing left to decode
        ("PyPI", ["1.0", "not a version", "2.0"], ("not a version",)),
        ("Maven", ["1.0", "2.0"], ("1.0", "2.0")),  # no exact key for Maven
        ("Hex", ["1.0.0"], ("1.0.0",)),  # no scheme at all
    ],
)
def test_versions_without_a_key_stay_in_the_entry(
    tmp_path: Path, eco: str, versions: list[str], kept: tuple[str, ...]
) -> None:
    db = tmp_path / "a.db"
    with StoreBuilder(db) as b:
        b.add([parse_vulnerability(_listing("X-1", eco, "pkg", versions))], "t")
    with AdvisoryStore(db) as store:
        (found,) = store.candidates(eco, "pkg", "1.0")
        assert found.affected.versions == kept
        # the whole record keeps its list as the feed gave it
        v = store.get("X-1")
        assert v is not None and v.affected[0].versions == tuple(versions)


def test_candidates_skip_withdrawn_records_and_keep_other_packages_apart(tmp_path: Path) -> None:
    rec = _listing("X-1", "PyPI", "Demo_Pkg", ["1.0"])
    rec["affected"].append({"package": {"ecosystem": "PyPI", "name": "other"}, "versions": ["2.0"]})
    gone = _listing("X-2", "PyPI", "demo-pkg", ["1.0"], withdrawn="2024-02-01T00:00:00Z")
    db = tmp_path / "a.db"
    with StoreBuilder(db) as b:
        b.add([parse_vulnerability(rec), parse_vulnerability(gone)], "t")
    with AdvisoryStore(db) as store:
        found = store.candidates("PyPI", "demo.pkg", "1.0.0")
        assert [(c.vuln_id, c.listed, c.affected.name) for c in found] == [
            ("X-1", True, "Demo_Pkg")
        ]
        assert [c.listed for c in store.candidates("PyPI", "other", "1.0")] == [False]
        assert [c.listed for c in store.candidates("PyPI", "other", "2")] == [True]


def test_a_later_add_replaces_records_of_a_new_database(tmp_path: Path) -> None:
    db = tmp_path / "a.db"
    with StoreBuilder(db, fresh=True) as b:
        b.add([parse_vulnerability(_listing("X-1", "PyPI", "a", ["1.0"]))], "t")
        b.add([parse_vulnerability(_listing("X-2", "PyPI", "a", ["2.0"]))], "t")
        b.add([parse_vulnerability(_listing("X-1", "PyPI", "b", ["3.0"]))], "t")  # replaces
    with AdvisoryStore(db) as store:
        assert [c.vuln_id for c in store.candidates("PyPI", "a", "1.0")] == ["X-2"]
        assert [c.listed for c in store.candidates("PyPI", "b", "3.0")] == [True]
        assert store.counts()["vulnerabilities"] == 2
    con = sqlite3.connect(db)
    indexes = {r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='index'")}
    con.close()
    assert {"vulns_id", "affected_pkg", "affected_vuln", "aliases_alias"} <= indexes


def _indexes(db: Path) -> set[str]:
    con = sqlite3.connect(db)
    try:
        return {
            r[0]
            for r in con.execute(
                "SELECT name FROM sqlite_master WHERE type='index' AND sql IS NOT NULL"
            )
        }
    finally:
        con.close()


def test_the_indexes_that_replace_records_are_built_by_the_first_replacement(
    tmp_path: Path,
) -> None:
    db = tmp_path / "a.db"
    with StoreBuilder(db, fresh=True) as b:  # a new database, nothing replaced
        b.add([parse_vulnerability(_listing("X-1", "PyPI", "a", ["1.0"]))], "t")
        b.add([parse_vulnerability(_listing("X-2", "PyPI", "a", ["2.0"]))], "t")
    assert _indexes(db) == {"vulns_id", "affected_pkg", "aliases_alias"}
    with StoreBuilder(db) as b:  # an update: X-1 now names another package
        b.add([parse_vulnerability(_listing("X-1", "PyPI", "b", ["3.0"]))], "t")
    assert _indexes(db) == {
        "vulns_id",
        "affected_pkg",
        "aliases_alias",
        "affected_vuln",
        "aliases_vuln",
    }
    with AdvisoryStore(db) as store:
        assert [c.vuln_id for c in store.candidates("PyPI", "a", "1.0")] == ["X-2"]
        assert [c.vuln_id for c in store.candidates("PyPI", "b", "3.0")] == ["X-1"]
    con = sqlite3.connect(db)
    assert con.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
    con.close()


def test_an_older_schema_database_must_be_rebuilt(tmp_path: Path) -> None:
    assert SCHEMA_VERSION == 5  # (5: records from a zip are stored as its DEFLATE streams)
    db = tmp_path / "a.db"
    with StoreBuilder(db) as b:
        b.add([parse_vulnerability(_listing("X-1", "PyPI", "a", ["1.0"]))], "t")
    con = sqlite3.connect(db)
    con.execute("UPDATE meta SET value='4' WHERE key='schema_version'")
    con.commit()
    con.close()
    with pytest.raises(DatabaseError, match=r"schema version 4.*Rebuild it"):
        AdvisoryStore(db)
    with StoreBuilder(db) as b:  # an update starts over from an empty database
        b.add([parse_vulnerability(_listing("X-2", "PyPI", "a", ["1.0"]))], "t")
    with AdvisoryStore(db) as store:
        assert store.get("X-1") is None and store.get("X-2") is not None


# --- PEP 440 keys ----------------------------------------------------------------------

_num = st.integers(0, 30).map(str)
_release = st.lists(_num, min_size=1, max_size=5).map(".".join)
_pre = st.sampled_from(["", "a", "b", "rc"]).flatmap(
    lambda p: st.just("") if not p else _num.map(lambda n: p + n)
)
_opt = st.sampled_from(["", ".post", ".dev"]).flatmap(
    lambda p: st.just("") if not p else _num.map(lambda n: p + n)
)
_normal = st.tuples(_release, _pre, _opt).map("".join)
# spellings packaging accepts but that are not normalized
_spelled = st.tuples(
    st.sampled_from(["", "v", " "]),
    st.lists(
        st.integers(0, 30).map(lambda n: f"{n:02d}" if n < 3 else str(n)), min_size=1, max_size=5
    ),
    st.sampled_from(["", "a1", "-alpha1", ".beta2", "c3", "-rc4", "pre1", "preview2"]),
    st.sampled_from(["", "-1", ".post2", "post3", ".dev", "-dev4"]),
    st.sampled_from(["", "+local", "+Local.01", "+a-b_c"]),
).map(lambda t: f"{t[0]}{'.'.join(t[1])}{t[2]}{t[3]}{t[4]}")


@settings(max_examples=400, deadline=None)
@given(_normal | _spelled, _normal | _spelled)
def test_pep440_keys_are_equal_exactly_for_equal_versions(a: str, b: str) -> None:
    scheme = get_scheme("pep440")
    ka, kb = _pep440_key(a), _pep440_key(b)
    assert ka is not None and kb is not None
    assert (ka == kb) is (scheme.compare(a, b) == 0)


@settings(max_examples=300, deadline=None)
@given(_normal)
def test_pep440_fast_path_gives_the_key_of_the_full_parse(text: str) -> None:
    fast = _pep440_key(text)
    slow = _pep440_key(f" {text} ")  # surrounding space: not normal form, so packaging parses
    assert fast == slow


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        _normal | _spelled | st.sampled_from(["junk!", "1.0 beta", ""]), min_size=1, max_size=8
    )
)
def test_a_remembered_list_gets_the_keys_of_its_items(versions: list[str]) -> None:
    keys = [_pep440_key(v) for v in versions]
    expected_keyed = " ".join(k for k in keys if k is not None)
    expected = (
        f" {expected_keyed} " if expected_keyed else None,
        [v for v, k in zip(versions, keys, strict=True) if k is None],
    )
    first = _version_keys("PyPI", list(versions))
    first[1].append("caller's change")  # a caller's list is its own, not the cache's
    assert first[0] == expected[0]
    assert _version_keys("PyPI", list(versions)) == expected  # the remembered answer


# texts a shape could be fooled by: the digits' stand-ins, spaces, an empty version, a
# trailing dot, zeros before a suffix, texts around the length limit
_odd = st.sampled_from(
    [
        *["", " ", "1 0", "#", "%", "1.#", "%.1", "1.", ".1", "1..0", "1.0.", "0.0", "0.0.0a0"],
        *["1.0.post0.dev0", "1.0rc0", "10.0", "1.00", "00", "1.0a", "1.post", "1a1a1", "1.0 "],
        *["1" * 1024, "1" * 1025, "1." + "0" * 1022, "1.0" * 400, "\u0663", "1.0\n", "1.0\t2"],
    ]
)


@settings(max_examples=600, deadline=None)
@given(st.lists(_normal | _spelled | _odd, min_size=1, max_size=10))
@example(["1.0", "2.0.0", "3.0rc0", "4.0.0.post0", "10.0.dev0", "0.0", "1.10"])
@example(["1" * 1025])  # (the length limit: packaging is never asked for it)
@example(["1.0", "#.1"])
def test_a_list_keyed_by_its_shapes_gets_the_keys_of_its_items(versions: list[str]) -> None:
    got = _normal_pep440_keys(versions)
    keys = [_pep440_key(v) for v in versions]
    if got is not None:  # it answers only for lists whose items all have a key: theirs
        assert None not in keys and got == f" {' '.join(keys)} "  # type: ignore[arg-type]
    normal = all(len(v) <= 1024 and _PEP440_ONE.fullmatch(v) for v in versions)
    assert (got is not None) is normal  # and it answers for every list in normalized form


@pytest.mark.parametrize("eco", ["Debian:12", "Alpine:v3.19", "Red Hat", "npm", "Go", "RubyGems"])
def test_tuple_scheme_keys_agree_with_the_scheme(eco: str) -> None:
    scheme = scheme_for_ecosystem(eco)
    rng = random.Random(4)
    parts = {
        "Debian:12": ["1.0", "1.00", "0:1.0", "1.0-0", "1.0-1", "1.0~rc1", "2:1.0", "1.0+b1"],
        "Alpine:v3.19": ["1.0", "1.0-r0", "1.0-r1", "1.0a", "1.0_rc1", "1.0_p1", "1.00"],
        "Red Hat": ["1.0", "1.0-1", "0:1.0-1", "1.0-01", "1.0~rc1", "1.0^git1", "1:1.0"],
        "npm": ["1.0.0", "v1.0.0", "1.0.0+b", "1.0.0-rc.1", "1.0.0-rc.01a", "=1.0.0"],
        "Go": ["v1.0.0", "v1.0", "v1", "v1.0.0+incompatible", "v1.0.0-rc.1"],
        "RubyGems": ["1.0", "1", "1.0.0", "1.0.a", "1.0-a", "1.a", "1.0.0.a"],
    }[eco]
    for _ in range(200):
        a, b = rng.choice(parts), rng.choice(parts)
        try:
            same = scheme.compare(a, b) == 0
        except InvalidVersion:
            continue
        assert (version_key(eco, a) == version_key(eco, b)) is same, (a, b)


# --- real data -----------------------------------------------------------------------


@pytest.fixture(scope="module")
def pypa_store(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    db = tmp_path_factory.mktemp("pypa-versions") / "a.db"
    with StoreBuilder(db) as b:
        import_paths(b, [shared_dir / "advisories" / "pypa"])
    return db


def test_pypa_membership_equals_the_scheme_over_whole_lists(pypa_store: Path) -> None:
    """Every real PyPA entry, at listed and unlisted versions: the store's answer is the old one."""
    scheme = get_scheme("pep440")
    rng = random.Random(11)
    checked = 0
    with AdvisoryStore(pypa_store) as store:
        records: list[Vulnerability] = [
            parse_vulnerability(json.loads(text)) for _, text in store.iter_records()
        ]
        by_package: dict[str, list[Vulnerability]] = {}
        for v in records:
            for name in {normalize_name("PyPI", a.name) for a in v.affected}:
                by_package.setdefault(name, []).append(v)
        for name, recs in by_package.items():
            spellings = {x for v in recs for a in v.affected for x in a.versions}
            valid = []
            for x in sorted(spellings):
                try:
                    valid.append(scheme.parse(x))
                except InvalidVersion:
                    continue
            picks = rng.sample(valid, min(6, len(valid)))
            # unlisted versions and other spellings of listed ones
            picks += [scheme.parse(f"v{p}") for p in picks[:2]]
            picks += [scheme.parse(f"{p}.0") for p in picks if re.fullmatch(r"[0-9.]+", p.text)]
            picks.append(scheme.parse("999.1"))
            for inst in picks:
                got = {
                    c.vuln_id
                    for c in store.candidates("PyPI", name, str(inst))
                    if c.listed or scheme.affected(inst, (), c.affected.versions)
                }
                expected = {
                    v.id
                    for v in recs
                    if v.withdrawn is None
                    and any(
                        normalize_name("PyPI", a.name) == name
                        and scheme.affected(inst, (), a.versions)
                        for a in v.affected
                    )
                }
                assert got == expected, (name, str(inst))
                checked += 1
    assert checked > 5000


def test_parallel_import_gives_the_same_database_content(
    shared_dir: Path, tmp_path: Path, pypa_store: Path
) -> None:
    """pypa (2,661 files) is imported by worker processes; one process must store the same."""
    db = tmp_path / "serial.db"
    with StoreBuilder(db) as b:
        import_paths(b, [shared_dir / "advisories" / "pypa"], workers=1)

    def content(path: Path) -> tuple[list[Any], ...]:
        con = sqlite3.connect(path)
        try:
            return tuple(
                con.execute(f"SELECT * FROM {t} ORDER BY {cols}").fetchall()
                for t, cols in (
                    ("vulns", "1, 2, 3, 4, 5"),
                    ("affected", "1, 2, 3, 4, 5, 6"),
                    ("aliases", "1, 2"),
                )
            )
        finally:
            con.close()

    assert content(db) == content(pypa_store)


def test_the_fast_pep440_key_refuses_what_the_scheme_refuses() -> None:
    from customhouse.advisories import store
    from customhouse.versions.interface import MAX_VERSION_LENGTH

    assert store._MAX_VERSION_LENGTH == MAX_VERSION_LENGTH
    long = "1." * 600 + "1"  # normal form, but longer than any version may be
    assert _pep440_key(long) is None
    assert _pep440_key("1." * 10 + "0") == "1." * 9 + "1"
