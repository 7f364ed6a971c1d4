"""Image sources: real fixtures (go-containerregistry's test data) and images written for the test.

Expected digests are facts about the fixture files (see ``shared/fixtures/images/README.md``),
checked by hand with ``sha256sum``: a legacy ``docker save`` layer is stored
uncompressed, so its blob digest is its diffID.
"""

from __future__ import annotations

import copy
import io
import os
import pickle
import tarfile
from pathlib import Path
from typing import Any

import pytest

from customhouse.errors import CustomhouseError, ImageFormatError, PlatformError, SourceError
from customhouse.oci import media
from customhouse.oci.model import Platform
from customhouse.sources import open_image, parse_source
from customhouse.walk.entry import Kind
from customhouse.walk.layers import Walk
from helpers import run_cli
from helpers.imagewriter import (
    Layer,
    directory,
    file,
    symlink,
    write_docker_archive,
    write_layout,
    write_oci_archive,
)

# fixture facts ------------------------------------------------------------------------------
MANIFEST_1 = "sha256:eebff607b1628d67459b0596643fc07de70d702eccf030f0bc7bb6fc2b278650"
MANIFEST_2 = "sha256:32589985702551b6c56033bb3334432a0a513bf9d6aceda0f67c42b003850720"
NESTED_INDEX = "sha256:05f95b26ed10668b7183c1e2da98610e91372fa9f510046d4ce5812addad86b5"
DOCKER_LIST = "sha256:2b29a2b8dea3af91ea7d0154be1da0c92d55ddd098540930fc8d3db7de377fdb"
CONFIG_1 = "sha256:6e0b05049ed9c17d02e1a55e80d6599dbfcce7f4f4b022e3c673e685789c470e"
CONFIG_2 = "sha256:930705ce23e3b6ed4c08746b6fe880089c864fbaf62482702ae3fdd66b8c7fe9"
CONFIG_3 = "sha256:d4c9adacde69c3d92446e0484cea29493e9fd573cf0c8febfc700d80c46697a4"
GZ_LAYER_1 = "sha256:dc52c6e48a1d51a96047b059f16889bc889c4b4c28f3b36b3f93187f62fc0b2b"
GZ_LAYER_2 = "sha256:321460fa87fd42433950b42d04b7aff249f4ed960d43404a9f699886906cc9d3"
TAR_LAYER_1 = "sha256:8897395fd26dc44ad0e2a834335b33198cb41ac4d98dfddf58eced3853fa7b17"  # foo, bar
TAR_LAYER_2 = "sha256:3610aa5267a210147ba6ca02cdd87610dfc08522de9c5f5015edd8ee14853fd8"  # bat, baz
TAR_LAYER_3 = "sha256:6b617a2706576ed038acdc3aa668cac62010386a5a3d227d83aada32085c9f29"  # test
HELLO_MANIFEST = "sha256:411caf340c828657e915a83ed561a79d2b8150dabad4dc079d881cbfe6f86afe"
HELLO_CONFIG = "sha256:ee301c921b8aadc002973b2e0c3da17d701dcd994b606769a7e6eaa100b81d44"
HELLO_LAYER = "sha256:12660636fe55438cc3ae7424da7ac56e845cdb52493ff9cf949c47a7f57f8b43"
ONE_MANIFEST = "sha256:98ceaf93e482fe91b9bfd6bba07137c098e49ee2d55e69f09fb6c951e75e0e46"
ONE_CONFIG = "sha256:381d958b555884ba59574ab5c066e9f6116b5aec3567675aa13bec63331f0810"
ONE_LAYER = "sha256:492b89b9dd3cda4596f94916d17f6901455fb8bd7f4c5a2a90df8d39c90f48a0"
ONE_DIFF = "sha256:59cd31f50f7442a662d7c31b7a12079ade16892bfb465b33da49918e7d13e747"


@pytest.fixture(scope="module")
def images(shared_dir: Path) -> Path:
    return shared_dir / "fixtures" / "images"


