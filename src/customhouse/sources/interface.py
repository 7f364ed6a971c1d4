"""What every image source yields: an :class:`Image` with verified metadata and a blob store.

Sources differ only in where bytes come from. Each one produces the same ``Image``:
the manifest and config are verified against their digests on load, and every
blob stream it hands out is a :class:`~customhouse.digest.VerifyingReader` that
checks the digest and size at EOF.
"""

# Annotations are evaluated, not postponed (no ``from __future__ import annotations``):
# typing.NamedTuple compiles every string annotation, ~60 us a field at each start-up.
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING, NamedTuple, Protocol

from customhouse._records import Frozen
from customhouse.digest import Digest, VerifyingReader
from customhouse.oci.model import Descriptor, HistoryEntry, ImageConfig, Manifest, Platform

if TYPE_CHECKING:
    from customhouse.reference import ImageReference


class BlobStore(Protocol):
    """Where an image's blobs live. ``open_blob`` must return a verifying stream."""

    def open_blob(
        self, descriptor: Descriptor, what: str
    ) -> AbstractContextManager[VerifyingReader]: ...


class Layer(Frozen):
    """One layer of an image: its position, blob descriptor, diffID and history entry.

    Immutable, hashable and compared by value (a :class:`Frozen`: a NamedTuple may not
    have a field named ``index``).
    """

    _fields = ("index", "descriptor", "diff_id", "history")
    __slots__ = _fields
    __match_args__ = ("index", "descriptor", "diff_id", "history")

    index: int
    descriptor: Descriptor
    diff_id: Digest
    history: HistoryEntry | None

    def __init__(
        self, index: int, descriptor: Descriptor, diff_id: Digest, history: HistoryEntry | None
    ) -> None:
        self._init(index, descriptor, diff_id, history)

    @property
    def label(self) -> str:
        """How error messages name the layer: position and diffID."""
        return f"#{self.index} ({self.diff_id.short})"


class Image(NamedTuple):
    """One resolved, single-platform image."""

    source: str  # the source string as given, e.g. "oci:/tmp/layout:3.19"
    transport: str  # oci | oci-archive | docker-archive | registry | dir
    reference: "ImageReference | None"
    manifest: Manifest | None  # None only for dir: sources
    config: ImageConfig | None
    layers: tuple[Layer, ...]
    blobs: BlobStore | None
    index_digest: Digest | None = None  # the index/list the manifest was chosen from
    synthesized_manifest: bool = False  # docker-archive without a stored manifest
    rootfs: Path | None = None  # dir: sources

    @property
    def platform(self) -> Platform | None:
        return self.config.platform if self.config else None

    @property
    def digest(self) -> Digest | None:
        return self.manifest.digest if self.manifest else None

    def open_layer(self, layer: Layer) -> AbstractContextManager[VerifyingReader]:
        assert self.blobs is not None
        return self.blobs.open_blob(layer.descriptor, f"layer {layer.label}")


def build_layers(manifest: Manifest, config: ImageConfig, what: str) -> tuple[Layer, ...]:
    """Pair manifest layers with config diffIDs; a count mismatch is malformed input."""
    from customhouse.errors import ImageFormatError

    if len(manifest.layers) != len(config.diff_ids):
        raise ImageFormatError(
            f"{what}: manifest lists {len(manifest.layers)} layers but the config has"
            f" {len(config.diff_ids)} diff_ids"
        )
    history = config.layer_history()
    return tuple(
        Layer(i, d, diff_id, history[i])
        for i, (d, diff_id) in enumerate(zip(manifest.layers, config.diff_ids, strict=True))
    )


class ImageSource(Protocol):
    def open(self) -> AbstractContextManager[Image]: ...
