"""Pull from Debian's docker-registry (no auth) what skopeo pushed; compare with the layout."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import registry_helpers as rh

from customhouse.distribution import ImageNotFoundError
from customhouse.errors import DigestMismatchError, InputError, PlatformError
from customhouse.oci.model import Platform
from customhouse.sources import Image, open_image
from customhouse.walk.entry import Entry
from customhouse.walk.layers import Walk

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        rh.require_registry_tools()
    except rh.RegistryUnavailable as e:
        pytest.skip(f"cannot run a registry here: {e}")
    where = tmp_path_factory.mktemp("layout") / "oci"
    rh.small_layout(where, "v1")
    rh.multiarch_layout(where, "multi", ["amd64", "arm64"])
    return where


@pytest.fixture(scope="module")
def registry(
    layout: Path, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[rh.RunningRegistry]:
    with rh.running_registry(tmp_path_factory.mktemp("registry")) as reg:
        rh.push(f"oci:{layout}:v1", reg, "team/app:v1")
        rh.push(f"oci:{layout}:multi", reg, "team/multi:1", all_images=True)
        yield reg


@pytest.fixture(autouse=True)
def _no_host_credentials(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the developer's ~/.docker/config.json out of these tests."""
    monkeypatch.setenv("DOCKER_CONFIG", str(tmp_path / "docker-config"))


def _walk(image: Image) -> list[tuple[Entry, bytes | None]]:
    """Every entry (path, kind, mode, owner, link, layer, visibility...) with its content."""
    return [(e, c.read_all() if c else None) for e, c in Walk(image)]


def _same_image(got: Image, want: Image) -> None:
    assert got.manifest is not None and want.manifest is not None
    assert got.config is not None and want.config is not None
    assert got.manifest.digest == want.manifest.digest
    assert got.manifest.raw == want.manifest.raw
    assert got.config.digest == want.config.digest
    assert [layer.descriptor.digest for layer in got.layers] == [
        layer.descriptor.digest for layer in want.layers
    ]
    assert [layer.diff_id for layer in got.layers] == [layer.diff_id for layer in want.layers]
    walked = _walk(got)
    assert walked == _walk(want)
    assert walked  # the image is not empty


@pytest.mark.parametrize("prefix", ["", "docker://"])
def test_pulled_image_matches_the_pushed_layout(
    layout: Path, registry: rh.RunningRegistry, prefix: str
) -> None:
    source = f"{prefix}{registry.host}/team/app:v1"
    with open_image(source) as got, open_image(f"oci:{layout}:v1") as want:
        assert got.transport == "registry"
        assert got.source == source
        assert got.reference is not None
        assert (got.reference.registry, got.reference.repository, got.reference.tag) == (
            registry.host,
            "team/app",
            "v1",
        )
        assert got.index_digest is None
        _same_image(got, want)


def test_pull_by_digest(layout: Path, registry: rh.RunningRegistry) -> None:
    with open_image(f"oci:{layout}:v1") as want:
        assert want.digest is not None
        with open_image(f"{registry.host}/team/app@{want.digest}") as got:
            _same_image(got, want)


@pytest.mark.parametrize("arch", ["amd64", "arm64"])
def test_manifest_list_resolves_by_platform(
    layout: Path, registry: rh.RunningRegistry, arch: str
) -> None:
    with (
        open_image(f"oci:{layout}:multi-{arch}") as want,
        open_image(
            f"{registry.host}/team/multi:1", platform=Platform.parse(f"linux/{arch}")
        ) as got,
    ):
        assert got.index_digest is not None
        assert got.platform == Platform("linux", arch)
        _same_image(got, want)


def test_manifest_list_defaults_to_linux_amd64(layout: Path, registry: rh.RunningRegistry) -> None:
    with (
        open_image(f"{registry.host}/team/multi:1") as got,
        open_image(f"oci:{layout}:multi-amd64") as want,
    ):
        assert got.digest == want.digest


def test_manifest_list_without_the_platform_names_what_exists(registry: rh.RunningRegistry) -> None:
    with (
        pytest.raises(PlatformError, match=r"linux/s390x.*linux/amd64, linux/arm64"),
        open_image(f"{registry.host}/team/multi:1", platform=Platform.parse("linux/s390x")),
    ):
        pass


