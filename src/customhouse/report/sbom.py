"""SBOM documents for an image's inventory: CycloneDX 1.6 JSON and SPDX 2.3 JSON.

Both formats describe the same graph, built once here (:class:`SbomDocument`):

- the image is the root: a CycloneDX ``container`` component in ``metadata.component``
  / an SPDX package with purpose ``CONTAINER`` that the document ``DESCRIBES``; its
  version is the manifest digest and its PURL the purl spec's ``oci`` type;
- the distro is an ``operating-system`` component / an ``OPERATING_SYSTEM`` package,
  contained by the image;
- every package of the inventory, with its PURL as the cataloger wrote it, declared
  licenses, source package, the file it was found in and the layer that introduced it.
  OS packages hang off the distro (when one was detected), language packages off the
  image (CycloneDX ``dependencies`` / SPDX ``CONTAINS`` relationships).

Facts that neither format has a field for travel as name/value pairs named the way
syft (``syft:location:0:path``) and trivy (``aquasecurity:trivy:LayerDiffID``) name
theirs: ``customhouse:package:source``, ``customhouse:location:path``,
``customhouse:layer:diffID``... -- CycloneDX ``properties``, SPDX package annotations.

Identifiers are derived from content (PURL and path, or the image digest), so the same
inventory always yields the same ``bom-ref``s and SPDXIDs. Only the CycloneDX
``serialNumber`` and the SPDX ``documentNamespace`` are random (a UUID per document, as
both specs ask), and the creation time is now in UTC, or ``$SOURCE_DATE_EPOCH``.

The libraries are imported inside :func:`render`, so other output formats never pay
for them.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING
from urllib.parse import quote

from customhouse import __version__
from customhouse.catalog.interface import OS_ECOSYSTEMS, Distro, Package
from customhouse.errors import CustomhouseError, UsageError

if TYPE_CHECKING:
    from customhouse.catalog.analyze import Inventory
    from customhouse.sources.interface import Image

__all__ = [
    "FORMATS",
    "LICENSE_EXPRESSION",
    "LICENSE_ID",
    "LICENSE_NAME",
    "TOOL_NAME",
    "Entry",
    "LicenseClassifier",
    "Root",
    "SbomDocument",
    "build",
    "render",
    "safe_id",
]

FORMATS = ("cyclonedx", "spdx")
TOOL_NAME = "customhouse"

_UNSAFE_ID = re.compile(r"[^A-Za-z0-9.-]+")
_LICENSE_TOKEN = re.compile(r"[()]|[^\s()]+")
_OPERATORS = frozenset({"AND", "OR", "WITH"})

LICENSE_ID = "id"
LICENSE_EXPRESSION = "expression"
LICENSE_NAME = "name"


@dataclass(frozen=True, slots=True)
class Root:
    """The image as the root component."""

    ident: str
    name: str  # the reference, else the source string
    version: str | None  # the manifest digest
    purl: str
    properties: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class Entry:
    """One inventory package, with its stable identifier and its place in the graph."""

    ident: str
    package: Package
    under_distro: bool  # an OS package, contained by the distro component
    properties: tuple[tuple[str, str], ...]


@dataclass(frozen=True, slots=True)
class SbomDocument:
    """Everything either format writes, computed once and deterministically."""

    root: Root
    distro: Distro | None
    distro_ident: str | None
    distro_properties: tuple[tuple[str, str], ...]
    entries: tuple[Entry, ...]
    created: datetime
    warnings: tuple[str, ...]
    tool: str = TOOL_NAME
    tool_version: str = __version__


def render(fmt: str, inv: Inventory, image: Image) -> str:
    """The SBOM of ``inv`` (found in ``image``) as a JSON document in format ``fmt``."""
    if fmt not in FORMATS:
        raise UsageError(f"unknown SBOM format {fmt!r}: expected one of {', '.join(FORMATS)}")
    doc = build(inv, image)
    if fmt == "cyclonedx":
        from customhouse.report import _cyclonedx

        return _cyclonedx.render(doc)
    from customhouse.report import _spdx

    return _spdx.render(doc)


def build(inv: Inventory, image: Image) -> SbomDocument:
    root = _root(inv, image)
    distro = inv.distro
    distro_ident = None
    distro_props: list[tuple[str, str]] = []
    if distro is not None:
        distro_ident = "os-" + safe_id(f"{distro.id}-{distro.version_id or ''}")
        if distro.codename:
            distro_props.append(("customhouse:distro:codename", distro.codename))
        if distro.id_like:
            distro_props.append(("customhouse:distro:idLike", " ".join(distro.id_like)))
        if distro.source:
            distro_props.append(("customhouse:location:path", distro.source))
    entries: list[Entry] = []
    seen: set[str] = set()
    for pkg in inv.packages:
        ident = f"{safe_id(pkg.ecosystem)}-{safe_id(pkg.name)}-{_hash(pkg.purl, pkg.path)}"
        n = 1
        base = ident
        while ident in seen:  # the same purl found twice in one file
            n += 1
            ident = f"{base}-{n}"
        seen.add(ident)
        entries.append(
            Entry(
                ident=ident,
                package=pkg,
                under_distro=distro is not None and pkg.ecosystem in OS_ECOSYSTEMS,
                properties=tuple(_package_properties(pkg)),
            )
        )
    return SbomDocument(
        root=root,
        distro=distro,
        distro_ident=distro_ident,
        distro_properties=tuple(distro_props),
        entries=tuple(entries),
        created=_creation_time(),
        warnings=tuple(inv.warnings),
    )


class LicenseClassifier:
    """Is a declared license string an SPDX license id, an SPDX expression, or just a name?

    Strict on purpose: every license symbol must be an id of the SPDX license list as
    CycloneDX's schema bundles it (deprecated ids included, only the case is fixed,
    ``mit`` -> ``MIT``), and the whole must parse as an expression. Alias guessing
    (``GPL`` -> ``GPL-1.0-or-later``, as license-expression would do) is left to the
    reader: Debian's ``GPL-2+`` or PyPI's ``BSD`` stay names. Results are cached per
    distinct string.
    """

    def __init__(self) -> None:
        self._cache: dict[str, tuple[str, str]] = {}

    def classify(self, value: str) -> tuple[str, str]:
        """``(LICENSE_ID | LICENSE_EXPRESSION | LICENSE_NAME, text)``; ids/expressions normalised."""
        hit = self._cache.get(value)
        if hit is None:
            hit = self._cache[value] = self._classify(value)
        return hit

    def classify_all(self, values: Sequence[str]) -> list[tuple[str, str]]:
        """Distinct non-empty strings, in order, classified."""
        return [self.classify(v) for v in dict.fromkeys(v.strip() for v in values) if v]

    @staticmethod
    def _classify(value: str) -> tuple[str, str]:
        from cyclonedx.spdx import fixup_id, is_expression

        tokens = _LICENSE_TOKEN.findall(value)
        out: list[str] = []
        for token in tokens:
            if token in "()":
                out.append(token)
            elif token.upper() in _OPERATORS:
                out.append(f" {token.upper()} ")
            else:
                fixed = fixup_id(token)
                if fixed is None:
                    return (LICENSE_NAME, value)
                out.append(fixed)
        text = "".join(out).strip()
        if len(tokens) == 1 and tokens[0] not in "()":
            return (LICENSE_ID, text)
        if not is_expression(text):
            return (LICENSE_NAME, value)
        return (LICENSE_EXPRESSION, text)


def _package_properties(pkg: Package) -> list[tuple[str, str]]:
    props = [("customhouse:package:type", pkg.ecosystem)]
    if pkg.source_name:
        props.append(("customhouse:package:source", pkg.source_name))
    if pkg.source_version:
        props.append(("customhouse:package:sourceVersion", pkg.source_version))
    if pkg.arch:
        props.append(("customhouse:package:arch", pkg.arch))
    if pkg.ecosystem not in OS_ECOSYSTEMS:
        props.append(("customhouse:package:osOwned", "true" if pkg.os_owned else "false"))
    props.append(("customhouse:location:path", pkg.path))
    if pkg.layer is not None:
        props.append(("customhouse:layer:index", str(pkg.layer)))
    if pkg.layer_diff_id:
        props.append(("customhouse:layer:diffID", pkg.layer_diff_id))
    for key in sorted(pkg.extra):
        props.append((f"customhouse:metadata:{key}", str(pkg.extra[key])))
    return props


def _root(inv: Inventory, image: Image) -> Root:
    name = str(image.reference) if image.reference is not None else image.source
    digest = str(image.digest) if image.digest is not None else inv.image_digest
    props: list[tuple[str, str]] = [("customhouse:image:transport", image.transport)]
    if image.platform is not None:
        props.append(("customhouse:image:platform", str(image.platform)))
    if image.config is not None:
        props.append(("customhouse:image:configDigest", str(image.config.digest)))
    if image.index_digest is not None:
        props.append(("customhouse:image:indexDigest", str(image.index_digest)))
    if image.synthesized_manifest:
        props.append(("customhouse:image:synthesizedManifest", "true"))
    diff_ids: Sequence[str] = inv.layers or [str(layer.diff_id) for layer in image.layers]
    for i, diff_id in enumerate(diff_ids):
        props.append((f"customhouse:image:layer:{i}:diffID", diff_id))
    for layer in image.layers:
        props.append(
            (f"customhouse:image:layer:{layer.index}:digest", str(layer.descriptor.digest))
        )
    return Root(
        ident="image-" + _hash(digest or image.source),
        name=name,
        version=digest,
        purl=_oci_purl(image, digest),
        properties=tuple(props),
    )


def _oci_purl(image: Image, digest: str | None) -> str:
    """``pkg:oci/NAME@sha256%3AHEX?arch=...&repository_url=...&tag=...`` (PURL-TYPES ``oci``)."""
    from customhouse.catalog.purl import purl

    ref = image.reference
    name: str | None = None
    tag: str | None = None
    if ref is None:  # a local source, TRANSPORT:PATH[:REF]: named after its file or directory
        from customhouse.sources import parse_source

        try:
            spec = parse_source(image.source)
        except CustomhouseError:
            spec = None
        if spec is not None:
            if spec.path is not None:
                name = spec.path.name.removesuffix(".tar")
            if spec.ref and "/" not in spec.ref and not spec.ref.startswith("@"):
                tag = spec.ref  # a plain tag; a docker-archive's @N is an index
    qualifiers: dict[str, str] = {}
    if ref is not None:
        name = ref.repository.rsplit("/", 1)[-1]
        qualifiers["repository_url"] = f"{ref.registry}/{ref.repository}"
        tag = ref.tag
    if tag:
        qualifiers["tag"] = tag
    if image.platform is not None:
        qualifiers["arch"] = image.platform.architecture
    try:
        text = purl("oci", name or "image", "", qualifiers=qualifiers)
    except Exception:  # a name or tag the builder refuses
        text = purl("oci", safe_id(name or "image"), "")
    if digest:
        # the purl spec's oci examples percent-encode the ":" of the digest
        head, q, query = text.partition("?")
        text = f"{head}@{quote(digest, safe='')}" + (f"?{query}" if q else "")
    return text


def _creation_time() -> datetime:
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "").strip()
    if epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC)
    return datetime.now(UTC).replace(microsecond=0)


def _hash(*parts: str) -> str:
    return hashlib.sha256("\0".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:16]


def safe_id(text: str, limit: int = 64) -> str:
    """Letters, digits, ``.`` and ``-`` only: safe in a bom-ref, an SPDXID and a LicenseRef."""
    return _UNSAFE_ID.sub("-", text).strip("-")[:limit] or "x"
