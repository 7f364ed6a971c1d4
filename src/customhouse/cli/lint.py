"""``customhouse lint``: review Dockerfiles for risky build steps."""

from __future__ import annotations

import sys
from argparse import Namespace
from pathlib import Path
from typing import TYPE_CHECKING

from customhouse.cli._args import file_path
from customhouse.cli._common import add_platform_option
from customhouse.dockerfile import (
    Finding,
    LintConfig,
    Severity,
    lint_path,
)
from customhouse.dockerfile.config import DEFAULT_NAME
from customhouse.dockerfile.report import to_json, to_sarif, to_table
from customhouse.errors import InputError, UsageError

if TYPE_CHECKING:
    from customhouse.cli._args import CommandParser

FORMATS = ("table", "json", "sarif")
SEVERITIES = tuple(s.label for s in Severity)


DESCRIPTION = """\
Review DOCKERFILES for provenance, transport, verification, secrets and
privilege problems.

Exit codes: 0 no finding at or above --fail-on, 1 such a finding, 2 a file is
missing or does not parse (the message names it).
"""


def build(parser: CommandParser) -> None:
    parser.description = DESCRIPTION
    parser.argument("dockerfiles", nargs="*", type=file_path)
    parser.option("--format", dest="fmt", choices=FORMATS, default="table", show_default=True)
    parser.option(
        "--fail-on",
        choices=SEVERITIES,
        case_sensitive=False,
        help="Exit 1 when a finding has this severity or higher (default: config, else high).",
    )
    parser.option(
        "--severity",
        choices=SEVERITIES,
        case_sensitive=False,
        help="Report only findings of this severity or higher (default: config, else info).",
    )
    parser.option(
        "--config",
        dest="config_path",
        metavar="FILE",
        type=file_path,
        help=f"Lint configuration (YAML). Default: ./{DEFAULT_NAME} if present.",
    )
    parser.multiple(
        "--image",
        dest="images",
        metavar="IMAGE",
        help="Review a built image's history (created_by) when no Dockerfile is at hand.",
    )
    add_platform_option(parser, "With --image.")


def run(args: Namespace) -> int:
    dockerfiles: list[str] = args.dockerfiles
    fmt: str = args.fmt
    fail_on: str | None = args.fail_on
    severity: str | None = args.severity
    config_path: str | None = args.config_path
    images: tuple[str, ...] = args.images
    platform: str | None = args.platform
    if not dockerfiles and not images:
        raise UsageError("give at least one Dockerfile, or --image IMAGE")
    config = _config(config_path)
    if severity is not None:
        config = LintConfig(
            config.settings, config.ignore, Severity.parse(severity), config.fail_on
        )
    threshold = Severity.parse(fail_on) if fail_on else config.fail_on
    findings: list[Finding] = []
    for path in dockerfiles:
        findings.extend(lint_path(path, config))
    for image in images:
        findings.extend(_lint_image(image, platform, config))
    if fmt == "json":
        sys.stdout.write(to_json(findings) + "\n")
    elif fmt == "sarif":
        sys.stdout.write(to_sarif(findings) + "\n")
    else:
        sys.stdout.write(to_table(findings))
    return 1 if any(f.severity >= threshold for f in findings) else 0


def _lint_image(image: str, platform: str | None, config: LintConfig) -> list[Finding]:
    from customhouse.dockerfile import lint_history
    from customhouse.limits import Limits
    from customhouse.oci.model import Platform
    from customhouse.sources import open_image

    with open_image(
        image, platform=Platform.parse(platform) if platform else None, limits=Limits.from_env()
    ) as img:
        if img.config is None:
            raise InputError(f"{image}: a root filesystem has no build history to review")
        created_by = [h.created_by for h in img.config.history if h.created_by]
        user = (img.config.user or "").split(":")[0]
    if not created_by:
        raise InputError(f"{image}: the image config records no build history (created_by)")
    findings = lint_history(created_by, config, path=f"{image} (history)")
    if user and user not in ("root", "0"):
        # the config's User is the truth about the final stage, whatever the history recorded
        findings = [f for f in findings if f.rule != "CH501"]
    return findings


def _config(path: str | None) -> LintConfig:
    if path is not None:
        return LintConfig.load(path)
    default = Path(DEFAULT_NAME)
    if default.is_file():
        return LintConfig.load(default)
    return LintConfig()


__all__ = ["InputError", "build", "run"]
