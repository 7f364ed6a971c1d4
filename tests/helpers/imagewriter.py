"""A small, real OCI image writer for tests: genuine tar bytes, real digests, optional lies.

Describe each layer as a list of tar members; the writer produces the layer tar
(``tarfile`` for ordinary headers, hand-made 512-byte blocks where a test needs a
malformed one), compresses it (gzip, zstd or none), computes blob digests and
diffIDs, and writes a complete image: config, manifest, ``index.json`` and
``oci-layout`` (:func:`write_layout`), the same as a tar (:func:`write_oci_archive`),
or a legacy ``docker save`` tar (:func:`write_docker_archive`).

Lies are explicit, so every hostile test says which one it tells:

- per layer: ``Layer(diff_id=...)`` (wrong diffID in the config), ``Layer(declared_size=...)``
  (wrong size in the manifest), ``truncate_tar`` / ``truncate_blob``, ``end_marker=False``;
- per member: ``declared_size`` (header size differs from the bytes that follow),
  ``header_patch`` (raw byte edits of the header block, checksum recomputed unless
  ``fix_checksum=False``), ``pax`` records, ``gnu_longname``;
- per image: ``mutate_config`` / ``mutate_manifest`` / ``mutate_index`` receive the JSON
  document and return a new one or raw bytes (digests are computed after mutation, so
  the image stays self-consistent unless the test breaks it on purpose);
- after writing: :meth:`WrittenImage.flip_byte` corrupts a stored blob in place.

Example::

    img = write_layout(tmp_path / "img", [
        Layer([directory("etc"), file("etc/passwd", b"root:x:0:0::/root:/bin/sh\\n")]),
        Layer([whiteout("etc/passwd")], compression="zstd"),
    ])
    img.source  # "oci:/tmp/.../img:latest"
"""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import shutil
import tarfile
import tempfile
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

__all__ = [
    "BLOCK",
    "Compression",
    "Layer",
    "Member",
    "Raw",
    "WrittenImage",
    "WrittenLayer",
    "block_device",
    "build_tar",
    "char_device",
    "compress",
    "copy_layout",
    "directory",
    "fifo",
    "file",
    "hardlink",
    "opaque",
    "raw_header",
    "sha256",
    "symlink",
    "whiteout",
    "write_docker_archive",
    "write_layout",
    "write_oci_archive",
]

BLOCK = 512
Compression = Literal["gzip", "zstd", "none"]
Kind = Literal["file", "dir", "symlink", "hardlink", "char", "block", "fifo"]
Mutator = Callable[[dict[str, Any]], "dict[str, Any] | bytes"]

_TYPES: dict[str, bytes] = {
    "file": tarfile.REGTYPE,
    "dir": tarfile.DIRTYPE,
    "symlink": tarfile.SYMTYPE,
    "hardlink": tarfile.LNKTYPE,
    "char": tarfile.CHRTYPE,
    "block": tarfile.BLKTYPE,
    "fifo": tarfile.FIFOTYPE,
}
_DEFAULT_MODE = {"file": 0o644, "dir": 0o755, "symlink": 0o777, "hardlink": 0o644}

OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
_LAYER_TYPES = {
    ("oci", "gzip"): "application/vnd.oci.image.layer.v1.tar+gzip",
    ("oci", "zstd"): "application/vnd.oci.image.layer.v1.tar+zstd",
    ("oci", "none"): "application/vnd.oci.image.layer.v1.tar",
    ("docker", "gzip"): "application/vnd.docker.image.rootfs.diff.tar.gzip",
    ("docker", "zstd"): "application/vnd.oci.image.layer.v1.tar+zstd",
    ("docker", "none"): "application/vnd.docker.image.rootfs.diff.tar",
}


def sha256(data: bytes) -> str:
    """``sha256:<hex>`` of ``data``."""
    return "sha256:" + hashlib.sha256(data).hexdigest()


# --- members ------------------------------------------------------------------


