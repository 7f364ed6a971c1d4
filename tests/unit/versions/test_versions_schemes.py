"""Scheme rules that the upstream vectors do not pin down, and properties of every scheme."""

from __future__ import annotations

import copy
import itertools
import pickle
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from customhouse.errors import InputError
from customhouse.versions import (
    ECOSYSTEMS,
    SCHEME_NAMES,
    InvalidVersion,
    UnknownScheme,
    get_scheme,
    scheme_for_ecosystem,
)
from customhouse.versions.go import is_incompatible, is_pseudo_version

from .strategies import pairs


@pytest.mark.parametrize(
    ("scheme", "a", "op", "b"),
    [
        # dpkg: epoch beats everything, tilde before the end, absent revision is 0
        ("dpkg", "1:0.1", ">", "9.9"),
        ("dpkg", "1.0~rc1", "<", "1.0"),
        ("dpkg", "1.0~~", "<", "1.0~"),
        ("dpkg", "1.0-0", "=", "1.0"),
        ("dpkg", "1.0+dfsg-1", ">", "1.0-1"),
        ("dpkg", "2.30-1ubuntu1", ">", "2.30-1"),
        ("dpkg", "1.2.3-1+deb12u1", "<", "1.2.3-1+deb12u2"),
        ("dpkg", " 1.0 ", "=", "1.0"),
        # apk: pre-release suffixes before, post-release after, revision last
        ("apk", "1.2_rc1", "<", "1.2"),
        ("apk", "1.2_p1", ">", "1.2"),
        ("apk", "1.2-r1", ">", "1.2"),
        ("apk", "1.2a", "<", "1.2.1"),
        ("apk", "1.05", "<", "1.5"),
        # rpm: epoch, tilde, caret, releases
        ("rpm", "1:1.0-1", ">", "2.0-1"),
        ("rpm", "1.0~rc1-1", "<", "1.0-1"),
        ("rpm", "1.0^git1", ">", "1.0"),
        ("rpm", "1.0^git1", "<", "1.0.1"),
        ("rpm", "1.0-1.el9", "<", "1.0-1.el9_1"),
        ("rpm", "1.0", "<", "1.0-1"),
        ("rpm", "0:1.0-1", "=", "1.0-1"),
        # npm semver: prereleases, numeric identifiers, build metadata ignored
        ("semver", "1.0.0-alpha", "<", "1.0.0-alpha.1"),
        ("semver", "1.0.0-alpha.beta", "<", "1.0.0-beta"),
        ("semver", "1.0.0-beta.2", "<", "1.0.0-beta.11"),
        ("semver", "1.0.0+build.1", "=", "1.0.0+build.2"),
        ("semver", "=1.2.3", "=", "v1.2.3"),
        # Maven: qualifiers
        ("maven", "1.0-SNAPSHOT", "<", "1.0"),
        ("maven", "1.0.RELEASE", "=", "1.0"),
        ("maven", "1.0-sp1", ">", "1.0"),
        ("maven", "1.0.x9", "=", "1.0-x-9"),
        # RubyGems: string segments are prereleases
        ("gem", "1.0.0.rc1", "<", "1.0.0"),
        ("gem", "1.0.0-rc1", "=", "1.0.0.pre.rc1"),
        ("gem", "1.0.a.0.b", "<", "1.0.a"),
        # Go: shorthands, +incompatible, pseudo-versions
        ("go", "v2.0.0+incompatible", "=", "v2.0.0"),
        ("go", "v1.2.4-0.20191109021931-daa7c04131f5", "<", "v1.2.4"),
        ("go", "v1.2.4-0.20191109021931-daa7c04131f5", ">", "v1.2.3"),
        ("go", "1.2.3", "=", "v1.2.3"),
        ("go", "v1.19", ">", "v1.2"),
        ("go", "v1.0.0-99999999999999999999", ">", "v1.0.0-9999999999999999999"),
        # PEP 440
        ("pep440", "1.0.post1", ">", "1.0"),
        ("pep440", "1.0.dev1", "<", "1.0a1"),
    ],
)
def test_scheme_orders_like_its_ecosystem(scheme: str, a: str, op: str, b: str) -> None:
    assert "<=>"[get_scheme(scheme).compare(a, b) + 1] == op


@pytest.mark.parametrize(
    ("scheme", "text"),
    [
        ("dpkg", ""),
        ("dpkg", "a1.0"),
        ("dpkg", "1.0 1"),
        ("dpkg", "1:"),
        ("dpkg", "x:1.0"),
        ("dpkg", "1.0_1"),
        ("dpkg", "1.0-1_1"),
        ("apk", ""),
        ("apk", "1.0_foo"),
        ("apk", "1.0-1"),
        ("apk", "1.0A"),
        ("apk", "1.0-r1.1"),
        ("rpm", ""),
        ("semver", "1.0"),
        ("semver", "01.0.0"),
        ("semver", "1.0.0-01"),
        ("semver", "1.0.0-"),
        ("semver", "9007199254740992.0.0"),
        ("semver", "1.0.0" + "0" * 260),
        ("maven", ""),
        ("gem", ""),
        ("gem", "v1.0"),
        ("gem", "1..0"),
        ("go", "v1.0-pre"),
        ("go", "v01.0.0"),
        ("go", "bad"),
        ("pep440", "1.0-foo"),
    ],
)
def test_invalid_version_raises_typed_error(scheme: str, text: str) -> None:
    with pytest.raises(InvalidVersion) as e:
        get_scheme(scheme).parse(text)
    assert isinstance(e.value, InputError)
    assert e.value.scheme == scheme and e.value.version == text
    assert scheme in str(e.value) and repr(text[:100])[:-1] in str(e.value)


