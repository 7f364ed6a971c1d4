"""The dpkg cataloger on real dpkg databases (Debian bookworm minbase, distroless-style status.d)."""

from __future__ import annotations

import random
import shutil
import subprocess
from pathlib import Path

import pytest

from customhouse.catalog.dpkg import DpkgCataloger, copyright_licenses
from customhouse.catalog.interface import Package

DATA = Path(__file__).resolve().parents[2] / "data" / "catalog" / "dpkg"
STATUS = "var/lib/dpkg/status"

Row = tuple[str, str, str, str]  # name, version, source, source version


@pytest.fixture(scope="module")
def cataloger() -> DpkgCataloger:
    return DpkgCataloger()


@pytest.fixture(scope="module")
def status_bytes() -> bytes:
    return (DATA / "status").read_bytes()


def _rows(packages: list[Package]) -> set[Row]:
    return {(p.name, p.version, p.source_name or "", p.source_version or "") for p in packages}


def _dpkg_query(admindir: Path, fmt: str) -> list[list[str]]:
    exe = shutil.which("dpkg-query")
    if exe is None:
        pytest.skip("dpkg-query is not installed (apt-get install dpkg)")
    proc = subprocess.run(
        [exe, f"--admindir={admindir}", "-W", "-f", fmt],
        capture_output=True,
        text=True,
        check=True,
    )
    return [line.split("\t") for line in proc.stdout.splitlines()]


def _admindir(tmp_path: Path, status: Path) -> Path:
    admin = tmp_path / "dpkg"
    (admin / "info").mkdir(parents=True)
    (admin / "updates").mkdir()
    shutil.copyfile(status, admin / "status")
    return admin


# ----------------------------------------------------------------------------- match


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("var/lib/dpkg/status", True),
        ("var/lib/dpkg/status.d/libc6", True),
        ("var/lib/dpkg/status.d/libc6.md5sums", True),
        ("var/lib/dpkg/info/bash.list", True),
        ("var/lib/dpkg/info/libc6:amd64.list", True),
        ("var/lib/dpkg/status-old", False),
        ("var/lib/dpkg/available", False),
        ("var/lib/dpkg/info/bash.md5sums", False),
        ("var/lib/dpkg/info/bash.postinst", False),
        ("var/lib/dpkg/status.d/nested/file", False),
        ("var/lib/dpkg/info/sub/x.list", False),
        ("usr/share/doc/bash/copyright", True),
        ("srv/var/lib/dpkg/status", False),
        ("etc/os-release", False),
    ],
)
def test_match_selects_dpkg_database_files_only(
    cataloger: DpkgCataloger, path: str, wanted: bool
) -> None:
    assert cataloger.match(path, 0o100644, 100) is wanted


# ----------------------------------------------------------------------------- status


def test_status_equals_dpkg_query_on_the_same_database(
    cataloger: DpkgCataloger, tmp_path: Path
) -> None:
    admin = _admindir(tmp_path, DATA / "status")
    fmt = "${Package}\t${Version}\t${source:Package}\t${source:Version}\n"
    oracle = {(a, b, c, d) for a, b, c, d in _dpkg_query(admin, fmt)}
    result = cataloger.parse(STATUS, (DATA / "status").read_bytes())
    assert result.warnings == []
    assert len(result.packages) == len(oracle) == 88
    assert _rows(result.packages) == oracle


def test_status_records_architecture_as_dpkg_query_does(
    cataloger: DpkgCataloger, tmp_path: Path
) -> None:
    admin = _admindir(tmp_path, DATA / "status")
    oracle = {(a, b) for a, b in _dpkg_query(admin, "${Package}\t${Architecture}\n")}
    result = cataloger.parse(STATUS, (DATA / "status").read_bytes())
    assert {(p.name, p.arch) for p in result.packages} == oracle


