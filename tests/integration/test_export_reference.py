"""`customhouse export` against a reference unpacking, on real images.

For every image, the flattened tar written by ``customhouse export`` (run through the
CLI) must describe exactly the tree ``umoci unpack`` produces for the same image: the
same paths, types, permission bits, owners, symlink targets and file contents.
Archives and the go-containerregistry fixtures reach umoci through ``skopeo copy`` to
an OCI layout, so the reference never shares code with customhouse.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tarfile
from dataclasses import dataclass
from pathlib import Path

import imagebuild as ib
import pytest
from imagebuild import ALPINE_VERSIONS, ImageFactory

pytestmark = pytest.mark.integration

FIXTURES = ("fixtures", "images")
REF_NAME = "org.opencontainers.image.ref.name"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
INDEX_TYPES = (
    "application/vnd.oci.image.index.v1+json",
    "application/vnd.docker.distribution.manifest.list.v2+json",
)


@dataclass(frozen=True)
class Case:
    id: str
    kind: str  # built-layout | built-archive | fixture-layout | fixture-tarball
    name: str  # image name (built) or fixture file/dir name
    ref: str | None = None  # layout ref, archive transport, or tarball entry index

    def __str__(self) -> str:
        return self.id


def _built_cases() -> list[Case]:
    cases = []
    for version in ALPINE_VERSIONS:
        name = f"alpine-{version}"
        cases.append(Case(f"{name}-oci", "built-layout", name))
        cases.append(Case(f"{name}-docker-archive", "built-archive", name, "docker-archive"))
    cases.append(Case("alpine-3.20.3-oci-archive", "built-archive", "alpine-3.20.3", "oci-archive"))
    for name in ("debian", "multilayer"):
        cases.append(Case(f"{name}-oci", "built-layout", name))
        cases.append(Case(f"{name}-docker-archive", "built-archive", name, "docker-archive"))
    return cases


# Every image in ../shared/fixtures/images (see its README.md); test_fixture_tables_cover_*
# fails if a fixture is added without being listed here or in NOT_IMAGES.
FIXTURE_LAYOUTS = {
    "test_index": ("1", "2", "3", "4"),
    "test_gc_index": ("1", "3", "4"),
    "test_index_one_image": (None,),
}
FIXTURE_TARBALLS = {
    "test_image_1.tar": 1,
    "test_image_2.tar": 1,
    "test_load_manifest.tar": 1,
    "test_bundle.tar": 2,
    "test_link.tar": 2,
    "hello-world-v25.tar": 1,
}
NOT_IMAGES = [
    ("docker-archive", "tarball/content.tar", "no manifest.json"),
    ("docker-archive", "tarball/no_manifest.tar", "no manifest.json"),
    ("docker-archive", "tarball/null_manifest.tar", "manifest.json"),
    ("oci", "layout/test_gc_image_unknown_mediatype", "missing"),
    ("oci", "layout/test_index_media_type", "not a container image"),
]


def _fixture_cases() -> list[Case]:
    cases = []
    for layout, refs in FIXTURE_LAYOUTS.items():
        for ref in refs:
            suffix = f":{ref}" if ref else ""
            cases.append(Case(f"ggcr-{layout}{suffix}", "fixture-layout", layout, ref))
    for tarball, count in FIXTURE_TARBALLS.items():
        for n in range(count):
            cases.append(Case(f"ggcr-{tarball}:@{n}", "fixture-tarball", tarball, str(n)))
    return cases


# --------------------------------------------------------------------------- running


def run_export(source: str, out: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "customhouse", "export", source, "-o", str(out)],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )


def export_tree(source: str, out: Path) -> ib.FsTree:
    proc = run_export(source, out)
    assert proc.returncode == 0, f"export {source} failed (exit {proc.returncode}):\n{proc.stderr}"
    assert "Traceback" not in proc.stderr, proc.stderr
    tree, problems = ib.tree_of_tar(out)
    assert not problems, f"export of {source} is not a clean flattened tar:\n" + "\n".join(problems)
    return tree


def _normalized_fixture_layout(src: Path, ref: str | None, dst: Path) -> str:
    """Copy a fixture layout with an index.json naming the chosen manifest plainly.

    skopeo 1.9 cannot open some hand-made go-containerregistry index entries (a generic
    descriptor media type, a Docker manifest list inside an OCI layout). The reference
    therefore starts from the image manifest the ref designates (nested indexes resolved
    to their linux/amd64 or only entry), listed as a plain image manifest.
    """
    shutil.copytree(src, dst)
    index = json.loads((src / "index.json").read_text())
    descs = index["manifests"]
    chosen = (
        [d for d in descs if (d.get("annotations") or {}).get(REF_NAME) == ref] if ref else descs
    )
    assert len(chosen) == 1, f"{src}: ref {ref!r} matches {len(chosen)} manifests"
    desc = chosen[0]
    doc = json.loads(ib._blob(src, desc["digest"]).read_bytes())
    while doc.get("mediaType") in INDEX_TYPES or "manifests" in doc:
        entries = doc["manifests"]
        amd64 = [
            e for e in entries if (e.get("platform") or {}).get("architecture") in ("amd64", None)
        ]
        desc = (amd64 or entries)[0]
        doc = json.loads(ib._blob(src, desc["digest"]).read_bytes())
    tag = ref or "latest"
    plain = {
        "mediaType": OCI_MANIFEST,  # skopeo 1.9 opens only this type from an OCI index
        "digest": desc["digest"],
        "size": desc["size"],
        "annotations": {REF_NAME: tag},
    }
    (dst / "index.json").write_text(json.dumps({"schemaVersion": 2, "manifests": [plain]}))
    return tag


def _reference_from_skopeo(source: str, work: Path) -> ib.FsTree:
    ib.to_oci_layout(source, work / "ref-layout", "ref")
    return ib.tree_of_rootfs(ib.umoci_unpack(work / "ref-layout", "ref", work / "ref-bundle"))


def sources_for(case: Case, factory: ImageFactory, shared: Path | None, work: Path) -> str:
    """The customhouse source string for a case (building the image if needed)."""
    if shared is not None:
        factory.shared = shared
    if case.kind == "built-layout":
        layout, tag = factory.layout(case.name)
        return f"oci:{layout}:{tag}"
    if case.kind == "built-archive":
        assert case.ref is not None
        return f"{case.ref}:{factory.archive(case.name, case.ref)}"
    assert shared is not None
    base = shared.joinpath(*FIXTURES)
    if case.kind == "fixture-layout":
        return f"oci:{base / 'layout' / case.name}" + (f":{case.ref}" if case.ref else "")
    return f"docker-archive:{base / 'tarball' / case.name}:@{case.ref}"


def reference_tree(
    case: Case, source: str, factory: ImageFactory, shared: Path | None, work: Path
) -> ib.FsTree:
    if case.kind == "built-layout":
        layout, tag = factory.layout(case.name)
        return ib.tree_of_rootfs(ib.umoci_unpack(layout, tag, work / "ref-bundle"))
    if case.kind == "fixture-layout":
        assert shared is not None
        src = shared.joinpath(*FIXTURES, "layout", case.name)
        tag = _normalized_fixture_layout(src, case.ref, work / "fixture-copy")
        return _reference_from_skopeo(f"oci:{work / 'fixture-copy'}:{tag}", work)
    return _reference_from_skopeo(source, work)  # archives: skopeo reads them itself


def _check(case: Case, factory: ImageFactory, shared: Path | None, tmp_path: Path) -> None:
    try:
        source = sources_for(case, factory, shared, tmp_path)
    except ib.BuildUnavailable as e:
        pytest.skip(f"cannot build {case}: {e}")
    got = export_tree(source, tmp_path / "out.tar")
    want = reference_tree(case, source, factory, shared, tmp_path)
    assert want, f"reference unpacking of {source} is empty"
    diffs = ib.diff_trees(got, want)
    assert not diffs, (
        f"export of {source} differs from umoci's unpacking "
        f"({len(got)} vs {len(want)} entries):\n" + "\n".join(diffs)
    )


# --------------------------------------------------------------------------- tests

SHARED_CASES = [c for c in _built_cases() if c.name != "debian"] + _fixture_cases()
DEBIAN_CASES = [c for c in _built_cases() if c.name == "debian"]


@pytest.mark.parametrize("case", SHARED_CASES, ids=str)
def test_export_matches_umoci_unpack(
    case: Case, image_factory: ImageFactory, shared_dir: Path, tmp_path: Path
) -> None:
    _check(case, image_factory, shared_dir, tmp_path)


@pytest.mark.parametrize("case", DEBIAN_CASES, ids=str)
def test_export_of_debian_minbase_matches_umoci_unpack(
    case: Case, image_factory: ImageFactory, tmp_path: Path
) -> None:
    _check(case, image_factory, None, tmp_path)


def test_multilayer_image_really_has_whiteouts_opaque_dirs_and_hardlinks(
    image_factory: ImageFactory, shared_dir: Path
) -> None:
    """Guard the fixture itself: the layers hold what the export test means to exercise."""
    image_factory.shared = shared_dir
    try:
        layout, tag = image_factory.layout("multilayer")
    except ib.BuildUnavailable as e:
        pytest.skip(str(e))
    blobs = ib.layout_layer_blobs(layout, tag)
    assert len(blobs) == 3
    names: list[set[str]] = []
    links: list[set[str]] = []
    for blob in blobs:
        with tarfile.open(blob, "r:*") as tf:
            members = tf.getmembers()
        names.append({ib._tar_path(m.name) for m in members})
        links.append({ib._tar_path(m.name) for m in members if m.islnk()})
    assert "etc/.wh.motd" in names[1]  # umoci's whiteout of a deleted file
    assert "data/link-to-orig" in links[1] or "data/orig" in links[1]
    assert {"data/replaced-dir/.wh..wh..opq", "data/.wh.keep", "etc/.wh.apk"} <= names[2]
    assert {"data/new-link", "data/lower-link"} <= links[2]


@pytest.mark.parametrize(
    ("transport", "relpath", "hint"), NOT_IMAGES, ids=[p for _, p, _ in NOT_IMAGES]
)
def test_export_refuses_non_image_fixture_with_exit_2(
    transport: str, relpath: str, hint: str, shared_dir: Path, tmp_path: Path
) -> None:
    path = shared_dir.joinpath(*FIXTURES, relpath)
    out = tmp_path / "out.tar"
    proc = run_export(f"{transport}:{path}", out)
    assert proc.returncode == 2, f"exit {proc.returncode}:\n{proc.stderr}"
    assert "Traceback" not in proc.stderr
    assert proc.stderr.startswith("customhouse: error: "), proc.stderr
    assert path.name in proc.stderr and hint in proc.stderr, proc.stderr
    assert not out.exists()
    assert not list(tmp_path.iterdir()), "a partial output was left behind"


def test_fixture_tables_cover_every_image_fixture(shared_dir: Path) -> None:
    base = shared_dir.joinpath(*FIXTURES)
    refused = {p for _, p, _ in NOT_IMAGES}
    for layout in sorted(p for p in (base / "layout").iterdir() if p.is_dir()):
        if f"layout/{layout.name}" in refused:
            continue
        index = json.loads((layout / "index.json").read_text())
        refs = tuple(
            (d.get("annotations") or {}).get(REF_NAME) for d in index.get("manifests") or ()
        )
        assert FIXTURE_LAYOUTS.get(layout.name) == refs, f"{layout.name}: refs {refs}"
    for tarball in sorted((base / "tarball").glob("*.tar")):
        if f"tarball/{tarball.name}" in refused:
            continue
        with tarfile.open(tarball) as tf:
            member = tf.extractfile("manifest.json")
            assert member is not None
            entries = json.load(member)
        assert FIXTURE_TARBALLS.get(tarball.name) == len(entries), tarball.name
