"""``customhouse versions``: compare versions with an ecosystem's own rules."""

from __future__ import annotations

import sys

import click

from customhouse.errors import UsageError
from customhouse.versions import SCHEME_NAMES, get_scheme

_SYMBOL = {-1: "<", 0: "=", 1: ">"}


@click.group("versions")
def versions_group() -> None:
    """Compare versions with an ecosystem's own rules."""


@versions_group.command("compare")
@click.argument("scheme", type=click.Choice(SCHEME_NAMES))
@click.argument("a", required=False)
@click.argument("b", required=False)
@click.option(
    "--stdin",
    "from_stdin",
    is_flag=True,
    help="Read 'A B' pairs from standard input, one per line; print one result per line.",
)
def compare_cmd(scheme: str, a: str | None, b: str | None, from_stdin: bool) -> None:
    """Print <, = or > as version A sorts before, equal to, or after version B.

    SCHEME is one of: dpkg (Debian, Ubuntu), apk (Alpine), rpm, pep440 (PyPI),
    semver (npm), maven, gem (RubyGems), go. An invalid version exits with
    status 2 and names the version and the scheme.
    """
    s = get_scheme(scheme)
    if not from_stdin:
        if a is None or b is None:
            raise UsageError("give two versions A and B, or --stdin")
        click.echo(_SYMBOL[s.compare(a, b)])
        return
    if a is not None or b is not None:
        raise UsageError("with --stdin, give no versions on the command line")
    for number, line in enumerate(sys.stdin, 1):
        words = line.split()
        if not words:
            continue
        if len(words) != 2:
            raise UsageError(f"stdin line {number}: expected 'A B', got {line.rstrip()!r}")
        click.echo(_SYMBOL[s.compare(words[0], words[1])])
