"""The typed import path (``advisories/typed.py``) against the general one.

``typed_rows`` may refuse any record (the general path then takes it), but a record it
accepts must be one the general path accepts, and its rows must be exactly the general
path's: same stored JSON, same entries, same version keys, same aliases.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from customhouse.advisories.feeds.osv import records_from_data
from customhouse.advisories.osv import AdvisoryError
from customhouse.advisories.store import RecordRows, record_rows
from customhouse.advisories.typed import typed_rows


def _general(data: bytes) -> list[RecordRows] | None:
    """The general path's rows for a ``.json`` file's bytes; None if it refuses them."""
    try:
        return [record_rows(v, "src") for v in records_from_data(data, "rec.json")]
    except AdvisoryError:
        return None


def _agree(data: bytes) -> RecordRows | None:
    """Check the two paths agree on ``data``; return the typed path's rows."""
    fast = typed_rows(data, "src")
    slow = _general(data)
    if fast is not None:
        assert slow == [fast], data[:300]
    return fast


_BASE: dict[str, Any] = {
    "id": "PYSEC-2024-1",
    "modified": "2024-05-01T00:00:00Z",
    "published": "2024-04-01T00:00:00Z",
    "aliases": ["CVE-2024-0001", "GHSA-aaaa-bbbb-cccc"],
    "related": ["OSV-1"],
    "summary": "s",
    "details": "caf\u00e9 \u2603",
    "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H"}],
    "database_specific": {"k": [1, 2.5, None, True]},
    "references": [{"type": "WEB", "url": "https://example.com"}],
    "affected": [
        {
            "package": {"ecosystem": "PyPI", "name": "Demo_Pkg", "purl": "pkg:pypi/demo-pkg"},
            "ranges": [
                {
                    "type": "GIT",
                    "repo": "https://example.com/r",
                    "events": [{"introduced": "0"}, {"fixed": "abc"}],
                },
                {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "1.0.post1"}]},
            ],
            "versions": ["0.1", "0.2.0", "1.0rc1", "1.0-beta", "not a version"],
            "ecosystem_specific": {"affects": {"functions": ["f"]}},
            "database_specific": {"source": "x"},
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N"}],
        },
        {
            "package": {"ecosystem": "Debian:12", "name": "openssl"},
            "ranges": [
                {"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.0.9-1"}]}
            ],
            "versions": ["3.0.8-1", "1:3.0.8-1~deb12u1"],
        },
        {
            "package": {"ecosystem": "Maven", "name": "org.example:Lib"},
            "versions": ["1.0", "1.0.0"],
        },
        {"ranges": [{"type": "SEMVER", "events": [{"introduced": "1.0.0"}, {"limit": "2"}]}]},
        {"package": {"ecosystem": "", "name": ""}, "versions": []},
    ],
}


@pytest.mark.parametrize("indent", [None, 2])
def test_the_typed_rows_are_the_general_rows(indent: int | None) -> None:
    data = json.dumps(_BASE, indent=indent).encode()
    rows = _agree(data)
    assert rows is not None  # a valid record takes the typed path
    vuln, affected, aliases = rows
    assert "\n" not in vuln[4] and json.loads(vuln[4]) == _BASE  # stored compact, unchanged
    assert [a[:2] for a in affected] == [
        ("PyPI", "demo-pkg"),
        ("Debian:12", "openssl"),
        ("Maven", "org.example:Lib"),
    ]
    assert aliases == [("CVE-2024-0001", "PYSEC-2024-1"), ("GHSA-aaaa-bbbb-cccc", "PYSEC-2024-1")]


@pytest.mark.parametrize(
    "change",
    [
        {"related": [1, 2]},  # odd items: ignored by both
        {"affected": [{"package": None, "versions": ["1.0"]}]},  # filed under no package
        {"affected": [{"package": {"ecosystem": "", "name": ""}, "versions": []}]},
        {"affected": []},
        {"aliases": []},
    ],
)
def test_unusual_valid_records_take_the_typed_path(change: dict[str, Any]) -> None:
    assert _agree(json.dumps({**_BASE, **change}).encode()) is not None


def test_a_withdrawn_record_is_stored_dead() -> None:
    rows = _agree(json.dumps({**_BASE, "withdrawn": "2024-06-01T00:00:00Z"}).encode())
    assert rows is not None and all(a[3] is False for a in rows[1])