def _summary(source: str, **kw: Any) -> dict[str, Any]:
    with open_image(source, **kw) as img:
        return {
            "transport": img.transport,
            "manifest": str(img.digest),
            "index": str(img.index_digest) if img.index_digest else None,
            "config": str(img.config.digest) if img.config else None,
            "platform": str(img.platform) if img.platform else None,
            "layers": [str(layer.descriptor.digest) for layer in img.layers],
            "diff_ids": [str(layer.diff_id) for layer in img.layers],
            "synthesized": img.synthesized_manifest,
        }


def _files(source: str, **kw: Any) -> dict[str, bytes]:
    """Visible regular files of the image with their content (walk reads every layer to the end)."""
    with open_image(source, **kw) as img:
        return {
            e.path: c.read_all()
            for e, c in Walk(img)
            if e.kind is Kind.FILE and c is not None and e.visible
        }


# --- OCI layout fixtures ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("ref", "manifest", "index", "config", "layer"),
    [
        pytest.param(
            "1",
            MANIFEST_1,
            None,
            CONFIG_1,
            GZ_LAYER_1,
            id="ref1-oci-descriptor",
        ),
        pytest.param("2", MANIFEST_2, None, CONFIG_2, GZ_LAYER_2, id="ref2-descriptor-mediatype"),
        pytest.param(
            "3",
            MANIFEST_1,
            NESTED_INDEX,
            CONFIG_1,
            GZ_LAYER_1,
            id="ref3-nested-index",
        ),
        pytest.param(
            "4",
            MANIFEST_1,
            DOCKER_LIST,
            CONFIG_1,
            GZ_LAYER_1,
            id="ref4-docker-list",
        ),
    ],
)
def test_layout_test_index_ref_name_selection(
    images: Path, ref: str, manifest: str, index: str | None, config: str, layer: str
) -> None:
    got = _summary(f"oci:{images}/layout/test_index:{ref}")
    assert got["transport"] == "oci"
    assert (got["manifest"], got["index"], got["config"]) == (manifest, index, config)
    assert got["layers"] == [layer]
    assert got["platform"] == "linux/amd64"
    assert not got["synthesized"]


def test_layout_test_index_ref2_walks_its_layer(images: Path) -> None:
    assert _files(f"oci:{images}/layout/test_index:2") == {"bat": b"bat\n", "baz": b"baz\n"}


def test_layout_test_index_without_ref_is_ambiguous(images: Path) -> None:
    with pytest.raises(PlatformError, match="holds 4 manifests"):
        _summary(f"oci:{images}/layout/test_index")


def test_layout_unknown_ref_lists_names(images: Path) -> None:
    with pytest.raises(PlatformError, match=r"no manifest named '2' \(names present: 1, 3, 4\)"):
        _summary(f"oci:{images}/layout/test_gc_index:2")


def test_layout_one_image(images: Path) -> None:
    got = _summary(f"oci:{images}/layout/test_index_one_image")
    assert got == {
        "transport": "oci",
        "manifest": ONE_MANIFEST,
        "index": None,
        "config": ONE_CONFIG,
        "platform": "linux/amd64",
        "layers": [ONE_LAYER],
        "diff_ids": [ONE_DIFF],
        "synthesized": False,
    }
    assert _files(f"oci:{images}/layout/test_index_one_image") == {"test": b"test\n"}


# --- docker-archive fixtures ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "ref", "config", "layers"),
    [
        ("test_image_1.tar", None, CONFIG_1, [TAR_LAYER_1]),
        pytest.param("test_image_1.tar", "bazel/v1/tarball:test_image_1", CONFIG_1, [TAR_LAYER_1]),
        ("test_image_2.tar", None, CONFIG_2, [TAR_LAYER_2]),
        ("test_load_manifest.tar", None, CONFIG_1, [TAR_LAYER_1]),
        ("test_bundle.tar", "@0", CONFIG_2, [TAR_LAYER_2]),
        ("test_bundle.tar", "@1", CONFIG_1, [TAR_LAYER_1]),
        ("test_bundle.tar", "test_image_1", CONFIG_1, [TAR_LAYER_1]),
        ("test_bundle.tar", "test_image_2", CONFIG_2, [TAR_LAYER_2]),
        ("test_link.tar", "@0", CONFIG_1, [TAR_LAYER_1]),
        ("test_link.tar", "@1", CONFIG_3, [TAR_LAYER_1, TAR_LAYER_3]),
        pytest.param(
            "test_link.tar", "bazel/v1/tarball:test_image_3", CONFIG_3, [TAR_LAYER_1, TAR_LAYER_3]
        ),
    ],
)
def test_legacy_docker_archive(
    images: Path, name: str, ref: str | None, config: str, layers: list[str]
) -> None:
    source = f"docker-archive:{images}/tarball/{name}" + (f":{ref}" if ref else "")
    got = _summary(source)
    assert got["transport"] == "docker-archive"
    assert got["synthesized"], "legacy archives store no manifest"
    assert got["config"] == config and got["platform"] == "linux/amd64"
    assert got["layers"] == layers and got["diff_ids"] == layers  # stored uncompressed


