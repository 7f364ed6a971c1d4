"""Entries of the ignore file: parsed once, immutable afterwards."""

from __future__ import annotations

import copy
import datetime as dt
import pickle
from pathlib import Path

import pytest

from customhouse.ignore import IgnoreEntry, IgnoreFileError, load_ignore_file

IGNORE = """\
vulnerabilities:
  - id: CVE-2024-0003
    package: baz
    reason: baz is never run
  - id: GHSA-aaaa-bbbb-cccc
    reason: accepted until the rebuild
    expires: 2025-01-31
secrets:
  - rule: private-key
    path: app/tests/**
    reason: test fixture
"""


@pytest.fixture
def entries(tmp_path: Path) -> tuple[IgnoreEntry, ...]:
    path = tmp_path / ".customhouse-ignore.yaml"
    path.write_text(IGNORE)
    f = load_ignore_file(path, required=True)
    return (*f.vulnerabilities, *f.secrets)


@pytest.mark.parametrize(
    ("position", "described"),
    [
        (0, "vulnerability ignore #0 (id=CVE-2024-0003, package=baz)"),
        (1, "vulnerability ignore #1 (id=GHSA-aaaa-bbbb-cccc)"),
        (2, "secret ignore #0 (rule=private-key, path=app/tests/**)"),
    ],
)
def test_entries_keep_their_index_and_describe_themselves(
    entries: tuple[IgnoreEntry, ...], position: int, described: str
) -> None:
    assert entries[position].describe() == described


def test_expiry_is_checked_against_the_given_day(entries: tuple[IgnoreEntry, ...]) -> None:
    dated = entries[1]
    assert dated.expires == dt.date(2025, 1, 31)
    assert not dated.expired(dt.date(2025, 1, 31)) and dated.expired(dt.date(2025, 2, 1))
    assert not entries[0].expired(dt.date(2999, 1, 1))  # no expiry: never expires


@pytest.mark.parametrize("field", ["kind", "reason", "expires", "id", "index"])
def test_entries_refuse_changes(entries: tuple[IgnoreEntry, ...], field: str) -> None:
    e = entries[0]
    before = getattr(e, field)
    with pytest.raises(AttributeError):
        setattr(e, field, None)
    with pytest.raises(AttributeError):
        delattr(e, field)
    assert getattr(e, field) == before


def test_entries_survive_copy_and_pickle(entries: tuple[IgnoreEntry, ...]) -> None:
    for e in entries:
        for twin in (copy.copy(e), copy.deepcopy(e), pickle.loads(pickle.dumps(e))):
            assert twin.describe() == e.describe()
            assert (twin.reason, twin.expires, twin.index) == (e.reason, e.expires, e.index)


def test_an_ignore_file_with_an_alias_is_refused(tmp_path: Path) -> None:
    # a merge key copies the anchored mapping at load time (an alias bomb)
    path = tmp_path / ".customhouse-ignore.yaml"
    path.write_text("base: &b {reason: r}\nvulnerabilities:\n  - {<<: *b, id: CVE-1}\n")
    with pytest.raises(IgnoreFileError, match=r"cannot read ignore file: a YAML alias \*b"):
        load_ignore_file(path, required=True)
