"""``customhouse lint``: review Dockerfiles for risky build steps."""

from __future__ import annotations

from pathlib import Path

import click

from customhouse.dockerfile import (
    Finding,
    LintConfig,
    Severity,
    lint_path,
)
from customhouse.dockerfile.config import DEFAULT_NAME
from customhouse.dockerfile.report import to_json, to_sarif, to_table
from customhouse.errors import InputError

FORMATS = ("table", "json", "sarif")
SEVERITIES = tuple(s.label for s in Severity)


@click.command("lint")
@click.argument("dockerfiles", nargs=-1, type=click.Path(dir_okay=False, path_type=str))
@click.option("--format", "fmt", type=click.Choice(FORMATS), default="table", show_default=True)
@click.option(
    "--fail-on",
    type=click.Choice(SEVERITIES, case_sensitive=False),
    default=None,
    help="Exit 1 when a finding has this severity or higher (default: config, else high).",
)
@click.option(
    "--severity",
    type=click.Choice(SEVERITIES, case_sensitive=False),
    default=None,
    help="Report only findings of this severity or higher (default: config, else info).",
)
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=str),
    default=None,
    help=f"Lint configuration (YAML). Default: ./{DEFAULT_NAME} if present.",
)
@click.option(
    "--image",
    "images",
    multiple=True,
    metavar="IMAGE",
    help="Review a built image's history (created_by) when no Dockerfile is at hand.",
)
@click.option("--platform", metavar="OS/ARCH[/VARIANT]", default=None, help="With --image.")
@click.pass_context
def lint_cmd(
    ctx: click.Context,
    dockerfiles: tuple[str, ...],
    fmt: str,
    fail_on: str | None,
    severity: str | None,
    config_path: str | None,
    images: tuple[str, ...],
    platform: str | None,
) -> None:
    """Review DOCKERFILES for provenance, transport, verification, secrets and
    privilege problems.

    Exit codes: 0 no finding at or above --fail-on, 1 such a finding, 2 a file is
    missing or does not parse (the message names it).
    """
    if not dockerfiles and not images:
        raise click.UsageError("give at least one Dockerfile, or --image IMAGE")
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
        click.echo(to_json(findings))
    elif fmt == "sarif":
        click.echo(to_sarif(findings))
    else:
        click.echo(to_table(findings), nl=False)
    if any(f.severity >= threshold for f in findings):
        ctx.exit(1)


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


__all__ = ["InputError", "lint_cmd"]
