"""SARIF 2.1.0 logs (what GitHub code scanning accepts)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from customhouse import __version__

SCHEMA = "https://json.schemastore.org/sarif-2.1.0.json"
LEVELS = {
    "CRITICAL": "error",
    "HIGH": "error",
    "MEDIUM": "warning",
    "LOW": "note",
    "INFO": "note",
    "UNKNOWN": "warning",
}
# GitHub reads a 0-10 "security-severity" to rank alerts
SECURITY_SEVERITY = {
    "CRITICAL": "9.5",
    "HIGH": "8.0",
    "MEDIUM": "5.5",
    "LOW": "3.0",
    "INFO": "1.0",
    "UNKNOWN": "5.0",
}


def rule_descriptor(
    rule_id: str,
    title: str,
    severity: str,
    help_text: str | None = None,
    help_uri: str | None = None,
    tags: Iterable[str] = (),
) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": rule_id,
        "name": "".join(w.capitalize() for w in rule_id.replace("_", "-").split("-")),
        "shortDescription": {"text": title},
        "fullDescription": {"text": help_text or title},
        "defaultConfiguration": {"level": LEVELS.get(severity, "warning")},
        "properties": {
            "security-severity": SECURITY_SEVERITY.get(severity, "5.0"),
            "tags": ["security", *tags],
        },
    }
    if help_text:
        d["help"] = {"text": help_text}
    if help_uri:
        d["helpUri"] = help_uri
    return d


def result(
    rule_id: str,
    severity: str,
    message: str,
    *,
    uri: str | None = None,
    line: int | None = None,
    logical: str | None = None,
    fingerprint: str | None = None,
    properties: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    r: dict[str, Any] = {
        "ruleId": rule_id,
        "level": LEVELS.get(severity, "warning"),
        "message": {"text": message},
    }
    loc: dict[str, Any] = {}
    if uri is not None:
        phys: dict[str, Any] = {"artifactLocation": {"uri": uri}}
        if line:
            phys["region"] = {"startLine": line}
        loc["physicalLocation"] = phys
    if logical is not None:
        loc["logicalLocations"] = [{"fullyQualifiedName": logical}]
    if loc:
        r["locations"] = [loc]
    if fingerprint:
        r["partialFingerprints"] = {"customhouse/v1": fingerprint}
    if properties:
        r["properties"] = dict(properties)
    return r


def log(
    tool: str,
    rules: list[dict[str, Any]],
    results: list[dict[str, Any]],
    information_uri: str = "https://github.com/customhouse/customhouse",
) -> dict[str, Any]:
    return {
        "$schema": SCHEMA,
        "version": "2.1.0",
        "runs": [
            {
                "tool": {
                    "driver": {
                        "name": tool,
                        "version": __version__,
                        "informationUri": information_uri,
                        "rules": rules,
                    }
                },
                "results": results,
            }
        ],
    }