@dataclass(frozen=True)
class Member:
    """One tar member. Use the constructors (:func:`file`, :func:`symlink`, ...) for the usual cases.

    ``content`` is what follows the header; ``declared_size`` (when set) is what the
    header claims instead of ``len(content)``. ``pax`` adds pax extended-header records
    (``{"path": "../x"}`` overrides the name for readers that honour pax). With
    ``gnu_longname`` the name travels in a GNU ``L`` header and the ustar name field
    holds a harmless placeholder. ``header_patch`` maps offsets inside the member's
    main 512-byte header to replacement bytes, applied last; the checksum is then
    recomputed unless ``fix_checksum`` is False.
    """

    name: str
    kind: Kind = "file"
    content: bytes = b""
    mode: int | None = None
    linkname: str = ""
    uid: int = 0
    gid: int = 0
    mtime: int = 0
    devmajor: int = 0
    devminor: int = 0
    pax: Mapping[str, str] = field(default_factory=dict)
    gnu_longname: bool = False
    declared_size: int | None = None
    header_patch: Mapping[int, bytes] = field(default_factory=dict)
    fix_checksum: bool = True


@dataclass(frozen=True)
class Raw:
    """Bytes placed verbatim in the tar stream (garbage blocks, hand-made headers)."""

    data: bytes


def file(name: str, content: bytes = b"", *, mode: int = 0o644, **kw: Any) -> Member:
    return Member(name, "file", content, mode=mode, **kw)


def directory(name: str, *, mode: int = 0o755, **kw: Any) -> Member:
    return Member(name, "dir", mode=mode, **kw)


def symlink(name: str, target: str, **kw: Any) -> Member:
    return Member(name, "symlink", linkname=target, **kw)


def hardlink(name: str, target: str, **kw: Any) -> Member:
    return Member(name, "hardlink", linkname=target, **kw)


def char_device(name: str, major: int = 1, minor: int = 3, **kw: Any) -> Member:
    return Member(name, "char", mode=0o666, devmajor=major, devminor=minor, **kw)


def block_device(name: str, major: int = 8, minor: int = 0, **kw: Any) -> Member:
    return Member(name, "block", mode=0o660, devmajor=major, devminor=minor, **kw)


def fifo(name: str, **kw: Any) -> Member:
    return Member(name, "fifo", mode=0o644, **kw)


def whiteout(path: str) -> Member:
    """An OCI whiteout: deletes ``path`` from the layers below."""
    parent, _, base = path.rstrip("/").rpartition("/")
    return file(f"{parent}/.wh.{base}" if parent else f".wh.{base}")


def opaque(dir_path: str) -> Member:
    """An opaque-directory marker: hides everything below ``dir_path`` from lower layers."""
    return file(f"{dir_path.rstrip('/')}/.wh..wh..opq")


# --- tar bytes ------------------------------------------------------------------


def _checksum(block: bytearray) -> None:
    block[148:156] = b" " * 8
    block[148:156] = b"%06o\0 " % sum(block)


def raw_header(
    name: str,
    *,
    type: bytes = tarfile.REGTYPE,
    size: int = 0,
    mode: int = 0o644,
    linkname: str = "",
    patch: Mapping[int, bytes] | None = None,
    fix_checksum: bool = True,
) -> bytes:
    """One hand-made ustar header block (name and linkname at most 100 bytes)."""
    ti = tarfile.TarInfo(name)
    ti.type, ti.mode, ti.linkname = type, mode, linkname
    ti.size = size if 0 <= size < 8**11 else 0
    block = bytearray(ti.tobuf(tarfile.USTAR_FORMAT))
    assert len(block) == BLOCK, "raw_header takes short names only"
    if not 0 <= size < 8**11:  # GNU base-256 for sizes octal cannot hold (or negative)
        block[124:136] = (b"\x80" if size >= 0 else b"\xff") + (size % (1 << 88)).to_bytes(
            11, "big"
        )
    for offset, data in (patch or {}).items():
        block[offset : offset + len(data)] = data
    if fix_checksum:
        _checksum(block)
    return bytes(block)


def _pad(n: int) -> bytes:
    return b"\0" * (-n % BLOCK)


