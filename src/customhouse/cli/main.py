"""The ``customhouse`` command: a thin, lazily loaded layer over the public API.

Subcommands live one module per command group under ``customhouse.cli`` and are
imported only when invoked, so ``customhouse --help`` and each command pay only
for what they use. Errors become exit codes here and only here.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

import click

from customhouse import __version__
from customhouse.errors import EXIT_INPUT, EXIT_OPERATIONAL, CustomhouseError

# name -> (module, attribute, one-line help)
COMMANDS: dict[str, tuple[str, str, str]] = {
    "inspect": (
        "customhouse.cli.inspect",
        "inspect_cmd",
        "Show what an image is and where it came from.",
    ),
    "export": (
        "customhouse.cli.export",
        "export_cmd",
        "Write the flattened filesystem of an image as a tar.",
    ),
    "db": ("customhouse.cli.db", "db_group", "Build, inspect and move the advisory database."),
    "scan": (
        "customhouse.cli.scan",
        "scan_cmd",
        "Scan images for known vulnerabilities (and secrets); gate CI.",
    ),
    "secrets": (
        "customhouse.cli.secrets",
        "secrets_cmd",
        "Find leaked secrets in every layer, the config and the history.",
    ),
    "sbom": ("customhouse.cli.sbom", "sbom_cmd", "List every OS and language package (SBOM)."),
    "versions": (
        "customhouse.cli.versions",
        "versions_group",
        "Compare versions with an ecosystem's own rules.",
    ),
    "lint": (
        "customhouse.cli.lint",
        "lint_cmd",
        "Review Dockerfiles (or an image's history) for risky build steps.",
    ),
}


class LazyGroup(click.Group):
    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        spec = COMMANDS.get(cmd_name)
        if spec is None:
            return None
        module_name, attr, _ = spec
        try:
            module = importlib.import_module(module_name)
        except ModuleNotFoundError as e:
            if e.name == module_name:
                return None
            raise
        command = getattr(module, attr)
        assert isinstance(command, click.Command)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        rows = [(name, COMMANDS[name][2]) for name in self.list_commands(ctx)]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="customhouse")
def cli() -> None:
    """customhouse: decide which container images may enter your infrastructure.

    Every option can also be set with a CUSTOMHOUSE_<COMMAND>_<OPTION> environment
    variable, for example CUSTOMHOUSE_INSPECT_PLATFORM=linux/arm64.
    """


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and map errors to exit codes (0/1/2/3)."""
    try:
        rv: Any = cli.main(
            args=argv,
            prog_name="customhouse",
            standalone_mode=False,
            auto_envvar_prefix="CUSTOMHOUSE",
        )
    except CustomhouseError as e:
        _error(str(e))
        sys.exit(e.exit_code)
    except click.exceptions.Abort:
        _error("aborted")
        sys.exit(130)
    except click.ClickException as e:
        e.show()
        sys.exit(EXIT_INPUT)
    except click.exceptions.Exit as e:
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
    sys.exit(rv if isinstance(rv, int) else 0)


def _error(message: str) -> None:
    click.echo(f"customhouse: error: {message}", err=True)
