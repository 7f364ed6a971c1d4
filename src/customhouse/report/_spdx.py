"""SPDX 2.3 JSON through spdx-tools (imported only when this module is)."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Iterable, Sequence
from typing import Any

from license_expression import Licensing
from spdx_tools.spdx.jsonschema.annotation_converter import AnnotationConverter
from spdx_tools.spdx.jsonschema.document_converter import DocumentConverter
from spdx_tools.spdx.model.actor import Actor, ActorType
from spdx_tools.spdx.model.annotation import Annotation, AnnotationType
from spdx_tools.spdx.model.document import CreationInfo, Document
from spdx_tools.spdx.model.extracted_licensing_info import ExtractedLicensingInfo
from spdx_tools.spdx.model.package import (
    ExternalPackageRef,
    ExternalPackageRefCategory,
    Package,
    PackagePurpose,
)
from spdx_tools.spdx.model.relationship import Relationship, RelationshipType
from spdx_tools.spdx.model.spdx_no_assertion import SpdxNoAssertion

from customhouse.catalog.interface import Package as InventoryPackage
from customhouse.report.sbom import (
    LICENSE_EXPRESSION,
    LICENSE_NAME,
    LicenseClassifier,
    SbomDocument,
    safe_id,
)

DOCUMENT_ID = "SPDXRef-DOCUMENT"
# a reserved domain (RFC 2606): the namespace only has to be a unique absolute URI
NAMESPACE_BASE = "https://customhouse.invalid/spdx"


def render(doc: SbomDocument) -> str:
    tool = Actor(ActorType.TOOL, f"{doc.tool}-{doc.tool_version}")
    annotations: dict[str, list[Annotation]] = {}

    def annotate(spdx_id: str, pairs: Iterable[tuple[str, str]]) -> None:
        annotations[spdx_id] = [
            Annotation(spdx_id, AnnotationType.OTHER, tool, doc.created, f"{name}: {value}")
            for name, value in pairs
        ]

    root_id = f"SPDXRef-{doc.root.ident}"
    packages = [
        Package(
            spdx_id=root_id,
            name=doc.root.name,
            download_location=SpdxNoAssertion(),
            version=doc.root.version,
            files_analyzed=False,
            external_references=[_purl_ref(doc.root.purl)],
            primary_package_purpose=PackagePurpose.CONTAINER,
        )
    ]
    annotate(root_id, doc.root.properties)
    relationships = [Relationship(DOCUMENT_ID, RelationshipType.DESCRIBES, root_id)]
    distro_id: str | None = None
    if doc.distro is not None and doc.distro_ident is not None:
        distro_id = f"SPDXRef-{doc.distro_ident}"
        packages.append(
            Package(
                spdx_id=distro_id,
                name=doc.distro.id,
                download_location=SpdxNoAssertion(),
                version=doc.distro.version_id,
                files_analyzed=False,
                description=doc.distro.pretty_name,
                primary_package_purpose=PackagePurpose.OPERATING_SYSTEM,
            )
        )
        annotate(distro_id, doc.distro_properties)
        relationships.append(Relationship(root_id, RelationshipType.CONTAINS, distro_id))
    licenses = _Licenses()
    # a Licensing without known symbols keeps the text as written; spdx-tools' own
    # resolves aliases (LicenseRef-GPL would come out as GPL-1.0-or-later)
    plain = Licensing()
    for entry in doc.entries:
        pkg = entry.package
        spdx_id = f"SPDXRef-{entry.ident}"
        declared = licenses.expression(pkg.licenses)
        packages.append(
            Package(
                spdx_id=spdx_id,
                name=pkg.name,
                download_location=SpdxNoAssertion(),
                version=pkg.version,
                files_analyzed=False,
                source_info=_source_info(entry.package),
                license_concluded=SpdxNoAssertion(),
                license_declared=(
                    plain.parse(declared) if declared is not None else SpdxNoAssertion()
                ),
                copyright_text=SpdxNoAssertion(),
                external_references=[_purl_ref(pkg.purl)],
            )
        )
        annotate(spdx_id, entry.properties)
        parent = distro_id if entry.under_distro and distro_id is not None else root_id
        relationships.append(Relationship(parent, RelationshipType.CONTAINS, spdx_id))
    creation = CreationInfo(
        spdx_version="SPDX-2.3",
        spdx_id=DOCUMENT_ID,
        name=doc.root.name,
        document_namespace=f"{NAMESPACE_BASE}/{safe_id(doc.root.name)}-{uuid.uuid4()}",
        creators=[tool],
        created=doc.created,
        creator_comment=(
            "\n".join(f"inventory warning: {w}" for w in doc.warnings) if doc.warnings else None
        ),
    )
    document = Document(
        creation_info=creation,
        packages=packages,
        relationships=relationships,
        extracted_licensing_info=licenses.extracted(),
    )
    data: dict[str, Any] = DocumentConverter().convert(document)  # type: ignore[no-untyped-call]
    # The converter looks up each package's annotations in one document-wide list, which
    # is quadratic; convert them per package instead and put them where it would.
    convert_annotation = AnnotationConverter().convert
    for package in data.get("packages", ()):
        found = annotations.get(package["SPDXID"])
        if found:
            package["annotations"] = [convert_annotation(a) for a in found]
    return json.dumps(data, indent=2) + "\n"


def _purl_ref(purl: str) -> ExternalPackageRef:
    return ExternalPackageRef(ExternalPackageRefCategory.PACKAGE_MANAGER, "purl", purl)


def _source_info(pkg: InventoryPackage) -> str:
    where = f"acquired package info from {pkg.path}"
    if pkg.layer is not None:
        where += f" in layer {pkg.layer}"
    if pkg.layer_diff_id:
        where += f" ({pkg.layer_diff_id})"
    if pkg.source_name:
        source = pkg.source_name
        if pkg.source_version:
            source += f" {pkg.source_version}"
        where += f"; source package {source}"
    return where


class _Licenses:
    """Declared license strings as one SPDX expression per package.

    SPDX ids and expressions are kept (see :class:`LicenseClassifier`); any other string
    (Debian's ``GPL-2+``, PyPI's ``BSD``) becomes a ``LicenseRef-`` with an
    ExtractedLicensingInfo that records the original text. Several strings are joined
    with AND, as each applies to some part of the package.
    """

    def __init__(self) -> None:
        self._classifier = LicenseClassifier()
        self._ref_of: dict[str, str] = {}  # original text -> LicenseRef id
        self._text_of: dict[str, str] = {}  # LicenseRef id -> original text

    def _ref(self, value: str) -> str:
        ref = self._ref_of.get(value)
        if ref is None:
            ref = f"LicenseRef-{safe_id(value.replace('+', '-plus'))}"
            if ref in self._text_of:  # two texts, one slug
                digest = hashlib.sha256(value.encode("utf-8", "surrogatepass")).hexdigest()[:8]
                ref = f"{ref}-{digest}"
            self._ref_of[value] = ref
            self._text_of[ref] = value
        return ref

    def expression(self, values: Sequence[str]) -> str | None:
        parts = [
            (self._ref(text), False) if kind == LICENSE_NAME else (text, kind == LICENSE_EXPRESSION)
            for kind, text in self._classifier.classify_all(values)
        ]
        if not parts:
            return None
        if len(parts) == 1:
            return parts[0][0]
        return " AND ".join(f"({text})" if compound else text for text, compound in parts)

    def extracted(self) -> list[ExtractedLicensingInfo]:
        return [
            ExtractedLicensingInfo(
                license_id=ref,
                extracted_text=text,
                license_name=text,
                comment="a declared license that is not an SPDX license expression",
            )
            for ref, text in sorted(self._text_of.items())
        ]
