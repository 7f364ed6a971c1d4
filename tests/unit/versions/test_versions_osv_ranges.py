"""OSV range evaluation (the OSV schema's "Evaluation" pseudocode), with real advisory models."""

from __future__ import annotations

import pytest

from customhouse.advisories.osv import Event, Range
from customhouse.versions import InvalidVersion, get_scheme


def rng(kind: str, *events: tuple[str, str]) -> Range:
    return Range(type=kind, events=tuple(Event(k, v) for k, v in events))


INTRO0_FIXED = rng("ECOSYSTEM", ("introduced", "0"), ("fixed", "1.2.3-4"))
TWO_WINDOWS = rng(
    "ECOSYSTEM", ("introduced", "1.0"), ("fixed", "1.5"), ("introduced", "2.0"), ("fixed", "2.3")
)
UNSORTED = rng(
    "ECOSYSTEM", ("fixed", "2.3"), ("introduced", "2.0"), ("fixed", "1.5"), ("introduced", "1.0")
)
LAST_AFFECTED = rng("ECOSYSTEM", ("introduced", "0"), ("last_affected", "2.1.214"))
LIMITED = rng("ECOSYSTEM", ("introduced", "1.0"), ("limit", "1.4"), ("limit", "3.0"))
ONLY_INTRODUCED = rng("ECOSYSTEM", ("introduced", "1.0~rc1"))
SAME_POINT = rng("ECOSYSTEM", ("introduced", "1.0"), ("last_affected", "1.0"))
EMPTY_WINDOW = rng("ECOSYSTEM", ("introduced", "1.0"), ("fixed", "1.0"))
STAR_LIMIT = rng("ECOSYSTEM", ("introduced", "1.0"), ("limit", "*"))


@pytest.mark.parametrize(
    ("ranges", "version", "expected"),
    [
        ([INTRO0_FIXED], "0~", True),
        ([INTRO0_FIXED], "1.2.3-3", True),
        ([INTRO0_FIXED], "1.2.3-4", False),
        ([INTRO0_FIXED], "1.2.3-4+deb12u1", False),
        ([INTRO0_FIXED], "1:0.1", False),  # an epoch bump is newer than any fix without one
        ([TWO_WINDOWS], "0.9", False),
        ([TWO_WINDOWS], "1.0", True),
        ([TWO_WINDOWS], "1.4.9", True),
        ([TWO_WINDOWS], "1.5", False),
        ([TWO_WINDOWS], "1.9", False),
        ([TWO_WINDOWS], "2.0~rc1", False),
        ([TWO_WINDOWS], "2.2", True),
        ([TWO_WINDOWS], "2.3", False),
        ([UNSORTED], "1.2", True),  # events are sorted before evaluation
        ([UNSORTED], "1.7", False),
        ([UNSORTED], "2.1", True),
        ([LAST_AFFECTED], "2.1.214", True),
        ([LAST_AFFECTED], "2.1.214-1", False),
        ([LAST_AFFECTED], "2.1.215", False),
        ([LIMITED], "1.3", True),
        ([LIMITED], "2.9", True),
        ([LIMITED], "3.0", False),
        ([LIMITED], "0.5", False),
        ([ONLY_INTRODUCED], "1.0~rc1", True),
        ([ONLY_INTRODUCED], "99", True),
        ([ONLY_INTRODUCED], "1.0~beta", False),
        ([SAME_POINT], "1.0", True),
        ([SAME_POINT], "1.0.1", False),
        ([EMPTY_WINDOW], "1.0", False),
        ([STAR_LIMIT], "100", True),
        ([TWO_WINDOWS, LAST_AFFECTED], "1.9", True),  # any range suffices
        ([], "1.0", False),
    ],
)
def test_dpkg_ranges_follow_osv_evaluation(
    ranges: list[Range], version: str, expected: bool
) -> None:
    assert get_scheme("dpkg").affected(version, ranges) is expected


@pytest.mark.parametrize(
    ("versions", "version", "expected"),
    [
        (["1.0.0", "1.0.1"], "1.0.1", True),
        (["1.0.0", "1.0.1"], "1.0.2", False),
        (["v1.0.1"], "1.0.1", True),  # equal under the scheme, not only as text
        (["not a version", "1.0.1"], "1.0.1", True),  # a malformed entry does not spoil the list
        (["not a version"], "1.0.0", False),
    ],
)
def test_explicit_versions_list(versions: list[str], version: str, expected: bool) -> None:
    assert get_scheme("semver").affected(version, (), versions) is expected


def test_semver_ranges_use_semver_precedence_for_go() -> None:
    r = rng("SEMVER", ("introduced", "0"), ("fixed", "1.2.4"))
    go = get_scheme("go")
    assert go.affected("v1.2.4-0.20191109021931-daa7c04131f5", [r])
    assert go.affected("v1.2.3+incompatible", [r])
    assert not go.affected("v1.2.4", [r])


def test_rpm_ranges_respect_epoch_and_tilde() -> None:
    r = rng("ECOSYSTEM", ("introduced", "0"), ("fixed", "1:2.4.1-3.el9"))
    rpm = get_scheme("rpm")
    assert rpm.affected("1:2.4.1-2.el9", [r])
    assert rpm.affected("1:2.4.1~rc1-9.el9", [r])
    assert not rpm.affected("1:2.4.1-3.el9_2", [r])
    assert rpm.affected("9.9-1", [r])  # epoch 0 is older than any epoch-1 fix


def test_pypi_range_with_last_affected_and_prerelease() -> None:
    r = rng("ECOSYSTEM", ("introduced", "2.8.0"), ("last_affected", "2.9.2"))
    pep = get_scheme("pep440")
    assert pep.affected("2.9.2", [r])
    assert pep.affected("2.9.2.post1", [r]) is False
    assert pep.affected("2.8.0rc1", [r]) is False


def test_git_ranges_are_not_evaluated() -> None:
    r = Range(type="GIT", events=(Event("introduced", "0"),), repo="https://example.org/r")
    assert get_scheme("semver").affected("1.0.0", [r]) is False


def test_malformed_event_version_raises_naming_it() -> None:
    r = rng("ECOSYSTEM", ("introduced", "0"), ("fixed", "1.0 beta"))
    with pytest.raises(InvalidVersion, match=r"1\.0 beta"):
        get_scheme("dpkg").affected("0.9", [r])


def test_unknown_event_kind_is_rejected() -> None:
    r = rng("ECOSYSTEM", ("introduced", "0"), ("resolved", "1.0"))
    with pytest.raises(InvalidVersion, match="resolved"):
        get_scheme("dpkg").affected("0.9", [r])
