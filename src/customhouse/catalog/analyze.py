"""Index the layers of an image (cached by diffID) and merge them into an inventory.

The index/match split of Clair v4 and Trivy: each layer is analysed on its own,
into the cataloger results of the files it carries plus its whiteouts. That is a
pure function of the layer's content, so it is cached under the layer's diffID (the
walk verifies the diffID, so the cache cannot be poisoned by a lying config). The
image's inventory is then a merge: for each path, the topmost layer's version,
unless a whiteout or opaque directory above removed it. A package is attributed to
the lowest layer from which its file carried it without interruption.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from customhouse._records import Record
from customhouse.catalog.interface import (
    DEB,
    OS_ECOSYSTEMS,
    Cataloger,
    Distro,
    FileResult,
    Package,
    Wants,
)
from customhouse.catalog.osrelease import priority as os_priority
from customhouse.limits import DEFAULT_LIMITS, Limits
from customhouse.sources.interface import Image, Layer

CACHE_FORMAT = 3  # 2: owned files as one NUL-separated string; 3: stdlib JSON, ASCII-escaped


# LayerAnalysis and Inventory are mutable records, so slotted classes with hand-written
# ``__init__`` rather than dataclasses (whose import and class generation cost a warm
# scan more than the whole of its inventory merge).


class LayerAnalysis(Record):
    """One layer's cataloger results by path, and its whiteouts; compares by value."""

    _fields = ("diff_id", "files", "whiteouts", "opaques", "warnings")
    __slots__ = _fields

    def __init__(
        self,
        diff_id: str,
        files: dict[str, FileResult] | None = None,
        whiteouts: list[str] | None = None,
        opaques: list[str] | None = None,
        warnings: list[str] | None = None,
    ) -> None:
        self.diff_id = diff_id
        self.files: dict[str, FileResult] = {} if files is None else files
        self.whiteouts: list[str] = [] if whiteouts is None else whiteouts
        self.opaques: list[str] = [] if opaques is None else opaques
        self.warnings: list[str] = [] if warnings is None else warnings

    def to_json(self) -> dict[str, Any]:
        return {
            "format": CACHE_FORMAT,
            "diff_id": self.diff_id,
            "files": {p: r.to_json() for p, r in self.files.items()},
            "whiteouts": self.whiteouts,
            "opaques": self.opaques,
            "warnings": self.warnings,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> LayerAnalysis:
        return cls(
            diff_id=d["diff_id"],
            files={p: FileResult.from_json(r) for p, r in d["files"].items()},
            whiteouts=list(d["whiteouts"]),
            opaques=list(d["opaques"]),
            warnings=list(d.get("warnings", ())),
        )


class Inventory:
    """What an image holds: its distro and packages, merged over its layers."""

    __slots__ = (
        "cached_layers",
        "distro",
        "image_digest",
        "layers",
        "packages",
        "source",
        "warnings",
    )

    def __init__(
        self,
        source: str,
        image_digest: str | None,
        distro: Distro | None,
        packages: list[Package],
        warnings: list[str],
        layers: list[str],  # diffIDs, bottom first
        cached_layers: int = 0,
    ) -> None:
        self.source = source
        self.image_digest = image_digest
        self.distro = distro
        self.packages = packages
        self.warnings = warnings
        self.layers = layers
        self.cached_layers = cached_layers


def default_cache_dir() -> Path:
    from customhouse.dirs import cache_dir

    return cache_dir()


def _loads(data: bytes) -> Any:
    return json.loads(data)


def _dumps(obj: Any) -> bytes:
    # ASCII with escapes: a path that is not UTF-8 (kept as lone surrogates) round-trips
    return json.dumps(obj, separators=(",", ":")).encode("ascii")


def code_signature() -> str:
    """A fingerprint of the cataloging code itself (names, sizes, mtimes of its modules).

    Any change to a cataloger, even one that forgot to bump its ``version``, gives a
    new key, so a stale analysis is never reused; and computing it imports nothing.
    """
    from customhouse.digest import Digest

    here = Path(__file__).resolve().parent
    parts = [str(CACHE_FORMAT)]
    for p in sorted(here.glob("*.py")):
        st = p.stat()
        parts.append(f"{p.name}:{st.st_size}:{st.st_mtime_ns};")
    return Digest.of("".join(parts).encode()).hex[:16]


class LayerCache:
    """Layer analyses as JSON files named by diffID, under a key of the cataloging code."""

    def __init__(self, root: Path, catalogers: Sequence[Cataloger] | None = None) -> None:
        sig = code_signature()
        if catalogers is not None:  # a custom set of catalogers keys its own cache
            from customhouse.digest import Digest

            names = ",".join(sorted(f"{c.name}.{c.version}" for c in catalogers))
            sig += "-" + Digest.of(names.encode()).hex[:8]
        self.dir = root / "layers" / f"v{CACHE_FORMAT}-{sig}"

    def _path(self, diff_id: str) -> Path:
        algo, _, hex_ = diff_id.partition(":")
        return self.dir / f"{algo}-{hex_}.json"

    def get(self, diff_id: str) -> LayerAnalysis | None:
        try:
            with open(self._path(diff_id), "rb") as f:
                data = _loads(f.read())
            analysis = LayerAnalysis.from_json(data)
        except (OSError, ValueError, KeyError, TypeError):
            return None  # absent or unreadable: analyse again
        return analysis if analysis.diff_id == diff_id else None

    def put(self, analysis: LayerAnalysis) -> None:
        try:
            self.dir.mkdir(parents=True, exist_ok=True)
            import tempfile  # only a cache miss writes (it costs ~10 ms to import)

            fd, tmp = tempfile.mkstemp(dir=self.dir, prefix=".tmp-", suffix=".json")
        except OSError:
            return  # a cache that cannot be written is only slower
        try:
            with os.fdopen(fd, "wb") as f:
                f.write(_dumps(analysis.to_json()))
            os.replace(tmp, self._path(analysis.diff_id))
        except (OSError, ValueError, TypeError):
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def analyze_layer(
    image: Image,
    layer: Layer,
    catalogers: Sequence[Cataloger],
    *,
    limits: Limits = DEFAULT_LIMITS,
    progress: Callable[[Layer, int], None] | None = None,
) -> LayerAnalysis:
    from customhouse.walk.entry import Kind
    from customhouse.walk.layers import Whiteout, read_layer

    out = LayerAnalysis(diff_id=str(layer.diff_id))
    select = _Selector(catalogers).select
    for item, content in read_layer(image, layer, limits=limits, progress=progress):
        if isinstance(item, Whiteout):
            (out.opaques if item.opaque else out.whiteouts).append(item.path)
            continue
        if item.kind is not Kind.FILE or content is None:
            continue
        wanting = select(item.path, item.mode, item.size)
        if wanting:
            _catalog_file(item.path, item.size, content, wanting, out)
    return out


class _Selector:
    """Which catalogers want a file: every cataloger's :class:`Wants` combined into one
    cheap test per file, then the precise ``match`` of the few that may want it."""

    def __init__(self, catalogers: Sequence[Cataloger]) -> None:
        self.by_name: dict[str, list[Cataloger]] = {}
        self.by_suffix: list[tuple[str, Cataloger]] = []
        self.by_prefix: list[tuple[str, Cataloger]] = []
        self.executables: list[Cataloger] = []
        self.always: list[Cataloger] = []  # no declaration: asked about every file
        for c in catalogers:
            wants: Wants | None = getattr(c, "wants", None)
            if wants is None:
                self.always.append(c)
                continue
            for name in wants.names:
                self.by_name.setdefault(name, []).append(c)
            self.by_suffix += [(s, c) for s in wants.suffixes]
            self.by_prefix += [(p, c) for p in wants.prefixes]
            if wants.executables:
                self.executables.append(c)
        self.suffixes = tuple(s for s, _ in self.by_suffix)
        self.tail = max((len(s) for s in self.suffixes), default=0)
        self.prefixes = tuple(p for p, _ in self.by_prefix)
        self.order = {id(c): i for i, c in enumerate(catalogers)}

    def select(self, path: str, mode: int, size: int) -> list[Cataloger]:
        found = self.by_name.get(path[path.rfind("/") + 1 :])
        candidates = list(found) if found else []
        if self.suffixes:
            tail = path[-self.tail :].lower()
            if tail.endswith(self.suffixes):
                candidates += [c for s, c in self.by_suffix if tail.endswith(s)]
        if self.prefixes and path.startswith(self.prefixes):
            candidates += [c for p, c in self.by_prefix if path.startswith(p)]
        if mode & 0o111 and self.executables:
            candidates += self.executables
        candidates += self.always
        if not candidates:
            return candidates
        if len(candidates) > 1:  # one cataloger may qualify twice; keep the declared order
            unique = {id(c): c for c in candidates}
            candidates = sorted(unique.values(), key=lambda c: self.order[id(c)])
        return [c for c in candidates if c.match(path, mode, size)]


def _catalog_file(
    path: str,
    size: int,
    content: Any,
    wanting: Sequence[Cataloger],
    out: LayerAnalysis,
) -> None:
    """Read the file once and give it to each cataloger in ``wanting``."""
    limit = max(c.max_bytes for c in wanting)
    if size > limit:
        out.warnings.append(
            f"{path}: {size} bytes is more than the {limit} a cataloger reads; skipped"
        )
        return
    data = content.read_all(limit)
    merged = FileResult()
    for c in wanting:
        if size > c.max_bytes:
            merged.warnings.append(f"{path}: too large for the {c.name} cataloger; skipped")
            continue
        try:
            r = c.parse(path, data)
        except Exception as e:  # a cataloger bug must not sink the scan
            merged.warnings.append(f"{path}: {c.name} cataloger failed: {type(e).__name__}: {e}")
            continue
        merged.packages.extend(r.packages)
        merged.owned_files.extend(r.owned_files)
        merged.warnings.extend(r.warnings)
        merged.licenses_for.update(r.licenses_for)
        if r.distro is not None:
            merged.distro = r.distro
    if (
        merged.packages
        or merged.owned_files
        or merged.distro
        or merged.warnings
        or merged.licenses_for
    ):
        out.files[path] = merged


def analyze_rootfs(
    image: Image, catalogers: Sequence[Cataloger], *, limits: Limits
) -> LayerAnalysis:
    from customhouse.walk.entry import Kind
    from customhouse.walk.layers import Walk

    out = LayerAnalysis(diff_id="rootfs")
    select = _Selector(catalogers).select
    for entry, content in Walk(image, limits=limits):
        if entry.kind is Kind.FILE and content is not None:
            wanting = select(entry.path, entry.mode, entry.size)
            if wanting:
                _catalog_file(entry.path, entry.size, content, wanting, out)
    return out


class _PathNode:
    __slots__ = ("children", "path")

    def __init__(self) -> None:
        self.children: dict[str, _PathNode] = {}
        self.path: str | None = None  # set if this very path is indexed


class _PathIndex:
    """A set of paths as a tree of their ``/``-separated components.

    ``remove_under(prefix)`` costs the depth of ``prefix`` plus the size of what it
    removes, where scanning every path for each whiteout would cost their product.
    A path is under a non-empty ``prefix`` exactly when it is ``prefix`` or starts
    with ``prefix + "/"``, that is when its components begin with those of ``prefix``;
    the empty prefix stands for the root, above every path.
    """

    __slots__ = ("root",)

    def __init__(self) -> None:
        self.root = _PathNode()

    def add(self, path: str) -> None:
        node = self.root
        for part in path.split("/"):
            child = node.children.get(part)
            if child is None:
                node.children[part] = child = _PathNode()
            node = child
        node.path = path

    def remove_under(self, prefix: str, *, keep_self: bool) -> list[str]:
        """Remove and return the paths under ``prefix`` (but ``prefix`` itself if ``keep_self``)."""
        if not prefix:  # the root: every path (an opaque root keeps the path "" itself)
            old, self.root = self.root, _PathNode()
            out = _collect(old, [])
            if keep_self and "" in out:
                out.remove("")
                self.add("")
            return out
        parts = prefix.split("/")
        parent = self.root
        for part in parts[:-1]:
            found = parent.children.get(part)
            if found is None:
                return []
            parent = found
        node = parent.children.get(parts[-1])
        if node is None:
            return []
        out = []
        if not keep_self:
            del parent.children[parts[-1]]
            if node.path is not None:
                out.append(node.path)
        for child in node.children.values():
            _collect(child, out)
        node.children = {}
        return out


def _collect(node: _PathNode, out: list[str]) -> list[str]:
    """Append every indexed path at or below ``node`` to ``out`` (iteratively: paths may be deep)."""
    stack = [node]
    while stack:
        n = stack.pop()
        if n.path is not None:
            out.append(n.path)
        stack.extend(n.children.values())
    return out


def merge(analyses: Sequence[LayerAnalysis]) -> tuple[Distro | None, list[Package], list[str]]:
    """Apply layers bottom first; return the distro, packages and warnings of the final image."""
    # path -> history of (layer index, result), reset when the path is removed
    history: dict[str, list[tuple[int, FileResult]]] = {}
    warnings: list[str] = []
    index = _PathIndex()  # the paths of ``history``, by directory
    for idx, a in enumerate(analyses):
        for removed in a.whiteouts:
            for p in index.remove_under(removed, keep_self=False):
                del history[p]
        for opaque in a.opaques:
            for p in index.remove_under(opaque, keep_self=True):
                del history[p]
        for path, result in a.files.items():
            hist = history.get(path)
            if hist is None:
                history[path] = hist = []
                index.add(path)
            hist.append((idx, result))
        warnings.extend(a.warnings)
    distro: Distro | None = None
    for path in sorted(history, key=os_priority):
        top = history[path][-1][1]
        if top.distro is not None:
            distro = top.distro
            break
    owned: set[str] = set()
    licenses_for: dict[str, list[str]] = {}
    # OS ownership matters to language packages only: an image without any skips the file lists
    check_owned = any(
        p.ecosystem not in OS_ECOSYSTEMS for hist in history.values() for p in hist[-1][1].packages
    )
    for hist in history.values():
        if check_owned:
            owned.update(hist[-1][1].owned_files)
        licenses_for.update(hist[-1][1].licenses_for)
    packages: list[Package] = []
    for path in sorted(history):
        hist = history[path]
        top_idx, top = hist[-1]
        warnings.extend(top.warnings)
        # the package identities of each lower version of the file, topmost first, built
        # once and only as deep as some package's uninterrupted run reaches
        below: list[set[tuple[str, str, str]]] = []
        for pkg in top.packages:
            introduced = top_idx
            ident = (pkg.ecosystem, pkg.name, pkg.version)
            for depth in range(len(hist) - 1):
                if depth == len(below):
                    res = hist[-2 - depth][1]
                    below.append({(q.ecosystem, q.name, q.version) for q in res.packages})
                if ident in below[depth]:
                    introduced = hist[-2 - depth][0]
                else:
                    break
            is_owned = pkg.ecosystem not in OS_ECOSYSTEMS and _owned(pkg.path, owned)
            licenses = pkg.licenses
            if not licenses and pkg.ecosystem == DEB:
                licenses = tuple(
                    licenses_for.get(pkg.name) or licenses_for.get(pkg.name.split(":")[0]) or ()
                )
            packages.append(
                pkg._replace(
                    purl=_distro_purl(pkg, distro),
                    licenses=licenses,
                    layer=introduced,
                    layer_diff_id=analyses[introduced].diff_id,
                    os_owned=pkg.os_owned or is_owned,
                )
            )
    packages.sort(key=lambda p: (p.ecosystem, p.name, p.version, p.path))
    return distro, packages, warnings


def _distro_purl(pkg: Package, distro: Distro | None) -> str:
    """OS package PURLs get the distro as namespace and a ``distro`` qualifier (as syft writes them)."""
    if (
        pkg.ecosystem not in OS_ECOSYSTEMS
        or distro is None
        or not pkg.purl.startswith(f"pkg:{pkg.ecosystem}/")
    ):
        return pkg.purl
    head, hash_, subpath = pkg.purl.partition("#")
    base, q, query = head.partition("?")
    rest = base[len(f"pkg:{pkg.ecosystem}/") :]
    if "/" in rest:  # replace the namespace the single-file parser guessed
        rest = rest.split("/", 1)[1]
    namespace, distro_qualifier = _distro_parts(distro.id, distro.version_id)
    qualifiers = dict(kv.split("=", 1) for kv in query.split("&") if "=" in kv) if q else {}
    if distro_qualifier:
        qualifiers["distro"] = distro_qualifier
    query = "&".join(f"{k}={v}" for k, v in sorted(qualifiers.items()))
    out = f"pkg:{pkg.ecosystem}/{namespace}/{rest}" + (f"?{query}" if query else "")
    return out + (f"#{subpath}" if hash_ else "")


@functools.lru_cache(maxsize=16)
def _distro_parts(distro_id: str, version_id: str | None) -> tuple[str, str | None]:
    """The PURL namespace and ``distro`` qualifier value of a distro, percent-encoded."""
    from urllib.parse import quote

    qualifier = quote(f"{distro_id}-{version_id}", safe="") if version_id else None
    return quote(distro_id, safe=""), qualifier


def _owned(path: str, owned: set[str]) -> bool:
    """A language package is OS-owned if its metadata file or directory is in an OS package."""
    if path in owned:
        return True
    parent = path.rsplit("/", 1)[0] if "/" in path else ""
    return bool(parent) and parent in owned


def _defaults() -> Sequence[Cataloger]:
    from customhouse.catalog.registry import default_catalogers

    return default_catalogers()


def inventory(
    image: Image,
    *,
    catalogers: Sequence[Cataloger] | None = None,
    limits: Limits = DEFAULT_LIMITS,
    cache_dir: Path | None = None,
    use_cache: bool = True,
    progress: Callable[[Layer, int], None] | None = None,
) -> Inventory:
    custom = catalogers is not None
    analyses: list[LayerAnalysis] = []
    cached = 0
    if image.rootfs is not None:
        analyses.append(analyze_rootfs(image, catalogers or _defaults(), limits=limits))
    else:
        cache = (
            LayerCache(cache_dir or default_cache_dir(), catalogers if custom else None)
            if use_cache
            else None
        )
        for layer in image.layers:
            hit = cache.get(str(layer.diff_id)) if cache else None
            if hit is not None:
                analyses.append(hit)
                cached += 1
                continue
            if catalogers is None:
                catalogers = _defaults()  # imported only when a layer must be read
            a = analyze_layer(image, layer, catalogers, limits=limits, progress=progress)
            if cache is not None:
                cache.put(a)
            analyses.append(a)
    distro, packages, warnings = merge(analyses)
    return Inventory(
        source=image.source,
        image_digest=str(image.digest) if image.digest else None,
        distro=distro,
        packages=packages,
        warnings=warnings,
        layers=[a.diff_id for a in analyses],
        cached_layers=cached,
    )
