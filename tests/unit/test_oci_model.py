"""Manifests, indexes, configs and platforms: one parse path from raw bytes, hostile input refused."""

from __future__ import annotations

import json
from typing import Any

import pytest

from customhouse.digest import Digest
from customhouse.errors import (
    DigestMismatchError,
    ImageFormatError,
    LimitExceededError,
    PlatformError,
)
from customhouse.limits import Limits
from customhouse.oci import media
from customhouse.oci.model import (
    Descriptor,
    Index,
    Manifest,
    Platform,
    load_json,
    parse_config,
    parse_manifest,
    select_manifest,
)

LIMITS = Limits()
D1 = "sha256:" + "1" * 64
D2 = "sha256:" + "2" * 64
D3 = "sha256:" + "3" * 64


def _bytes(doc: Any) -> bytes:
    return json.dumps(doc).encode()


def _manifest(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "schemaVersion": 2,
        "mediaType": media.OCI_MANIFEST,
        "config": {"mediaType": media.OCI_CONFIG, "digest": D1, "size": 100},
        "layers": [{"mediaType": media.OCI_LAYER_GZIP, "digest": D2, "size": 200}],
    }
    doc.update(over)
    return doc


def _entry(digest: str, platform: dict[str, str] | None = None, **over: Any) -> dict[str, Any]:
    e: dict[str, Any] = {"mediaType": media.OCI_MANIFEST, "digest": digest, "size": 10}
    if platform is not None:
        e["platform"] = platform
    e.update(over)
    return e


def _index(*entries: dict[str, Any], media_type: str = media.OCI_INDEX) -> Index:
    raw = _bytes({"schemaVersion": 2, "mediaType": media_type, "manifests": list(entries)})
    doc = parse_manifest(raw, digest=None, media_type=None, limits=LIMITS, what="t")
    assert isinstance(doc, Index)
    return doc


def _parse(doc: Any, *, media_type: str | None = None, limits: Limits = LIMITS) -> Manifest | Index:
    return parse_manifest(
        _bytes(doc), digest=None, media_type=media_type, limits=limits, what="doc"
    )


# --- manifests and indexes -----------------------------------------------------------------


def test_oci_manifest_parsed_with_digest_of_raw_bytes() -> None:
    raw = _bytes(_manifest(annotations={"a": "b"}, artifactType="application/x"))
    m = parse_manifest(
        raw, digest=Digest.of(raw), media_type=media.OCI_MANIFEST, limits=LIMITS, what="m"
    )
    assert isinstance(m, Manifest)
    assert (m.media_type, m.digest, m.raw) == (media.OCI_MANIFEST, Digest.of(raw), raw)
    assert m.config == Descriptor(media.OCI_CONFIG, Digest.parse(D1), 100)
    assert [str(layer.digest) for layer in m.layers] == [D2]
    assert dict(m.annotations) == {"a": "b"} and m.artifact_type == "application/x"


def test_docker_schema2_manifest_parsed() -> None:
    doc = _manifest(mediaType=media.DOCKER_MANIFEST)
    m = _parse(doc, media_type=media.DOCKER_MANIFEST)
    assert isinstance(m, Manifest) and m.media_type == media.DOCKER_MANIFEST


@pytest.mark.parametrize(
    ("doc", "kind"),
    [
        ({"schemaVersion": 2, "manifests": []}, Index),
        ({k: v for k, v in _manifest().items() if k != "mediaType"}, Manifest),
    ],
    ids=["index", "manifest"],
)
def test_absent_media_type_inferred_from_shape(doc: dict[str, Any], kind: type) -> None:
    assert isinstance(_parse(doc), kind)


def test_manifest_digest_verified_before_parsing() -> None:
    raw = _bytes(_manifest())
    with pytest.raises(DigestMismatchError, match="digest mismatch"):
        parse_manifest(raw, digest=Digest.of(b"other"), media_type=None, limits=LIMITS, what="m")


