"""The Go binary cataloger on real Go binaries (tests/data/catalog/gobin/SOURCES.md).

Two sources of real binaries:

- slimmed copies of released binaries (esbuild, Go 1.16/1.17: the pointer-based
  build info, 8- and 4-byte pointers, little- and big-endian; and a Go 1.19 s390x
  build: the inline format in a big-endian ELF), always available;
- programs built here with the Go toolchain (Debian's ``golang-go``), fully offline:
  a file:// module proxy written by the test serves the dependencies, and a local
  directory replacement gives one more. ``go version -m`` is the oracle. Skipped when
  ``go`` is not installed.

Garbled build info is made by corrupting the bytes of those real binaries.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import struct
import subprocess
import sys
import zipfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from customhouse.catalog.gobin import (
    GoBinaryCataloger,
    _ldflags_version,
    read_build_info,
    stdlib_version,
)
from customhouse.catalog.interface import FileResult, Package

DATA = Path(__file__).resolve().parents[2] / "data" / "catalog" / "gobin"
CAT = GoBinaryCataloger()
MAGIC = b"\xff Go buildinf:"


def slim(name: str) -> bytes:
    return gzip.decompress((DATA / name).read_bytes())


def by_kind(result: FileResult) -> dict[str, list[Package]]:
    out: dict[str, list[Package]] = {}
    for p in result.packages:
        out.setdefault(p.extra["kind"], []).append(p)
    return out


# `go version -m` (Go 1.19.8) on each slimmed file: toolchain, main package, main module, deps
SLIMMED = [
    (
        "esbuild-0.11.23-linux-amd64.slim.gz",
        "go1.16.3",
        "github.com/evanw/esbuild/cmd/esbuild",
        ("github.com/evanw/esbuild", "(devel)"),
        [("golang.org/x/sys", "v0.0.0-20200501145240-bc7a7d42d5c3")],
    ),
    (
        "esbuild-0.14.8-linux-386.slim.gz",
        "go1.17.5",
        "github.com/evanw/esbuild/cmd/esbuild",
        ("github.com/evanw/esbuild", "(devel)"),
        [("golang.org/x/sys", "v0.0.0-20210908233432-aa78b53d3365")],
    ),
    (
        "esbuild-0.14.8-linux-s390x.slim.gz",
        "go1.17.5",
        "github.com/evanw/esbuild/cmd/esbuild",
        ("github.com/evanw/esbuild", "(devel)"),
        [("golang.org/x/sys", "v0.0.0-20210908233432-aa78b53d3365")],
    ),
    (
        "app-go1.19-linux-s390x.slim.gz",
        "go1.19.8",
        "example.com/app",
        ("example.com/app", "(devel)"),
        [],
    ),
]


@pytest.mark.parametrize(("name", "go", "main_pkg", "main", "deps"), SLIMMED)
def test_released_binaries_build_info_matches_go_version_m(
    name: str, go: str, main_pkg: str, main: tuple[str, str], deps: list[tuple[str, str]]
) -> None:
    data = slim(name)
    info = read_build_info(data)
    assert info is not None
    assert info.go_version == go
    assert info.path == main_pkg
    assert info.main is not None and (info.main.path, info.main.version) == main
    assert [(d.path, d.version) for d in info.deps] == deps

    result = CAT.parse("usr/local/bin/tool", data)
    assert result.warnings == []
    kinds = by_kind(result)
    (std,) = kinds["stdlib"]
    assert (std.name, std.version) == ("stdlib", go.removeprefix("go"))
    assert std.purl == f"pkg:golang/stdlib@{go.removeprefix('go')}"
    (m,) = kinds["main"]
    assert (m.name, m.version, m.extra["devel"]) == (*main, "true")
    assert m.purl == f"pkg:golang/{main[0]}@%28devel%29"
    assert m.extra["main_package"] == main_pkg
    assert [(p.name, p.version) for p in kinds.get("dep", [])] == deps
    for p in result.packages:
        assert p.ecosystem == "golang" and p.path == "usr/local/bin/tool"
        assert p.extra["go_version"] == go
    for p in kinds.get("dep", []):
        assert p.purl == f"pkg:golang/{p.name}@{p.version}"


def test_inline_format_reads_build_settings_of_a_big_endian_binary() -> None:
    result = CAT.parse("app", slim("app-go1.19-linux-s390x.slim.gz"))
    (m,) = by_kind(result)["main"]
    assert m.arch == "s390x"
    assert m.extra["build:-trimpath"] == "true"
    assert m.extra["build:CGO_ENABLED"] == "0"
    assert m.extra["build:GOOS"] == "linux"


# --- corruption of real binaries ------------------------------------------------------


def _header_at(data: bytes) -> int:
    at = data.find(MAGIC)
    assert at >= 0
    return at


def _patch(data: bytes, at: int, new: bytes) -> bytes:
    return data[:at] + new + data[at + len(new) :]


def _pointer(data: bytes, k: int) -> tuple[int, str]:
    """(file offset of the k-th build info pointer, its struct format) in an old-format binary."""
    at = _header_at(data)
    ptr, flags = data[at + 14], data[at + 15]
    return at + 16 + k * ptr, (">" if flags & 1 else "<") + ("Q" if ptr == 8 else "I")


def _string_header(data: bytes, k: int) -> tuple[int, str]:
    """(file offset of the length word of the k-th Go string header, format), amd64 esbuild."""
    off, fmt = _pointer(data, k)
    (vaddr,) = struct.unpack_from(fmt, data, off)
    # esbuild 0.11.23 amd64: .data/.noptrdata are loaded at file offset + 0x400000
    hdr = vaddr - 0x400000
    return hdr + 8, fmt


def _corrupt_new_truncated(data: bytes) -> bytes:
    return data[: _header_at(data) + 34]


def _corrupt_new_huge_length(data: bytes) -> bytes:
    return _patch(data, _header_at(data) + 32, b"\xff\xff\xff\xff\x0f")


def _corrupt_new_endless_varint(data: bytes) -> bytes:
    return _patch(data, _header_at(data) + 32, b"\xff" * 12)


def _corrupt_pointer_size(data: bytes) -> bytes:
    return _patch(data, _header_at(data) + 14, b"\x03")


def _corrupt_new_version_text(data: bytes) -> bytes:
    at = _header_at(data) + 33  # after the one-byte length of "go1.19.8"
    return _patch(data, at, b"\x00\x01\x02\x03")


def _corrupt_new_version_utf8(data: bytes) -> bytes:
    return _patch(data, _header_at(data) + 33, b"go\xff\xfe")


def _corrupt_magic_in_section(data: bytes) -> bytes:
    return _patch(data, _header_at(data), b"\x00 Go")


def _corrupt_old_pointer(data: bytes) -> bytes:
    off, fmt = _pointer(data, 0)
    return _patch(data, off, struct.pack(fmt, 0x7FFF_FFFF_0000 if fmt[1] == "Q" else 0x7FFF_0000))


def _corrupt_old_modinfo_pointer(data: bytes) -> bytes:
    off, fmt = _pointer(data, 1)
    return _patch(data, off, struct.pack(fmt, 8))


def _corrupt_old_string_length(data: bytes) -> bytes:
    off, fmt = _string_header(data, 1)
    return _patch(data, off, struct.pack(fmt, 1 << 40))


def _corrupt_elf_class(data: bytes) -> bytes:
    return _patch(data, 4, b"\x07")


def _corrupt_program_headers(data: bytes) -> bytes:
    return _patch(data, 0x20, struct.pack("<Q", len(data) - 64))  # e_phoff: table runs off the end


GARBLED: list[tuple[str, Callable[[bytes], bytes], str]] = [
    ("app-go1.19-linux-s390x.slim.gz", _corrupt_new_truncated, "runs past the data"),
    ("app-go1.19-linux-s390x.slim.gz", _corrupt_new_huge_length, "runs past the data"),
    ("app-go1.19-linux-s390x.slim.gz", _corrupt_new_endless_varint, "varint"),
    ("app-go1.19-linux-s390x.slim.gz", _corrupt_pointer_size, "pointer size 3"),
    ("app-go1.19-linux-s390x.slim.gz", _corrupt_new_version_text, "is not a Go version"),
    ("app-go1.19-linux-s390x.slim.gz", _corrupt_new_version_utf8, "not UTF-8"),
    ("app-go1.19-linux-s390x.slim.gz", _corrupt_magic_in_section, "does not start with"),
    ("esbuild-0.11.23-linux-amd64.slim.gz", _corrupt_old_pointer, "not in the file's data"),
    ("esbuild-0.14.8-linux-386.slim.gz", _corrupt_old_pointer, "not in the file's data"),
    ("esbuild-0.14.8-linux-s390x.slim.gz", _corrupt_old_pointer, "not in the file's data"),
    ("esbuild-0.14.8-linux-s390x.slim.gz", _corrupt_old_modinfo_pointer, "not in the file's data"),
    ("esbuild-0.11.23-linux-amd64.slim.gz", _corrupt_old_string_length, "module info claims"),
    ("esbuild-0.11.23-linux-amd64.slim.gz", _corrupt_elf_class, "unknown ELF class"),
    ("esbuild-0.11.23-linux-amd64.slim.gz", _corrupt_program_headers, "program header table"),
]


@pytest.mark.parametrize(
    ("name", "corrupt", "problem"),
    GARBLED,
    ids=[f"{n.split('.slim')[0]}-{c.__name__.removeprefix('_corrupt_')}" for n, c, _ in GARBLED],
)
def test_garbled_build_info_is_a_warning_naming_path_and_problem(
    name: str, corrupt: Callable[[bytes], bytes], problem: str
) -> None:
    data = corrupt(slim(name))
    result = CAT.parse("opt/app/bin/server", data)
    assert result.packages == []
    assert len(result.warnings) == 1
    warning = result.warnings[0]
    assert warning.startswith("opt/app/bin/server: Go build info is garbled: ")
    assert problem in warning


def _read_uvarint(data: bytes, at: int) -> tuple[int, int]:
    value = shift = 0
    while True:
        b = data[at]
        at += 1
        value |= (b & 0x7F) << shift
        if b < 0x80:
            return value, at
        shift += 7


def test_module_info_without_sentinels_keeps_the_toolchain() -> None:
    data = slim("app-go1.19-linux-s390x.slim.gz")
    vlen, at = _read_uvarint(data, _header_at(data) + 32)
    mlen, at = _read_uvarint(data, at + vlen)
    # clobber the 16-byte sentinel that ends the module info (and the '\n' before it)
    garbled = _patch(data, at + mlen - 17, b"X" * 17)
    result = CAT.parse("app", garbled)
    assert [p.name for p in result.packages] == ["stdlib"]
    assert result.warnings == [
        "app: Go build info: module info lacks its sentinel markers; modules not read"
    ]


def test_header_is_found_in_the_data_segment_without_section_headers() -> None:
    data = slim("app-go1.19-linux-s390x.slim.gz")
    # e_shoff, e_shnum = 0, as `sstrip` leaves a binary (big-endian ELF64)
    stripped = _patch(_patch(data, 0x28, b"\0" * 8), 0x3C, b"\0\0")
    info = read_build_info(stripped)
    assert info is not None and info.go_version == "go1.19.8"
    assert info.main is not None and info.main.path == "example.com/app"


@pytest.mark.parametrize(
    ("label", "content"),
    [
        ("python interpreter (ELF, not Go)", Path(sys.executable).resolve().read_bytes()),
        ("shell script", b'#!/bin/sh\nexec /usr/bin/env python3 "$@"\n' * 40),
        ("ELF magic alone", b"\x7fELF"),
        ("truncated ELF header", b"\x7fELF\x02\x01\x01" + b"\0" * 30),
        ("empty", b""),
    ],
)
def test_files_that_are_not_go_binaries_yield_nothing(label: str, content: bytes) -> None:
    assert CAT.parse("usr/bin/x", content) == FileResult(), label


@pytest.mark.parametrize(
    ("mode", "size", "wanted"),
    [
        (0o755, 2_000_000, True),
        (0o100, 4096, True),
        (0o001, 4096, True),
        (0o644, 2_000_000, False),  # not executable
        (0o755, 512, False),  # too small to be any Go binary
        (0o755, 600 * 1024 * 1024, False),  # larger than max_bytes
    ],
)
def test_match_wants_executables_of_plausible_size(mode: int, size: int, wanted: bool) -> None:
    assert CAT.match("anywhere/bin/tool", mode, size) is wanted


@pytest.mark.parametrize(
    ("ldflags", "version"),
    [
        # trivy 0.59.1's, as its binary records it
        (
            "-s -w -extldflags '-static' -X github.com/aquasecurity/trivy/pkg/version/app.ver=0.59.1",
            "0.59.1",
        ),
        ("-X main.version=v1.18.1 -X main.gitCommit=5b960e6", "v1.18.1"),
        ("-X 'main.Version=2.0.0-rc.1'", "2.0.0-rc.1"),
        ("-X main.version=dev", ""),
        ("-X main.commit=1.2.3", ""),
        ("-s -w", ""),
    ],
)
def test_ldflags_version_hint(ldflags: str, version: str) -> None:
    assert _ldflags_version(ldflags) == version


@pytest.mark.parametrize(
    ("go", "std"),
    [
        ("go1.21.5", "1.21.5"),
        ("go1.22.0 X:boringcrypto", "1.22.0"),
        ("go1.20rc1", "1.20rc1"),
        ("devel go1.23-abcdef Tue Jan 1", "devel go1.23-abcdef Tue Jan 1"),
    ],
)
def test_stdlib_version_drops_the_go_prefix_and_experiments(go: str, std: str) -> None:
    assert stdlib_version(go) == std


# --- programs built here --------------------------------------------------------------

GO = shutil.which("go")

# module path -> (version, go.mod body, {file: source}); served by a file:// proxy
PROXY_MODULES = {
    "example.com/greet": (
        "v1.2.3",
        {"greet.go": 'package greet\n\nfunc Hello() string { return "hello" }\n'},
    ),
    # a fork that keeps the original module path, as forks do
    "example.com/old": (
        "v0.1.0",
        {"old.go": 'package old\n\nfunc Name() string { return "old" }\n'},
    ),
}
FORK = (
    "example.com/fork",
    "v1.0.1",
    "example.com/old",
)  # replacement module, its version, its go.mod path
APP_GO_MOD = """module example.com/app

