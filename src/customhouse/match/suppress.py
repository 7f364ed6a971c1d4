"""Reviewed exceptions: the ignore file's ``vulnerabilities`` and OpenVEX statements."""

# Annotations are evaluated, not postponed (no ``from __future__ import annotations``):
# typing.NamedTuple compiles every string annotation, ~60 us a field at each start-up.
import datetime as dt
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, NamedTuple

from customhouse.errors import InputError
from customhouse.ignore import IgnoreFile
from customhouse.match.matcher import Finding

SUPPRESSING = frozenset({"not_affected", "fixed"})


class VexError(InputError):
    """An OpenVEX document is malformed."""


class VexStatement(NamedTuple):
    vulnerability: tuple[str, ...]  # name and aliases
    products: tuple[str, ...]  # product @ids and their subcomponent @ids
    status: str
    justification: str | None
    statement: str | None
    source: str


class Suppression(NamedTuple):
    finding: Finding
    reason: str
    by: str  # "ignore-file" | "vex"


def _ids(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, dict):
        out = [x for x in (value.get("@id"), value.get("name")) if isinstance(x, str)]
        out += [a for a in value.get("aliases") or [] if isinstance(a, str)]
        return out
    return []


def load_vex(path: Path) -> list[VexStatement]:
    try:
        doc = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise VexError(f"{path}: cannot read OpenVEX document: {e}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("statements"), list):
        raise VexError(f"{path}: not an OpenVEX document (no 'statements' list)")
    context = str(doc.get("@context", ""))
    if "openvex" not in context:
        raise VexError(f"{path}: @context {context!r} is not OpenVEX")
    out = []
    for i, st in enumerate(doc["statements"]):
        if not isinstance(st, dict):
            raise VexError(f"{path}: statements[{i}] is not an object")
        vulns = _ids(st.get("vulnerability"))
        status = st.get("status")
        if not vulns or status not in ("not_affected", "affected", "fixed", "under_investigation"):
            raise VexError(f"{path}: statements[{i}] needs a vulnerability and a valid status")
        products: list[str] = []
        for prod in st.get("products") or []:
            products += _ids(prod)
            if isinstance(prod, dict):
                for sub in prod.get("subcomponents") or []:
                    products += _ids(sub)
        if status == "not_affected" and not (st.get("justification") or st.get("impact_statement")):
            raise VexError(
                f"{path}: statements[{i}] is not_affected without a justification or impact_statement"
            )
        out.append(
            VexStatement(
                tuple(vulns),
                tuple(products),
                status,
                st.get("justification"),
                st.get("impact_statement") or st.get("status_notes"),
                str(path),
            )
        )
    return out


def _purl_base(purl: str) -> str:
    """A PURL without qualifiers and subpath (``pkg:deb/debian/openssl@3.0.11-1``)."""
    return purl.split("#", 1)[0].split("?", 1)[0]


def _product_matches(products: Sequence[str], finding: Finding, image_ids: Sequence[str]) -> bool:
    if not products:
        return True
    pkg = _purl_base(finding.package.purl)
    pkg_noversion = pkg.split("@", 1)[0]
    for p in products:
        base = _purl_base(p)
        if base in (pkg, pkg_noversion):
            return True
        if any(i and i in p for i in image_ids) and not any(
            x.startswith("pkg:") and "oci" not in x for x in products
        ):
            return True  # a statement about the whole image, without naming components
    return False


def apply(
    findings: Sequence[Finding],
    ignores: IgnoreFile,
    vex: Sequence[VexStatement],
    image_ids: Sequence[str] = (),
    today: dt.date | None = None,
) -> tuple[list[Finding], list[Suppression]]:
    active = ignores.active(ignores.vulnerabilities, today)
    kept: list[Finding] = []
    suppressed: list[Suppression] = []
    for f in findings:
        ids = set(f.all_ids)
        entry = next(
            (
                e
                for e in active
                if (not e.id or e.id in ids)
                and (not e.package or e.package in (f.package.name, f.package.source_name))
            ),
            None,
        )
        if entry is not None:
            suppressed.append(Suppression(f, entry.reason, "ignore-file"))
            continue
        st = next(
            (
                s
                for s in vex
                if ids & set(s.vulnerability) and _product_matches(s.products, f, image_ids)
            ),
            None,
        )
        if st is not None and st.status in SUPPRESSING:
            why = st.justification or st.statement or st.status
            suppressed.append(Suppression(f, f"VEX {st.status}: {why}", "vex"))
            continue
        kept.append(f)
    return kept, suppressed
