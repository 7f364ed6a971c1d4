"""Walk every layer of an image once, top layer first, with whiteouts applied.

Walking from the top down means each entry's fate is known when it is read: an
entry is ``visible`` unless a layer above deleted it (whiteout, opaque directory)
or replaced it. So one streaming pass serves both the final-filesystem view
(catalogers, export) and the "deleted but still shipped" view (leak rules), and
nothing is extracted to disk.

Guards (each raises :class:`LayerError` naming the layer and entry): path
traversal, absolute names, paths through symlinks (symlink escape), hardlinks
that leave the root, point through a symlink or at nothing, device files, and
everything the tar reader and decompressor refuse.
"""

from __future__ import annotations

from collections.abc import Callable, Generator, Iterator
from contextlib import ExitStack
from dataclasses import dataclass

from customhouse.errors import LayerError
from customhouse.limits import DEFAULT_LIMITS, Limits
from customhouse.sources.interface import Image, Layer
from customhouse.walk import tar as _tar
from customhouse.walk.entry import Content, Entry, Kind, ancestors, normalize
from customhouse.walk.hashing import BackgroundHasher
from customhouse.walk.stream import LayerStream, Prefetched

WHITEOUT = ".wh."
OPAQUE = ".wh..wh..opq"

_KINDS = {
    _tar.REG: Kind.FILE,
    _tar.AREG: Kind.FILE,
    _tar.CONT: Kind.FILE,
    _tar.DIR: Kind.DIR,
    _tar.SYM: Kind.SYMLINK,
    _tar.LNK: Kind.HARDLINK,
    _tar.FIFO: Kind.FIFO,
}


class _Node:
    __slots__ = ("blocked_by", "children", "defined_in", "min_desc")

    def __init__(self) -> None:
        self.children: dict[str, _Node] = {}
        self.defined_in: int | None = None  # lowest layer above with an entry exactly here
        self.blocked_by: int | None = None  # a layer above hides everything below this path
        self.min_desc: int | None = None  # lowest layer above with an entry beneath this path


class _Upper:
    """What the layers above the current one did to each path."""

    def __init__(self) -> None:
        self.root = _Node()

    def hidden_by(self, path: str) -> int | None:
        """The nearest layer above that deleted or replaced ``path``, or None if it survives.

        An ancestor's whiteout, opaque marker or non-directory hides the path; so does an
        entry at the path itself. A ``blocked_by`` on the path's own node hides only what
        lies beneath it (an opaque directory keeps the directory itself).
        """
        node = self.root
        if not path:
            return node.defined_in
        parts = path.split("/")
        found: list[int] = []
        for part in parts[:-1]:
            nxt = node.children.get(part)
            if nxt is None:
                break
            if nxt.blocked_by is not None:
                found.append(nxt.blocked_by)
            node = nxt
        else:
            leaf = node.children.get(parts[-1])
            if leaf is not None and leaf.defined_in is not None:
                found.append(leaf.defined_in)
        return min(found) if found else None

    def node(self, path: str) -> _Node | None:
        node = self.root
        for part in path.split("/") if path else ():
            nxt = node.children.get(part)
            if nxt is None:
                return None
            node = nxt
        return node

    def mark(self, path: str, layer: int, *, defines: bool, blocks: bool) -> None:
        node = self.root
        for part in path.split("/") if path else ():
            node.min_desc = layer
            node = node.children.setdefault(part, _Node())
        if defines:
            node.defined_in = layer
        if blocks:
            node.blocked_by = layer


@dataclass(slots=True)
class LayerStats:
    layer: int
    compression: str
    compressed_bytes: int
    uncompressed_bytes: int
    entries: int


class Walk:
    """Iterate ``(entry, content)`` over all layers, top first.

    ``content`` is the tar stream positioned at the entry's data (regular files
    only, else None): call ``content.read_all()`` or iterate ``content.read_chunks()``
    before advancing. Unread content is skipped, never buffered.
    """

    def __init__(
        self,
        image: Image,
        *,
        limits: Limits = DEFAULT_LIMITS,
        progress: Callable[[Layer, int], None] | None = None,
    ) -> None:
        self.image = image
        self.limits = limits
        self.progress = progress  # called with (layer, compressed bytes read) about once a MiB
        self.stats: list[LayerStats] = []

    def __iter__(self) -> Iterator[tuple[Entry, Content | None]]:
        if self.image.rootfs is not None:
            from customhouse.walk.rootfs import walk_rootfs

            yield from walk_rootfs(self.image.rootfs, limits=self.limits)
            return
        upper = _Upper()
        pending_links: dict[str, tuple[int, str]] = {}  # hardlink target -> (layer, link path)
        with BackgroundHasher() as bg:
            for layer in reversed(self.image.layers):
                yield from self._walk_layer(layer, upper, pending_links, bg)
        if pending_links:
            target, (idx, link) = next(iter(pending_links.items()))
            raise LayerError(
                f"hardlink to {target!r}, which no layer provides",
                layer=self.image.layers[idx].label,
                entry=link,
            )

    def _walk_layer(
        self,
        layer: Layer,
        upper: _Upper,
        pending_links: dict[str, tuple[int, str]],
        bg: BackgroundHasher,
    ) -> Iterator[tuple[Entry, Content | None]]:
        label = layer.label
        k = layer.index
        marks: list[tuple[str, bool, bool]] = []  # (path, defines, blocks), applied after the layer
        files_here: dict[str, bool] = {}  # regular files in this layer -> visible
        for item, content in read_layer(
            self.image, layer, limits=self.limits, bg=bg, progress=self.progress, stats=self.stats
        ):
            if isinstance(item, Whiteout):
                marks.append((item.path, not item.opaque, True))
                continue
            entry = item
            path = entry.path
            hidden = upper.hidden_by(path)
            entry.visible = hidden is None
            entry.hidden_by = hidden
            if entry.kind is Kind.HARDLINK:
                target = entry.linkname
                marks.append((target, False, False))  # lets lower symlinks see the traversal
                if target in files_here:
                    entry.target_hidden = not files_here[target]
                else:
                    entry.target_hidden = upper.hidden_by(target) is not None
                    pending_links.setdefault(target, (k, path))
            elif entry.kind is Kind.SYMLINK:
                self._check_symlink(path, label, upper)
            elif entry.kind is Kind.FILE:
                files_here[path] = entry.visible
            if entry.kind is not Kind.DIR:
                pending_links.pop(path, None)
            marks.append((path, True, entry.kind is not Kind.DIR))
            yield entry, content
        for path, defines, blocks in marks:
            upper.mark(path, k, defines=defines, blocks=blocks)

    @staticmethod
    def _check_symlink(path: str, label: str, upper: _Upper) -> None:
        """A symlink here with entries beneath it in a layer above: those were written through it."""
        node = upper.node(path)
        if node is None or node.min_desc is None:
            return
        if node.defined_in is None or node.min_desc < node.defined_in:
            raise LayerError(
                "a later layer writes through this symlink (symlink escape)",
                layer=label,
                entry=path,
            )


