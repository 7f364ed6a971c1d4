"""Immutable models of OCI/Docker manifests, indexes and image configs.

Each model has a single parse path from raw bytes, validates what it needs, and
keeps the raw bytes (the digest is computed over them, never over a re-serialisation).
"""

# Annotations are evaluated, not postponed (no ``from __future__ import annotations``):
# typing.NamedTuple compiles every string annotation, ~60 us a field at each start-up.
import json
import re
from collections.abc import Mapping
from types import MappingProxyType
from typing import Any, NamedTuple

from customhouse.digest import Digest
from customhouse.errors import DigestError, ImageFormatError, LimitExceededError, PlatformError
from customhouse.limits import Limits
from customhouse.oci import media

ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name"

# The models are NamedTuples, not frozen dataclasses: just as immutable and typed, and
# ten times cheaper to define, which every run of the CLI pays for at start-up.
_NO_ANNOTATIONS: Mapping[str, str] = MappingProxyType({})


def load_json(raw: bytes, what: str, max_bytes: int) -> Any:
    """Parse untrusted JSON with a size ceiling; every failure names ``what``."""
    if len(raw) > max_bytes:
        raise LimitExceededError(f"{what}: {len(raw)} bytes exceeds the limit of {max_bytes}")
    try:
        return json.loads(raw)
    except RecursionError:
        raise ImageFormatError(f"{what}: JSON nested too deeply") from None
    except (ValueError, UnicodeDecodeError) as e:
        raise ImageFormatError(f"{what}: invalid JSON: {e}") from None


