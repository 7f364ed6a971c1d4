"""``customhouse versions``: compare versions with an ecosystem's own rules."""

from __future__ import annotations

import sys
from argparse import Namespace
from typing import TYPE_CHECKING

from customhouse.errors import UsageError
from customhouse.versions import SCHEME_NAMES, get_scheme

if TYPE_CHECKING:
    from customhouse.cli._args import CommandParser

_SYMBOL = {-1: "<", 0: "=", 1: ">"}

COMPARE_DETAILS = """\
SCHEME is one of: dpkg (Debian, Ubuntu), apk (Alpine), rpm, pep440 (PyPI),
semver (npm), maven, gem (RubyGems), go. An invalid version exits with
status 2 and names the version and the scheme.
"""


def build(parser: CommandParser) -> None:
    parser.description = "Compare versions with an ecosystem's own rules."
    commands = parser.commands("versions_command")
    compare = commands.add(
        "compare",
        "Print <, = or > as version A sorts before, equal to, or after version B.",
        COMPARE_DETAILS,
    )
    compare.argument("scheme", choices=SCHEME_NAMES)
    compare.argument("a", nargs="?")
    compare.argument("b", nargs="?")
    compare.flag(
        "--stdin",
        dest="from_stdin",
        help="Read 'A B' pairs from standard input, one per line; print one result per line.",
    )


def run(args: Namespace) -> int:
    return _RUN[args.versions_command](args)


def _compare(args: Namespace) -> int:
    scheme: str = args.scheme
    a: str | None = args.a
    b: str | None = args.b
    from_stdin: bool = args.from_stdin
    s = get_scheme(scheme)
    if not from_stdin:
        if a is None or b is None:
            raise UsageError("give two versions A and B, or --stdin")
        print(_SYMBOL[s.compare(a, b)])
        return 0
    if a is not None or b is not None:
        raise UsageError("with --stdin, give no versions on the command line")
    for number, line in enumerate(sys.stdin, 1):
        words = line.split()
        if not words:
            continue
        if len(words) != 2:
            raise UsageError(f"stdin line {number}: expected 'A B', got {line.rstrip()!r}")
        print(_SYMBOL[s.compare(words[0], words[1])])
    return 0


_RUN = {"compare": _compare}
