"""``customhouse secrets``: leaked secrets and sensitive files in every layer, config and history."""

from __future__ import annotations

import json
import sys
from argparse import Namespace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from customhouse.cli._common import (
    add_image_options,
    add_output_options,
    atomic_output,
    layer_progress,
    parse_platform,
)

if TYPE_CHECKING:
    from customhouse.cli._args import CommandParser

SEVERITY_ORDER = {"LOW": 0, "MEDIUM": 1, "HIGH": 2, "CRITICAL": 3}


def _sarif(findings: list[Any], source: str) -> dict[str, Any]:
    from customhouse.leaks.detector import ENV_RULE
    from customhouse.leaks.rules import default_rules
    from customhouse.report import sarif

    known = {r.id: r for r in (*default_rules(), ENV_RULE)}
    used = sorted({f.rule_id for f in findings})
    rules = [
        sarif.rule_descriptor(r, known[r].title, known[r].severity, tags=["secret"]) for r in used
    ]
    results = []
    for f in findings:
        where = f.path or f.location
        status = "" if f.status == "present" else f" ({f.status})"
        layer = f" in layer {f.layer}" if f.layer is not None else ""
        msg = f"{f.title}: {f.redacted} at {where}{layer}{status}"
        props = {
            k: v
            for k, v in f.to_json().items()
            if k in ("layer", "layer_diff_id", "status", "location")
        }
        props["image"] = source
        if f.location == "file":
            results.append(
                sarif.result(
                    f.rule_id,
                    f.severity,
                    msg,
                    uri=f.path,
                    line=f.line,
                    fingerprint=f.fingerprint,
                    properties=props,
                )
            )
        else:
            results.append(
                sarif.result(
                    f.rule_id,
                    f.severity,
                    msg,
                    logical=f"image-config/{f.path}",
                    fingerprint=f.fingerprint,
                    properties=props,
                )
            )
    return sarif.log("customhouse-secrets", rules, results)


def _table(findings: list[Any], suppressed: list[Any], report: Any) -> str:
    import io

    from rich.console import Console
    from rich.table import Table

    console = Console(file=io.StringIO(), record=True, soft_wrap=False, width=170)
    colours = {"CRITICAL": "bold red", "HIGH": "red", "MEDIUM": "yellow", "LOW": "cyan"}
    t = Table(title=f"{len(findings)} leaks", title_justify="left")
    for col in ("severity", "rule", "where", "line", "layer", "status", "match"):
        t.add_column(col, overflow="fold")
    for f in findings:
        t.add_row(
            f"[{colours.get(f.severity, '')}]{f.severity}[/]",
            f.rule_id,
            f.path or f.location,
            str(f.line or ""),
            "" if f.layer is None else str(f.layer),
            f.status,
            f.redacted,
        )
    console.print(t)
    if suppressed:
        console.print(f"{len(suppressed)} suppressed by the ignore file:")
        for f, e in suppressed:
            console.print(f"  {f.rule_id} {f.path} — {e.reason}")
    console.print(
        f"scanned {report.files_scanned} text files, {report.bytes_scanned:,} bytes ({report.engine})"
    )
    return console.export_text()


DESCRIPTION = """\
Find secrets in IMAGE: every layer (files deleted later included), env, labels, cmd, history.

The secret itself is never printed: matches are redacted. Exit 1 when a finding
at or above --fail-on remains after the ignore file; 0 otherwise.
"""


def build(parser: CommandParser) -> None:
    parser.description = DESCRIPTION
    parser.argument("image")
    add_image_options(parser)
    parser.option(
        "--format",
        dest="fmt",
        choices=("table", "json", "sarif"),
        default="table",
        show_default=True,
    )
    add_output_options(parser)
    parser.option(
        "--ignore-file",
        metavar="PATH",
        type=Path,
        help="Reviewed exceptions (default: ./.customhouse-ignore.yaml if present).",
    )
    parser.option(
        "--fail-on",
        choices=list(SEVERITY_ORDER),
        case_sensitive=False,
        default="LOW",
        show_default=True,
        help="Exit 1 when a finding of at least this severity remains.",
    )


def run(args: Namespace) -> int:
    image: str = args.image
    platform: str | None = args.platform
    insecure_registries: tuple[str, ...] = args.insecure_registries
    fmt: str = args.fmt
    output: str = args.output
    force: bool = args.force
    ignore_file: Path | None = args.ignore_file
    fail_on: str = args.fail_on
    from customhouse.ignore import load_ignore_file
    from customhouse.leaks.detector import LeakDetector
    from customhouse.leaks.suppress import apply_ignores
    from customhouse.limits import Limits
    from customhouse.sources import open_image

    ignores = load_ignore_file(ignore_file, required=ignore_file is not None)
    limits = Limits.from_env()
    detector = LeakDetector()
    with open_image(
        image,
        platform=parse_platform(platform),
        limits=limits,
        insecure_registries=insecure_registries,
    ) as img:
        with layer_progress(img, "scanning") as progress:
            report = detector.scan_image(img, limits=limits, progress=progress)
        report.findings.extend(detector.scan_config(img))
        source = img.source
    findings, suppressed = apply_ignores(report.findings, ignores)
    findings.sort(key=lambda f: (-SEVERITY_ORDER[f.severity], f.path or "", f.line or 0))
    if fmt == "json":
        text = (
            json.dumps(
                {
                    "schema": "customhouse.secrets/v1",
                    "image": source,
                    "findings": [f.to_json() for f in findings],
                    "suppressed": [{**f.to_json(), "reason": e.reason} for f, e in suppressed],
                    "expired_ignores": [e.describe() for e in ignores.expired()],
                    "files_scanned": report.files_scanned,
                    "bytes_scanned": report.bytes_scanned,
                    "skipped": report.skipped,
                },
                indent=2,
            )
            + "\n"
        )
    elif fmt == "sarif":
        text = json.dumps(_sarif(findings, source), indent=2) + "\n"
    else:
        text = _table(findings, suppressed, report)
    with atomic_output(output, force=force, binary=False) as out:
        out.write(text)
    for e in ignores.expired():
        sys.stderr.write(
            f"customhouse: warning: {e.describe()} expired on {e.expires}; it no longer applies\n"
        )
    threshold = SEVERITY_ORDER[fail_on.upper()]
    return 1 if any(SEVERITY_ORDER[f.severity] >= threshold for f in findings) else 0