go 1.19

require (
\texample.com/greet v1.2.3
\texample.com/local v0.4.0
\texample.com/old v0.1.0
)

replace example.com/old => example.com/fork v1.0.1

replace example.com/local => ../local
"""
APP_MAIN = """package main

import (
\t"fmt"

\t"example.com/greet"
\t"example.com/local"
\t"example.com/old"
)

var version = "dev"

func main() { fmt.Println(greet.Hello(), local.Name(), old.Name(), version) }
"""


def _proxy_module(
    proxy: Path, path: str, version: str, mod_path: str, files: dict[str, str]
) -> None:
    d = proxy / path / "@v"
    d.mkdir(parents=True, exist_ok=True)
    go_mod = f"module {mod_path}\n\ngo 1.19\n"
    (d / "list").write_text(version + "\n")
    (d / f"{version}.info").write_text(json.dumps({"Version": version}))
    (d / f"{version}.mod").write_text(go_mod)
    with zipfile.ZipFile(d / f"{version}.zip", "w") as z:
        z.writestr(f"{path}@{version}/go.mod", go_mod)
        for name, src in files.items():
            z.writestr(f"{path}@{version}/{name}", src)


@dataclass(frozen=True)
class Built:
    binary: Path
    oracle: str  # `go version -m` output


def build_go_program(root: Path, *, trimpath: bool = False, ldflags: str = "") -> Built:
    """Build the test program offline; deps come from a file:// proxy and a local dir."""
    assert GO is not None
    proxy = root / "proxy"
    for path, (version, files) in PROXY_MODULES.items():
        _proxy_module(proxy, path, version, path, files)
    fork_path, fork_version, fork_mod = FORK
    _proxy_module(
        proxy,
        fork_path,
        fork_version,
        fork_mod,
        {"old.go": 'package old\n\nfunc Name() string { return "fork" }\n'},
    )
    local = root / "local"
    local.mkdir(exist_ok=True)
    (local / "go.mod").write_text("module example.com/local\n\ngo 1.19\n")
    (local / "local.go").write_text('package local\n\nfunc Name() string { return "local" }\n')
    app = root / "app"
    app.mkdir(exist_ok=True)
    (app / "go.mod").write_text(APP_GO_MOD)
    (app / "main.go").write_text(APP_MAIN)
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": str(root),
        "GOPATH": str(root / "gopath"),
        "GOCACHE": str(root.parent / "gocache"),
        "GOPROXY": proxy.as_uri(),
        "GOSUMDB": "off",
        "GOFLAGS": "-mod=mod",
        "GOTOOLCHAIN": "local",
    }
    out = app / "server"
    cmd = [GO, "build", "-o", str(out)]
    if trimpath:
        cmd.append("-trimpath")
    if ldflags:
        cmd += ["-ldflags", ldflags]
    subprocess.run([*cmd, "."], cwd=app, env=env, check=True, capture_output=True, timeout=300)
    oracle = subprocess.run(
        [GO, "version", "-m", str(out)],
        env=env,
        check=True,
        capture_output=True,
        text=True,
        timeout=60,
    ).stdout
    return Built(out, oracle)