def _member_bytes(m: Member) -> bytes:
    out = bytearray()
    name = m.name
    if m.gnu_longname:
        payload = name.encode() + b"\0"
        out += raw_header("././@LongLink", type=tarfile.GNUTYPE_LONGNAME, size=len(payload))
        out += payload + _pad(len(payload))
        name = "longname-placeholder"
    ti = tarfile.TarInfo(name)
    ti.type = _TYPES[m.kind]
    ti.mode = m.mode if m.mode is not None else _DEFAULT_MODE.get(m.kind, 0o644)
    ti.uid, ti.gid, ti.mtime = m.uid, m.gid, m.mtime
    ti.linkname = m.linkname
    ti.devmajor, ti.devminor = m.devmajor, m.devminor
    size = m.declared_size if m.declared_size is not None else len(m.content)
    ti.size = size if 0 <= size < 8**11 else 0
    ti.pax_headers = dict(m.pax)
    headers = bytearray(ti.tobuf(tarfile.PAX_FORMAT, "utf-8", "surrogateescape"))
    main = bytearray(headers[-BLOCK:])
    if not 0 <= size < 8**11:
        main[124:136] = (b"\x80" if size >= 0 else b"\xff") + (size % (1 << 88)).to_bytes(11, "big")
    for offset, data in m.header_patch.items():
        main[offset : offset + len(data)] = data
    if m.fix_checksum:
        _checksum(main)
    out += headers[:-BLOCK] + main
    out += m.content + _pad(len(m.content))
    return bytes(out)


def build_tar(members: Sequence[Member | Raw], *, end_marker: bool = True) -> bytes:
    """The uncompressed tar stream for ``members``, in order."""
    out = bytearray()
    for m in members:
        out += m.data if isinstance(m, Raw) else _member_bytes(m)
    if end_marker:
        out += b"\0" * (2 * BLOCK)
    return bytes(out)