def test_legacy_docker_archive_files(images: Path) -> None:
    assert _files(f"docker-archive:{images}/tarball/test_image_1.tar") == {
        "foo": b"foo\n",
        "bar": b"bar\n",
    }


def test_docker_archive_symlinked_layer_is_read_through_the_link(images: Path) -> None:
    # b159278…/layer.tar -> ../6e774766…/layer.tar inside test_link.tar
    files = _files(f"docker-archive:{images}/tarball/test_link.tar:@1")
    assert files == {"foo": b"foo\n", "bar": b"bar\n", "test": b"hello\n"}


def test_docker_archive_v25_finds_the_stored_manifest(images: Path) -> None:
    got = _summary(f"docker-archive:{images}/tarball/hello-world-v25.tar")
    assert got["manifest"] == HELLO_MANIFEST and not got["synthesized"]
    assert (got["config"], got["layers"], got["platform"]) == (
        HELLO_CONFIG,
        [HELLO_LAYER],
        "linux/arm64",
    )
    files = _files(f"docker-archive:{images}/tarball/hello-world-v25.tar")
    assert list(files) == ["hello"] and len(files["hello"]) == 9136
    assert files["hello"][:4] == b"\x7fELF"


@pytest.mark.parametrize(
    ("source", "error", "message"),
    [
        ("docker-archive:{t}/test_bundle.tar", SourceError, "archive holds 2 images"),
        ("docker-archive:{t}/test_bundle.tar:@2", SourceError, "@2 is out of range"),
        ("docker-archive:{t}/test_bundle.tar:@x", SourceError, "is not an image index"),
        ("docker-archive:{t}/test_bundle.tar:nope", PlatformError, "no image tagged 'nope'"),
        ("docker-archive:{t}/no_manifest.tar", ImageFormatError, "has no manifest.json"),
        ("docker-archive:{t}/null_manifest.tar", ImageFormatError, "must be a non-empty list"),
        ("docker-archive:{t}/content.tar", ImageFormatError, "not a docker-archive"),
        ("oci-archive:{t}/content.tar", SourceError, "holds no OCI image layout"),
        ("oci:{l}/test_gc_image_unknown_mediatype", SourceError, "is missing from"),
        ("oci:{l}/test_index_media_type", ImageFormatError, "is not a container image"),
        ("oci:{t}/content.tar", SourceError, "is not a directory"),
        ("oci:{l}", SourceError, "is not an OCI image layout"),
        ("docker-archive:{l}", SourceError, "is not a file"),
    ],
)
def test_non_images_refused(images: Path, source: str, error: type, message: str) -> None:
    text = source.format(t=images / "tarball", l=images / "layout")
    with pytest.raises(error, match=message):
        _summary(text)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("docker-archive:{t}/no_manifest.tar", "has no manifest.json"),
        ("docker-archive:{t}/null_manifest.tar", "manifest.json must be a non-empty list"),
        ("oci-archive:{t}/content.tar", "holds no OCI image layout"),
        ("oci:{l}/test_index_media_type", "it is an OCI artifact"),
        ("oci:{l}/test_gc_image_unknown_mediatype", "is missing"),
    ],
)
def test_non_images_exit_2_through_cli(
    images: Path, tmp_path: Path, source: str, message: str
) -> None:
    text = source.format(t=images / "tarball", l=images / "layout")
    for args in (["inspect", text], ["export", text, "-o", "out.tar"]):
        result = run_cli(*args, cwd=tmp_path)
        assert result.returncode == 2, result.stderr
        assert message in result.stderr and "Traceback" not in result.stderr
        assert not (tmp_path / "out.tar").exists()