@pytest.mark.parametrize(
    ("name", "version", "source", "source_version", "arch", "purl"),
    [
        # binNMU: the source version lacks the +bN suffix of the binary
        ("bash", "5.2.15-2+b13", "bash", "5.2.15-2", "amd64", "pkg:deb/debian/bash@5.2.15-2%2Bb13?arch=amd64"),
        # epoch on the binary, none on the source version given in Source:
        ("bsdutils", "1:2.38.1-5+deb12u3", "util-linux", "2.38.1-5+deb12u3", "amd64",
         "pkg:deb/debian/bsdutils@1:2.38.1-5%2Bdeb12u3?arch=amd64"),
        # Source: without a version: the binary version, epoch included
        ("libattr1", "1:2.5.1-4", "attr", "1:2.5.1-4", "amd64", "pkg:deb/debian/libattr1@1:2.5.1-4?arch=amd64"),
        # no Source: field: the package is its own source
        ("adduser", "3.134", "adduser", "3.134", "all", "pkg:deb/debian/adduser@3.134?arch=all"),
        ("libc6", "2.36-9+deb12u14", "glibc", "2.36-9+deb12u14", "amd64",
         "pkg:deb/debian/libc6@2.36-9%2Bdeb12u14?arch=amd64"),
    ],
)  # fmt: skip
def test_status_package_fields(
    cataloger: DpkgCataloger,
    status_bytes: bytes,
    name: str,
    version: str,
    source: str,
    source_version: str,
    arch: str,
    purl: str,
) -> None:
    by_name = {p.name: p for p in cataloger.parse(STATUS, status_bytes).packages}
    p = by_name[name]
    assert (p.version, p.source_name, p.source_version, p.arch, p.purl) == (
        version,
        source,
        source_version,
        arch,
        purl,
    )
    assert p.ecosystem == "deb"
    assert p.path == STATUS
    assert p.extra["maintainer"]


def test_package_states_match_dpkg_query_minus_config_files(
    cataloger: DpkgCataloger, tmp_path: Path
) -> None:
    admin = _admindir(tmp_path, DATA / "status-states")
    fmt = "${Package}\t${Version}\t${source:Package}\t${source:Version}\t${db:Status-Status}\n"
    rows = _dpkg_query(admin, fmt)
    # the file covers every state dpkg-query shows
    assert {r[4] for r in rows} >= {"installed", "config-files", "half-installed", "unpacked"}
    oracle = {(a, b, c, d) for a, b, c, d, state in rows if state != "config-files"}
    result = cataloger.parse(STATUS, (DATA / "status-states").read_bytes())
    assert _rows(result.packages) == oracle
    states = {p.name: p.extra.get("status", "installed") for p in result.packages}
    assert states["c-halfinst"] == "half-installed"
    assert states["g-deinstall"] == "installed"  # selected for removal, still on disk
    # no Status: in the status file means "not installed" to dpkg; we say why we skip it
    assert any("'j-nostatus'" in w and "no Status" in w for w in result.warnings)


# ----------------------------------------------------------------------------- status.d


@pytest.mark.parametrize(
    ("file", "name", "version", "source", "source_version", "arch"),
    [
        ("base-files", "base-files", "12.4+deb12u15", "base-files", "12.4+deb12u15", "amd64"),
        ("bsdutils", "bsdutils", "1:2.38.1-5+deb12u3", "util-linux", "2.38.1-5+deb12u3", "amd64"),
        ("libgcc-s1", "libgcc-s1", "12.2.0-14+deb12u1", "gcc-12", "12.2.0-14+deb12u1", "amd64"),
    ],
)
def test_distroless_status_d_file_without_status_is_installed(
    cataloger: DpkgCataloger,
    file: str,
    name: str,
    version: str,
    source: str,
    source_version: str,
    arch: str,
) -> None:
    path = f"var/lib/dpkg/status.d/{file}"
    result = cataloger.parse(path, (DATA / "status.d" / file).read_bytes())
    assert result.warnings == []
    [p] = result.packages
    assert (p.name, p.version, p.source_name, p.source_version, p.arch, p.path) == (
        name,
        version,
        source,
        source_version,
        arch,
        path,
    )


@pytest.mark.parametrize("file", ["base-files", "bsdutils", "libgcc-s1"])
def test_distroless_md5sums_give_owned_files_not_packages(
    cataloger: DpkgCataloger, file: str
) -> None:
    raw = (DATA / "status.d" / f"{file}.md5sums").read_bytes()
    expected = [line.split(b"  ", 1)[1].decode() for line in raw.splitlines()]
    result = cataloger.parse(f"var/lib/dpkg/status.d/{file}.md5sums", raw)
    assert result.packages == [] and result.warnings == []
    assert result.owned_files == expected
    assert all(not p.startswith("/") for p in result.owned_files)


