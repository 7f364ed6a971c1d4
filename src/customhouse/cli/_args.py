"""The CLI's parser: argparse with environment defaults and click-style help.

Every option declared through :meth:`CommandParser.option`, :meth:`~CommandParser.flag`,
:meth:`~CommandParser.switch` or :meth:`~CommandParser.multiple` takes its default from
the environment: first from its explicit variables (``envvar=``), then from
``<PREFIX>_<DEST>``, where the prefix is ``CUSTOMHOUSE`` plus the command path
(``CUSTOMHOUSE_DB_UPDATE``) and DEST is the option's destination name upper-cased
(``--format`` stored as ``fmt`` reads ``CUSTOMHOUSE_SCAN_FMT``). An empty variable is
unset. Flags read 1/true/yes/on and 0/false/no/off; repeatable options split the
value on whitespace (paths: on ``os.pathsep``). The command line wins. The
environment is read only for the parsers the command line actually reaches.
"""

from __future__ import annotations

import argparse
import os
import sys

# typing and dataclasses are left out of the start-up path (dataclasses pulls in
# inspect, ~10 ms); `customhouse --version` and `--help` import nothing else of ours
TYPE_CHECKING = False
if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Sequence
    from typing import Any, Literal, NoReturn

    _Kind = Literal["value", "flag", "multiple"]


def _translate_once() -> None:
    """Look argparse's message catalogue up once, not on every message it builds.

    argparse calls ``gettext.gettext`` for each of its strings, and each call searches
    the locale directories for a catalogue again (~20 calls and 4 ms per command here).
    One lookup, with the same fallback, gives the same translations.
    """
    import gettext

    domain = gettext.textdomain()  # what gettext.gettext looks in, as argparse calls it
    catalogue = gettext.translation(domain, gettext.bindtextdomain(domain), fallback=True)
    argparse._ = catalogue.gettext  # type: ignore[attr-defined]
    argparse.ngettext = catalogue.ngettext  # type: ignore[attr-defined]


_translate_once()

_TRUE = frozenset({"1", "true", "t", "yes", "y", "on"})
_FALSE = frozenset({"0", "false", "f", "no", "n", "off"})


def parse_bool(text: str) -> bool:
    """1/true/t/yes/y/on or 0/false/f/no/n/off, any case; anything else is a ValueError."""
    word = text.strip().lower()
    if word in _TRUE:
        return True
    if word in _FALSE:
        return False
    raise ValueError(f"{text!r} is not a boolean (use 1/true/yes/on or 0/false/no/off)")


