"""Files in hostile images that cost far more than their size, or raised, in the catalogers.

Each case was measured before its fix (figures in the comments); these tests hold the
semantics the fixes keep, and fail on what was a crash or an unbounded result. Time is
never asserted here (benchmarks measure speed).
"""

from __future__ import annotations

from customhouse.catalog._problems import Problems
from customhouse.catalog.apk import ApkCataloger
from customhouse.catalog.dpkg import _parse_stanzas
from customhouse.catalog.gem import parse_gemspec
from customhouse.catalog.gobin import _unquote
from customhouse.catalog.npm import NpmCataloger
from customhouse.catalog.python import PythonCataloger

METADATA = "usr/lib/python3.11/site-packages/x-1.dist-info/METADATA"


def test_python_continuation_lines_join_as_before() -> None:
    # (2 MB of continuation lines took 10.6 s: each line copied the value so far)
    data = b"Metadata-Version: 2.1\nName: x\nVersion: 1\nLicense: a\n b\n\tc\nSummary: s\n\nbody\n"
    (pkg,) = PythonCataloger().parse(METADATA, data).packages
    assert pkg.licenses == ()  # a multi-line License is not a licence name, as before
    data = data.replace(b"License: a\n b\n\tc\n", b"Classifier: License :: OSI Approved :: MIT\n")
    (pkg,) = PythonCataloger().parse(METADATA, data).packages
    assert pkg.licenses == ("MIT",)


def test_python_licence_classifiers_keep_order_without_repeats() -> None:
    # (40,000 classifiers took 10 s: each checked against all the others in a list)
    lines = b"".join(
        b"Classifier: License :: " + name + b"\n" for name in (b"B", b"A", b"B", b"C", b"A")
    )
    data = b"Metadata-Version: 2.1\nName: x\nVersion: 1\n" + lines + b"\n"
    (pkg,) = PythonCataloger().parse(METADATA, data).packages
    assert pkg.licenses == ("B", "A", "C")


def test_a_python_version_of_more_digits_than_int_takes_is_invalid_not_a_crash() -> None:
    data = b"Metadata-Version: 2.1\nName: x\nVersion: " + b"1" * 5000 + b"\n\n"
    (pkg,) = PythonCataloger().parse(METADATA, data).packages  # (raised ValueError)
    assert pkg.extra["invalid_version"] == "true"


def test_dpkg_continuation_lines_join_as_before() -> None:
    # (2 MB of continuation lines took 11.5 s)
    data = (
        b"Package: foo\nDescription: short\n long one\n .\n\tthird\nVersion: 1\n"
        b"Depends: a\n\nPackage: bar\n  indented\n\n"
    )
    problems = Problems("status")
    stanzas = _parse_stanzas(data, problems)
    assert [(s.line, s.fields) for s in stanzas] == [
        (1, {"package": "foo", "description": "short\nlong one\n.\nthird", "version": "1",
             "depends": "a"}),
        (9, {"package": "bar\n indented"}),
    ]  # fmt: skip
    assert problems.items == []


def _apk(*lines: bytes) -> bytes:
    return b"P:x\nV:1.0-r0\n" + b"".join(line + b"\n" for line in lines) + b"\n"


def test_apk_files_of_a_directory_longer_than_path_max_are_left_out() -> None:
    data = _apk(b"F:" + b"d" * 5000, b"R:a", b"R:b", b"F:usr/bin", b"R:tool")
    result = ApkCataloger().parse("lib/apk/db/installed", data)
    assert [p.name for p in result.packages] == ["x"]
    assert result.owned_files == ["usr/bin", "usr/bin/tool"]
    assert any(
        "a directory of 5000 characters; skipped, and its files" in w for w in result.warnings
    )


def test_apk_owned_paths_are_bounded_by_the_database_size() -> None:
    # (250,000 "R:x" lines under one 10,000-character F: made 2.5 GB of paths from 1 MB)
    data = _apk(b"F:" + b"d" * 4000, *[b"R:%d" % i for i in range(2000)])
    result = ApkCataloger().parse("lib/apk/db/installed", data)
    assert [p.name for p in result.packages] == ["x"]  # the package is kept
    total = sum(len(f) for f in result.owned_files)
    assert total <= 4 * len(data) + (1 << 20) + 4096 + 10
    assert 0 < len(result.owned_files) < 2001  # ~260 of the 2,001 paths fit
    assert any("exceed 4 times the database's size" in w for w in result.warnings)


def test_gem_licenses_keep_order_without_repeats_and_bad_escapes_are_text() -> None:
    spec = parse_gemspec(
        'Gem::Specification.new do |s|\n  s.name = "a\\u0041\\u{42 43}"\n  s.version = "1"\n'
        '  s.licenses = ["MIT", "Ruby", "MIT", "\\u{FFFFFFFF}"]\nend\n'
    )
    assert spec.name == "aABC"
    assert spec.licenses == ["MIT", "Ruby", "u{FFFFFFFF}"]  # (chr() of it raised ValueError)


def test_go_build_settings_unquote_one_go_string_only() -> None:
    assert _unquote('"a\\"b\\u00e9\\x41\\n"') == 'a"béA\n'
    assert _unquote("plain") == "plain"
    # a Python tuple of a million ints (970 MB from 2 MB) was built, then dropped
    tricky = '"",' + "1," * 1000 + '""'
    assert _unquote(tricky) == tricky


def test_npm_licenses_keep_order_without_repeats() -> None:
    data = (
        b'{"name": "x", "version": "1.0.0", "license": "MIT",'
        b' "licenses": ["ISC", {"type": "MIT"}, "ISC", " BSD "]}'
    )
    result = NpmCataloger().parse("app/node_modules/x/package.json", data)
    (pkg,) = result.packages
    assert pkg.licenses == ("MIT", "ISC", "BSD")
