"""The apk cataloger on the installed databases of the official Alpine minirootfs tarballs."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from customhouse.catalog.apk import ApkCataloger
from customhouse.catalog.interface import Package

DATA = Path(__file__).resolve().parents[2] / "data" / "catalog" / "apk"
INSTALLED = "lib/apk/db/installed"
VERSIONS = ["3.14.10", "3.19.4", "3.20.3"]
# package counts documented with the fixtures (../shared/fixtures/alpine/README.md)
COUNTS = {"3.14.10": 14, "3.19.4": 15, "3.20.3": 14}


@pytest.fixture(scope="module")
def cataloger() -> ApkCataloger:
    return ApkCataloger()


def _db(version: str) -> bytes:
    return (DATA / f"installed-{version}").read_bytes()


def oracle(data: bytes) -> list[dict[str, str]]:
    """An independent minimal reader: the one-letter fields of each blank-line stanza."""
    out = []
    for block in data.decode().split("\n\n"):
        rec: dict[str, str] = {}
        for line in block.splitlines():
            if line[1:2] == ":" and line[0] not in rec:
                rec[line[0]] = line[2:]
        if rec:
            out.append(rec)
    return out


def oracle_files(data: bytes) -> list[str]:
    files, cwd = [], ""
    for line in data.decode().splitlines():
        if line.startswith("F:"):
            cwd = line[2:]
            files.append(cwd)
        elif line.startswith("R:"):
            files.append(f"{cwd}/{line[2:]}")
    return files


def _rows(packages: list[Package]) -> list[tuple[str, str, str | None]]:
    return [(p.name, p.version, p.source_name) for p in packages]


def test_match_selects_the_installed_database_only(cataloger: ApkCataloger) -> None:
    assert cataloger.match(INSTALLED, 0o100644, 10)
    for other in ("lib/apk/db/triggers", "etc/apk/world", "x/lib/apk/db/installed", "installed"):
        assert not cataloger.match(other, 0o100644, 10)


@pytest.mark.parametrize("version", VERSIONS)
def test_packages_equal_the_p_v_o_records(cataloger: ApkCataloger, version: str) -> None:
    data = _db(version)
    result = cataloger.parse(INSTALLED, data)
    assert result.warnings == []
    want = [(r["P"], r["V"], r["o"]) for r in oracle(data)]
    assert _rows(result.packages) == want
    assert len(result.packages) == COUNTS[version]


@pytest.mark.parametrize("version", VERSIONS)
def test_package_metadata_comes_from_its_stanza(cataloger: ApkCataloger, version: str) -> None:
    data = _db(version)
    for p, r in zip(cataloger.parse(INSTALLED, data).packages, oracle(data), strict=True):
        assert p.ecosystem == "apk" and p.path == INSTALLED
        assert p.arch == r["A"] == "x86_64"
        assert p.licenses == (r["L"],)
        assert p.source_version == p.version
        assert p.extra["commit"] == r["c"] and p.extra["maintainer"] == r["m"]
        assert p.purl == f"pkg:apk/alpine/{r['P']}@{r['V']}?arch=x86_64"


@pytest.mark.parametrize("version", VERSIONS)
def test_owned_files_are_directories_and_dir_slash_file(
    cataloger: ApkCataloger, version: str
) -> None:
    data = _db(version)
    result = cataloger.parse(INSTALLED, data)
    assert result.owned_files == oracle_files(data)
    assert "lib/ld-musl-x86_64.so.1" in result.owned_files
    assert "bin/busybox" in result.owned_files


def test_subpackage_records_its_origin(cataloger: ApkCataloger) -> None:
    by_name = {p.name: p for p in cataloger.parse(INSTALLED, _db("3.19.4")).packages}
    assert by_name["libcrypto3"].source_name == "openssl"
    assert by_name["ssl_client"].source_name == "busybox"
    assert by_name["musl-utils"].source_name == "musl"


def test_crlf_line_endings_give_the_same_result(cataloger: ApkCataloger) -> None:
    data = _db("3.19.4")
    clean = cataloger.parse(INSTALLED, data)
    crlf = cataloger.parse(INSTALLED, data.replace(b"\n", b"\r\n"))
    assert crlf.warnings == []
    assert crlf.packages == clean.packages and crlf.owned_files == clean.owned_files


@pytest.mark.parametrize("cut", [1, 100, 1_234, 5_000, 9_999, 14_000])
def test_truncated_database_keeps_complete_stanzas_and_says_so(
    cataloger: ApkCataloger, cut: int
) -> None:
    data = _db("3.19.4")
    full = cataloger.parse(INSTALLED, data).packages
    result = cataloger.parse(INSTALLED, data[:cut])
    complete = data[:cut].count(b"\n\n")
    assert result.packages[:complete] == full[:complete]
    # a cut stanza may survive (apk-tools reads it too), never with a wrong name or version
    assert {(p.name, p.version) for p in result.packages} <= {(p.name, p.version) for p in full}
    assert any(w.startswith(f"{INSTALLED}: ") and "truncated" in w for w in result.warnings)


def test_garbage_and_invalid_utf8_are_reported_and_the_rest_kept(cataloger: ApkCataloger) -> None:
    data = _db("3.20.3")
    stanzas = data.split(b"\n\n")
    junk = random.Random(11).randbytes(400).replace(b"\n\n", b"\n")
    bad_text = stanzas[2].replace(b"\nT:", b"\nT:caf\xe9 \xff", 1)
    assert bad_text != stanzas[2]
    mixed = b"\n\n".join([*stanzas[:2], bad_text, junk, *stanzas[3:]])
    result = cataloger.parse(INSTALLED, mixed)
    assert _rows(result.packages) == _rows(cataloger.parse(INSTALLED, data).packages)
    assert result.warnings
    assert all(w.startswith(f"{INSTALLED}: ") for w in result.warnings)
    assert any("invalid UTF-8" in w for w in result.warnings)
    assert "\ufffd" in result.packages[2].extra["description"]


@pytest.mark.parametrize(
    ("stanza", "problem"),
    [
        (b"V:1.0-r0\nA:x86_64", "no P:"),
        (b"P:foo\nA:x86_64", "no V:"),
        (b"P:foo bar\nV:1.0-r0", "invalid package name"),
        (b"P:foo\nV:x1.0", "invalid version"),
        (b"P:foo\nV:1.0-r0\nnot a field", "not a 'X:value' line"),
        (b"P:foo\nV:1.0-r0\nF:usr\nR:a/b", "invalid file name"),
    ],
)
def test_bad_stanza_is_reported_by_path_and_problem(
    cataloger: ApkCataloger, stanza: bytes, problem: str
) -> None:
    data = _db("3.14.10")
    stanzas = data.split(b"\n\n")
    result = cataloger.parse(INSTALLED, b"\n\n".join([*stanzas[:3], stanza, *stanzas[3:]]))
    good = {(p.name, p.version) for p in cataloger.parse(INSTALLED, data).packages}
    assert good <= {(p.name, p.version) for p in result.packages}
    assert any(w.startswith(f"{INSTALLED}: ") and problem in w for w in result.warnings), (
        result.warnings
    )


def test_binary_garbage_only_gives_capped_warnings(cataloger: ApkCataloger) -> None:
    result = cataloger.parse(INSTALLED, random.Random(5).randbytes(100_000))
    assert result.packages == [] and result.owned_files == []
    assert 0 < len(result.warnings) <= 26
