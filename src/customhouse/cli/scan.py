"""``customhouse scan``: vulnerabilities (and, on request, secrets) in one or more images, with a CI gate."""

from __future__ import annotations

import json
import os
import sys
from argparse import Namespace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from customhouse.cli._common import (
    add_db_option,
    add_image_options,
    add_max_age_option,
    add_output_options,
    atomic_output,
    layer_progress,
    parse_age,
    parse_platform,
    resolve_db_path,
    stale_warnings,
)

if TYPE_CHECKING:
    from customhouse.cli._args import CommandParser

FORMATS = ("table", "json", "sarif", "markdown", "cyclonedx")
SEVERITIES = ("UNKNOWN", "LOW", "MEDIUM", "HIGH", "CRITICAL")


def _scanners(value: str) -> set[str]:
    from customhouse.errors import UsageError

    chosen = {s.strip() for s in value.split(",") if s.strip()}
    unknown = chosen - {"vuln", "secret"}
    if unknown or not chosen:
        raise UsageError(f"--scanners {value!r}: choose from vuln, secret (comma-separated)")
    return chosen


def scan_one(
    source: str,
    *,
    store: Any,
    scanners: set[str],
    ignores: Any,
    vex: list[Any],
    platform: str | None,
    insecure_registries: tuple[str, ...],
    use_cache: bool,
    ignore_unfixed: bool,
) -> Any:
    from customhouse.catalog.analyze import inventory
    from customhouse.limits import Limits
    from customhouse.match.matcher import Matcher
    from customhouse.match.suppress import apply
    from customhouse.report.vuln import ImageResult
    from customhouse.sources import open_image

    limits = Limits.from_env()
    with open_image(
        source,
        platform=parse_platform(platform),
        limits=limits,
        insecure_registries=insecure_registries,
    ) as img:
        findings: list[Any] = []
        suppressed: list[Any] = []
        warnings: list[str] = []
        release = None
        os_scanned = False
        packages = 0
        distro = None
        if "vuln" in scanners:
            with layer_progress(img, "cataloging") as progress:
                inv = inventory(img, limits=limits, use_cache=use_cache, progress=progress)
            packages = len(inv.packages)
            distro = inv.distro
            created_by = [
                layer.history.created_by if layer.history else None for layer in img.layers
            ]
            result = Matcher(store).match(inv.packages, inv.distro, created_by=created_by)
            release, os_scanned = result.release, result.os_scanned
            warnings += result.warnings + inv.warnings[:20]
            image_ids = [
                x
                for x in (
                    str(img.digest) if img.digest else None,
                    str(img.reference) if img.reference else None,
                )
                if x
            ]
            findings, suppressed = apply(result.findings, ignores, vex, image_ids)
            if ignore_unfixed:
                findings = [f for f in findings if f.fixable]
        secrets = None
        if "secret" in scanners:
            from customhouse.leaks.detector import LeakDetector
            from customhouse.leaks.suppress import apply_ignores

            det = LeakDetector()
            with layer_progress(img, "scanning for secrets") as progress:
                rep = det.scan_image(img, limits=limits, progress=progress)
            kept, _ = apply_ignores(rep.findings + det.scan_config(img), ignores)
            secrets = [f.to_json() for f in kept]
        return ImageResult(
            source=img.source,
            reference=str(img.reference) if img.reference else None,
            digest=str(img.digest) if img.digest else None,
            platform=str(img.platform) if img.platform else None,
            distro=distro.to_json() if distro else None,
            release_ecosystem=release.ecosystem if release else None,
            end_of_life=bool(release and release.end_of_life()),
            os_scanned=os_scanned,
            packages=packages,
            findings=findings,
            suppressed=suppressed,
            warnings=warnings,
            secrets=secrets,
            expired_ignores=[e.describe() for e in ignores.expired()],
        )


DESCRIPTION = """\
Scan IMAGES for known vulnerabilities in every OS and language package.

Exit codes: 0 clean (or no gate asked), 1 the gate failed (--fail-on,
--fail-on-fixable, or secrets found with --scanners secret), 2 bad input,
3 operational failure.
"""


