"""Differential tests: every scheme against its ecosystem's own implementation.

Each reference reads all pairs in one process (libdpkg through a tiny C harness,
rpm's embedded Lua, Maven's ComparableVersion through a tiny Java harness, the
npm ``semver`` package through node, ``packaging`` in-process). Two corpora per
scheme: the projects' public test vectors (tests/data/versions) and at least
10,000 pairs generated from a Hypothesis-drawn random source. Agreement must be
total, on validity as well as on order; the rare deliberate differences are
filtered explicitly and named below.

Each test skips with the reason when its reference is not installed. CI needs:
``dpkg-dev``/``libdpkg-dev`` + ``gcc`` + ``pkg-config``, ``rpm``,
``libmaven3-core-java`` + a JDK (``default-jdk-headless``), ``nodejs`` + ``npm``.
"""

from __future__ import annotations

import importlib.util
import os
import random
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from types import ModuleType

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from packaging.version import InvalidVersion as PackagingInvalid
from packaging.version import Version as PackagingVersion

from customhouse.versions import InvalidVersion, get_scheme

pytestmark = pytest.mark.integration

TESTS = Path(__file__).resolve().parents[1]
DATA = TESTS / "data" / "versions"
HARNESS = DATA / "reference"
MAVEN_JAR = Path("/usr/share/java/maven-artifact-3.x.jar")
MIN_PAIRS = 10_000


def _load(name: str, path: Path) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


strategies = _load("_versions_strategies", TESTS / "unit" / "versions" / "strategies.py")
vectors = _load("_versions_vectors", TESTS / "unit" / "versions" / "vectors.py")

Reference = Callable[[list[tuple[str, str]]], list[str]]


def ours(scheme: str, pairs: Iterable[tuple[str, str]]) -> list[str]:
    s = get_scheme(scheme)
    out = []
    for a, b in pairs:
        try:
            out.append("<=>"[s.compare(a, b) + 1])
        except InvalidVersion:
            out.append("!")
    return out


def assert_agree(scheme: str, pairs: list[tuple[str, str]], reference: Reference) -> None:
    theirs = reference(pairs)
    assert len(theirs) == len(pairs), "the reference answered a different number of pairs"
    mine = ours(scheme, pairs)
    diffs = [(a, b, m, t) for (a, b), m, t in zip(pairs, mine, theirs, strict=True) if m != t]
    compared = sum(1 for t in theirs if t != "!")
    assert not diffs, (
        f"{scheme}: {len(diffs)} of {len(pairs)} pairs disagree with the reference "
        f"(ours, theirs): {diffs[:15]}"
    )
    assert compared > 0


def _run(cmd: list[str], pairs: list[tuple[str, str]]) -> list[str]:
    data = "".join(f"{a}\t{b}\n" for a, b in pairs)
    proc = subprocess.run(cmd, input=data, capture_output=True, text=True, timeout=120, check=True)
    return [line for line in proc.stdout.split("\n") if line]


def _generated(scheme: str, rng: random.Random, minimum: int = MIN_PAIRS) -> list[tuple[str, str]]:
    """At least ``minimum`` pairs that the scheme accepts, plus the rejected ones drawn on the way."""
    s = get_scheme(scheme)
    out: list[tuple[str, str]] = []
    valid = 0
    while valid < minimum:
        for a, b in strategies.pairs(scheme, rng, 2_000):
            out.append((a, b))
            try:
                s.parse(a), s.parse(b)
                valid += 1
            except InvalidVersion:
                pass
    return out