@pytest.mark.parametrize(
    ("ref", "shown"),
    [("team/app:nope", "team/app:nope"), ("team/ghost:v1", "team/ghost:v1")],
)
def test_missing_tag_or_repository_is_a_clear_input_error(
    registry: rh.RunningRegistry, ref: str, shown: str
) -> None:
    with pytest.raises(ImageNotFoundError) as info, open_image(f"{registry.host}/{ref}"):
        pass
    assert f"{registry.host}/{shown} does not exist" in str(info.value)
    assert info.value.exit_code == 2


def test_missing_digest_is_a_clear_input_error(registry: rh.RunningRegistry) -> None:
    digest = "sha256:" + "1" * 64
    with (
        pytest.raises(ImageNotFoundError, match=f"team/app@{digest} does not exist"),
        open_image(f"{registry.host}/team/app@{digest}"),
    ):
        pass


# --- tampering in the registry's storage -------------------------------------------------


@pytest.fixture
def private_registry(layout: Path, tmp_path: Path) -> Iterator[rh.RunningRegistry]:
    """A registry of its own: these tests corrupt its storage."""
    with rh.running_registry(tmp_path / "registry") as reg:
        rh.push(f"oci:{layout}:v1", reg, "team/app:v1")
        yield reg


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_flipped_byte_in_layer_blob_is_detected_and_names_the_digest(
    private_registry: rh.RunningRegistry,
) -> None:
    with open_image(f"{private_registry.host}/team/app:v1") as image:
        layer = image.layers[0]
        digest = str(layer.descriptor.digest)
        _flip(private_registry.blob_path(digest), layer.descriptor.size // 2)
        # the blob stream itself refuses it, naming the digest
        with pytest.raises(DigestMismatchError) as info, image.open_layer(layer) as reader:
            reader.drain()
        assert digest in str(info.value)
        assert info.value.exit_code == 2
        # and so does walking the image (exit 2, an input error)
        with pytest.raises(InputError):
            _walk(image)


def test_walk_names_the_digest_of_a_layer_flipped_mid_stream(
    private_registry: rh.RunningRegistry,
) -> None:
    with open_image(f"{private_registry.host}/team/app:v1") as image:
        layer = image.layers[0]
        digest = str(layer.descriptor.digest)
        _flip(private_registry.blob_path(digest), layer.descriptor.size // 2)
        with pytest.raises(DigestMismatchError, match=digest):
            _walk(image)


def test_flipped_byte_outside_the_compressed_data_is_caught_by_the_digest(
    private_registry: rh.RunningRegistry,
) -> None:
    """Byte 4 is the gzip header's MTIME: decompression cannot notice, only the digest can."""
    with open_image(f"{private_registry.host}/team/app:v1") as image:
        layer = image.layers[1]
        digest = str(layer.descriptor.digest)
        _flip(private_registry.blob_path(digest), 4)
        with pytest.raises(DigestMismatchError) as info:
            _walk(image)
    assert digest in str(info.value)


def test_flipped_byte_in_config_blob_is_refused_on_open(
    private_registry: rh.RunningRegistry,
) -> None:
    with open_image(f"{private_registry.host}/team/app:v1") as image:
        assert image.manifest is not None
        digest = str(image.manifest.config.digest)
    _flip(private_registry.blob_path(digest), 10)
    with (
        pytest.raises(DigestMismatchError, match=digest),
        open_image(f"{private_registry.host}/team/app:v1"),
    ):
        pass


@pytest.mark.parametrize("by", ["tag", "digest"])
def test_flipped_byte_in_manifest_is_refused(private_registry: rh.RunningRegistry, by: str) -> None:
    with open_image(f"{private_registry.host}/team/app:v1") as image:
        assert image.digest is not None
        digest = str(image.digest)
    _flip(private_registry.blob_path(digest), 20)
    ref = "team/app:v1" if by == "tag" else f"team/app@{digest}"
    with (
        pytest.raises(DigestMismatchError, match=digest),
        open_image(f"{private_registry.host}/{ref}"),
    ):
        pass