def test_manifest_over_size_limit_refused() -> None:
    doc = _manifest(annotations={"pad": "x" * 2000})
    with pytest.raises(LimitExceededError, match="exceeds the limit of 1000"):
        _parse(doc, limits=Limits(max_manifest_bytes=1000))


def test_index_with_too_many_entries_refused() -> None:
    doc = {"schemaVersion": 2, "manifests": [_entry(D1)] * 11}
    with pytest.raises(LimitExceededError, match="11 entries, limit 10"):
        _parse(doc, limits=Limits(max_index_entries=10))


def test_manifest_with_too_many_layers_refused() -> None:
    layer = {"mediaType": media.OCI_LAYER_GZIP, "digest": D2, "size": 1}
    with pytest.raises(LimitExceededError, match="5 layers exceeds the limit of 4"):
        _parse(_manifest(layers=[layer] * 5), limits=Limits(max_layers=4))


@pytest.mark.parametrize(
    "doc",
    [
        {"schemaVersion": 1, "name": "library/x", "fsLayers": []},
        _manifest(mediaType=media.DOCKER_SCHEMA1_SIGNED),
        _manifest(mediaType=media.DOCKER_SCHEMA1),
    ],
    ids=["version-1", "prettyjws", "unsigned"],
)
def test_schema1_manifest_refused_with_clear_message(doc: dict[str, Any]) -> None:
    with pytest.raises(ImageFormatError, match="schema 1 is deprecated and unsupported"):
        _parse(doc)


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (_manifest(schemaVersion=3), "unsupported schemaVersion 3"),
        (_manifest(schemaVersion="2"), "unsupported schemaVersion"),
        (_manifest(mediaType="application/json"), "unsupported manifest media type"),
        (_manifest(mediaType=7), "'mediaType' must be a string"),
        (_manifest(layers={"a": 1}), "'layers' must be a list"),
        (_manifest(config=None), "expected a JSON object"),
        (_manifest(config={"mediaType": media.OCI_CONFIG, "digest": D1}), "'size' must be"),
        (
            _manifest(config={"mediaType": media.OCI_CONFIG, "digest": D1, "size": -1}),
            "'size' must be",
        ),
        (
            _manifest(config={"mediaType": media.OCI_CONFIG, "digest": D1, "size": True}),
            "'size' must be",
        ),
        (
            _manifest(
                config={"mediaType": media.OCI_CONFIG, "digest": "md5:" + "0" * 32, "size": 1}
            ),
            "unsupported digest algorithm",
        ),
        (_manifest(config={"digest": D1, "size": 1}), "missing 'mediaType'"),
        (_manifest(annotations={"a": 1}), "map of strings"),
        (
            _manifest(layers=[{"mediaType": "x", "digest": D2, "size": 1, "urls": "http://x"}]),
            "'urls' must be a list",
        ),
        ({"schemaVersion": 2, "manifests": {"a": 1}}, "'manifests' must be a list"),
        ([_manifest()], "expected a JSON object"),
        ("manifest", "expected a JSON object"),
    ],
)
def test_malformed_manifest_refused(doc: Any, message: str) -> None:
    with pytest.raises(ImageFormatError, match=message):
        _parse(doc)


def test_media_type_of_another_kind_contradicting_descriptor_refused() -> None:
    # an index handed out under a manifest descriptor: a confusion attack (containerd refuses it too)
    doc = {"schemaVersion": 2, "mediaType": media.OCI_INDEX, "manifests": []}
    with pytest.raises(ImageFormatError, match="contradicts"):
        _parse(doc, media_type=media.OCI_MANIFEST)


# go-containerregistry's test_index layout relies on this; containerd's
# images.validateMediaType only refuses a kind mismatch (index vs manifest)
def test_docker_manifest_under_oci_manifest_descriptor_accepted() -> None:
    doc = _manifest(mediaType=media.DOCKER_MANIFEST)
    assert isinstance(_parse(doc, media_type=media.OCI_MANIFEST), Manifest)