def _differential(scheme: str, reference: Reference) -> None:
    @settings(
        max_examples=2,
        database=None,
        deadline=None,
        phases=[Phase.generate],
        suppress_health_check=list(HealthCheck),
    )
    @given(st.integers(min_value=0, max_value=2**64 - 1))
    def run(seed: int) -> None:
        # Hypothesis draws the seed; the generators expand it into thousands of pairs
        assert_agree(scheme, _generated(scheme, random.Random(seed), MIN_PAIRS // 2), reference)

    run()


# --- references ------------------------------------------------------------


@pytest.fixture(scope="module")
def libdpkg_cmp(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    cc, pkg_config = shutil.which("cc"), shutil.which("pkg-config")
    if not cc or not pkg_config:
        pytest.skip("needs a C compiler and pkg-config to build the libdpkg harness")
    flags = subprocess.run(
        [pkg_config, "--cflags", "--libs", "libdpkg"], capture_output=True, text=True
    )
    if flags.returncode != 0:
        pytest.skip("libdpkg is not installed (Debian package libdpkg-dev)")
    exe = tmp_path_factory.mktemp("dpkg") / "dpkgcmp"
    subprocess.run(
        [cc, "-O1", "-o", str(exe), str(HARNESS / "dpkgcmp.c"), *flags.stdout.split()], check=True
    )
    return lambda pairs: _run([str(exe)], pairs)


@pytest.fixture(scope="module")
def dpkg_cli() -> Reference:
    if not shutil.which("dpkg"):
        pytest.skip("dpkg is not installed")
    return lambda pairs: [_dpkg_cli_one(a, b) for a, b in pairs]


def _dpkg_cli_one(a: str, b: str) -> str:
    def ok(v: str) -> bool:
        # dpkg exits 0 but warns about some bad versions: a warning counts as a rejection
        p = subprocess.run(
            ["dpkg", "--compare-versions", "--", v, "eq", v], capture_output=True, text=True
        )
        return p.returncode == 0 and not p.stderr

    if not (ok(a) and ok(b)):
        return "!"
    if subprocess.run(["dpkg", "--compare-versions", "--", a, "lt", b]).returncode == 0:
        return "<"
    if subprocess.run(["dpkg", "--compare-versions", "--", a, "eq", b]).returncode == 0:
        return "="
    return ">"


@pytest.fixture(scope="module")
def rpm_cmp(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    rpm = shutil.which("rpm")
    if not rpm:
        pytest.skip("rpm is not installed (Debian package rpm)")
    tmp = tmp_path_factory.mktemp("rpm")

    def ref(pairs: list[tuple[str, str]]) -> list[str]:
        f = tmp / "pairs.tsv"
        f.write_text("".join(f"{a}\t{b}\n" for a, b in pairs), encoding="utf-8")
        lua = HARNESS / "rpmcmp.lua"
        return _run([rpm, "--define", f"_pairs {f}", "--eval", f"%{{lua: dofile('{lua}')}}"], [])

    return ref


@pytest.fixture(scope="module")
def maven_cmp(tmp_path_factory: pytest.TempPathFactory) -> Reference:
    java, javac = shutil.which("java"), shutil.which("javac")
    if not java or not javac:
        pytest.skip("needs a JDK (java and javac)")
    if not MAVEN_JAR.is_file():
        pytest.skip(f"{MAVEN_JAR} is absent (Debian package libmaven3-core-java)")
    out = tmp_path_factory.mktemp("maven")
    subprocess.run(
        [javac, "-d", str(out), "-cp", str(MAVEN_JAR), str(HARNESS / "MavenCmp.java")], check=True
    )
    cp = f"{out}{os.pathsep}{MAVEN_JAR}"
    return lambda pairs: _run([java, "-cp", cp, "MavenCmp"], pairs)


def _find_npm_semver() -> Path | None:
    roots = [Path("/usr/share/nodejs"), Path("/usr/lib/node_modules/npm/node_modules")]
    npm = shutil.which("npm")
    if npm:
        root = subprocess.run([npm, "root", "-g"], capture_output=True, text=True).stdout.strip()
        if root:
            roots += [Path(root), Path(root) / "npm" / "node_modules"]
    for r in roots:
        if (r / "semver" / "classes" / "semver.js").is_file():
            return r / "semver"
    return None


@pytest.fixture(scope="module")
def npm_semver_cmp() -> Reference:
    node = shutil.which("node")
    if not node:
        pytest.skip("node is not installed")
    pkg = _find_npm_semver()
    if pkg is None:
        pytest.skip("the npm semver package is not installed (it ships with npm)")
    return lambda pairs: _run([node, str(HARNESS / "semvercmp.js"), str(pkg)], pairs)


def packaging_cmp(pairs: list[tuple[str, str]]) -> list[str]:
    out = []
    for a, b in pairs:
        try:
            va, vb = PackagingVersion(a), PackagingVersion(b)
        except PackagingInvalid:
            out.append("!")
            continue
        out.append("<" if va < vb else ">" if va > vb else "=")
    return out


# --- public vectors through the references ---------------------------------


def _vector_pairs(filename: str) -> list[tuple[str, str]]:
    cases, invalid = vectors.load(DATA / filename)
    pairs = [(a, b) for a, b, _ in cases]
    pairs += [(v, v) for v in invalid if "\n" not in v and "\t" not in v]
    return pairs


def test_dpkg_vectors_agree_with_libdpkg(libdpkg_cmp: Reference) -> None:
    assert_agree("dpkg", _vector_pairs("dpkg-version.data"), libdpkg_cmp)


def test_dpkg_vectors_agree_with_dpkg_compare_versions(dpkg_cli: Reference) -> None:
    assert_agree("dpkg", _vector_pairs("dpkg-version.data"), dpkg_cli)


def test_dpkg_sample_agrees_with_dpkg_compare_versions(dpkg_cli: Reference) -> None:
    # the CLI costs a few processes per pair: a sample confirms the libdpkg harness is the CLI's logic
    pairs = strategies.pairs("dpkg", random.Random(4), 150)
    assert_agree("dpkg", pairs, dpkg_cli)


def test_rpm_vectors_agree_with_rpm(rpm_cmp: Reference) -> None:
    assert_agree("rpm", _vector_pairs("rpm-vercmp.data"), rpm_cmp)


def test_maven_vectors_agree_with_comparable_version(maven_cmp: Reference) -> None:
    assert_agree("maven", _vector_pairs("maven-comparable.data"), maven_cmp)


def test_semver_vectors_agree_with_npm_semver(npm_semver_cmp: Reference) -> None:
    assert_agree("semver", _vector_pairs("semver-comparisons.data"), npm_semver_cmp)


def test_pep440_vectors_agree_with_packaging() -> None:
    assert_agree("pep440", _vector_pairs("pep440-order.data"), packaging_cmp)


# --- generated pairs ---------------------------------------------------------


def test_dpkg_generated_pairs_agree_with_libdpkg(libdpkg_cmp: Reference) -> None:
    _differential("dpkg", libdpkg_cmp)


def test_rpm_generated_pairs_agree_with_rpm(rpm_cmp: Reference) -> None:
    _differential("rpm", rpm_cmp)


def test_maven_generated_pairs_agree_with_comparable_version(maven_cmp: Reference) -> None:
    _differential("maven", maven_cmp)


def test_semver_generated_pairs_agree_with_npm_semver(npm_semver_cmp: Reference) -> None:
    _differential("semver", npm_semver_cmp)


def test_pep440_generated_pairs_agree_with_packaging() -> None:
    _differential("pep440", packaging_cmp)
