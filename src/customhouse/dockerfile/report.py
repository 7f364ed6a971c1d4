"""Findings as a table, JSON or SARIF 2.1.0."""

from __future__ import annotations

import io
import json
from collections.abc import Sequence
from typing import Any

from customhouse import __version__
from customhouse.dockerfile.lint import Finding
from customhouse.dockerfile.rules import RULES, Severity

SARIF_SCHEMA = (
    "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
)
_SARIF_LEVEL = {
    Severity.INFO: "note",
    Severity.LOW: "note",
    Severity.MEDIUM: "warning",
    Severity.HIGH: "error",
    Severity.CRITICAL: "error",
}
_DOCS = "docs/rules/{}.md"


def to_json(findings: Sequence[Finding], errors: Sequence[str] = ()) -> str:
    data = {
        "schema": "customhouse.lint/v1",
        "findings": [f.to_json() for f in findings],
        "errors": list(errors),
    }
    return json.dumps(data, indent=2)


def to_sarif(findings: Sequence[Finding]) -> str:
    index = {r.id: i for i, r in enumerate(RULES)}
    rules = [
        {
            "id": r.id,
            "name": r.title.replace(" ", ""),
            "shortDescription": {"text": r.title},
            "helpUri": _DOCS.format(r.id),
            "defaultConfiguration": {"level": _SARIF_LEVEL[r.severity]},
            "properties": {"category": r.category, "severity": r.severity.label},
        }
        for r in RULES
    ]
    results: list[dict[str, Any]] = [
        {
            "ruleId": f.rule,
            "ruleIndex": index[f.rule],
            "level": _SARIF_LEVEL[f.severity],
            "message": {"text": f.message},
            "locations": [
                {
                    "physicalLocation": {
                        "artifactLocation": {"uri": f.path.replace("\\", "/")},
                        "region": {"startLine": max(f.line, 1)},
                    }
                }
            ],
            "properties": {"severity": f.severity.label},
        }
        for f in findings
    ]
    log = {
        "$schema": SARIF_SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": "customhouse",
                        "version": __version__,
                        "informationUri": "https://example.invalid/customhouse",
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
    return json.dumps(log, indent=2)


def to_table(findings: Sequence[Finding], errors: Sequence[str] = ()) -> str:
    from rich.console import Console
    from rich.table import Table

    console = Console(file=io.StringIO(), record=True, soft_wrap=False, width=160)
    if findings:
        table = Table(title=f"{len(findings)} findings", title_justify="left")
        for col in ("file:line", "rule", "severity", "message"):
            table.add_column(col, overflow="fold")
        for f in findings:
            table.add_row(f"{f.path}:{f.line}", f.rule, f.severity.label, f.message)
        console.print(table)
    else:
        console.print("no findings")
    for e in errors:
        console.print(f"error: {e}")
    return console.export_text()