@pytest.mark.parametrize(
    "change",
    [
        {"versions": None},  # OSV allows null: the general path takes it
        {"ranges": None},
        {"severity": None},
        {"package": {"ecosystem": "PyPI"}},  # refused by both
        {"ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0", "fixed": "1"}]}]},
        {"ranges": [{"type": "ECOSYSTEM", "events": [{"broken": "1"}]}]},
        {"ranges": [{"type": "ECOSYSTEM", "events": [{"fixed": 1}]}]},
        {"ranges": [{"type": "ECOSYSTEM"}]},
        {"versions": ["1.0", 2]},
        {"versions": "1.0"},
        {"versions": 10},  # as short as "[]"
        {"versions": {}},
        {"ecosystem_specific": []},
        {"package": None, "versions": [None]},  # checked though filed under no package
        {"package": None, "versions": 10},
        {"severity": [{"type": "CVSS_V3"}]},
    ],
)
def test_odd_entries_go_to_the_general_path(change: dict[str, Any]) -> None:
    record = copy.deepcopy(_BASE)
    record["affected"][0].update(change)
    data = json.dumps(record).encode()
    assert typed_rows(data, "src") is None
    _agree(data)


@pytest.mark.parametrize(
    "change",
    [
        {"id": "bad id"},
        {"id": "X" * 201},
        {"id": None},
        {"modified": 5},
        {"aliases": None},
        {"aliases": "CVE-1"},
        {"related": "OSV-1"},
        {"summary": 1},
        {"database_specific": []},
        {"affected": None},
        {"affected": [[]]},
    ],
)
def test_odd_records_go_to_the_general_path(change: dict[str, Any]) -> None:
    data = json.dumps({**_BASE, **change}).encode()
    assert typed_rows(data, "src") is None
    _agree(data)


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"[]",
        b"{",
        b'{"id": "A", "modified": "x", "id": "B"}',  # the last of equal keys wins, in both
        b'{"id": "A", "modified": NaN}',
        b'{"id": "A\\ud800", "modified": "x"}',
        b"\xef\xbb\xbf{}",
        json.dumps(_BASE).encode("utf-16"),
        json.dumps([_BASE, {**_BASE, "id": "PYSEC-2"}]).encode(),  # a list of records
    ],
)
def test_odd_documents_are_left_to_the_general_path_or_agree(data: bytes) -> None:
    _agree(data)


_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(-9, 99) | st.text(max_size=8),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=6,
)


def _paths(obj: Any, at: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [at]
    if isinstance(obj, dict):
        for k, v in obj.items():
            out += _paths(v, (*at, k))
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            out += _paths(v, (*at, i))
    return out


_ALL_PATHS = _paths(_BASE)[1:]


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    st.lists(st.tuples(st.sampled_from(_ALL_PATHS), _VALUES), min_size=1, max_size=4),
    st.sampled_from([None, 1]),
)
def test_changed_records_take_either_path_to_the_same_rows(
    changes: list[tuple[tuple[Any, ...], Any]], indent: int | None
) -> None:
    record = copy.deepcopy(_BASE)
    for path, value in changes:
        node: Any = record
        try:
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
        except (KeyError, IndexError, TypeError):
            continue  # an earlier change removed the path
    _agree(json.dumps(record, indent=indent).encode())


def test_real_pypa_records_take_the_typed_path_to_the_same_rows(shared_dir: Path) -> None:
    files = sorted((shared_dir / "advisories" / "pypa").rglob("*.yaml"))
    assert len(files) > 1000
    typed = 0
    for path in files:
        record = yaml.safe_load(path.read_text())
        for indent in (None, 2):  # as written compact, and as osv.dev writes its files
            data = json.dumps(record, indent=indent, default=str).encode()
            typed += _agree(data) is not None
    assert typed == 2 * len(files)  # every real record takes the typed path


def test_the_event_kinds_are_the_general_paths() -> None:
    from typing import get_args

    from customhouse.advisories import osv, typed

    assert set(get_args(typed._Kind)) == osv._EVENT_KINDS


_ODD_VALUES: list[Any] = [
    None,
    True,
    0,
    10,
    -1,
    1.5,
    "",
    "x",
    [],
    {},
    [None],
    [1],
    ["1.0"],
    {"a": 1},
]


def test_every_field_set_to_every_odd_value_takes_either_path_to_the_same_rows() -> None:
    """Exhaustive, beside the random changes above: each field of the record, in turn,
    set to each of a few values of every JSON type (some as short as "[]")."""
    checked = 0
    for path in _ALL_PATHS:
        for value in _ODD_VALUES:
            record = copy.deepcopy(_BASE)
            node: Any = record
            for key in path[:-1]:
                node = node[key]
            node[path[-1]] = value
            _agree(json.dumps(record).encode())
            checked += 1
    assert checked == len(_ALL_PATHS) * len(_ODD_VALUES) > 500