def _oracle_modules(oracle: str) -> tuple[str, list[list[str]]]:
    lines = oracle.splitlines()
    go_version = lines[0].split(": ", 1)[1]
    rows = [[f for f in line.strip().split("\t") if f] for line in lines[1:] if line.strip()]
    return go_version, rows


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    """The test program, built once. (-trimpath is covered by the s390x slimmed binary:
    here it would rebuild the standard library, which takes a minute.)"""
    if GO is None:
        pytest.skip("the Go toolchain is not installed (Debian package golang-go)")
    return build_go_program(
        tmp_path_factory.mktemp("gobuild"), ldflags="-s -w -X main.version=1.4.2"
    )


def test_built_program_matches_go_version_m(built: Built) -> None:
    info = read_build_info(built.binary.read_bytes())
    assert info is not None
    go_version, rows = _oracle_modules(built.oracle)
    assert info.go_version == go_version
    ours: list[list[str]] = [["path", info.path]]
    assert info.main is not None
    ours.append([x for x in ["mod", info.main.path, info.main.version, info.main.sum] if x])
    for d in info.deps:
        ours.append([x for x in ["dep", d.path, d.version, d.sum] if x])
        if d.replace is not None:
            ours.append([x for x in ["=>", d.replace.path, d.replace.version, d.replace.sum] if x])
    ours += [["build", f"{k}={v}"] for k, v in info.settings]
    # the oracle quotes settings values with spaces; compare those unquoted
    oracle_rows = [
        ["build", r[1].replace('="', "=", 1)[:-1]] if r[0] == "build" and r[1].endswith('"') else r
        for r in rows
    ]
    assert ours == oracle_rows
    assert oracle_rows[oracle_rows.index(["dep", "example.com/old", "v0.1.0"]) + 1][:3] == [
        "=>",
        "example.com/fork",
        "v1.0.1",
    ]


