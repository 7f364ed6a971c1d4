"""Scan findings as CycloneDX 1.6 JSON with ``vulnerabilities`` (CycloneDX VEX).

One image is the root (``metadata.component``, a ``container``); with several images
each is a top-level ``container`` component instead. The affected packages are
``library`` components (PURL as the cataloger wrote it, a content-derived ``bom-ref``),
and every finding (package x vulnerability) is one entry of ``vulnerabilities``:

- ``id``/``source``: the preferred id (a CVE when there is one) and who assigns it;
  the other ids of the merged group are ``references``;
- ``ratings``: the severity we report (vendor first, then CVSS) and, when a vector is
  known, the CVSS score, vector and method;
- ``affects``: the component's ``bom-ref`` and its installed version, ``affected`` (or
  ``unaffected`` for a suppressed finding);
- ``analysis``: ``exploitable`` for a reported finding (the affected version is
  installed), ``not_affected`` for one an ignore entry or an OpenVEX ``not_affected``
  statement suppressed (with the VEX justification mapped to CycloneDX's and the reason
  as ``detail``), ``resolved`` for OpenVEX ``fixed``;
- ``recommendation``: the fixed version; ``advisories``: the reference URLs.

Imported only when ``--format cyclonedx`` is asked for (it loads cyclonedx-python-lib).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Sequence
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from cyclonedx.model import Property, XsUri
from cyclonedx.model.bom import Bom, BomMetaData
from cyclonedx.model.component import Component, ComponentType
from cyclonedx.model.dependency import Dependency
from cyclonedx.model.impact_analysis import (
    ImpactAnalysisAffectedStatus,
    ImpactAnalysisJustification,
    ImpactAnalysisResponse,
    ImpactAnalysisState,
)
from cyclonedx.model.tool import ToolRepository
from cyclonedx.model.vulnerability import (
    BomTarget,
    BomTargetVersionRange,
    Vulnerability,
    VulnerabilityAdvisory,
    VulnerabilityAnalysis,
    VulnerabilityRating,
    VulnerabilityReference,
    VulnerabilityScoreSource,
    VulnerabilitySeverity,
    VulnerabilitySource,
)
from cyclonedx.output.json import JsonV1Dot6

from customhouse import __version__
from customhouse.match.matcher import FIXED, WONT_FIX, Finding
from customhouse.report._cyclonedx import _fast_registration, _purl, _refs
from customhouse.report.sbom import safe_id

if TYPE_CHECKING:
    from customhouse.report.vuln import ImageResult

# OpenVEX justification -> CycloneDX justification (the CISA "VEX status justifications"
# minimum-elements mapping between the two formats)
_JUSTIFICATIONS = {
    "component_not_present": ImpactAnalysisJustification.CODE_NOT_PRESENT,
    "vulnerable_code_not_present": ImpactAnalysisJustification.CODE_NOT_PRESENT,
    "vulnerable_code_not_in_execute_path": ImpactAnalysisJustification.CODE_NOT_REACHABLE,
    "vulnerable_code_cannot_be_controlled_by_adversary": (
        ImpactAnalysisJustification.REQUIRES_ENVIRONMENT
    ),
    "inline_mitigations_already_exist": (
        ImpactAnalysisJustification.PROTECTED_BY_MITIGATING_CONTROL
    ),
}
_SEVERITIES = {
    "CRITICAL": VulnerabilitySeverity.CRITICAL,
    "HIGH": VulnerabilitySeverity.HIGH,
    "MEDIUM": VulnerabilitySeverity.MEDIUM,
    "LOW": VulnerabilitySeverity.LOW,
    "UNKNOWN": VulnerabilitySeverity.UNKNOWN,
}


def _source(vid: str) -> VulnerabilitySource:
    """Who assigns an id, and where its record lives."""
    if vid.startswith("CVE-"):
        return VulnerabilitySource(name="NVD", url=XsUri(f"https://nvd.nist.gov/vuln/detail/{vid}"))
    if vid.startswith("GHSA-"):
        return VulnerabilitySource(name="GitHub", url=XsUri(f"https://github.com/advisories/{vid}"))
    return VulnerabilitySource(name="OSV", url=XsUri(f"https://osv.dev/vulnerability/{vid}"))


def _method(vector: str) -> VulnerabilityScoreSource:
    if vector.startswith("CVSS:4."):
        return VulnerabilityScoreSource.CVSS_V4
    if vector.startswith("CVSS:3.1/"):
        return VulnerabilityScoreSource.CVSS_V3_1
    if vector.startswith("CVSS:3."):
        return VulnerabilityScoreSource.CVSS_V3
    return VulnerabilityScoreSource.CVSS_V2  # v2 vectors carry no prefix


def _qualitative(score: float) -> VulnerabilitySeverity:
    """CVSS v3/v4 qualitative rating scale (FIRST CVSS v3.1 specification, section 5)."""
    if score == 0:
        return VulnerabilitySeverity.NONE
    if score < 4.0:
        return VulnerabilitySeverity.LOW
    if score < 7.0:
        return VulnerabilitySeverity.MEDIUM
    if score < 9.0:
        return VulnerabilitySeverity.HIGH
    return VulnerabilitySeverity.CRITICAL


def _ratings(f: Finding) -> list[VulnerabilityRating]:
    out = []
    if f.severity_source == "vendor" or f.cvss_vector is None:
        out.append(
            VulnerabilityRating(
                source=VulnerabilitySource(name=f.ecosystem),
                severity=_SEVERITIES[f.severity],
                method=VulnerabilityScoreSource.OTHER,
                justification=f"severity source: {f.severity_source}",
            )
        )
    if f.cvss_vector is not None and f.cvss_score is not None:
        out.append(
            VulnerabilityRating(
                source=_source(f.id),
                score=Decimal(str(f.cvss_score)),
                severity=_qualitative(f.cvss_score),
                method=_method(f.cvss_vector),
                vector=f.cvss_vector,
            )
        )
    return out


def _responses(f: Finding) -> list[ImpactAnalysisResponse]:
    if f.status == FIXED:
        return [ImpactAnalysisResponse.UPDATE]
    if f.status == WONT_FIX:
        return [ImpactAnalysisResponse.WILL_NOT_FIX]
    return []


def _suppressed_analysis(reason: str, by: str) -> VulnerabilityAnalysis:
    """``not_affected`` (or ``resolved``) with the reviewed reason as detail."""
    if by == "vex":
        # suppress.apply words it "VEX <status>: <justification or statement>"
        head, _, why = reason.partition(": ")
        status = head.removeprefix("VEX ").strip()
        if status == "fixed":
            return VulnerabilityAnalysis(state=ImpactAnalysisState.RESOLVED, detail=reason)
        return VulnerabilityAnalysis(
            state=ImpactAnalysisState.NOT_AFFECTED,
            justification=_JUSTIFICATIONS.get(why.strip()),
            detail=reason,
        )
    return VulnerabilityAnalysis(
        state=ImpactAnalysisState.NOT_AFFECTED,
        detail=f"ignore file: {reason}",
    )


def _ident(prefix: str, f: Finding) -> str:
    p = f.package
    h = hashlib.sha256(f"{p.purl}\0{p.path}".encode()).hexdigest()[:16]
    return f"{prefix}{safe_id(p.ecosystem)}-{safe_id(p.name)}-{h}"


def _image_purl(r: ImageResult) -> str:
    from urllib.parse import quote

    from customhouse.catalog.purl import purl

    name = (r.reference or r.source).rsplit("/", 1)[-1].split(":", 1)[0].split("@", 1)[0]
    text = purl("oci", safe_id(name or "image"), "")
    return f"{text}@{quote(r.digest, safe='')}" if r.digest else text


def _vulnerability(
    f: Finding, ref: str, analysis: VulnerabilityAnalysis, affected: bool, by: str | None
) -> Vulnerability:
    props = [Property(name="customhouse:advisory:record", value=rid) for rid in f.records]
    props.append(Property(name="customhouse:status", value=f.status))
    if by is not None:
        props.append(Property(name="customhouse:suppressed_by", value=by))
    if f.created_by:
        props.append(Property(name="customhouse:layer:created_by", value=f.created_by))
    return Vulnerability(
        bom_ref=f"vuln-{safe_id(f.id)}-{ref}",
        id=f.id,
        source=_source(f.id),
        references=[VulnerabilityReference(id=a, source=_source(a)) for a in f.aliases],
        ratings=_ratings(f),
        description=f.summary or None,
        recommendation=(f"Upgrade {f.package.name} to {f.fixed} or later" if f.fixed else None),
        advisories=[VulnerabilityAdvisory(url=XsUri(u)) for u in f.references],
        analysis=analysis,
        affects=[
            BomTarget(
                ref=ref,
                versions=[
                    BomTargetVersionRange(
                        version=f.installed,
                        status=(
                            ImpactAnalysisAffectedStatus.AFFECTED
                            if affected
                            else ImpactAnalysisAffectedStatus.UNAFFECTED
                        ),
                    )
                ],
            )
        ],
        properties=props,
    )


def render(results: Sequence[ImageResult]) -> str:
    """The CycloneDX 1.6 JSON text of a scan of ``results`` (one or more images)."""
    single = len(results) == 1
    images: list[Component] = []
    components: list[Component] = []
    vulnerabilities: list[Vulnerability] = []
    dependencies: list[Dependency] = []
    purls: dict[str, str] = {}
    for n, r in enumerate(results):
        image_ref = "image-" + hashlib.sha256((r.digest or r.source).encode()).hexdigest()[:16]
        if not single:
            image_ref += f"-{n}"
        purls[image_ref] = _image_purl(r)
        props = [Property(name="customhouse:image:source", value=r.source)]
        if r.platform:
            props.append(Property(name="customhouse:image:platform", value=r.platform))
        props += [Property(name="customhouse:scan:warning", value=w) for w in r.warnings]
        images.append(
            Component(
                type=ComponentType.CONTAINER,
                name=r.reference or r.source,
                version=r.digest,
                bom_ref=image_ref,
                purl=_purl(purls[image_ref]),
                properties=props,
            )
        )
        prefix = "" if single else f"{n}-"
        children: list[str] = []
        entries = [(f, None, None) for f in r.findings] + [
            (s.finding, s.reason, s.by) for s in r.suppressed
        ]
        for f, reason, by in entries:
            ref = _ident(prefix, f)
            if ref not in purls:
                purls[ref] = f.package.purl
                children.append(ref)
                components.append(
                    Component(
                        type=ComponentType.LIBRARY,
                        name=f.package.name,
                        version=f.package.version,
                        bom_ref=ref,
                        purl=_purl(f.package.purl),
                        properties=[
                            Property(name="customhouse:location:path", value=f.package.path),
                            *(
                                [
                                    Property(
                                        name="customhouse:package:source",
                                        value=f.package.source_name,
                                    )
                                ]
                                if f.package.source_name
                                else []
                            ),
                            *(
                                [
                                    Property(
                                        name="customhouse:layer:index", value=str(f.package.layer)
                                    )
                                ]
                                if f.package.layer is not None
                                else []
                            ),
                        ],
                    )
                )
            if reason is None or by is None:
                analysis = VulnerabilityAnalysis(
                    state=ImpactAnalysisState.EXPLOITABLE, responses=_responses(f)
                )
                vulnerabilities.append(_vulnerability(f, ref, analysis, True, None))
            else:
                analysis = _suppressed_analysis(reason, by)
                vulnerabilities.append(_vulnerability(f, ref, analysis, False, by))
        dependencies.append(Dependency(ref=images[-1].bom_ref, dependencies=_refs(children)))
        dependencies += _refs(children)
    tool = Component(
        type=ComponentType.APPLICATION,
        name="customhouse",
        version=__version__,
        bom_ref="tool-customhouse",
    )
    bom = Bom(
        metadata=BomMetaData(
            tools=ToolRepository(components=[tool]),
            component=images[0] if single else None,
            timestamp=dt.datetime.now(dt.UTC).replace(microsecond=0),
        ),
        components=components if single else [*images, *components],
        dependencies=dependencies,
        vulnerabilities=vulnerabilities,
    )
    _fast_registration(bom)
    data: dict[str, Any] = json.loads(JsonV1Dot6(bom).output_as_string())
    # PURLs exactly as the catalogers wrote them (the library re-renders its parsed form)
    meta = data["metadata"].get("component")
    for component in [*([meta] if meta else []), *data.get("components", ())]:
        ref = component.get("bom-ref")
        if ref in purls:
            component["purl"] = purls[ref]
    head = ("$schema", "bomFormat", "specVersion", "serialNumber", "version", "metadata")
    ordered = {k: data[k] for k in head if k in data} | {
        k: v for k, v in data.items() if k not in head
    }
    return json.dumps(ordered, indent=2) + "\n"