def test_descriptor_declared_size_over_limit_refused() -> None:
    big = {"mediaType": media.OCI_CONFIG, "digest": D1, "size": 10**12}
    with pytest.raises(LimitExceededError, match="declared size 1000000000000"):
        _parse(_manifest(config=big))


@pytest.mark.parametrize(
    "text", [b"{", b"\xff\xfe", b"", b"[" * 100_000, b"{" * 50_000 + b"}" * 50_000]
)
def test_load_json_refuses_malformed_and_deep(text: bytes) -> None:
    with pytest.raises(ImageFormatError, match=r"what: (invalid JSON|JSON nested too deeply)"):
        load_json(text, "what", 1 << 20)


def test_load_json_size_ceiling() -> None:
    with pytest.raises(LimitExceededError, match="11 bytes exceeds the limit of 10"):
        load_json(b'"123456789"', "what", 10)


# --- platforms -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("linux/amd64", Platform("linux", "amd64")),
        ("linux/x86_64", Platform("linux", "amd64")),
        ("linux/amd64/v1", Platform("linux", "amd64")),
        ("linux/arm64", Platform("linux", "arm64")),
        ("linux/aarch64", Platform("linux", "arm64")),
        ("linux/arm64/v8", Platform("linux", "arm64")),
        ("linux/arm", Platform("linux", "arm", "v7")),
        ("linux/arm/v6", Platform("linux", "arm", "v6")),
        ("windows/amd64", Platform("windows", "amd64")),
    ],
)
def test_platform_parse_normalizes(text: str, expected: Platform) -> None:
    assert Platform.parse(text) == expected


@pytest.mark.parametrize(
    "text", ["linux", "linux/", "/amd64", "linux/amd64/v8/x", "linux/am d64", ""]
)
def test_platform_parse_invalid(text: str) -> None:
    with pytest.raises(PlatformError, match="expected os/arch"):
        Platform.parse(text)


def test_platform_matches_after_normalization() -> None:
    assert Platform("linux", "aarch64", "v8").matches(Platform("linux", "arm64"))
    assert not Platform("linux", "arm", "v6").matches(Platform("linux", "arm"))
    assert str(Platform.parse("linux/arm")) == "linux/arm/v7"


AMD64 = {"os": "linux", "architecture": "amd64"}
ARM64 = {"os": "linux", "architecture": "arm64"}
ARMV7 = {"os": "linux", "architecture": "arm", "variant": "v7"}
ATTESTATION = {"os": "unknown", "architecture": "unknown"}


def test_select_manifest_defaults_to_linux_amd64() -> None:
    idx = _index(_entry(D1, ARM64), _entry(D2, AMD64), _entry(D3, ATTESTATION))
    assert str(select_manifest(idx, None, "t").digest) == D2


def test_select_manifest_by_platform_with_variant() -> None:
    idx = _index(_entry(D1, ARM64), _entry(D2, AMD64), _entry(D3, ARMV7))
    assert str(select_manifest(idx, Platform.parse("linux/arm"), "t").digest) == D3
    assert str(select_manifest(idx, Platform.parse("linux/arm64/v8"), "t").digest) == D1


def test_select_manifest_skips_attestations() -> None:
    idx = _index(_entry(D1, ARM64), _entry(D3, ATTESTATION))
    assert str(select_manifest(idx, None, "t").digest) == D1


def test_select_manifest_reports_available_platforms() -> None:
    idx = _index(_entry(D1, ARM64), _entry(D2, AMD64))
    with pytest.raises(
        PlatformError,
        match=r"no manifest for platform linux/s390x \(available: linux/amd64, linux/arm64\)",
    ):
        select_manifest(idx, Platform.parse("linux/s390x"), "t")


def test_select_manifest_ambiguous_without_platforms() -> None:
    idx = _index(_entry(D1), _entry(D2))
    with pytest.raises(PlatformError, match="holds 2 manifests"):
        select_manifest(idx, None, "t")


