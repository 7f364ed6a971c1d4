"""Scan reports: JSON (documented in docs/scan-report.schema.json), table, SARIF, Markdown, CycloneDX."""

from __future__ import annotations

import datetime as dt
import io
from collections import Counter
from typing import Any

from customhouse import __version__
from customhouse.match.matcher import SEVERITY_ORDER, Finding
from customhouse.match.suppress import Suppression

SCHEMA_ID = "customhouse.scan/v1"


class ImageResult:
    """One scanned image, as every report format reads it.

    A slotted class rather than a dataclass, to keep ``dataclasses`` off the start-up
    path; the writers read it attribute by attribute and never serialize it whole.
    """

    __slots__ = (
        "digest",
        "distro",
        "end_of_life",
        "expired_ignores",
        "findings",
        "os_scanned",
        "packages",
        "platform",
        "reference",
        "release_ecosystem",
        "secrets",
        "source",
        "suppressed",
        "warnings",
    )

    def __init__(
        self,
        source: str,
        reference: str | None,
        digest: str | None,
        platform: str | None,
        distro: dict[str, Any] | None,
        release_ecosystem: str | None,
        end_of_life: bool,
        os_scanned: bool,
        packages: int,
        findings: list[Finding],
        suppressed: list[Suppression],
        warnings: list[str],
        secrets: list[dict[str, Any]] | None = None,
        expired_ignores: list[str] | None = None,
    ) -> None:
        self.source = source
        self.reference = reference
        self.digest = digest
        self.platform = platform
        self.distro = distro
        self.release_ecosystem = release_ecosystem
        self.end_of_life = end_of_life
        self.os_scanned = os_scanned
        self.packages = packages
        self.findings = findings
        self.suppressed = suppressed
        self.warnings = warnings
        self.secrets = secrets
        self.expired_ignores: list[str] = [] if expired_ignores is None else expired_ignores


def finding_json(f: Finding) -> dict[str, Any]:
    p = f.package
    return {
        "id": f.id,
        "aliases": list(f.aliases),
        "severity": f.severity,
        "severity_source": f.severity_source,
        "cvss": {"score": f.cvss_score, "vector": f.cvss_vector} if f.cvss_vector else None,
        "status": f.status,
        "installed_version": f.installed,
        "fixed_version": f.fixed,
        "summary": f.summary,
        "references": list(f.references),
        "advisories": list(f.records),
        "ecosystem": f.ecosystem,
        "package": {
            "name": p.name,
            "version": p.version,
            "ecosystem": p.ecosystem,
            "purl": p.purl,
            "source_name": p.source_name,
            "source_version": p.source_version,
            "path": p.path,
        },
        "layer": {"index": p.layer, "diff_id": p.layer_diff_id, "created_by": f.created_by},
    }


def summary(r: ImageResult) -> dict[str, Any]:
    sev = Counter(f.severity for f in r.findings)
    return {
        "packages": r.packages,
        "vulnerabilities": len(r.findings),
        "by_severity": {k: sev.get(k, 0) for k in ("CRITICAL", "HIGH", "MEDIUM", "LOW", "UNKNOWN")},
        "fixable": sum(1 for f in r.findings if f.fixable),
        "suppressed": len(r.suppressed),
        **({"secrets": len(r.secrets)} if r.secrets is not None else {}),
    }


def to_json(results: list[ImageResult], db: dict[str, Any] | None) -> dict[str, Any]:
    return {
        "schema": SCHEMA_ID,
        "generated_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "tool": {"name": "customhouse", "version": __version__},
        "database": db,
        "results": [
            {
                "image": {
                    "source": r.source,
                    "reference": r.reference,
                    "digest": r.digest,
                    "platform": r.platform,
                },
                "distro": r.distro,
                "advisory_ecosystem": r.release_ecosystem,
                "os_scanned": r.os_scanned,
                "end_of_life": r.end_of_life,
                "warnings": r.warnings,
                "summary": summary(r),
                "vulnerabilities": [finding_json(f) for f in r.findings],
                "suppressed": [
                    {**finding_json(s.finding), "reason": s.reason, "suppressed_by": s.by}
                    for s in r.suppressed
                ],
                "expired_ignores": r.expired_ignores,
                **({"secrets": r.secrets} if r.secrets is not None else {}),
            }
            for r in results
        ],
    }


_COLOURS = {
    "CRITICAL": "bold red",
    "HIGH": "red",
    "MEDIUM": "yellow",
    "LOW": "cyan",
    "UNKNOWN": "dim",
}