@dataclass(frozen=True, slots=True)
class Whiteout:
    """A deletion marker: ``path`` removed (or, if ``opaque``, emptied) for the layers below."""

    path: str
    opaque: bool


def read_layer(
    image: Image,
    layer: Layer,
    *,
    limits: Limits = DEFAULT_LIMITS,
    bg: BackgroundHasher | None = None,
    progress: Callable[[Layer, int], None] | None = None,
    stats: list[LayerStats] | None = None,
) -> Generator[tuple[Entry | Whiteout, Content | None], None, None]:
    """One layer on its own: entries and whiteouts in tar order, with the in-layer guards.

    The blob digest and the diffID are verified when the stream ends; a consumer
    that stops early must not trust what it read (the walk always reads to the end).
    """
    label = layer.label
    k = layer.index
    symlinks_here: set[str] = set()
    with ExitStack() as stack:
        if bg is None:
            bg = stack.enter_context(BackgroundHasher())
        raw = stack.enter_context(image.open_layer(layer))
        raw.hash_in_background(bg)
        stream = LayerStream(raw, layer.diff_id, limits=limits, label=label, bg=bg)
        # a compressed layer inflates in a worker thread, ahead of the tar parsing here
        source: LayerStream | Prefetched = (
            stack.enter_context(Prefetched(stream)) if stream.compression != "none" else stream
        )
        next_chunk = source.next_chunk
        if progress is not None:
            report = progress

            def next_chunk() -> bytes:
                report(layer, raw.count)
                return source.next_chunk()

        ts = _tar.TarStream(next_chunk, label=label, limits=limits)
        # directories known to have no symlink of this layer among their ancestors-or-self;
        # emptied whenever a symlink appears (the set of symlinks only grows in between)
        clean_dirs: set[str] = {""}
        for m in ts:
            path = normalize(m.name, layer=label)
            parent, _, base = path.rpartition("/")
            if parent not in clean_dirs:
                for anc in ancestors(path):
                    if anc in symlinks_here:
                        raise LayerError(
                            f"path goes through the symlink {anc!r} (symlink escape)",
                            layer=label,
                            entry=m.name,
                        )
                clean_dirs.add(parent)
            if base.startswith(WHITEOUT):
                if base == OPAQUE:
                    yield Whiteout(parent, True), None
                elif not base.startswith(".wh..wh."):  # other AUFS metadata is ignored
                    target = base[len(WHITEOUT) :]
                    if target in ("", ".", ".."):
                        raise LayerError("invalid whiteout name", layer=label, entry=m.name)
                    yield Whiteout((parent + "/" + target) if parent else target, False), None
                continue
            kind = _KINDS.get(m.type)
            if kind is None:
                raise LayerError(
                    "device file in layer (images must not carry device nodes)",
                    layer=label,
                    entry=m.name,
                )
            linkname = m.linkname
            if kind is Kind.HARDLINK:
                linkname = normalize(m.linkname, layer=label, entry=m.name)
                if not linkname or linkname == path:
                    raise LayerError(
                        f"hardlink to {m.linkname!r} is invalid", layer=label, entry=m.name
                    )
                for anc in ancestors(linkname):
                    if anc in symlinks_here:
                        raise LayerError(
                            f"hardlink target {m.linkname!r} goes through the symlink {anc!r}"
                            " (hardlink escape)",
                            layer=label,
                            entry=m.name,
                        )
            if kind is Kind.SYMLINK:
                symlinks_here.add(path)
                clean_dirs.clear()
                clean_dirs.add("")
            elif symlinks_here:
                symlinks_here.discard(path)
            is_file = kind is Kind.FILE
            entry = Entry(
                path,
                kind,
                m.mode & 0o7777,
                m.uid,
                m.gid,
                m.uname,
                m.gname,
                m.mtime,
                m.size if is_file else 0,
                linkname,
                k,
                True,
                None,
                False,
                m.xattrs,
            )
            yield entry, (ts if is_file else None)
        source.drain()
        if stats is not None:
            stats.append(
                LayerStats(k, stream.compression, stream.in_bytes, stream.out_bytes, ts.members)
            )
