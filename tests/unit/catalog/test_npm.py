"""The npm cataloger on real package.json files and lockfiles (tests/data/catalog/npm/SOURCES.md)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from customhouse.catalog.interface import Package
from customhouse.catalog.npm import PACKAGE_JSON_MAX, NpmCataloger, dedupe_lockfile_packages

DATA = Path(__file__).resolve().parents[2] / "data" / "catalog" / "npm"
CAT = NpmCataloger()

# `npm ls --all --omit=dev --parseable --long` after `npm ci` of lockfiles/package.json
PRODUCTION = {
    ("@babel/helper-validator-identifier", "7.10.4"),
    ("js-tokens", "4.0.0"),
    ("lodash", "4.17.15"),
    ("lodash", "4.17.21"),  # installed as node_modules/my-lodash (an alias)
    ("loose-envify", "1.4.0"),
    ("minimist", "0.0.8"),
    ("minimist", "1.2.0"),
    ("mkdirp", "0.5.1"),
    ("object-assign", "4.1.1"),
    ("path-parse", "1.0.7"),
    ("prop-types", "15.8.1"),
    ("react-dom", "16.14.0"),
    ("react-is", "16.13.1"),
    ("react", "16.14.0"),
    ("resolve", "1.17.0"),
    ("scheduler", "0.19.1"),
}
DEV = {("ms", "2.0.0")}


@pytest.mark.parametrize(
    ("path", "wanted"),
    [
        ("app/node_modules/lodash/package.json", True),
        ("node_modules/lodash/package.json", True),
        ("app/node_modules/@babel/helper-validator-identifier/package.json", True),
        ("app/node_modules/mkdirp/node_modules/minimist/package.json", True),
        ("usr/lib/node_modules/npm/node_modules/semver/package.json", True),
        ("app/node_modules/.pnpm/lodash@4.17.15/node_modules/lodash/package.json", True),
        # parts of a package, fixtures, the application itself, a scope directory
        ("app/node_modules/lodash/fp/package.json", False),
        ("app/node_modules/resolve/test/resolver/multirepo/packages/package-a/package.json", False),
        ("app/node_modules/resolve/test/module_dir/zmodules/bbb/package.json", False),
        ("app/package.json", False),
        ("package.json", False),
        ("app/node_modules/@babel/package.json", False),
        ("app/node_modules/lodash/package.json.bak", False),
        # lockfiles outside node_modules only; npm's hidden lockfile is not one of them
        ("app/package-lock.json", True),
        ("package-lock.json", True),
        ("srv/web/npm-shrinkwrap.json", True),
        ("srv/web/yarn.lock", True),
        ("srv/web/pnpm-lock.yaml", True),
        ("app/node_modules/.package-lock.json", False),
        ("app/node_modules/resolve/package-lock.json", False),
        ("app/node_modules/somepkg/yarn.lock", False),
        ("app/my-package-lock.json", False),
    ],
)
def test_match_takes_installed_package_json_and_lockfiles_only(path: str, wanted: bool) -> None:
    assert CAT.match(path, 0o100644, 100) is wanted


@pytest.mark.parametrize(
    ("filename", "path", "name", "version", "purl", "licenses", "installed_as"),
    [
        (
            "lodash-4.17.15.package.json",
            "app/node_modules/lodash/package.json",
            "lodash",
            "4.17.15",
            "pkg:npm/lodash@4.17.15",
            ("MIT",),
            None,
        ),
        (
            "babel-helper-validator-identifier-7.10.4.package.json",
            "app/node_modules/@babel/helper-validator-identifier/package.json",
            "@babel/helper-validator-identifier",
            "7.10.4",
            "pkg:npm/%40babel/helper-validator-identifier@7.10.4",
            ("MIT",),
            None,
        ),
        (  # the legacy "licenses" array
            "json-schema-0.2.3.package.json",
            "app/node_modules/json-schema/package.json",
            "json-schema",
            "0.2.3",
            "pkg:npm/json-schema@0.2.3",
            ("AFLv2.1", "BSD"),
            None,
        ),
        (  # npm install my-lodash@npm:lodash@4.17.21: the package is lodash
            "my-lodash-alias-lodash-4.17.21.package.json",
            "app/node_modules/my-lodash/package.json",
            "lodash",
            "4.17.21",
            "pkg:npm/lodash@4.17.21",
            ("MIT",),
            "my-lodash",
        ),
    ],
)
def test_installed_package_json_gives_name_version_purl_licenses(
    filename: str,
    path: str,
    name: str,
    version: str,
    purl: str,
    licenses: tuple[str, ...],
    installed_as: str | None,
) -> None:
    result = CAT.parse(path, (DATA / "installed" / filename).read_bytes())
    assert result.warnings == []
    [pkg] = result.packages
    assert (pkg.ecosystem, pkg.name, pkg.version, pkg.purl) == ("npm", name, version, purl)
    assert pkg.licenses == licenses
    assert pkg.path == path
    assert pkg.extra.get("installed_as") == installed_as
    assert "from_lockfile" not in pkg.extra


def test_license_as_type_object_is_read() -> None:
    # the {"type": ..., "url": ...} form that old packages used for "license"
    doc = json.loads((DATA / "installed" / "json-schema-0.2.3.package.json").read_bytes())
    doc["license"] = doc.pop("licenses")[1]
    [pkg] = CAT.parse("node_modules/json-schema/package.json", json.dumps(doc).encode()).packages
    assert pkg.licenses == ("BSD",)


LOCKFILES = [
    ("package-lock-v1.json", "package-lock.json", PRODUCTION),
    ("package-lock-v2.json", "package-lock.json", PRODUCTION),
    ("package-lock-v3.json", "package-lock.json", PRODUCTION),
    ("package-lock-v3.json", "npm-shrinkwrap.json", PRODUCTION),
    # yarn.lock does not say which entries are dev dependencies: all are kept
    ("yarn-v1.lock", "yarn.lock", PRODUCTION | DEV),
    ("yarn-berry.lock", "yarn.lock", PRODUCTION | DEV),
    ("pnpm-lock-v5.yaml", "pnpm-lock.yaml", PRODUCTION),
    ("pnpm-lock-v6.yaml", "pnpm-lock.yaml", PRODUCTION),
    ("pnpm-lock-v9.yaml", "pnpm-lock.yaml", PRODUCTION),
]


@pytest.mark.parametrize(
    ("filename", "basename", "expected"), LOCKFILES, ids=[f"{a}-{b}" for a, b, _ in LOCKFILES]
)
def test_lockfiles_of_every_format_give_the_installed_set(
    filename: str, basename: str, expected: set[tuple[str, str]]
) -> None:
    path = f"srv/web/{basename}"
    assert CAT.match(path, 0o100644, 1)
    result = CAT.parse(path, (DATA / "lockfiles" / filename).read_bytes())
    assert result.warnings == []
    assert {(p.name, p.version) for p in result.packages} == expected
    assert len(result.packages) == len(expected)  # one package per name and version
    for p in result.packages:
        assert p.extra["from_lockfile"] == "true"
        assert p.extra["lockfile_dir"] == "srv/web"
        assert p.path == path
        scope, _, rest = p.name.rpartition("/")
        want = f"pkg:npm/{scope.replace('@', '%40')}/{rest}" if scope else f"pkg:npm/{rest}"
        assert p.purl == f"{want}@{p.version}"


def test_lockfile_v3_carries_licenses() -> None:
    result = CAT.parse(
        "package-lock.json", (DATA / "lockfiles" / "package-lock-v3.json").read_bytes()
    )
    assert {p.licenses for p in result.packages} == {("MIT",)}
    assert {p.extra["lockfile_dir"] for p in result.packages} == {""}


@pytest.mark.parametrize(
    ("basename", "data", "problem"),
    [
        ("package-lock.json", b'{"lockfileVersion": 3, "packages": {', "not valid JSON"),
        ("package-lock.json", b"[1, 2, 3]", "not a JSON object"),
        ("package-lock.json", b'{"lockfileVersion": 1}', "neither 'packages' nor"),
        ("package-lock.json", b"[" * 100_000, "not valid JSON"),  # nesting bomb
        ("pnpm-lock.yaml", b"lockfileVersion: '9.0'\npackages: [\n", "not valid YAML"),
        ("pnpm-lock.yaml", b"lockfileVersion: banana\n", "unknown lockfileVersion"),
        ("pnpm-lock.yaml", b"lockfileVersion: '1e400'\n", "unknown lockfileVersion"),
        ("pnpm-lock.yaml", b"- a list\n", "not a YAML mapping"),
        ("yarn.lock", b"\x00\x01garbage", "neither a yarn v1 lockfile nor a berry one"),
        ("yarn.lock", b"__metadata:\n  version: 8\n  - broken\n", "not valid YAML"),
        # aliases: importers (or entries) that all share one mapping would multiply the
        # walk (100,000 of them over 5,000 dependencies: 1.4 MB that took 4 GB, then
        # MemoryError); these small ones are refused the same way
        (
            "pnpm-lock.yaml",
            b"lockfileVersion: '9.0'\nimporters:\n  a: &x\n    dependencies: {p: 1.0.0}\n"
            b"  b: *x\n  c: *x\nsnapshots: {p@1.0.0: {}}\npackages: {p@1.0.0: {}}\n",
            "a YAML alias *x (line 5, column 6) (an alias bomb?): not accepted",
        ),
        (  # a merge key copies (6,000 x 6,000 keys: 190 KB that took 1.5 GB)
            "pnpm-lock.yaml",
            b"lockfileVersion: '9.0'\nbase: &b {resolution: {integrity: sha512-x}}\n"
            b"packages:\n  /p@1.0.0: {<<: *b}\n",
            "a YAML alias *b (line 4, column 18) (an alias bomb?): not accepted",
        ),
        (
            "yarn.lock",
            b'__metadata: {version: 8}\n"a@npm:1": &e {version: 1.0.0, resolution: "a@npm:1.0.0"}\n'
            b'"a@npm:^1": *e\n',
            "a YAML alias *e (line 3, column 13) (an alias bomb?): not accepted",
        ),
    ],
)
def test_damaged_lockfiles_give_a_warning_naming_the_path(
    basename: str, data: bytes, problem: str
) -> None:
    path = f"srv/web/{basename}"
    result = CAT.parse(path, data)
    assert result.packages == []
    assert any(w.startswith(path + ":") and problem in w for w in result.warnings), result.warnings


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (b'{"name": "lodash", "version": ', "not valid JSON"),
        (b'"just a string"', "not a JSON object"),
        (b'{"name": "lodash"}', "no name or version"),
        (b'{"name": "lodash", "version": 4}', "no name or version"),
        (b'{"name": "bad name!/x/y", "version": "1.0.0"}', "is not an npm package name"),
        (b"\xff\xfe{}", "not valid JSON"),
    ],
)
def test_damaged_package_json_gives_a_warning_naming_the_path(data: bytes, problem: str) -> None:
    path = "app/node_modules/lodash/package.json"
    result = CAT.parse(path, data)
    assert result.packages == []
    assert any(w.startswith(path + ":") and problem in w for w in result.warnings), result.warnings


def test_an_oversized_package_json_is_not_parsed() -> None:
    real = (DATA / "installed" / "lodash-4.17.15.package.json").read_bytes()
    padded = real.rstrip()[:-1] + b',"x":"' + b"a" * PACKAGE_JSON_MAX + b'"}'
    path = "app/node_modules/lodash/package.json"
    result = CAT.parse(path, padded)
    assert result.packages == []
    [warning] = result.warnings
    assert warning.startswith(path + ":") and "skipped" in warning
    assert CAT.max_bytes >= PACKAGE_JSON_MAX  # lockfiles may be larger than package.json


def _installed(path: str, name: str, version: str) -> Package:
    return Package("npm", name, version, f"pkg:npm/{name}@{version}", path)


def _from_lock(path: str, name: str, version: str) -> Package:
    d = path.rpartition("/")[0]
    return Package(
        "npm",
        name,
        version,
        f"pkg:npm/{name}@{version}",
        path,
        extra={"from_lockfile": "true", "lockfile_dir": d},
    )


def test_dedupe_drops_lockfile_packages_where_node_modules_is_installed() -> None:
    lock_app = CAT.parse(
        "app/package-lock.json", (DATA / "lockfiles" / "package-lock-v3.json").read_bytes()
    ).packages
    lock_srv = CAT.parse(
        "srv/web/yarn.lock", (DATA / "lockfiles" / "yarn-v1.lock").read_bytes()
    ).packages
    lock_root = CAT.parse(
        "pnpm-lock.yaml", (DATA / "lockfiles" / "pnpm-lock-v9.yaml").read_bytes()
    ).packages
    installed = [
        _installed("app/node_modules/lodash/package.json", "lodash", "4.17.15"),
        _installed(
            "app/node_modules/mkdirp/node_modules/minimist/package.json", "minimist", "0.0.8"
        ),
    ]
    pypi = Package("pypi", "six", "1.16.0", "pkg:pypi/six@1.16.0", "x/six.dist-info/METADATA")
    everything = [*lock_app, *installed, *lock_srv, pypi, *lock_root]
    kept = dedupe_lockfile_packages(everything)
    # app/ has node_modules: its lockfile is dropped; srv/web/ and / have none: kept
    assert kept == [*installed, *lock_srv, pypi, *lock_root]


def test_dedupe_keys_on_the_lockfile_directory_not_a_prefix_of_it() -> None:
    pkgs = [
        _installed("app/node_modules/lodash/package.json", "lodash", "4.17.15"),
        _from_lock("app2/package-lock.json", "lodash", "4.17.15"),
        _from_lock("package-lock.json", "lodash", "4.17.15"),
    ]
    assert dedupe_lockfile_packages(pkgs) == pkgs
    root_installed = [_installed("node_modules/lodash/package.json", "lodash", "4.17.15")]
    assert dedupe_lockfile_packages([*pkgs, *root_installed]) == [*pkgs[:2], *root_installed]
