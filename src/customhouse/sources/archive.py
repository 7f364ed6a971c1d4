"""``docker-archive:PATH[:REF|:@N]`` (``docker save``) and ``oci-archive:PATH[:REF]``.

Both are read in place from the tar, without extraction. ``docker save`` output
comes in two shapes: the legacy one (``manifest.json`` plus ``<id>/layer.tar``),
which stores no manifest, and Docker 25+'s, which embeds an OCI layout. For the
legacy shape we synthesize a Docker schema 2 manifest over the stored bytes, as
skopeo does, and say so (``synthesized_manifest``).
"""

from __future__ import annotations

import json
import re
from contextlib import suppress
from pathlib import Path
from typing import Any

from customhouse.digest import Digest
from customhouse.errors import ImageFormatError, PlatformError, SourceError
from customhouse.limits import Limits
from customhouse.oci import media
from customhouse.oci.model import (
    Index,
    Manifest,
    Platform,
    load_json,
    parse_config,
    parse_manifest,
)
from customhouse.sources import _common
from customhouse.sources._tarindex import TarBlobStore, TarIndex
from customhouse.sources.interface import Image, build_layers

_BLOB_PATH = re.compile(r"^blobs/(sha256|sha512)/([0-9a-f]{64,128})$")


def _sniff(head: bytes) -> str:
    if head[:2] == b"\x1f\x8b":
        return media.DOCKER_LAYER_GZIP
    if head[:4] == b"\x28\xb5\x2f\xfd":
        return media.OCI_LAYER_ZSTD
    return media.DOCKER_LAYER


def open_oci_archive(
    path: Path,
    ref: str | None,
    *,
    source: str,
    platform: Platform | None,
    limits: Limits,
    index: TarIndex,
) -> Image:
    what = source
    if "oci-layout" not in index or "index.json" not in index:
        raise SourceError(f"{what}: {path} holds no OCI image layout (no oci-layout or index.json)")
    store = TarBlobStore(index, limits)
    raw = index.read("index.json", limits.max_manifest_bytes)
    top = parse_manifest(
        raw, digest=None, media_type=media.OCI_INDEX, limits=limits, what=f"{what} index.json"
    )
    if not isinstance(top, Index):
        raise ImageFormatError(f"{what}: index.json is not an image index")
    return _common.image_from_index(
        top,
        store,
        ref=ref,
        platform=platform,
        limits=limits,
        source=source,
        transport="oci-archive",
    )


def _select_entry(entries: list[Any], ref: str | None, what: str) -> dict[str, Any]:
    if ref is not None and ref.startswith("@"):
        try:
            n = int(ref[1:])
        except ValueError:
            raise SourceError(f"{what}: {ref!r} is not an image index (use @N)") from None
        if not 0 <= n < len(entries):
            raise SourceError(f"{what}: archive holds {len(entries)} images; @{n} is out of range")
        entry = entries[n]
    elif ref is not None:
        found = []
        for e in entries:
            tags = e.get("RepoTags") or [] if isinstance(e, dict) else []
            if not isinstance(tags, list):
                continue
            for t in tags:
                if isinstance(t, str) and (
                    t == ref
                    or t.endswith("/" + ref)
                    or f"docker.io/{t}" == ref
                    or f"docker.io/library/{t}" == ref
                ):
                    found.append(e)
        if not found:
            raise PlatformError(f"{what}: no image tagged {ref!r} in the archive")
        entry = found[0]
    else:
        if len(entries) != 1:
            tags = [
                ",".join(e.get("RepoTags") or ["<untagged>"]) if isinstance(e, dict) else "?"
                for e in entries
            ]
            raise SourceError(
                f"{what}: archive holds {len(entries)} images ({'; '.join(tags)});"
                " name one as docker-archive:PATH:TAG or docker-archive:PATH:@N"
            )
        entry = entries[0]
    if not isinstance(entry, dict):
        raise ImageFormatError(f"{what}: manifest.json entry is not an object")
    return entry