# ----------------------------------------------------------------------------- info/*.list


@pytest.mark.parametrize("file", ["bash.list", "libacl1:amd64.list"])
def test_list_file_gives_owned_files_and_directories(cataloger: DpkgCataloger, file: str) -> None:
    raw = (DATA / "info" / file).read_bytes()
    lines = raw.decode().splitlines()
    assert lines[0] == "/."
    result = cataloger.parse(f"var/lib/dpkg/info/{file}", raw)
    assert result.packages == [] and result.warnings == []
    assert result.owned_files == [line[1:] for line in lines[1:]]
    assert "usr/bin" in result.owned_files or "usr/lib" in result.owned_files  # directories too


# ----------------------------------------------------------------------------- copyright


@pytest.mark.parametrize(
    ("file", "expected"),
    [
        # DEP-5: the first line of every License: field, as written
        ("bash", ("GPL-3+", "GPL-3+ with Bison exception", "GPL-2+", "GFDL-NIV-1.3", "Latex2e",
                  "BSD-4-clause-UC and MIT-like", "BSD-4-clause-UC", "MIT-like", "permissive")),
        # free-form: the common-licenses files it points to
        ("libc6", ("LGPL-2.1", "GPL-2")),
        ("base-files", ("GPL",)),
    ],
)  # fmt: skip
def test_copyright_licenses(file: str, expected: tuple[str, ...]) -> None:
    assert copyright_licenses((DATA / "copyright" / file).read_bytes()) == expected


def test_copyright_dep5_license_without_short_name_is_skipped() -> None:
    # liblzma5's file has "License:" paragraphs whose name is on no first line
    found = copyright_licenses((DATA / "copyright" / "liblzma5").read_bytes())
    assert "" not in found and "GPL-2+" in found and "PD" in found


# ----------------------------------------------------------------------------- tolerance


def test_crlf_line_endings_give_the_same_packages(
    cataloger: DpkgCataloger, status_bytes: bytes
) -> None:
    clean = cataloger.parse(STATUS, status_bytes).packages
    crlf = cataloger.parse(STATUS, status_bytes.replace(b"\n", b"\r\n"))
    assert crlf.warnings == []
    assert crlf.packages == clean


def test_several_and_whitespace_blank_lines_separate_stanzas(
    cataloger: DpkgCataloger, status_bytes: bytes
) -> None:
    clean = cataloger.parse(STATUS, status_bytes).packages
    loose = status_bytes.replace(b"\n\n", b"\n\n \n\t\n\n")
    result = cataloger.parse(STATUS, loose)
    assert result.warnings == []
    assert result.packages == clean


def test_continuation_lines_belong_to_their_field(cataloger: DpkgCataloger) -> None:
    data = (
        b"Package: foo\nStatus: install ok installed\nDescription: one\n two\n .\n"
        b"\tVersion: 9.9 (a tab-indented continuation, not a field)\n"
        b"Version: 1.0-1\nSource: bar\n\n"
    )
    result = cataloger.parse(STATUS, data)
    assert result.warnings == []
    [p] = result.packages
    assert (p.version, p.source_name) == ("1.0-1", "bar")


# ----------------------------------------------------------------------------- robustness


def _stanza_ends(data: bytes) -> list[tuple[int, str]]:
    """(offset just past each stanza's text, package name), from the raw bytes."""
    out = []
    pos = 0
    for chunk in data.split(b"\n\n"):
        pos += len(chunk)
        name = chunk.split(b"\n", 1)[0].removeprefix(b"Package: ").decode()
        if name:
            out.append((pos, name))
        pos += 2
    return out


@pytest.mark.parametrize("cut", [1, 40, 999, 7_777, 20_003, 38_551, 51_234, 66_666, 77_000])
def test_truncated_status_never_reports_a_wrong_package(
    cataloger: DpkgCataloger, status_bytes: bytes, cut: int
) -> None:
    full = {p.name: p for p in cataloger.parse(STATUS, status_bytes).packages}
    result = cataloger.parse(STATUS, status_bytes[:cut])
    # whatever survives is exactly what the whole file says
    for p in result.packages:
        assert p == full[p.name]
    # every stanza that ended before the cut is there
    complete = {name for end, name in _stanza_ends(status_bytes) if end <= cut}
    assert complete <= {p.name for p in result.packages}
    assert result.warnings, "a truncated file must be reported"
    assert all(w.startswith(f"{STATUS}: ") for w in result.warnings)
    assert any("truncated" in w for w in result.warnings)