# --- sources written for the test ------------------------------------------------------------------

LAYERS = [
    Layer([directory("etc"), file("etc/os-release", b"ID=test\n")]),
    Layer(
        [file("etc/motd", b"hi\n"), symlink("etc/localtime", "/usr/share/zoneinfo/UTC")],
        compression="zstd",
    ),
]
EXPECTED_FILES = {"etc/os-release": b"ID=test\n", "etc/motd": b"hi\n"}


def test_oci_layout_written_image(tmp_path: Path) -> None:
    img = write_layout(tmp_path / "img", LAYERS, ref="v1")
    got = _summary(img.source)
    assert got["manifest"] == img.manifest_digest and got["config"] == img.config_digest
    assert got["layers"] == [w.digest for w in img.layers]
    assert got["diff_ids"] == [w.diff_id for w in img.layers]
    assert _files(img.source) == EXPECTED_FILES


def test_oci_archive_written_image(tmp_path: Path) -> None:
    img = write_oci_archive(tmp_path / "img.tar", LAYERS, ref="v1")
    got = _summary(img.source)
    assert got["transport"] == "oci-archive" and got["manifest"] == img.manifest_digest
    assert _files(img.source) == EXPECTED_FILES


def test_docker_archive_written_legacy_image(tmp_path: Path) -> None:
    layers = [Layer(layer.members, compression="none") for layer in LAYERS]
    img = write_docker_archive(tmp_path / "img.tar", layers, repo_tags=["example.com/a/b:1.0"])
    for ref in ("", ":@0"):
        got = _summary(img.source + ref)
        assert got["synthesized"] and got["config"] == img.config_digest
        assert got["diff_ids"] == [w.diff_id for w in img.layers]
        assert got["layers"] == [w.digest for w in img.layers]
    assert _files(img.source) == EXPECTED_FILES


def test_docker_archive_named_by_full_repo_tag(tmp_path: Path) -> None:
    layers = [Layer(layer.members, compression="none") for layer in LAYERS]
    a = write_docker_archive(tmp_path / "img.tar", layers, repo_tags=["example.com/a/b:1.0"])
    assert _summary(a.source + ":example.com/a/b:1.0")["config"] == a.config_digest


def test_docker_archive_gzip_layers_are_sniffed(tmp_path: Path) -> None:
    img = write_docker_archive(tmp_path / "img.tar", LAYERS[:1])
    with open_image(img.source) as opened:
        assert opened.layers[0].descriptor.media_type == media.DOCKER_LAYER_GZIP
        assert str(opened.layers[0].descriptor.digest) == img.layers[0].digest
    assert _files(img.source) == {"etc/os-release": b"ID=test\n"}


def test_docker_archive_config_not_matching_its_name_refused(tmp_path: Path) -> None:
    img = write_docker_archive(tmp_path / "img.tar", LAYERS[:1])
    tampered = tmp_path / "tampered.tar"
    with tarfile.open(img.path) as src, tarfile.open(tampered, "w") as dst:
        for ti in src:
            f = src.extractfile(ti) if ti.isfile() else None
            if ti.name.endswith(".json") and ti.name != "manifest.json":
                data = f.read().replace(b'"amd64"', b'"arm64"')  # type: ignore[union-attr]
                ti.size = len(data)
                f = io.BytesIO(data)
            dst.addfile(ti, f)
    with pytest.raises(ImageFormatError, match="does not hash to the digest in its name"):
        _summary(f"docker-archive:{tampered}")