def _obj(value: Any, what: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ImageFormatError(f"{what}: expected a JSON object, got {type(value).__name__}")
    return value


def _str(obj: Mapping[str, Any], key: str, what: str, *, required: bool = True) -> str | None:
    value = obj.get(key)
    if value is None:
        if required:
            raise ImageFormatError(f"{what}: missing {key!r}")
        return None
    if not isinstance(value, str):
        raise ImageFormatError(f"{what}: {key!r} must be a string")
    return value


def _str_map(value: Any, what: str) -> dict[str, str]:
    if value is None:
        return {}
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ImageFormatError(f"{what}: expected a map of strings")
    return dict(value)


_PLATFORM_PART = re.compile(r"^[a-zA-Z0-9_.-]+$")


class Platform(NamedTuple):
    os: str
    architecture: str
    variant: str | None = None
    os_version: str | None = None

    @classmethod
    def parse(cls, text: str) -> "Platform":
        parts = text.split("/")
        if len(parts) not in (2, 3) or not all(_PLATFORM_PART.match(p) for p in parts):
            raise PlatformError(f"invalid platform {text!r}: expected os/arch[/variant]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None).normalized()

    @classmethod
    def from_json(cls, value: Any, what: str) -> "Platform | None":
        if value is None:
            return None
        obj = _obj(value, what)
        os_ = _str(obj, "os", what)
        arch = _str(obj, "architecture", what)
        assert os_ is not None and arch is not None
        return cls(
            os_,
            arch,
            _str(obj, "variant", what, required=False),
            _str(obj, "os.version", what, required=False),
        ).normalized()

    def normalized(self) -> "Platform":
        """containerd's normalisation: arm64 variant v8 is the default, amd64 v1 too."""
        arch = {"x86_64": "amd64", "x86-64": "amd64", "aarch64": "arm64"}.get(
            self.architecture, self.architecture
        )
        variant = self.variant
        if arch == "arm64" and variant in ("v8", "8"):
            variant = None
        if arch == "amd64" and variant == "v1":
            variant = None
        if arch == "arm" and variant is None:
            variant = "v7"
        return Platform(self.os, arch, variant, self.os_version)

    def matches(self, other: "Platform") -> bool:
        a, b = self.normalized(), other.normalized()
        return a.os == b.os and a.architecture == b.architecture and a.variant == b.variant

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


class Descriptor(NamedTuple):
    media_type: str
    digest: Digest
    size: int
    annotations: Mapping[str, str] = _NO_ANNOTATIONS
    platform: Platform | None = None
    urls: tuple[str, ...] = ()

    @classmethod
    def from_json(cls, value: Any, what: str, max_size: int | None = None) -> "Descriptor":
        obj = _obj(value, what)
        media_type = _str(obj, "mediaType", what)
        assert media_type is not None
        try:
            digest = Digest.parse(obj.get("digest"))
        except DigestError as e:
            raise ImageFormatError(f"{what}: {e}") from None
        size = obj.get("size")
        if not isinstance(size, int) or isinstance(size, bool) or size < 0:
            raise ImageFormatError(f"{what}: 'size' must be a non-negative integer")
        if max_size is not None and size > max_size:
            raise LimitExceededError(
                f"{what}: declared size {size} of {digest} exceeds the limit of {max_size}"
            )
        urls = obj.get("urls") or []
        if not isinstance(urls, list) or not all(isinstance(u, str) for u in urls):
            raise ImageFormatError(f"{what}: 'urls' must be a list of strings")
        return cls(
            media_type=media_type,
            digest=digest,
            size=size,
            annotations=_str_map(obj.get("annotations"), f"{what} annotations"),
            platform=Platform.from_json(obj.get("platform"), f"{what} platform"),
            urls=tuple(urls),
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "mediaType": self.media_type,
            "digest": str(self.digest),
            "size": self.size,
        }
        if self.annotations:
            out["annotations"] = dict(self.annotations)
        if self.platform is not None:
            p: dict[str, str] = {"architecture": self.platform.architecture, "os": self.platform.os}
            if self.platform.variant:
                p["variant"] = self.platform.variant
            out["platform"] = p
        return out


class Manifest(NamedTuple):
    media_type: str
    config: Descriptor
    layers: tuple[Descriptor, ...]
    annotations: Mapping[str, str]
    raw: bytes
    digest: Digest
    artifact_type: str | None = None


class Index(NamedTuple):
    media_type: str
    manifests: tuple[Descriptor, ...]
    annotations: Mapping[str, str]
    raw: bytes
    digest: Digest


def parse_manifest(
    raw: bytes, *, digest: Digest | None, media_type: str | None, limits: Limits, what: str
) -> Manifest | Index:
    """Parse a manifest or an index. ``digest`` (when known) is verified first."""
    if len(raw) > limits.max_manifest_bytes:
        raise LimitExceededError(
            f"{what}: manifest of {len(raw)} bytes exceeds the limit of {limits.max_manifest_bytes}"
        )
    if digest is not None:
        digest.verify_bytes(raw, what)
    else:
        digest = Digest.of(raw)
    obj = _obj(load_json(raw, what, limits.max_manifest_bytes), what)
    declared = obj.get("mediaType")
    if declared is not None and not isinstance(declared, str):
        raise ImageFormatError(f"{what}: 'mediaType' must be a string")
    mt = declared or media_type
    if mt is None:
        # OCI allows mediaType to be absent; infer from the shape
        mt = media.OCI_INDEX if "manifests" in obj else media.OCI_MANIFEST
    if (
        declared
        and media_type
        and _kind(declared) != _kind(media_type)
        and media_type != media.OCI_DESCRIPTOR
    ):
        # an OCI descriptor naming a Docker manifest (or the reverse) is tolerated, as
        # containerd and go-containerregistry do; an index posing as a manifest is not
        raise ImageFormatError(
            f"{what}: media type {declared!r} in the document contradicts {media_type!r}"
        )
    if mt in media.SCHEMA1_TYPES or obj.get("schemaVersion") == 1:
        raise ImageFormatError(
            f"{what}: Docker image manifest schema 1 is deprecated and unsupported;"
            " it carries no content-addressed config. Re-push the image with a current client."
        )
    if obj.get("schemaVersion") != 2:
        raise ImageFormatError(f"{what}: unsupported schemaVersion {obj.get('schemaVersion')!r}")
    annotations = _str_map(obj.get("annotations"), f"{what} annotations")
    if mt in media.INDEX_TYPES:
        entries = obj.get("manifests")
        if entries is None:
            entries = []
        if not isinstance(entries, list):
            raise ImageFormatError(f"{what}: 'manifests' must be a list")
        if len(entries) > limits.max_index_entries:
            raise LimitExceededError(
                f"{what}: index has {len(entries)} entries, limit {limits.max_index_entries}"
            )
        manifests = tuple(
            Descriptor.from_json(e, f"{what} manifests[{i}]", limits.max_manifest_bytes)
            for i, e in enumerate(entries)
        )
        return Index(mt, manifests, annotations, raw, digest)
    if mt not in media.MANIFEST_TYPES:
        raise ImageFormatError(f"{what}: unsupported manifest media type {mt!r}")
    config = Descriptor.from_json(obj.get("config"), f"{what} config", limits.max_config_bytes)
    layers_json = obj.get("layers")
    if not isinstance(layers_json, list):
        raise ImageFormatError(f"{what}: 'layers' must be a list")
    if len(layers_json) > limits.max_layers:
        raise LimitExceededError(
            f"{what}: {len(layers_json)} layers exceeds the limit of {limits.max_layers}"
        )
    layers = tuple(
        Descriptor.from_json(e, f"{what} layers[{i}]", limits.max_blob_bytes)
        for i, e in enumerate(layers_json)
    )
    artifact = obj.get("artifactType")
    return Manifest(
        mt,
        config,
        layers,
        annotations,
        raw,
        digest,
        artifact if isinstance(artifact, str) else None,
    )


def _kind(media_type: str) -> str:
    if media_type in media.INDEX_TYPES:
        return "index"
    if media_type in media.MANIFEST_TYPES:
        return "manifest"
    return media_type


def select_manifest(index: Index, platform: Platform | None, what: str) -> Descriptor:
    """Pick the one manifest of ``index`` for ``platform`` (default linux/amd64)."""
    candidates = [
        d
        for d in index.manifests
        if d.media_type in media.MANIFEST_TYPES | media.INDEX_TYPES | {media.OCI_DESCRIPTOR}
        # attestation manifests (buildx) carry platform unknown/unknown
        and not (d.platform and d.platform.os == "unknown")
    ]
    if not candidates:
        raise PlatformError(f"{what}: the index holds no image manifests")
    with_platform = [d for d in candidates if d.platform is not None]
    if platform is None:
        if len(candidates) == 1:
            return candidates[0]
        want = Platform("linux", "amd64")
        chosen = [d for d in with_platform if d.platform and d.platform.matches(want)]
        if len(chosen) >= 1:
            return chosen[0]
        names = ", ".join(
            str(d.platform) if d.platform else str(d.digest.short) for d in candidates
        )
        raise PlatformError(
            f"{what}: the index holds {len(candidates)} manifests ({names});"
            " choose one with --platform os/arch[/variant]"
        )
    chosen = [d for d in with_platform if d.platform and d.platform.matches(platform)]
    if not chosen and len(candidates) == 1 and candidates[0].platform is None:
        return candidates[0]
    if not chosen:
        have = ", ".join(sorted({str(d.platform) for d in with_platform})) or "none declared"
        raise PlatformError(f"{what}: no manifest for platform {platform} (available: {have})")
    return chosen[0]


class HistoryEntry(NamedTuple):
    created: str | None
    created_by: str | None
    comment: str | None
    author: str | None
    empty_layer: bool


class ImageConfig(NamedTuple):
    raw: bytes
    digest: Digest
    architecture: str | None
    os: str | None
    variant: str | None
    created: str | None
    author: str | None
    user: str | None
    env: tuple[str, ...]
    entrypoint: tuple[str, ...] | None
    cmd: tuple[str, ...] | None
    working_dir: str | None
    labels: Mapping[str, str]
    exposed_ports: tuple[str, ...]
    diff_ids: tuple[Digest, ...]
    history: tuple[HistoryEntry, ...]

    @property
    def platform(self) -> Platform | None:
        if not self.os or not self.architecture:
            return None
        return Platform(self.os, self.architecture, self.variant).normalized()

    def layer_history(self) -> list[HistoryEntry | None]:
        """History entries aligned with diff_ids (empty_layer entries skipped)."""
        real = [h for h in self.history if not h.empty_layer]
        if len(real) != len(self.diff_ids):
            return [None] * len(self.diff_ids)
        return list(real)


def _str_list(value: Any, what: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    if isinstance(value, str):  # tolerated by Docker for Cmd/Entrypoint
        return (value,)
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ImageFormatError(f"{what}: expected a list of strings")
    return tuple(value)


def parse_config(raw: bytes, digest: Digest, limits: Limits, what: str) -> ImageConfig:
    digest.verify_bytes(raw, what)
    obj = _obj(load_json(raw, what, limits.max_config_bytes), what)
    cfg = obj.get("config") or obj.get("container_config") or {}
    cfg = _obj(cfg, f"{what} config")
    rootfs = _obj(obj.get("rootfs") or {}, f"{what} rootfs")
    diff_json = rootfs.get("diff_ids") or []
    if not isinstance(diff_json, list):
        raise ImageFormatError(f"{what}: rootfs.diff_ids must be a list")
    diff_ids = []
    for i, d in enumerate(diff_json):
        try:
            diff_ids.append(Digest.parse(d))
        except DigestError as e:
            raise ImageFormatError(f"{what}: rootfs.diff_ids[{i}]: {e}") from None
    history = []
    hist_json = obj.get("history") or []
    if not isinstance(hist_json, list):
        raise ImageFormatError(f"{what}: 'history' must be a list")
    for i, h in enumerate(hist_json):
        h = _obj(h, f"{what} history[{i}]")
        history.append(
            HistoryEntry(
                created=_str(h, "created", what, required=False),
                created_by=_str(h, "created_by", what, required=False),
                comment=_str(h, "comment", what, required=False),
                author=_str(h, "author", what, required=False),
                empty_layer=bool(h.get("empty_layer", False)),
            )
        )
    ports = cfg.get("ExposedPorts") or {}
    return ImageConfig(
        raw=raw,
        digest=digest,
        architecture=_str(obj, "architecture", what, required=False),
        os=_str(obj, "os", what, required=False),
        variant=_str(obj, "variant", what, required=False),
        created=_str(obj, "created", what, required=False),
        author=_str(obj, "author", what, required=False),
        user=_str(cfg, "User", what, required=False),
        env=_str_list(cfg.get("Env"), f"{what} Env") or (),
        entrypoint=_str_list(cfg.get("Entrypoint"), f"{what} Entrypoint"),
        cmd=_str_list(cfg.get("Cmd"), f"{what} Cmd"),
        working_dir=_str(cfg, "WorkingDir", what, required=False),
        labels=_str_map(cfg.get("Labels"), f"{what} Labels"),
        exposed_ports=tuple(sorted(ports)) if isinstance(ports, dict) else (),
        diff_ids=tuple(diff_ids),
        history=tuple(history),
    )
