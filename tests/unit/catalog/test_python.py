"""The Python cataloger on real metadata files (see tests/data/catalog/python/SOURCES.md)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from customhouse.catalog.python import PythonCataloger, normalize_name

DATA = Path(__file__).resolve().parents[2] / "data" / "catalog" / "python"
SITE = "usr/lib/python3.11/site-packages"

CAT = PythonCataloger()


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        (f"{SITE}/Jinja2-2.10.dist-info/METADATA", True),
        ("opt/venv/lib/python3.12/site-packages/attrs-25.3.0.dist-info/METADATA", True),
        ("usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO", True),
        ("usr/lib/python3/dist-packages/python_apt-2.6.0.egg-info", True),  # distutils file
        (f"{SITE}/foo-1.0-py3.11.egg/EGG-INFO/PKG-INFO", True),
        # not installed metadata
        ("src/PyYAML-5.3/PKG-INFO", False),  # an unpacked sdist
        (f"{SITE}/Jinja2-2.10.dist-info/RECORD", False),
        (f"{SITE}/Jinja2-2.10.dist-info/WHEEL", False),
        ("usr/share/doc/METADATA", False),
        (f"{SITE}/six-1.16.0.egg-info/top_level.txt", False),
        ("home/user/notes/METADATA.dist-info", False),
    ],
)
def test_match_takes_only_installed_metadata_files(path: str, wanted: bool) -> None:
    assert CAT.match(path, 0o100644, 100) is wanted


@pytest.mark.parametrize(
    ("raw", "normalized"),
    [
        ("Jinja2", "jinja2"),
        ("zope.event", "zope-event"),
        ("typing_extensions", "typing-extensions"),
        ("Friendly-Bard", "friendly-bard"),
        ("FrIeNdLy-._.-bArD", "friendly-bard"),  # PEP 503's own example
        ("PyYAML", "pyyaml"),
    ],
)
def test_names_are_normalized_as_pep_503_says(raw: str, normalized: str) -> None:
    assert normalize_name(raw) == normalized


# file, path it sits at, name, version, purl, licenses, name as written (or None)
CASES = [
    (
        "Jinja2-2.10.METADATA",
        f"{SITE}/Jinja2-2.10.dist-info/METADATA",
        "jinja2",
        "2.10",
        "pkg:pypi/jinja2@2.10",
        ("BSD",),
        "Jinja2",
    ),
    (
        "urllib3-1.24.1.METADATA",
        f"{SITE}/urllib3-1.24.1.dist-info/METADATA",
        "urllib3",
        "1.24.1",
        "pkg:pypi/urllib3@1.24.1",
        ("MIT",),
        None,
    ),
    (
        "Django-2.2.METADATA",
        f"{SITE}/Django-2.2.dist-info/METADATA",
        "django",
        "2.2",
        "pkg:pypi/django@2.2",
        ("BSD",),
        "Django",
    ),
    (
        "Pillow-8.0.0.METADATA",
        f"{SITE}/Pillow-8.0.0.dist-info/METADATA",
        "pillow",
        "8.0.0",
        "pkg:pypi/pillow@8.0.0",
        ("HPND",),
        "Pillow",
    ),
    (  # PEP 639: License-Expression wins
        "attrs-25.3.0.METADATA",
        f"{SITE}/attrs-25.3.0.dist-info/METADATA",
        "attrs",
        "25.3.0",
        "pkg:pypi/attrs@25.3.0",
        ("MIT",),
        None,
    ),
    (  # no License field: the classifiers name the licences
        "packaging-24.2.METADATA",
        f"{SITE}/packaging-24.2.dist-info/METADATA",
        "packaging",
        "24.2",
        "pkg:pypi/packaging@24.2",
        ("Apache Software License", "BSD License"),
        None,
    ),
    (  # "_" becomes "-" in the name and the purl
        "typing_extensions-4.12.2.METADATA",
        f"{SITE}/typing_extensions-4.12.2.dist-info/METADATA",
        "typing-extensions",
        "4.12.2",
        "pkg:pypi/typing-extensions@4.12.2",
        ("Python Software Foundation License",),
        "typing_extensions",
    ),
    (  # "." becomes "-" in the name (PEP 503) but stays in the purl (purl spec)
        "zope.event-5.0.METADATA",
        f"{SITE}/zope.event-5.0.dist-info/METADATA",
        "zope-event",
        "5.0",
        "pkg:pypi/zope.event@5.0",
        ("ZPL-2.1",),
        "zope.event",
    ),
    (  # setuptools egg-info directory
        "PyYAML-5.3.PKG-INFO",
        f"{SITE}/PyYAML-5.3-py3.11.egg-info/PKG-INFO",
        "pyyaml",
        "5.3",
        "pkg:pypi/pyyaml@5.3",
        ("MIT",),
        "PyYAML",
    ),
    (  # distutils: the egg-info is one file with the same content
        "PyYAML-5.3.PKG-INFO",
        "usr/lib/python3/dist-packages/PyYAML-5.3.egg-info",
        "pyyaml",
        "5.3",
        "pkg:pypi/pyyaml@5.3",
        ("MIT",),
        "PyYAML",
    ),
    (  # Debian's python3-six
        "debian-python3-six-1.16.0.PKG-INFO",
        "usr/lib/python3/dist-packages/six-1.16.0.egg-info/PKG-INFO",
        "six",
        "1.16.0",
        "pkg:pypi/six@1.16.0",
        ("MIT",),
        None,
    ),
]


@pytest.mark.parametrize(
    ("filename", "path", "name", "version", "purl", "licenses", "written"),
    CASES,
    ids=[c[1].split("/")[-2] if c[1].endswith(("METADATA", "PKG-INFO")) else c[1] for c in CASES],
)
def test_real_metadata_gives_name_version_purl_and_licenses(
    filename: str,
    path: str,
    name: str,
    version: str,
    purl: str,
    licenses: tuple[str, ...],
    written: str | None,
) -> None:
    assert CAT.match(path, 0o100644, 1)
    result = CAT.parse(path, (DATA / filename).read_bytes())
    assert result.warnings == []
    [pkg] = result.packages
    assert (pkg.ecosystem, pkg.name, pkg.version, pkg.purl) == ("pypi", name, version, purl)
    assert pkg.path == path
    assert pkg.licenses == licenses
    assert pkg.extra.get("name") == written
    assert pkg.source_name is None and not pkg.os_owned
    assert "normalized_version" not in pkg.extra


def test_metadata_format_is_recorded() -> None:
    data = (DATA / "PyYAML-5.3.PKG-INFO").read_bytes()
    kinds = {
        p: CAT.parse(p, data).packages[0].extra["format"]
        for p in (
            f"{SITE}/PyYAML-5.3.dist-info/METADATA",
            f"{SITE}/PyYAML-5.3-py3.11.egg-info/PKG-INFO",
            f"{SITE}/PyYAML-5.3-py3.11.egg/EGG-INFO/PKG-INFO",
            f"{SITE}/PyYAML-5.3.egg-info",
        )
    }
    assert list(kinds.values()) == ["dist-info", "egg-info", "egg", "egg-info"]


def test_description_body_is_not_read_as_fields() -> None:
    # urllib3's long description (35 KB) follows the first blank line; field-like
    # lines in it are text, not metadata
    data = (DATA / "urllib3-1.24.1.METADATA").read_bytes()
    head, _, body = data.partition(b"\n\n")
    assert len(body) > 10_000
    bogus = head + b"\n\nName: evil\nVersion: 9.9.9\n" + body
    [pkg] = CAT.parse(f"{SITE}/urllib3-1.24.1.dist-info/METADATA", bogus).packages
    assert (pkg.name, pkg.version) == ("urllib3", "1.24.1")


@pytest.mark.parametrize(
    ("written", "normal"),
    [("2.10.0-rc1", "2.10.0rc1"), ("2.10.0.dev", "2.10.0.dev0"), ("v2.10", "2.10")],
)
def test_version_is_kept_as_written_and_pep440_form_noted(written: str, normal: str) -> None:
    data = (
        (DATA / "Jinja2-2.10.METADATA")
        .read_bytes()
        .replace(b"Version: 2.10\n", f"Version: {written}\n".encode(), 1)
    )
    [pkg] = CAT.parse(f"{SITE}/Jinja2-{written}.dist-info/METADATA", data).packages
    assert pkg.version == written
    assert pkg.extra["normalized_version"] == normal
    assert pkg.purl == f"pkg:pypi/jinja2@{written}"


def test_a_version_that_is_not_pep440_is_kept_and_flagged() -> None:
    data = (
        (DATA / "Jinja2-2.10.METADATA")
        .read_bytes()
        .replace(b"Version: 2.10\n", b"Version: 2.10~local build\n", 1)
    )
    [pkg] = CAT.parse(f"{SITE}/Jinja2-x.dist-info/METADATA", data).packages
    assert pkg.version == "2.10~local build"
    assert pkg.extra["invalid_version"] == "true"
    assert pkg.purl == "pkg:pypi/jinja2@2.10~local%20build"


def test_invalid_utf8_is_decoded_with_replacement_and_a_warning_naming_the_path() -> None:
    # Latin-1 author names are what old setup.py files produced
    data = (
        (DATA / "Jinja2-2.10.METADATA")
        .read_bytes()
        .replace(b"Author: Armin Ronacher", b"Author: Armin R\xf6nacher", 1)
    )
    assert b"\xf6" in data
    path = f"{SITE}/Jinja2-2.10.dist-info/METADATA"
    result = CAT.parse(path, data)
    [pkg] = result.packages
    assert (pkg.name, pkg.version) == ("jinja2", "2.10")
    [warning] = result.warnings
    assert warning.startswith(path + ":") and "UTF-8" in warning


@pytest.mark.parametrize(
    ("mangle", "problem"),
    [
        (lambda d: d.replace(b"Name: Jinja2\n", b""), "no Name field"),
        (lambda d: d.replace(b"Version: 2.10\n", b""), "no Version field"),
        (lambda d: d[:0], "no Name and Version field"),
        (lambda d: b"\x00\xff" * 500, "no Name and Version field"),
        (lambda d: d.replace(b"\n", b"\r\n"), None),  # CRLF metadata still parses
        (lambda d: b"\xef\xbb\xbf" + d, None),  # a BOM too
    ],
    ids=["no-name", "no-version", "empty", "binary", "crlf", "bom"],
)
def test_damaged_metadata_gives_a_warning_never_an_exception(
    mangle: Callable[[bytes], bytes], problem: str | None
) -> None:
    data = (DATA / "Jinja2-2.10.METADATA").read_bytes()
    path = f"{SITE}/Jinja2-2.10.dist-info/METADATA"
    result = CAT.parse(path, mangle(data))
    if problem is None:
        assert [(p.name, p.version) for p in result.packages] == [("jinja2", "2.10")]
        return
    assert result.packages == []
    assert any(w.startswith(path + ":") and problem in w for w in result.warnings), result.warnings


def test_unknown_license_field_falls_back_to_classifiers() -> None:
    data = DATA / "Jinja2-2.10.METADATA"
    text = data.read_bytes().replace(b"License: BSD\n", b"License: UNKNOWN\n", 1)
    [pkg] = CAT.parse(f"{SITE}/Jinja2-2.10.dist-info/METADATA", text).packages
    assert pkg.licenses == ("BSD License",)


def test_pasted_license_text_is_not_taken_as_a_name() -> None:
    data = DATA / "Jinja2-2.10.METADATA"
    text = data.read_bytes().replace(
        b"License: BSD\n",
        b"License: Copyright (c) 2009 by the Jinja Team.\n        All rights reserved.\n"
        b"        Redistribution and use in source and binary forms...\n",
        1,
    )
    [pkg] = CAT.parse(f"{SITE}/Jinja2-2.10.dist-info/METADATA", text).packages
    assert pkg.licenses == ("BSD License",)