def test_overlong_version_is_rejected_before_parsing() -> None:
    with pytest.raises(InvalidVersion, match="longer than"):
        get_scheme("rpm").parse("1" * 5000)


def test_go_helpers_recognize_pseudo_and_incompatible() -> None:
    assert is_pseudo_version("v0.0.0-20191109021931-daa7c04131f5")
    assert is_pseudo_version("v1.2.4-0.20191109021931-daa7c04131f5")
    assert is_pseudo_version("v1.2.3-pre.0.20191109021931-daa7c04131f5")
    assert not is_pseudo_version("v1.2.3-rc.1")
    assert is_incompatible("v2.0.0+incompatible")
    assert not is_incompatible("v2.0.0")


def test_versions_are_immutable_hashable_and_scheme_bound() -> None:
    dpkg, rpm = get_scheme("dpkg"), get_scheme("rpm")
    a, b = dpkg.parse("1.0"), dpkg.parse("1.0-0")
    assert a == b and hash(a) == hash(b) and len({a, b}) == 1
    assert sorted([dpkg.parse("2"), dpkg.parse("1~"), dpkg.parse("1")]) == [
        dpkg.parse("1~"),
        dpkg.parse("1"),
        dpkg.parse("2"),
    ]
    with pytest.raises(AttributeError):
        a.text = "2.0"  # type: ignore[misc]
    assert a != rpm.parse("1.0")
    with pytest.raises(TypeError):
        _ = a < rpm.parse("1.0")


@pytest.mark.parametrize(
    ("scheme", "text"),
    [
        ("dpkg", "1:2.36-9+deb12u4"),
        ("apk", "3.1.4-r5"),
        ("rpm", "1:3.0.7-25.el9_3"),
        ("pep440", "2.0.0rc1"),
        ("semver", "1.2.3-beta.1+build.5"),
        ("maven", "2.17.1"),
        ("gem", "7.0.8.1"),
        ("go", "v0.0.0-20191109021931-daa7c04131f5"),
    ],
)
def test_versions_refuse_changes_and_survive_copy_and_pickle(scheme: str, text: str) -> None:
    v = get_scheme(scheme).parse(text)
    assert repr(v) == f"Version(text={text!r})" and str(v) == text
    with pytest.raises(AttributeError):
        v.key = ()
    with pytest.raises(AttributeError):
        del v.text
    assert v.text == text
    for twin in (copy.copy(v), copy.deepcopy(v), pickle.loads(pickle.dumps(v))):
        assert twin == v and hash(twin) == hash(v) and twin.text == text
        assert twin.scheme.name == scheme


@pytest.mark.parametrize("scheme", SCHEME_NAMES)
@settings(max_examples=3, deadline=None)
@given(seed=st.integers(min_value=0, max_value=2**32))
def test_scheme_is_a_consistent_order(scheme: str, seed: int) -> None:
    """Antisymmetric, equal means equal hash, and sorting agrees with pairwise comparison."""
    s = get_scheme(scheme)
    versions = []
    for a, b in pairs(scheme, random.Random(seed), 300):
        try:
            va, vb = s.parse(a), s.parse(b)
        except InvalidVersion:
            continue
        c = s.compare(va, vb)
        assert s.compare(vb, va) == -c
        assert (va == vb) == (c == 0)
        if c == 0:
            assert hash(va) == hash(vb)
        versions += [va, vb]
    assert versions
    ordered = sorted(versions)
    assert all(x <= y for x, y in itertools.pairwise(ordered))


@pytest.mark.parametrize(
    ("ecosystem", "scheme"),
    [
        ("Debian:12", "dpkg"),
        ("Ubuntu:22.04:LTS", "dpkg"),
        ("Alpine:v3.19", "apk"),
        ("Red Hat:rhel_aus:8.4::appstream", "rpm"),
        ("Rocky Linux:9", "rpm"),
        ("AlmaLinux:8", "rpm"),
        ("openSUSE:Leap 15.5", "rpm"),
        ("PyPI", "pep440"),
        ("npm", "semver"),
        ("Maven", "maven"),
        ("Maven:https://maven.google.com", "maven"),
        ("RubyGems", "gem"),
        ("Go", "go"),
    ],
)
def test_osv_ecosystem_maps_to_scheme(ecosystem: str, scheme: str) -> None:
    assert scheme_for_ecosystem(ecosystem).name == scheme


def test_unknown_scheme_and_ecosystem_raise_input_errors() -> None:
    with pytest.raises(UnknownScheme, match="known: dpkg"):
        get_scheme("cargo")
    with pytest.raises(UnknownScheme, match="NuGet"):
        scheme_for_ecosystem("NuGet")
    assert all(v in SCHEME_NAMES for v in ECOSYSTEMS.values())


@pytest.mark.parametrize("name", ["pep440", "dpkg", "apk", "rpm", "semver", "maven", "gem", "go"])
def test_a_remembered_parse_answers_as_the_first(name: str) -> None:
    scheme = get_scheme(name)
    first = scheme.parse("1.2.3")
    assert scheme.parse("1.2.3") is first  # remembered: Versions are immutable
    with pytest.raises(InvalidVersion) as one:
        scheme.parse("")
    with pytest.raises(InvalidVersion) as two:
        scheme.parse("")  # remembered as invalid, with the same message
    assert str(one.value) == str(two.value)
    huge = "1" * 100_000
    with pytest.raises(InvalidVersion, match="longer than"):
        scheme.parse(huge)
    assert huge not in scheme._memo  # a hostile text is refused, never kept