def test_garbage_between_stanzas_is_reported_and_the_rest_kept(
    cataloger: DpkgCataloger, status_bytes: bytes
) -> None:
    rng = random.Random(3)
    stanzas = status_bytes.split(b"\n\n")
    junk = [rng.randbytes(300).replace(b"\n\n", b"\n") for _ in range(3)]
    mixed = b"\n\n".join([*stanzas[:10], junk[0], *stanzas[10:40], junk[1], *stanzas[40:], junk[2]])
    result = cataloger.parse(STATUS, mixed)
    assert _rows(result.packages) == _rows(cataloger.parse(STATUS, status_bytes).packages)
    assert result.warnings
    assert all(w.startswith(f"{STATUS}: ") for w in result.warnings)
    assert any("invalid UTF-8" in w for w in result.warnings)


def test_binary_garbage_only_gives_warnings_and_no_packages(cataloger: DpkgCataloger) -> None:
    data = random.Random(7).randbytes(200_000)
    result = cataloger.parse(STATUS, data)
    assert result.packages == []
    assert 0 < len(result.warnings) <= 26  # capped: garbage cannot flood the report
    assert result.warnings[-1].endswith("more problems not shown")


def test_invalid_utf8_in_a_stanza_keeps_the_package(
    cataloger: DpkgCataloger, status_bytes: bytes
) -> None:
    broken = status_bytes.replace(
        b"Maintainer: Matthias Klose <doko@debian.org>",
        b"Maintainer: Matthias Kl\xf6se \xff<doko@debian.org>",
        1,
    )
    assert broken != status_bytes
    result = cataloger.parse(STATUS, broken)
    assert len(result.packages) == 88
    assert len(result.warnings) == 1
    assert result.warnings[0].startswith(f"{STATUS}: line ")
    assert "invalid UTF-8" in result.warnings[0]
    bash = next(p for p in result.packages if p.name == "bash")
    assert bash.extra["maintainer"] == "Matthias Kl\ufffdse \ufffd<doko@debian.org>"


@pytest.mark.parametrize(
    ("stanza", "problem"),
    [
        (b"Status: install ok installed\nVersion: 1\n", "no Package field"),
        (b"Package: Bad Name\nStatus: install ok installed\nVersion: 1\n", "invalid package name"),
        (b"Package: x\nStatus: install ok\nVersion: 1\n", "malformed Status"),
        (b"Package: x\nStatus: install ok flying\nVersion: 1\n", "unknown package state"),
        (b"Package: x\nStatus: install ok installed\n", "no Version field"),
        (b"Package: x\nStatus: install ok installed\nVersion: 1 2\n", "invalid version"),
        (b"Package: x\nStatus: install ok installed\nVersion: 1\nVersion: 2\n", "duplicate field"),
        (b"Package: x\nthis line has no colon\nStatus: install ok installed\nVersion: 1\n",
         "not a 'Field: value' line"),
    ],
)  # fmt: skip
def test_bad_stanza_is_reported_by_path_line_and_problem(
    cataloger: DpkgCataloger, status_bytes: bytes, stanza: bytes, problem: str
) -> None:
    stanzas = status_bytes.split(b"\n\n")
    data = b"\n\n".join([*stanzas[:5], stanza.rstrip(b"\n"), *stanzas[5:]])
    result = cataloger.parse(STATUS, data)
    good = _rows(cataloger.parse(STATUS, status_bytes).packages)
    assert good <= _rows(result.packages)
    assert any(w.startswith(f"{STATUS}: ") and problem in w for w in result.warnings), (
        result.warnings
    )


def test_empty_status_file_is_a_warning(cataloger: DpkgCataloger) -> None:
    result = cataloger.parse(STATUS, b"")
    assert result.packages == []
    assert result.warnings == [f"{STATUS}: empty file"]