def build(parser: CommandParser) -> None:
    parser.description = DESCRIPTION
    parser.argument("images", nargs="+")
    add_image_options(parser)
    parser.option("--format", dest="fmt", choices=FORMATS, default="table", show_default=True)
    add_output_options(parser)
    add_db_option(parser)
    add_max_age_option(parser, "--db-max-age")
    parser.option(
        "--scanners", default="vuln", show_default=True, help="vuln, secret, or vuln,secret."
    )
    parser.option(
        "--fail-on",
        choices=SEVERITIES,
        case_sensitive=False,
        help="Exit 1 when a finding at or above this severity remains. A finding of UNKNOWN"
        " severity fails any threshold: nothing shows it is below.",
    )
    parser.flag("--fail-on-fixable", help="Exit 1 when a finding with a fixed version remains.")
    parser.flag("--ignore-unfixed", help="Leave out findings that have no fix yet.")
    parser.option(
        "--ignore-file",
        metavar="PATH",
        type=Path,
        help="Reviewed exceptions (default: ./.customhouse-ignore.yaml if present).",
    )
    parser.multiple(
        "--vex",
        dest="vex_files",
        metavar="PATH",
        type=Path,
        envvar_separator=os.pathsep,
        help="OpenVEX document(s).",
    )
    parser.flag("--no-cache", help="Do not read or write the layer analysis cache.")


def run(args: Namespace) -> int:
    images: list[str] = args.images
    platform: str | None = args.platform
    insecure_registries: tuple[str, ...] = args.insecure_registries
    fmt: str = args.fmt
    output: str = args.output
    force: bool = args.force
    db_path: str | None = args.db_path
    scanners: str = args.scanners
    fail_on: str | None = args.fail_on
    fail_on_fixable: bool = args.fail_on_fixable
    ignore_unfixed: bool = args.ignore_unfixed
    ignore_file: Path | None = args.ignore_file
    vex_files: tuple[Path, ...] = args.vex_files
    no_cache: bool = args.no_cache
    max_age: str = args.max_age
    import time

    from customhouse.advisories.store import AdvisoryStore
    from customhouse.ignore import load_ignore_file
    from customhouse.match.matcher import SEVERITY_ORDER
    from customhouse.match.suppress import load_vex
    from customhouse.report import vuln as report

    chosen = _scanners(scanners)
    max_age_seconds = parse_age(max_age, "--db-max-age")
    ignores = load_ignore_file(ignore_file, required=ignore_file is not None)
    vex = [st for path in vex_files for st in load_vex(path)]
    store = None
    db_info = None
    if "vuln" in chosen:
        store = AdvisoryStore(resolve_db_path(db_path))
        meta = store.meta()
        sources = store.sources()
        stale = stale_warnings(sources, max_age_seconds, max_age, "--db-max-age", time.time())
        db_warnings = list(stale.values())
        if not any(s.record_count for s in sources):  # a clean result would mean nothing
            db_warnings.append(f"the advisory database {store.path} holds no advisories")
        for line in db_warnings:  # (said first: a scan of many images takes a while)
            sys.stderr.write(f"customhouse: warning: {line}\n")
        db_info = {
            "path": str(store.path),
            "schema_version": meta.get("schema_version"),
            "built_at": meta.get("built_at"),
            "sources": [
                {"name": s.name, "fetched_at": s.fetched_at, "records": s.record_count}
                for s in sources
            ],
            "warnings": db_warnings,
        }
    try:
        results = [
            scan_one(
                src,
                store=store,
                scanners=chosen,
                ignores=ignores,
                vex=vex,
                platform=platform,
                insecure_registries=insecure_registries,
                use_cache=not no_cache,
                ignore_unfixed=ignore_unfixed,
            )
            for src in images
        ]
    finally:
        if store is not None:
            store.close()
    if fmt == "json":
        text = json.dumps(report.to_json(results, db_info), indent=2) + "\n"
    elif fmt == "sarif":
        text = json.dumps(report.to_sarif(results), indent=2) + "\n"
    elif fmt == "markdown":
        text = report.to_markdown(results)
    elif fmt == "cyclonedx":
        text = report.to_cyclonedx(results)
    else:
        text = report.to_table(results)
    with atomic_output(output, force=force, binary=False) as out:
        out.write(text)
    for r in results:
        for w in r.warnings:
            if "NOT checked" in w or "end of life" in w:
                sys.stderr.write(f"customhouse: warning: {r.reference or r.source}: {w}\n")
    failed = False
    if fail_on:
        threshold = SEVERITY_ORDER[fail_on.upper()]
        failed |= any(
            f.severity == "UNKNOWN" or SEVERITY_ORDER[f.severity] >= threshold
            for r in results
            for f in r.findings
        )
    if fail_on_fixable:
        failed |= any(f.fixable for r in results for f in r.findings)
    if "secret" in chosen:
        failed |= any(r.secrets for r in results)
    return 1 if failed else 0
