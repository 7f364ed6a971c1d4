"""Each scheme against the public test vectors of its own project (tests/data/versions)."""

from __future__ import annotations

from pathlib import Path

import pytest

from customhouse.versions import InvalidVersion, get_scheme

from .vectors import load

DATA = Path(__file__).resolve().parents[2] / "data" / "versions"

FILES = {
    "dpkg": "dpkg-version.data",
    "apk": "apk-version.data",
    "rpm": "rpm-vercmp.data",
    "semver": "semver-comparisons.data",
    "maven": "maven-comparable.data",
    "gem": "gem-version.data",
    "pep440": "pep440-order.data",
    "go": "go-semver.data",
}

# Vectors naming versions that the reference tool itself rejects; we reject them too.
REJECTED_BY_REFERENCE = {
    # dpkg 1.21 --compare-versions: "revision number is empty" / "version number is empty"
    ("dpkg", "0foo-"),
    ("dpkg", "-0.6.5"),
    # apk-tools' own validity rules reject these; its comparison only gets an answer
    # for them by stopping before the invalid part (the file says "invalid" itself)
    ("apk", "23_foo"),
    ("apk", "1.0bc"),
}


def _cases() -> list[object]:
    out: list[object] = []
    for scheme, name in FILES.items():
        cases, _ = load(DATA / name)
        for a, b, expected in cases:
            rejected = {(scheme, a), (scheme, b)} & REJECTED_BY_REFERENCE
            out.append(pytest.param(scheme, a, b, expected, bool(rejected), id=f"{scheme}:{a}|{b}"))
    return out


def _invalid() -> list[object]:
    out: list[object] = []
    for scheme, name in FILES.items():
        _, invalid = load(DATA / name)
        out += [pytest.param(scheme, v, id=f"{scheme}:{v!r}") for v in invalid]
    return out


@pytest.mark.parametrize(("scheme", "a", "b", "expected", "rejected"), _cases())
def test_vector_order_matches_upstream(
    scheme: str, a: str, b: str, expected: int, rejected: bool
) -> None:
    s = get_scheme(scheme)
    if rejected:
        with pytest.raises(InvalidVersion):
            s.compare(a, b)
        return
    assert s.compare(a, b) == expected
    assert s.compare(b, a) == -expected


@pytest.mark.parametrize(("scheme", "text"), _invalid())
def test_vector_invalid_version_is_rejected(scheme: str, text: str) -> None:
    with pytest.raises(InvalidVersion):
        get_scheme(scheme).parse(text)


def test_every_scheme_has_vectors() -> None:
    from customhouse.versions import SCHEME_NAMES

    assert set(FILES) == set(SCHEME_NAMES)
    for name in FILES.values():
        cases, _ = load(DATA / name)
        assert len(cases) >= 10, name