def int_range(low: int, high: int) -> Callable[[str], int]:
    """An argparse type: an integer in [low, high]."""

    def convert(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{text!r} is not a valid integer") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"{value} is not in the range {low}<=x<={high}")
        return value

    return convert


def file_path(text: str) -> str:
    """An argparse type: a path that, if it exists, is not a directory."""
    if os.path.isdir(text):
        raise argparse.ArgumentTypeError(f"file {text!r} is a directory")
    return text


class _EnvOption:
    """How one option reads the environment (a plain class: see the imports)."""

    __slots__ = ("action", "envvars", "kind", "separator")

    def __init__(
        self,
        action: argparse.Action,
        kind: _Kind,
        envvars: tuple[str, ...],
        separator: str | None,
    ) -> None:
        self.action = action
        self.kind = kind
        self.envvars = envvars  # explicit ones, read before the automatic name
        self.separator = separator  # for "multiple": None splits on whitespace


class _Multiple(argparse.Action):
    """A repeatable option collected into a tuple; given on the command line, it
    replaces (does not extend) the default from the environment."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        current = getattr(namespace, self.dest, None)
        if current is self.default or current is None:
            current = ()
        setattr(namespace, self.dest, (*current, values))


class _Switch(argparse.Action):
    """``--name/--no-name``: one boolean, set by either spelling."""

    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        setattr(namespace, self.dest, not (option_string or "").startswith("--no-"))


class _Version(argparse.Action):
    def __call__(
        self,
        parser: argparse.ArgumentParser,
        namespace: argparse.Namespace,
        values: Any,
        option_string: str | None = None,
    ) -> None:
        sys.stdout.write(f"{self.const}\n")
        parser.exit()


class _Formatter(argparse.HelpFormatter):
    """Help laid out as before: ``Usage: prog [OPTIONS] ARGS``, indented paragraphs,
    ``-o, --output FILE``, a plain ``Commands`` list, at most 78 columns."""

    def __init__(self, prog: str) -> None:
        # argparse makes one per add_argument: no shutil (it imports bz2 and lzma)
        super().__init__(prog, width=max(min(_columns(), 80) - 2, 50))

    def add_usage(
        self,
        usage: str | None,
        actions: Iterable[argparse.Action],
        groups: Iterable[Any],
        prefix: str | None = None,
    ) -> None:
        if usage is None:
            words = ["%(prog)s", "[OPTIONS]"]
            for action in actions:
                if action.option_strings:
                    continue
                if isinstance(action, argparse._SubParsersAction):
                    words.append("COMMAND [ARGS]...")
                    continue
                name = str(action.metavar or action.dest)
                words.append(
                    {"?": f"[{name}]", "*": f"[{name}]...", "+": f"{name}..."}.get(
                        str(action.nargs), name
                    )
                )
            usage = " ".join(words)
        super().add_usage(usage, actions, groups, "Usage: " if prefix is None else prefix)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        import textwrap

        paragraphs = [" ".join(p.split()) for p in textwrap.dedent(text).split("\n\n")]
        return "\n\n".join(
            textwrap.fill(p, width, initial_indent="  ", subsequent_indent="  ")
            for p in paragraphs
            if p
        )

    def _format_action_invocation(self, action: argparse.Action) -> str:
        if not action.option_strings or action.nargs == 0:
            return super()._format_action_invocation(action)
        return f"{', '.join(action.option_strings)} {action.metavar}"

    def _format_action(self, action: argparse.Action) -> str:
        if isinstance(action, argparse._SubParsersAction):
            return "".join(self._format_action(sub) for sub in action._get_subactions())
        return super()._format_action(action)


class CommandParser(argparse.ArgumentParser):
    """One command's parser; ``env_prefix`` names its environment defaults."""

    def __init__(self, prog: str, *, env_prefix: str, description: str | None = None) -> None:
        super().__init__(
            prog=prog,
            description=description,
            formatter_class=_Formatter,
            add_help=False,
            allow_abbrev=False,
        )
        self.env_prefix = env_prefix
        self._env_options: list[_EnvOption] = []
        self._commands: tuple[str, argparse._SubParsersAction[CommandParser]] | None = None
        self._intermixing = False
        self._optionals.title = "Options"
        self.add_argument("-h", "--help", action="help", help="Show this message and exit.")

    # --- declaring arguments and options --------------------------------------------

    def argument(
        self,
        dest: str,
        *,
        metavar: str | None = None,
        nargs: Literal["?", "*", "+"] | None = None,
        choices: Sequence[str] | None = None,
        type: Callable[[str], Any] = str,
    ) -> None:
        """A positional argument (listed in the usage line only, as before)."""
        if choices is not None and metavar is None:
            metavar = "{" + "|".join(choices) + "}"
        self.add_argument(
            dest,
            metavar=metavar or dest.upper(),
            nargs=nargs,
            choices=choices,
            type=type,
            help=argparse.SUPPRESS,
        )

    def option(
        self,
        *flags: str,
        dest: str | None = None,
        help: str | None = None,
        metavar: str | None = None,
        default: Any = None,
        choices: Sequence[str] | None = None,
        case_sensitive: bool = True,
        type: Callable[[str], Any] = str,
        required: bool = False,
        envvar: str | None = None,
        show_default: bool | str = False,
        hidden: bool = False,
    ) -> None:
        """An option taking one value."""
        if choices is not None:
            shown = choices if case_sensitive else [c.lower() for c in choices]
            metavar = metavar or "[" + "|".join(shown) + "]"
            if not case_sensitive:
                type = _case_insensitive(choices)
        action = self.add_argument(
            *flags,
            dest=dest,
            metavar=metavar or "TEXT",
            default=default,
            choices=choices,
            type=type,
            required=required,
            help=_help(help, hidden, default, show_default, required),
        )
        self._env(action, "value", envvar)

    def multiple(
        self,
        *flags: str,
        dest: str | None = None,
        help: str | None = None,
        metavar: str | None = None,
        type: Callable[[str], Any] = str,
        envvar_separator: str | None = None,
    ) -> None:
        """A repeatable option, collected into a tuple (default: empty)."""
        action = self.add_argument(
            *flags,
            dest=dest,
            action=_Multiple,
            metavar=metavar or "TEXT",
            default=(),
            type=type,
            help=help,
        )
        self._env(action, "multiple", None, envvar_separator)

    def flag(self, *flags: str, dest: str | None = None, help: str | None = None) -> None:
        """An on/off flag, off by default."""
        action = self.add_argument(*flags, dest=dest, action="store_true", help=help)
        self._env(action, "flag", None)

    def switch(
        self,
        on: str,
        off: str,
        *,
        dest: str,
        default: bool,
        help: str | None = None,
        show_default: bool = False,
    ) -> None:
        """``--name/--no-name``, one boolean."""
        shown = on.lstrip("-") if default else off.lstrip("-")
        action = self.add_argument(
            on,
            off,
            dest=dest,
            action=_Switch,
            nargs=0,
            default=default,
            help=_help(help, False, default, shown if show_default else False, False),
        )
        self._env(action, "flag", None)

    def version(self, text: str) -> None:
        self.add_argument(
            "--version", action=_Version, nargs=0, const=text, help="Show the version and exit."
        )

    def commands(self, dest: str) -> Commands:
        """Subcommands of this command; the chosen name lands in ``dest``."""
        sub = self.add_subparsers(
            title="Commands",
            dest=dest,
            metavar="COMMAND",
            prog=self.prog,
            parser_class=CommandParser,
        )
        self._commands = (dest, sub)
        return Commands(self, sub)

    # --- parsing ---------------------------------------------------------------------

    def parse_known_args(  # type: ignore[override]
        self, args: Sequence[str] | None = None, namespace: argparse.Namespace | None = None
    ) -> tuple[argparse.Namespace, list[str]]:
        """Parse strictly: environment defaults first; options and arguments of a command
        may come in any order (``scan A --db X B``); an unknown argument is an error of
        the innermost command (its usage), and a group needs a subcommand."""
        if self._intermixing:  # argparse's two passes over a command's arguments
            return super().parse_known_args(args, namespace)
        self._apply_environment()
        if self._commands is None:
            self._intermixing = True
            try:
                ns, extras = super().parse_known_intermixed_args(args, namespace)
            finally:
                self._intermixing = False
        else:
            ns, extras = super().parse_known_args(args, namespace)
        if extras:
            self.error(f"unrecognized arguments: {' '.join(extras)}")
        if self._commands is not None and getattr(ns, self._commands[0], None) is None:
            self.print_help(sys.stderr)
            self.exit(2)
        return ns, extras

    def error(self, message: str) -> NoReturn:
        self.print_usage(sys.stderr)
        self.exit(2, f"{self.prog}: error: {message}\n")

    def _env(
        self,
        action: argparse.Action,
        kind: _Kind,
        envvar: str | None,
        separator: str | None = None,
    ) -> None:
        envvars = (envvar,) if envvar else ()
        self._env_options.append(_EnvOption(action, kind, envvars, separator))

    def _apply_environment(self) -> None:
        for opt in self._env_options:
            action = opt.action
            names = (*opt.envvars, f"{self.env_prefix}_{action.dest.upper()}")
            found = next(((n, os.environ[n]) for n in names if os.environ.get(n)), None)
            if found is None:
                continue
            name, raw = found
            try:
                if opt.kind == "flag":
                    value: Any = parse_bool(raw)
                elif opt.kind == "multiple":
                    value = tuple(self._convert(action, v) for v in raw.split(opt.separator))
                else:
                    value = self._convert(action, raw)
            except (ValueError, TypeError, argparse.ArgumentTypeError) as e:
                self.error(f"{'/'.join(action.option_strings)} from ${name}: {e}")
            action.default = value
            action.required = False

    @staticmethod
    def _convert(action: argparse.Action, raw: str) -> Any:
        value = action.type(raw) if callable(action.type) else raw
        if action.choices is not None and value not in action.choices:
            choices = ", ".join(repr(c) for c in action.choices)
            raise ValueError(f"invalid choice: {raw!r} (choose from {choices})")
        return value


class Commands:
    """Adds subcommand parsers whose environment prefix extends their parent's."""

    def __init__(
        self, parent: CommandParser, sub: argparse._SubParsersAction[CommandParser]
    ) -> None:
        self._parent = parent
        self._sub = sub

    def add(self, name: str, summary: str, details: str | None = None) -> CommandParser:
        """A subcommand listed with ``summary``; its help shows ``summary`` and ``details``."""
        return self._sub.add_parser(
            name,
            help=summary,
            description=summary if details is None else f"{summary}\n\n{details}",
            env_prefix=f"{self._parent.env_prefix}_{name.upper().replace('-', '_')}",
        )


def _columns() -> int:
    """The terminal width as shutil.get_terminal_size() finds it: $COLUMNS, else stdout's."""
    try:
        return int(os.environ["COLUMNS"])
    except (KeyError, ValueError):
        pass
    try:
        return os.get_terminal_size(sys.__stdout__.fileno()).columns  # type: ignore[union-attr]
    except (AttributeError, ValueError, OSError):
        return 80


def _case_insensitive(choices: Sequence[str]) -> Callable[[str], str]:
    canonical = {c.lower(): c for c in choices}

    def convert(text: str) -> str:
        return canonical.get(text.lower(), text)

    return convert


def _help(
    text: str | None, hidden: bool, default: Any, show_default: bool | str, required: bool
) -> str | None:
    if hidden:
        return argparse.SUPPRESS
    extra = []
    if show_default is not False:
        extra.append(f"default: {default if show_default is True else show_default}")
    if required:
        extra.append("required")
    if not extra:
        return text
    return f"{text or ''}  [{'; '.join(extra)}]".strip()
