"""Resolution shared by the sources that read from a blob store (layouts, archives)."""

from __future__ import annotations

from customhouse.digest import Digest
from customhouse.errors import ImageFormatError, PlatformError
from customhouse.limits import Limits
from customhouse.oci import media
from customhouse.oci.model import (
    ANNOTATION_REF_NAME,
    Descriptor,
    ImageConfig,
    Index,
    Manifest,
    Platform,
    parse_config,
    parse_manifest,
    select_manifest,
)
from customhouse.sources.interface import BlobStore, Image, build_layers

MAX_INDEX_DEPTH = 4


def read_blob(store: BlobStore, desc: Descriptor, limit: int, what: str) -> bytes:
    """Read a small blob whole (manifests, configs), verified, within ``limit`` bytes."""
    if desc.size > limit:
        raise ImageFormatError(f"{what}: {desc.digest} declares {desc.size} bytes, limit {limit}")
    with store.open_blob(desc, what) as reader:
        return reader.read()


def resolve_manifest(
    store: BlobStore,
    desc: Descriptor,
    *,
    platform: Platform | None,
    limits: Limits,
    what: str,
) -> tuple[Manifest, Digest | None]:
    """Follow indexes (nested ones too) down to one image manifest for ``platform``."""
    index_digest: Digest | None = None
    for _ in range(MAX_INDEX_DEPTH):
        raw = read_blob(store, desc, limits.max_manifest_bytes, what)
        doc = parse_manifest(
            raw, digest=desc.digest, media_type=desc.media_type, limits=limits, what=what
        )
        if isinstance(doc, Manifest):
            return doc, index_digest
        if index_digest is None:
            index_digest = doc.digest
        desc = select_manifest(doc, platform, f"{what} index {doc.digest.short}")
    raise ImageFormatError(f"{what}: indexes nested deeper than {MAX_INDEX_DEPTH} levels")


def load_config(store: BlobStore, manifest: Manifest, limits: Limits, what: str) -> ImageConfig:
    if manifest.config.media_type not in media.CONFIG_TYPES:
        raise ImageFormatError(
            f"{what}: manifest {manifest.digest.short} is not a container image (config media"
            f" type {manifest.config.media_type!r}); it is an OCI artifact"
            + (f" of type {manifest.artifact_type!r}" if manifest.artifact_type else "")
        )
    raw = read_blob(store, manifest.config, limits.max_config_bytes, f"{what} config")
    return parse_config(raw, manifest.config.digest, limits, f"{what} config")


def pick_from_index(
    index: Index, ref: str | None, platform: Platform | None, what: str
) -> Descriptor:
    """Choose the top-level entry of an OCI layout's index.json.

    ``ref`` matches the ``org.opencontainers.image.ref.name`` annotation, either whole
    or as the tag part of a full reference (``docker.io/library/alpine:3.19`` ~ ``3.19``).
    Without ``ref``, the entry is chosen by platform.
    """
    if ref is None:
        return select_manifest(index, platform, what)
    matches = []
    for d in index.manifests:
        name = d.annotations.get(ANNOTATION_REF_NAME) or d.annotations.get(
            "io.containerd.image.name"
        )
        if name is None:
            continue
        if name == ref or name.rsplit(":", 1)[-1] == ref or name.endswith("/" + ref):
            matches.append(d)
    if not matches:
        names = sorted(
            {
                d.annotations[ANNOTATION_REF_NAME]
                for d in index.manifests
                if ANNOTATION_REF_NAME in d.annotations
            }
        )
        raise PlatformError(
            f"{what}: no manifest named {ref!r}"
            + (f" (names present: {', '.join(names)})" if names else " (no entries are named)")
        )
    if len(matches) > 1 and platform is not None:
        narrowed = [d for d in matches if d.platform and d.platform.matches(platform)]
        if narrowed:
            return narrowed[0]
    return matches[0]


def image_from_index(
    index: Index,
    store: BlobStore,
    *,
    ref: str | None,
    platform: Platform | None,
    limits: Limits,
    source: str,
    transport: str,
) -> Image:
    """The image an OCI layout's index names (by ref or platform), fully resolved and verified."""
    desc = pick_from_index(index, ref, platform, source)
    manifest, index_digest = resolve_manifest(
        store, desc, platform=platform, limits=limits, what=source
    )
    config = load_config(store, manifest, limits, source)
    return Image(
        source=source,
        transport=transport,
        reference=None,
        manifest=manifest,
        config=config,
        layers=build_layers(manifest, config, source),
        blobs=store,
        index_digest=index_digest,
    )