def test_built_program_packages_resolve_replacements(built: Built) -> None:
    b = built
    result = CAT.parse("srv/server", b.binary.read_bytes())
    assert result.warnings == []
    go_version, _ = _oracle_modules(b.oracle)
    kinds = by_kind(result)
    (std,) = kinds["stdlib"]
    assert std.purl == f"pkg:golang/stdlib@{go_version.removeprefix('go').split()[0]}"
    (main,) = kinds["main"]
    assert (main.name, main.version) == ("example.com/app", "(devel)")
    assert main.extra["build:-ldflags"] == "-s -w -X main.version=1.4.2"
    assert main.extra["ldflags_version"] == "1.4.2"  # a hint; the version stays "(devel)"
    deps = {p.name: p for p in kinds["dep"]}
    assert sorted(deps) == ["example.com/fork", "example.com/greet", "example.com/local"]
    assert deps["example.com/greet"].version == "v1.2.3"
    assert deps["example.com/greet"].purl == "pkg:golang/example.com/greet@v1.2.3"
    assert deps["example.com/greet"].extra["sum"].startswith("h1:")
    fork = deps["example.com/fork"]  # the replacement module wins
    assert (fork.version, fork.purl) == ("v1.0.1", "pkg:golang/example.com/fork@v1.0.1")
    assert fork.extra["replaced"] == "example.com/old@v0.1.0"
    local = deps["example.com/local"]  # a directory has no version: the required one stays
    assert (local.version, local.extra["replaced_by_directory"]) == ("v0.4.0", "../local")
    assert {p.arch for p in result.packages} == {"amd64"}