def test_multi_platform_layout_selected_by_platform_and_ref(tmp_path: Path) -> None:
    root = tmp_path / "multi"
    arm = write_layout(root, [Layer([file("arch", b"arm64")])], ref="multi", architecture="arm64")
    arm_entry = {
        "mediaType": media.OCI_MANIFEST,
        "digest": arm.manifest_digest,
        "size": len(arm.manifest),
        "platform": {"os": "linux", "architecture": "arm64"},
        "annotations": {"org.opencontainers.image.ref.name": "multi"},
    }

    def add_arm(doc: dict[str, Any]) -> dict[str, Any]:
        doc["manifests"].append(arm_entry)
        return doc

    amd = write_layout(root, [Layer([file("arch", b"amd64")])], ref="multi", mutate_index=add_arm)
    src = f"oci:{root}"
    assert _summary(src)["manifest"] == amd.manifest_digest  # default linux/amd64
    assert _summary(src, platform=Platform.parse("linux/arm64"))["manifest"] == arm.manifest_digest
    assert (
        _summary(src + ":multi", platform=Platform.parse("linux/arm64/v8"))["platform"]
        == "linux/arm64"
    )
    assert _files(src, platform=Platform.parse("linux/aarch64")) == {"arch": b"arm64"}
    with pytest.raises(PlatformError, match="available: linux/amd64, linux/arm64"):
        _summary(src, platform=Platform.parse("linux/riscv64"))


def test_layout_ref_matches_tag_of_full_reference(tmp_path: Path) -> None:
    img = write_layout(tmp_path / "img", LAYERS[:1], ref="docker.io/library/alpine:3.19")
    assert _summary(f"oci:{img.path}:3.19")["manifest"] == img.manifest_digest


@pytest.mark.parametrize("ref", ["docker.io/library/alpine:3.19", "alpine:3.19"])
def test_layout_ref_with_colon(tmp_path: Path, ref: str) -> None:
    img = write_layout(tmp_path / "img", LAYERS[:1], ref="docker.io/library/alpine:3.19")
    assert _summary(f"oci:{img.path}:{ref}")["manifest"] == img.manifest_digest


def test_layout_blob_that_is_a_fifo_is_refused(tmp_path: Path) -> None:
    img = write_layout(tmp_path / "img", LAYERS[:1])
    path = img.blob_path(img.layers[0].digest)
    path.unlink()
    os.mkfifo(path)  # opening it must not block
    with pytest.raises(SourceError, match="not a regular file"), open_image(img.source) as opened:
        for _ in Walk(opened):
            pass


@pytest.mark.parametrize(
    ("text", "transport", "path", "ref"),
    [
        ("oci:/a/b", "oci", "/a/b", None),
        ("oci:/a/b:v1", "oci", "/a/b", "v1"),
        ("oci-archive:x.tar:name", "oci-archive", "x.tar", "name"),
        ("docker-archive:x.tar:@3", "docker-archive", "x.tar", "@3"),
        ("dir:/r:o:o:t", "dir", "/r:o:o:t", None),
        ("docker://alpine:3.19", "docker", None, "alpine:3.19"),
        ("alpine:3.19", "docker", None, "alpine:3.19"),
        ("localhost:5000/a/b", "docker", None, "localhost:5000/a/b"),
    ],
)
def test_parse_source(text: str, transport: str, path: str | None, ref: str | None) -> None:
    spec = parse_source(text)
    assert (spec.transport, str(spec.path) if spec.path else None, spec.ref) == (
        transport,
        path,
        ref,
    )


@pytest.mark.parametrize("text", ["", " oci:/x", "oci:", "docker://", "dir:"])
def test_parse_source_invalid(text: str) -> None:
    with pytest.raises(CustomhouseError):
        parse_source(text)


def test_parse_source_prefers_existing_path_with_colon(tmp_path: Path) -> None:
    odd = tmp_path / "a:b"
    odd.mkdir()
    assert parse_source(f"oci:{odd}").path == odd


def test_opened_layers_are_immutable_values(tmp_path: Path) -> None:
    img = write_layout(tmp_path / "img", LAYERS, ref="v1")
    with open_image(img.source) as first, open_image(img.source) as second:
        assert first.layers == second.layers and first.layers[0] is not second.layers[0]
        layer = first.layers[1]
        assert layer != first.layers[0]
        assert layer.label == f"#1 ({layer.diff_id.short})"
        assert str(layer.diff_id) == img.layers[1].diff_id
        for rebuilt in (copy.copy(layer), copy.deepcopy(layer), pickle.loads(pickle.dumps(layer))):
            assert rebuilt == layer and rebuilt.index == 1
        with pytest.raises(AttributeError):
            layer.index = 0
        with pytest.raises(AttributeError):
            del layer.history
        assert layer.index == 1 and "index=1" in repr(layer)
