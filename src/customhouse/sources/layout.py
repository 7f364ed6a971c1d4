"""``oci:PATH[:REF]``: an OCI image layout directory."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from customhouse.digest import VerifyingReader
from customhouse.errors import ImageFormatError, SourceError
from customhouse.limits import Limits
from customhouse.oci import media
from customhouse.oci.model import Descriptor, Index, Platform, load_json, parse_manifest
from customhouse.sources import _common
from customhouse.sources.interface import Image


class LayoutBlobStore:
    """Blobs under ``ROOT/blobs/<alg>/<hex>``; never follows a symlink, never opens a FIFO."""

    def __init__(self, root: Path, limits: Limits) -> None:
        self.root = root
        self.limits = limits

    def path_of(self, desc: Descriptor) -> Path:
        return self.root / "blobs" / desc.digest.algorithm / desc.digest.hex

    @contextmanager
    def open_blob(self, descriptor: Descriptor, what: str) -> Iterator[VerifyingReader]:
        path = self.path_of(descriptor)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        except FileNotFoundError:
            raise SourceError(
                f"{what}: blob {descriptor.digest} is missing from {self.root}"
            ) from None
        except OSError as e:
            raise SourceError(
                f"{what}: cannot open blob {descriptor.digest} ({path}): {e.strerror}"
            ) from None
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise SourceError(
                    f"{what}: blob {descriptor.digest} ({path}) is not a regular file"
                )
            f = os.fdopen(fd, "rb", buffering=0)
        except BaseException:
            os.close(fd)
            raise
        with f:
            yield VerifyingReader(f, descriptor.digest, what=what, expected_size=descriptor.size)


def read_layout_index(root: Path, limits: Limits, what: str) -> Index:
    layout_file = root / "oci-layout"
    index_file = root / "index.json"
    if not root.is_dir():
        raise SourceError(f"{what}: {root} is not a directory")
    if not layout_file.is_file() or not index_file.is_file():
        raise SourceError(
            f"{what}: {root} is not an OCI image layout (no oci-layout or index.json)"
        )
    doc = load_json(_read_capped(layout_file, 64 * 1024, what), f"{what} oci-layout", 64 * 1024)
    if not isinstance(doc, dict) or not isinstance(doc.get("imageLayoutVersion"), str):
        raise ImageFormatError(f"{what}: oci-layout has no imageLayoutVersion")
    raw = _read_capped(index_file, limits.max_manifest_bytes, what)
    index = parse_manifest(
        raw, digest=None, media_type=media.OCI_INDEX, limits=limits, what=f"{what} index.json"
    )
    if not isinstance(index, Index):
        raise ImageFormatError(f"{what}: index.json is not an image index")
    return index


def _read_capped(path: Path, limit: int, what: str) -> bytes:
    try:
        with open(path, "rb") as f:
            data = f.read(limit + 1)
    except OSError as e:
        raise SourceError(f"{what}: cannot read {path}: {e.strerror}") from None
    if len(data) > limit:
        raise ImageFormatError(f"{what}: {path.name} exceeds {limit} bytes")
    return data


def open_layout(
    root: Path, ref: str | None, *, source: str, platform: Platform | None, limits: Limits
) -> Image:
    what = source
    index = read_layout_index(root, limits, what)
    store = LayoutBlobStore(root, limits)
    return _common.image_from_index(
        index, store, ref=ref, platform=platform, limits=limits, source=source, transport="oci"
    )
