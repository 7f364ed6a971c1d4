"""CycloneDX 1.6 JSON through cyclonedx-python-lib (imported only when this module is)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from cyclonedx.model import Property
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.bom_ref import BomRef
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.dependency import Dependable, Dependency
from cyclonedx.model.license import DisjunctiveLicense, License, LicenseExpression
from cyclonedx.model.tool import ToolRepository
from cyclonedx.output.json import JsonV1Dot6
from packageurl import PackageURL

from customhouse.report.sbom import (
    LICENSE_EXPRESSION,
    LICENSE_ID,
    LICENSE_NAME,
    LicenseClassifier,
    SbomDocument,
)


def render(doc: SbomDocument) -> str:
    purls: dict[str, str] = {doc.root.ident: doc.root.purl}
    root = Component(
        type=ComponentType.CONTAINER,
        name=doc.root.name,
        version=doc.root.version,
        bom_ref=doc.root.ident,
        purl=_purl(doc.root.purl),
        properties=_properties(doc.root.properties),
    )
    components: list[Component] = []
    distro_component: Component | None = None
    if doc.distro is not None and doc.distro_ident is not None:
        distro_component = Component(
            type=ComponentType.OPERATING_SYSTEM,
            name=doc.distro.id,
            version=doc.distro.version_id,
            description=doc.distro.pretty_name,
            bom_ref=doc.distro_ident,
            properties=_properties(doc.distro_properties),
        )
        components.append(distro_component)
    classifier = LicenseClassifier()
    under_root: list[str] = [doc.distro_ident] if doc.distro_ident else []
    under_distro: list[str] = []
    for entry in doc.entries:
        pkg = entry.package
        purls[entry.ident] = pkg.purl
        components.append(
            Component(
                type=ComponentType.LIBRARY,
                name=pkg.name,
                version=pkg.version,
                bom_ref=entry.ident,
                purl=_purl(pkg.purl),
                licenses=_licenses(classifier, pkg.licenses),
                properties=_properties(entry.properties),
            )
        )
        (under_distro if entry.under_distro else under_root).append(entry.ident)
    dependencies = [Dependency(ref=root.bom_ref, dependencies=_refs(under_root))]
    if distro_component is not None:
        dependencies.append(
            Dependency(ref=distro_component.bom_ref, dependencies=_refs(under_distro))
        )
    # every component gets its node in the graph, leaves with no dependsOn
    dependencies += _refs(entry.ident for entry in doc.entries)
    tool = Component(
        type=ComponentType.APPLICATION,
        name=doc.tool,
        version=doc.tool_version,
        bom_ref=f"tool-{doc.tool}",
    )
    bom = Bom(
        metadata=BomMetaData(
            tools=ToolRepository(components=[tool]),
            component=root,
            timestamp=doc.created,
            properties=[
                Property(name="customhouse:inventory:warning", value=w) for w in doc.warnings
            ],
        ),
        components=components,
        dependencies=dependencies,
    )
    _fast_registration(bom)
    data: dict[str, Any] = json.loads(JsonV1Dot6(bom).output_as_string())
    # PURLs exactly as the catalogers wrote them (the library re-renders its parsed form)
    data["metadata"]["component"]["purl"] = purls[doc.root.ident]
    for component in data.get("components", ()):
        ref = component.get("bom-ref")
        if ref in purls:
            component["purl"] = purls[ref]
    head = ("$schema", "bomFormat", "specVersion", "serialNumber", "version", "metadata")
    ordered = {k: data[k] for k in head if k in data} | {
        k: v for k, v in data.items() if k not in head
    }
    return json.dumps(ordered, indent=2) + "\n"


def _fast_registration(bom: Bom) -> None:
    """Make the library's pre-output graph check linear.

    Before output, the library registers every component in the dependency graph with a
    linear search each (quadratic: about 25 s for 2,600 packages). Every component is
    registered up front by :func:`render`, so a bare re-registration of a known ref is
    a no-op and is answered from a set. (An instance attribute, not a subclass: the
    serializer knows the ``Bom`` class only.)
    """
    known = {d.ref for d in bom.dependencies}
    register = bom.register_dependency

    def register_dependency(
        target: Dependable, depends_on: Iterable[Dependable] | None = None
    ) -> None:
        if depends_on or target.bom_ref not in known:
            register(target, depends_on)
            known.update(d.ref for d in bom.dependencies)

    bom.register_dependency = register_dependency  # type: ignore[method-assign]


def _purl(text: str) -> PackageURL | None:
    try:
        return PackageURL.from_string(text)
    except ValueError:
        return None  # written verbatim afterwards


def _properties(pairs: Iterable[tuple[str, str]]) -> list[Property]:
    return [Property(name=name, value=value) for name, value in pairs]


def _refs(idents: Iterable[str]) -> list[Dependency]:
    return [Dependency(ref=BomRef(ident)) for ident in idents]


def _licenses(classifier: LicenseClassifier, values: Sequence[str]) -> list[License]:
    """CycloneDX allows one expression or a list of licenses, not both.

    Several ids/expressions are joined with AND into one expression (each applies to
    some part of the package); a list that holds a plain name keeps every string as a
    license of its own (``id`` when it is one, else ``name``).
    """
    kinds = classifier.classify_all(values)
    if not kinds:
        return []
    if any(k == LICENSE_EXPRESSION for k, _ in kinds) and all(k != LICENSE_NAME for k, _ in kinds):
        if len(kinds) == 1:
            return [LicenseExpression(kinds[0][1])]
        return [
            LicenseExpression(
                " AND ".join(f"({v})" if k == LICENSE_EXPRESSION else v for k, v in kinds)
            )
        ]
    return [
        DisjunctiveLicense(id=v) if k == LICENSE_ID else DisjunctiveLicense(name=v)
        for k, v in kinds
    ]