def compress(data: bytes, compression: Compression, *, gzip_members: int = 1) -> bytes:
    """Compress a layer. ``gzip_members`` > 1 splits it into concatenated gzip members."""
    if compression == "none":
        return data
    if compression == "zstd":
        import zstandard

        return bytes(zstandard.ZstdCompressor(level=3).compress(data))
    if gzip_members <= 1:
        return gzip.compress(data, compresslevel=6, mtime=0)
    step = max(1, -(-len(data) // gzip_members))
    return b"".join(
        gzip.compress(data[i : i + step], compresslevel=6, mtime=0)
        for i in range(0, max(len(data), 1), step)
    )


# --- layers and images ----------------------------------------------------------------


@dataclass(frozen=True)
class Layer:
    """One layer: its members (or a ready ``tar``), compression, and any lies to tell."""

    members: Sequence[Member | Raw] = ()
    compression: Compression = "gzip"
    tar: bytes | None = None  # the uncompressed stream as is, instead of ``members``
    end_marker: bool = True
    gzip_members: int = 1
    truncate_tar: int | None = None  # keep only the first N uncompressed bytes
    truncate_blob: int | None = None  # keep only the first N compressed bytes
    diff_id: str | None = None  # lie: this diffID goes into the config
    declared_size: int | None = None  # lie: this size goes into the manifest descriptor
    media_type: str | None = None  # default from the compression


@dataclass(frozen=True)
class WrittenLayer:
    index: int
    media_type: str
    digest: str  # of the blob as stored
    size: int  # as declared in the manifest
    diff_id: str  # as written in the config (maybe a lie)
    true_diff_id: str  # sha256 of the uncompressed tar as stored
    tar: bytes  # the uncompressed stream
    blob: bytes  # the stored blob

    @property
    def diff_id_short(self) -> str:
        """``sha256:`` plus 12 hex digits, as error messages abbreviate it."""
        return self.diff_id[: len("sha256:") + 12]


@dataclass(frozen=True)
class WrittenImage:
    path: Path  # the layout directory or the archive file
    transport: str  # "oci", "oci-archive" or "docker-archive"
    ref: str | None
    manifest_digest: str
    config_digest: str
    manifest: bytes
    config: bytes
    layers: tuple[WrittenLayer, ...]

    @property
    def source(self) -> str:
        """The source string for ``customhouse`` / ``open_image``."""
        base = f"{self.transport}:{self.path}"
        return f"{base}:{self.ref}" if self.ref else base

    def blob_path(self, digest: str) -> Path:
        if self.transport != "oci":
            raise ValueError("blob_path needs an OCI layout directory")
        alg, _, hexpart = digest.partition(":")
        return self.path / "blobs" / alg / hexpart

    def flip_byte(self, digest: str, offset: int = -1) -> None:
        """XOR one byte of a stored blob (default: its last byte) with 0x01."""
        path = self.blob_path(digest)
        data = bytearray(path.read_bytes())
        data[offset] ^= 0x01
        path.chmod(0o644)
        path.write_bytes(bytes(data))


def _layer_blob(layer: Layer) -> tuple[bytes, bytes]:
    tar = (
        layer.tar
        if layer.tar is not None
        else build_tar(layer.members, end_marker=layer.end_marker)
    )
    if layer.truncate_tar is not None:
        tar = tar[: layer.truncate_tar]
    blob = compress(tar, layer.compression, gzip_members=layer.gzip_members)
    if layer.truncate_blob is not None:
        blob = blob[: layer.truncate_blob]
    return tar, blob


def _as_bytes(doc: dict[str, Any], mutate: Mutator | None) -> bytes:
    out: dict[str, Any] | bytes = mutate(doc) if mutate is not None else doc
    if isinstance(out, bytes):
        return out
    return json.dumps(out, separators=(",", ":")).encode()


@dataclass(frozen=True)
class _Built:
    config: bytes
    manifest: bytes
    layers: tuple[WrittenLayer, ...]
    manifest_media_type: str


def _build(
    layers: Sequence[Layer],
    *,
    media: str,
    os: str,
    architecture: str,
    variant: str | None,
    config_extra: Mapping[str, Any] | None,
    history: bool,
    mutate_config: Mutator | None,
    mutate_manifest: Mutator | None,
) -> _Built:
    written = []
    for i, layer in enumerate(layers):
        tar, blob = _layer_blob(layer)
        true_diff = sha256(tar)
        written.append(
            WrittenLayer(
                index=i,
                media_type=layer.media_type or _LAYER_TYPES[(media, layer.compression)],
                digest=sha256(blob),
                size=layer.declared_size if layer.declared_size is not None else len(blob),
                diff_id=layer.diff_id or true_diff,
                true_diff_id=true_diff,
                tar=tar,
                blob=blob,
            )
        )
    config_doc: dict[str, Any] = {
        "architecture": architecture,
        "os": os,
        "created": "2024-01-01T00:00:00Z",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"]},
        "rootfs": {"type": "layers", "diff_ids": [w.diff_id for w in written]},
    }
    if variant:
        config_doc["variant"] = variant
    if history:
        config_doc["history"] = [
            {"created": "2024-01-01T00:00:00Z", "created_by": f"imagewriter layer {w.index}"}
            for w in written
        ]
    config_doc.update(config_extra or {})
    config = _as_bytes(config_doc, mutate_config)
    manifest_type = OCI_MANIFEST if media == "oci" else DOCKER_MANIFEST
    manifest_doc = {
        "schemaVersion": 2,
        "mediaType": manifest_type,
        "config": {
            "mediaType": OCI_CONFIG if media == "oci" else DOCKER_CONFIG,
            "digest": sha256(config),
            "size": len(config),
        },
        "layers": [
            {"mediaType": w.media_type, "digest": w.digest, "size": w.size} for w in written
        ],
    }
    manifest = _as_bytes(manifest_doc, mutate_manifest)
    return _Built(config, manifest, tuple(written), manifest_type)


def _put_blob(root: Path, data: bytes) -> str:
    digest = sha256(data)
    path = root / "blobs" / "sha256" / digest.partition(":")[2]
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return digest


def write_layout(
    root: Path,
    layers: Sequence[Layer],
    *,
    ref: str | None = "latest",
    media: Literal["oci", "docker"] = "oci",
    os: str = "linux",
    architecture: str = "amd64",
    variant: str | None = None,
    config_extra: Mapping[str, Any] | None = None,
    history: bool = True,
    mutate_config: Mutator | None = None,
    mutate_manifest: Mutator | None = None,
    mutate_index: Mutator | None = None,
    extra_blobs: Sequence[bytes] = (),
) -> WrittenImage:
    """Write an OCI image layout at ``root`` (created) holding one image of ``layers``.

    ``ref`` becomes the ``org.opencontainers.image.ref.name`` annotation (None: no
    annotation, and the returned source string has no ``:REF``). ``media="docker"``
    uses Docker schema 2 media types. ``config_extra`` is merged into the config's top
    level. ``extra_blobs`` are stored as well (for mutators that reference them).
    """
    built = _build(
        layers,
        media=media,
        os=os,
        architecture=architecture,
        variant=variant,
        config_extra=config_extra,
        history=history,
        mutate_config=mutate_config,
        mutate_manifest=mutate_manifest,
    )
    root.mkdir(parents=True, exist_ok=True)
    for w in built.layers:
        _put_blob(root, w.blob)
    config_digest = _put_blob(root, built.config)
    manifest_digest = _put_blob(root, built.manifest)
    for blob in extra_blobs:
        _put_blob(root, blob)
    entry: dict[str, Any] = {
        "mediaType": built.manifest_media_type,
        "digest": manifest_digest,
        "size": len(built.manifest),
        "platform": {"architecture": architecture, "os": os},
    }
    if variant:
        entry["platform"]["variant"] = variant
    if ref is not None:
        entry["annotations"] = {"org.opencontainers.image.ref.name": ref}
    index_doc = {"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": [entry]}
    (root / "index.json").write_bytes(_as_bytes(index_doc, mutate_index))
    (root / "oci-layout").write_text('{"imageLayoutVersion":"1.0.0"}')
    return WrittenImage(
        path=root,
        transport="oci",
        ref=ref,
        manifest_digest=manifest_digest,
        config_digest=config_digest,
        manifest=built.manifest,
        config=built.config,
        layers=built.layers,
    )


def _tar_directory(src: Path, dest: Path) -> None:
    with tarfile.open(dest, "w", format=tarfile.PAX_FORMAT) as tf:
        for path in sorted(src.rglob("*")):
            tf.add(path, arcname=path.relative_to(src).as_posix(), recursive=False)


def write_oci_archive(path: Path, layers: Sequence[Layer], **kw: Any) -> WrittenImage:
    """Like :func:`write_layout`, packed as an ``oci-archive`` tar at ``path``."""
    with tempfile.TemporaryDirectory(dir=path.parent) as tmp:
        img = write_layout(Path(tmp) / "layout", layers, **kw)
        _tar_directory(img.path, path)
    return WrittenImage(
        path=path,
        transport="oci-archive",
        ref=img.ref,
        manifest_digest=img.manifest_digest,
        config_digest=img.config_digest,
        manifest=img.manifest,
        config=img.config,
        layers=img.layers,
    )


def write_docker_archive(
    path: Path,
    layers: Sequence[Layer],
    *,
    repo_tags: Sequence[str] = ("example.com/test/image:latest",),
    os: str = "linux",
    architecture: str = "amd64",
    config_extra: Mapping[str, Any] | None = None,
    mutate_config: Mutator | None = None,
) -> WrittenImage:
    """Write a legacy ``docker save`` tar: ``manifest.json``, ``<config>.json``, ``<id>/layer.tar``.

    Layers are stored as given (``docker save`` stores them uncompressed; use
    ``compression="none"`` for the faithful shape). The returned ``manifest_digest`` is
    empty: this format stores no manifest.
    """
    built = _build(
        layers,
        media="docker",
        os=os,
        architecture=architecture,
        variant=None,
        config_extra=config_extra,
        history=True,
        mutate_config=mutate_config,
        mutate_manifest=None,
    )
    config_name = sha256(built.config).partition(":")[2] + ".json"
    files: list[tuple[str, bytes]] = [(config_name, built.config)]
    layer_paths = []
    parent = ""
    for w in built.layers:
        layer_id = hashlib.sha256((parent + w.diff_id).encode()).hexdigest()
        parent = layer_id
        layer_paths.append(f"{layer_id}/layer.tar")
        files += [
            (f"{layer_id}/VERSION", b"1.0"),
            (f"{layer_id}/json", json.dumps({"id": layer_id}).encode()),
            (f"{layer_id}/layer.tar", w.blob),
        ]
    manifest_json = [{"Config": config_name, "RepoTags": list(repo_tags), "Layers": layer_paths}]
    files.append(("manifest.json", json.dumps(manifest_json).encode()))
    with tarfile.open(path, "w", format=tarfile.PAX_FORMAT) as tf:
        dirs_done: set[str] = set()
        for name, data in files:
            d = name.rpartition("/")[0]
            if d and d not in dirs_done:
                ti = tarfile.TarInfo(d + "/")
                ti.type, ti.mode = tarfile.DIRTYPE, 0o755
                tf.addfile(ti)
                dirs_done.add(d)
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode = len(data), 0o644
            tf.addfile(ti, io.BytesIO(data))
    return WrittenImage(
        path=path,
        transport="docker-archive",
        ref=None,
        manifest_digest="",
        config_digest=sha256(built.config),
        manifest=b"",
        config=built.config,
        layers=built.layers,
    )


def copy_layout(src: Path, dest: Path) -> Path:
    """Copy a (read-only) layout so a test may damage it."""
    shutil.copytree(src, dest)
    for p in [dest, *dest.rglob("*")]:
        p.chmod(0o755 if p.is_dir() else 0o644)
    return dest