def test_select_manifest_ignores_non_manifest_entries() -> None:
    idx = _index(_entry(D1, AMD64, mediaType="application/vnd.example+json"))
    with pytest.raises(PlatformError, match="holds no image manifests"):
        select_manifest(idx, None, "t")


# --- configs ---------------------------------------------------------------------------------------


def _config(**over: Any) -> dict[str, Any]:
    doc: dict[str, Any] = {
        "architecture": "arm64",
        "variant": "v8",
        "os": "linux",
        "created": "2024-01-01T00:00:00Z",
        "author": "me",
        "config": {
            "User": "1000:1000",
            "Env": ["PATH=/bin", "A=b"],
            "Entrypoint": ["/entry"],
            "Cmd": ["--serve"],
            "WorkingDir": "/app",
            "Labels": {"org.opencontainers.image.source": "https://example.com/x"},
            "ExposedPorts": {"8080/tcp": {}, "53/udp": {}},
        },
        "rootfs": {"type": "layers", "diff_ids": [D1, D2]},
        "history": [
            {"created_by": "ADD rootfs /", "created": "2024-01-01T00:00:00Z"},
            {"created_by": "ENV A=b", "empty_layer": True},
            {"created_by": "COPY app /app", "comment": "buildkit.dockerfile.v0"},
        ],
    }
    doc.update(over)
    return doc


def _cfg(doc: Any) -> Any:
    raw = _bytes(doc)
    return parse_config(raw, Digest.of(raw), LIMITS, "config")


def test_config_fields_parsed() -> None:
    cfg = _cfg(_config())
    assert cfg.platform == Platform("linux", "arm64")
    assert (cfg.user, cfg.env, cfg.entrypoint, cfg.cmd) == (
        "1000:1000",
        ("PATH=/bin", "A=b"),
        ("/entry",),
        ("--serve",),
    )
    assert cfg.working_dir == "/app" and cfg.exposed_ports == ("53/udp", "8080/tcp")
    assert dict(cfg.labels) == {"org.opencontainers.image.source": "https://example.com/x"}
    assert [str(d) for d in cfg.diff_ids] == [D1, D2]
    aligned = cfg.layer_history()
    assert [h.created_by for h in aligned] == ["ADD rootfs /", "COPY app /app"]


def test_config_history_not_matching_layers_aligns_to_none() -> None:
    cfg = _cfg(_config(history=[{"created_by": "only one"}]))
    assert cfg.layer_history() == [None, None]


def test_config_digest_verified() -> None:
    raw = _bytes(_config())
    with pytest.raises(DigestMismatchError):
        parse_config(raw + b" ", Digest.of(raw), LIMITS, "config")


def test_config_over_size_limit_refused() -> None:
    raw = _bytes(_config(pad="x" * 5000))
    with pytest.raises(LimitExceededError):
        parse_config(raw, Digest.of(raw), Limits(max_config_bytes=4096), "config")


@pytest.mark.parametrize(
    ("doc", "message"),
    [
        (_config(rootfs={"diff_ids": "sha256:x"}), "diff_ids must be a list"),
        (_config(rootfs={"diff_ids": ["sha256:XYZ"]}), r"diff_ids\[0\]"),
        (_config(rootfs={"diff_ids": [D1.upper()]}), r"diff_ids\[0\]"),
        (_config(history={"a": 1}), "'history' must be a list"),
        (_config(history=["x"]), "expected a JSON object"),
        (_config(config={"Env": [1]}), "expected a list of strings"),
        (_config(config={"Labels": ["a"]}), "map of strings"),
        (_config(config=["User"]), "expected a JSON object"),
        (_config(os=5), "'os' must be a string"),
        ([1, 2], "expected a JSON object"),
    ],
)
def test_malformed_config_refused(doc: Any, message: str) -> None:
    with pytest.raises(ImageFormatError, match=message):
        _cfg(doc)


def test_config_cmd_as_string_tolerated_like_docker() -> None:
    assert _cfg(_config(config={"Cmd": "/bin/sh"})).cmd == ("/bin/sh",)