def to_table(results: list[ImageResult], width: int = 170) -> str:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=io.StringIO(), record=True, soft_wrap=False, width=width)
    for r in results:
        console.rule(f"[bold]{r.reference or r.source}[/bold] {r.digest or ''}")
        if r.distro:
            console.print(
                f"distro: {r.distro.get('pretty_name') or r.distro.get('id')}"
                + (" [red](end of life)[/red]" if r.end_of_life else "")
            )
        for w in r.warnings:
            console.print(f"[yellow]warning[/yellow]: {w}")
        by_pkg: dict[tuple[str, str, str], list[Finding]] = {}
        for f in r.findings:
            by_pkg.setdefault((f.package.ecosystem, f.package.name, f.package.version), []).append(
                f
            )
        t = Table(show_lines=False)
        for col in (
            "package",
            "installed",
            "vulnerability",
            "severity",
            "status",
            "fixed in",
            "layer",
        ):
            t.add_column(col, overflow="fold")
        for (eco, name, _version), fs in sorted(
            by_pkg.items(), key=lambda kv: (-max(SEVERITY_ORDER[f.severity] for f in kv[1]), kv[0])
        ):
            for i, f in enumerate(fs):
                layer = "" if f.package.layer is None else str(f.package.layer)
                if i == 0 and f.created_by:
                    layer += f" {f.created_by[:40]}"
                t.add_row(
                    f"{name} ({eco})" if i == 0 else "",
                    f.installed if i == 0 else "",
                    f.id,
                    f"[{_COLOURS[f.severity]}]{f.severity}[/]",
                    f.status.replace("_", " "),
                    f.fixed or "",
                    layer if i == 0 else "",
                )
        if r.findings:
            console.print(t)
        s = summary(r)
        sev = ", ".join(f"{k} {v}" for k, v in s["by_severity"].items() if v)
        scanned = (
            " (OS packages NOT scanned)" if any("NOT checked" in w for w in r.warnings) else ""
        )
        console.print(
            f"[bold]{s['vulnerabilities']} vulnerabilities[/bold] in {s['packages']} packages{scanned}"
            + (f" ({sev})" if sev else "")
            + f"; {s['fixable']} fixable; {s['suppressed']} suppressed"
            + (f"; {s['secrets']} secrets" if "secrets" in s else "")
        )
        for sup in r.suppressed:
            console.print(
                f"  suppressed {sup.finding.id} in {sup.finding.package.name} ({sup.by}): {sup.reason}"
            )
        for e in r.expired_ignores:
            console.print(f"[yellow]expired ignore[/yellow]: {e}")
    return console.export_text()


def to_sarif(results: list[ImageResult]) -> dict[str, Any]:
    from customhouse.report import sarif

    rules: dict[str, dict[str, Any]] = {}
    out = []
    for r in results:
        for f in r.findings:
            if f.id not in rules:
                text = f.summary or f.id
                rules[f.id] = sarif.rule_descriptor(
                    f.id,
                    text[:200],
                    f.severity,
                    help_text=f"{text}\n\n" + "\n".join(f.references[:5]),
                    help_uri=f.references[0] if f.references else None,
                    tags=["vulnerability", f.ecosystem],
                )
            fix = f"; fixed in {f.fixed}" if f.fixed else f"; {f.status.replace('_', ' ')}"
            msg = (
                f"{f.package.name} {f.installed} is affected by {f.id} ({f.severity}){fix}."
                f" Image {r.reference or r.source}, layer {f.package.layer}"
            )
            out.append(
                sarif.result(
                    f.id,
                    f.severity,
                    msg,
                    uri=f.package.path,
                    fingerprint=f"{f.id}:{f.package.purl}",
                    properties={
                        "package": f.package.purl,
                        "installed": f.installed,
                        "fixed": f.fixed,
                        "image": r.reference or r.source,
                        "digest": r.digest,
                        "layer": f.package.layer,
                    },
                )
            )
    return sarif.log("customhouse", list(rules.values()), out)


def to_markdown(results: list[ImageResult]) -> str:
    lines = ["# customhouse scan report", ""]
    for r in results:
        s = summary(r)
        lines += [
            f"## {r.reference or r.source}",
            "",
            f"- digest: `{r.digest}`",
            f"- platform: {r.platform}",
            f"- distro: {(r.distro or {}).get('pretty_name') or '-'}"
            + (" (**end of life**)" if r.end_of_life else ""),
        ]
        sev = ", ".join(f"{k} {v}" for k, v in s["by_severity"].items() if v) or "none"
        lines += [
            f"- **{s['vulnerabilities']} vulnerabilities** ({sev}), {s['fixable']} fixable, "
            f"{s['suppressed']} suppressed, {s['packages']} packages",
            "",
        ]
        for w in r.warnings:
            lines.append(f"> **warning:** {_md(w)}")
        if r.warnings:
            lines.append("")
        if r.findings:
            lines += [
                "| severity | vulnerability | package | installed | fixed in | layer |",
                "|---|---|---|---|---|---|",
            ]
            for f in r.findings:
                lines.append(
                    f"| {f.severity} | {f.id} | {_md(f.package.name)} | {_md(f.installed)} | "
                    f"{_md(f.fixed or f.status.replace('_', ' '))} | {f.package.layer} {_md((f.created_by or '')[:60])} |"
                )
            lines.append("")
        if r.suppressed:
            lines += ["### Suppressed", ""]
            lines += [
                f"- {s.finding.id} in {_md(s.finding.package.name)}: {_md(s.reason)} ({s.by})"
                for s in r.suppressed
            ]
            lines.append("")
    return "\n".join(lines) + "\n"


def to_cyclonedx(results: list[ImageResult]) -> str:
    """CycloneDX 1.6 JSON with the findings as ``vulnerabilities`` (VEX); see ``_vex``."""
    from customhouse.report import _vex

    return _vex.render(results)


def _md(text: str) -> str:
    import html  # only the Markdown report escapes

    return html.escape(text).replace("|", "\\|").replace("\n", " ")