def open_docker_archive(
    path: Path,
    ref: str | None,
    *,
    source: str,
    platform: Platform | None,
    limits: Limits,
    index: TarIndex,
) -> Image:
    what = source
    if "manifest.json" not in index:
        raise ImageFormatError(
            f"{what}: {path} has no manifest.json; it is not a docker-archive"
            " (pre-Docker-1.10 archives are unsupported)"
        )
    doc = load_json(
        index.read("manifest.json", limits.max_archive_json_bytes),
        f"{what} manifest.json",
        limits.max_archive_json_bytes,
    )
    if not isinstance(doc, list) or not doc:
        raise ImageFormatError(f"{what}: manifest.json must be a non-empty list of images")
    entry = _select_entry(doc, ref, what)
    config_path = entry.get("Config")
    layer_paths = entry.get("Layers")
    if (
        not isinstance(config_path, str)
        or not isinstance(layer_paths, list)
        or not all(isinstance(p, str) for p in layer_paths)
    ):
        raise ImageFormatError(
            f"{what}: manifest.json entry needs a 'Config' string and a 'Layers' list"
        )
    if len(layer_paths) > limits.max_layers:
        raise ImageFormatError(
            f"{what}: {len(layer_paths)} layers exceeds the limit of {limits.max_layers}"
        )
    config_raw = index.read(config_path, limits.max_config_bytes)
    config_digest = Digest.of(config_raw)
    m = _BLOB_PATH.match(config_path)
    named = m.group(2) if m else Path(config_path).name.removesuffix(".json")
    if re.fullmatch(r"[0-9a-f]{64}", named) and named != config_digest.hex:
        raise ImageFormatError(
            f"{what}: config {config_path} does not hash to the digest in its name (sha256:{named})"
        )
    config = parse_config(config_raw, config_digest, limits, f"{what} config")
    store = TarBlobStore(index, limits)

    # Docker 25+: the real manifest is one of the blobs; find the one naming this config
    if m and "oci-layout" in index:
        manifest = _find_stored_manifest(index, store, config_digest, platform, limits, what)
        if manifest is not None:
            return Image(
                source=source,
                transport="docker-archive",
                reference=None,
                manifest=manifest,
                config=config,
                layers=build_layers(manifest, config, what),
                blobs=store,
            )

    if len(layer_paths) != len(config.diff_ids):
        raise ImageFormatError(
            f"{what}: manifest.json lists {len(layer_paths)} layers but the config has"
            f" {len(config.diff_ids)} diff_ids"
        )
    layers_json = []
    for i, lp in enumerate(layer_paths):
        member = index.resolve(lp)
        assert member is not None
        f, size = index.open(lp)
        with f:
            mt = _sniff(f.read(4))
            lm = _BLOB_PATH.match(lp)
            if lm:
                digest = f"{lm.group(1)}:{lm.group(2)}"
            elif mt == media.DOCKER_LAYER:
                digest = str(config.diff_ids[i])  # uncompressed: the blob digest is the diffID
            else:
                f.seek(0)
                digest = str(_hash_member(f, f"{what} layer {lp}"))
        store.paths[digest] = lp
        layers_json.append({"mediaType": mt, "size": size, "digest": digest})
    synthesized = {
        "schemaVersion": 2,
        "mediaType": media.DOCKER_MANIFEST,
        "config": {
            "mediaType": media.DOCKER_CONFIG,
            "size": len(config_raw),
            "digest": str(config_digest),
        },
        "layers": layers_json,
    }
    raw = json.dumps(synthesized, separators=(",", ":")).encode()
    store.paths[str(config_digest)] = config_path
    parsed = parse_manifest(
        raw, digest=None, media_type=media.DOCKER_MANIFEST, limits=limits, what=what
    )
    assert isinstance(parsed, Manifest)
    return Image(
        source=source,
        transport="docker-archive",
        reference=None,
        manifest=parsed,
        config=config,
        layers=build_layers(parsed, config, what),
        blobs=store,
        synthesized_manifest=True,
    )


def _hash_member(f: Any, what: str) -> Digest:
    h = Digest.of(b"").hasher()
    while chunk := f.read(1 << 20):
        h.update(chunk)
    return Digest("sha256", h.hexdigest())


def _find_stored_manifest(
    index: TarIndex,
    store: TarBlobStore,
    config_digest: Digest,
    platform: Platform | None,
    limits: Limits,
    what: str,
) -> Manifest | None:
    for name in index.names():
        bm = _BLOB_PATH.match(name)
        if not bm:
            continue
        member = index.resolve(name, required=False)
        if member is None or member.size > limits.max_manifest_bytes or member.size < 20:
            continue
        raw = index.read(name, limits.max_manifest_bytes)
        if not raw.lstrip().startswith(b"{") or b'"config"' not in raw:
            continue
        with suppress(ImageFormatError, ValueError):
            doc = parse_manifest(
                raw,
                digest=Digest.parse(f"{bm.group(1)}:{bm.group(2)}"),
                media_type=None,
                limits=limits,
                what=what,
            )
            if isinstance(doc, Manifest) and doc.config.digest == config_digest:
                return doc
    return None
