"""The combined prefilter picks exactly the catalogers whose own ``match`` says yes, in order."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from customhouse.catalog.analyze import _Selector
from customhouse.catalog.interface import FileResult
from customhouse.catalog.registry import default_catalogers

CATALOGERS = default_catalogers()
SELECT = _Selector(CATALOGERS).select

# segments that each cataloger's match looks at, plus ordinary ones and case variants
SEGMENTS = [
    "var", "lib", "dpkg", "status", "status.d", "info", "bash.list", "bash.md5sums", "usr",
    "share", "doc", "copyright", "etc", "os-release", "alpine-release", "debian_version",
    "redhat-release", "apk", "db", "installed", "rpm", "Packages", "Packages.db", "rpmdb.sqlite",
    "rpmdb.sqlite-wal", "site-packages", "six-1.16.0.dist-info", "METADATA", "PKG-INFO",
    "PyYAML-5.3.egg-info", "foo.egg", "EGG-INFO", "node_modules", "@babel", "package.json",
    "package-lock.json", "yarn.lock", "pnpm-lock.yaml", "npm-shrinkwrap.json", "app.jar",
    "APP.JAR", "x.War", "y.ear", "plugin.hpi", "z.jpi", "specifications", "rake-13.0.gemspec",
    "bin", "ls", "README", "a.list",
]  # fmt: skip


def _naive(path: str, mode: int, size: int) -> list[str]:
    return [c.name for c in CATALOGERS if c.match(path, mode, size)]


@pytest.mark.parametrize(
    "path",
    [
        "var/lib/dpkg/status",
        "var/lib/dpkg/status.d/base",
        "var/lib/dpkg/info/bash.list",
        "usr/share/doc/bash/copyright",
        "etc/os-release",
        "usr/lib/os-release",
        "lib/apk/db/installed",
        "var/lib/rpm/rpmdb.sqlite",
        "usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA",
        "usr/lib/python3/site-packages/PyYAML-5.3.egg-info/PKG-INFO",
        "usr/lib/python3/site-packages/distutils_pkg-1.0.egg-info",
        "app/node_modules/lodash/package.json",
        "app/package-lock.json",
        "opt/app/lib/Commons.JAR",
        "usr/lib/ruby/gems/3.1.0/specifications/rake-13.0.gemspec",
        "usr/bin/ls",
        "usr/share/doc/bash/README",
    ],
)
@pytest.mark.parametrize("mode", [0o644, 0o755])
def test_selector_equals_every_match_on_known_paths(path: str, mode: int) -> None:
    for size in (10, 4096):
        assert [c.name for c in SELECT(path, mode, size)] == _naive(path, mode, size)


@settings(max_examples=1500, deadline=None)
@given(
    st.lists(st.sampled_from(SEGMENTS), min_size=1, max_size=7),
    st.sampled_from([0o644, 0o755, 0o100, 0o600]),
    st.sampled_from([0, 100, 1024, 5000]),
)
def test_selector_equals_every_match_on_generated_paths(
    parts: list[str], mode: int, size: int
) -> None:
    path = "/".join(parts)
    assert [c.name for c in SELECT(path, mode, size)] == _naive(path, mode, size)


class _Undeclared:
    """A cataloger without ``wants``: asked about every file."""

    name = "undeclared"
    version = 1
    max_bytes = 1024

    def match(self, path: str, mode: int, size: int) -> bool:
        return path.endswith(".txt")

    def parse(self, path: str, data: bytes) -> FileResult:
        return FileResult()


def test_a_cataloger_without_wants_is_asked_about_every_file() -> None:
    select = _Selector([*CATALOGERS, _Undeclared()]).select
    assert [c.name for c in select("etc/notes.txt", 0o644, 10)] == ["undeclared"]
    assert [c.name for c in select("var/lib/dpkg/status", 0o644, 10)] == ["dpkg"]
