"""The ``customhouse`` command: a thin, lazily loaded layer over the public API.

Subcommands live one module per command (or command group) under ``customhouse.cli``.
Each module exposes ``build(parser)``, which sets the command's description and
declares its arguments (and, for a group, its subcommands), and ``run(args) -> int``, which does the work and returns the exit
status. The top-level parser lists every command with its one-line help from
:data:`COMMANDS`, but imports and builds only the module of the command named on the
command line, so ``customhouse --help`` and each command pay only for what they use.
Errors become exit codes here and only here.
"""

from __future__ import annotations

import importlib
import os
import sys

from customhouse import __version__
from customhouse.cli._args import CommandParser
from customhouse.errors import EXIT_OPERATIONAL, CustomhouseError

TYPE_CHECKING = False  # typing stays out of `customhouse --version` and `--help`
if TYPE_CHECKING:
    from argparse import Namespace
    from collections.abc import Callable, Sequence

    Run = Callable[[Namespace], int]

# name -> (module, one-line help)
COMMANDS: dict[str, tuple[str, str]] = {
    "inspect": ("customhouse.cli.inspect", "Show what an image is and where it came from."),
    "export": ("customhouse.cli.export", "Write the flattened filesystem of an image as a tar."),
    "db": ("customhouse.cli.db", "Build, inspect and move the advisory database."),
    "scan": (
        "customhouse.cli.scan",
        "Scan images for known vulnerabilities (and secrets); gate CI.",
    ),
    "secrets": (
        "customhouse.cli.secrets",
        "Find leaked secrets in every layer, the config and the history.",
    ),
    "sbom": ("customhouse.cli.sbom", "List every OS and language package (SBOM)."),
    "versions": ("customhouse.cli.versions", "Compare versions with an ecosystem's own rules."),
    "lint": (
        "customhouse.cli.lint",
        "Review Dockerfiles (or an image's history) for risky build steps.",
    ),
}

DESCRIPTION = """\
customhouse: decide which container images may enter your infrastructure.

Every option can also be set with a CUSTOMHOUSE_<COMMAND>_<OPTION> environment
variable, for example CUSTOMHOUSE_INSPECT_PLATFORM=linux/arm64 (for a subcommand:
CUSTOMHOUSE_DB_UPDATE_<OPTION>). The command line wins over the environment.
"""


def parse_args(argv: Sequence[str]) -> tuple[Run, Namespace]:
    """Parse ``argv`` (without the program name): the chosen command's ``run`` and its
    arguments. Usage errors, ``--help`` and ``--version`` exit (SystemExit)."""
    parser = CommandParser("customhouse", env_prefix="CUSTOMHOUSE", description=DESCRIPTION)
    parser.version(f"customhouse, version {__version__}")
    commands = parser.commands("command")
    # the top level has no option taking a value: the first word is the command
    chosen = next((word for word in argv if not word.startswith("-")), None)
    run: Run | None = None
    for name in sorted(COMMANDS):
        module_name, summary = COMMANDS[name]
        if name != chosen:
            commands.add(name, summary)
            continue
        module = importlib.import_module(module_name)
        module.build(commands.add(name, summary))
        run = module.run
    args = parser.parse_args(argv)
    assert run is not None, "the parser accepted a command that was not built"
    return run, args


def main(argv: Sequence[str] | None = None) -> None:
    """Entry point: run the CLI and map errors to exit codes (0/1/2/3)."""
    try:
        run, args = parse_args(sys.argv[1:] if argv is None else argv)
        code = run(args)
        sys.stdout.flush()
    except CustomhouseError as e:
        _error(str(e))
        sys.exit(e.exit_code)
    except KeyboardInterrupt:
        _error("interrupted")
        sys.exit(130)
    except BrokenPipeError:
        # stdout closed early (e.g. piped into head); not an error of ours
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        sys.exit(0)
    except OSError as e:
        _error(f"I/O error: {e}")
        sys.exit(EXIT_OPERATIONAL)
    sys.exit(code)


def _error(message: str) -> None:
    sys.stderr.write(f"customhouse: error: {message}\n")
