"""Options and helpers shared by the commands."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any

from customhouse.errors import StorageError, UsageError

if TYPE_CHECKING:
    from customhouse.advisories.store import SourceInfo
    from customhouse.cli._args import CommandParser
    from customhouse.oci.model import Platform


def add_platform_option(parser: CommandParser, help: str) -> None:
    parser.option("--platform", metavar="OS/ARCH[/VARIANT]", help=help)


def add_registry_option(parser: CommandParser) -> None:
    parser.multiple(
        "--insecure-registry",
        dest="insecure_registries",
        metavar="HOST[:PORT]",
        help="Allow plain HTTP to this registry (loopback registries are always allowed).",
    )


def add_image_options(parser: CommandParser) -> None:
    add_platform_option(
        parser, "Which manifest of a multi-platform image to use (default linux/amd64)."
    )
    add_registry_option(parser)


def add_output_options(parser: CommandParser) -> None:
    """``-o/--output FILE`` (default stdout) and ``--force``."""
    parser.option(
        "-o", "--output", default="-", metavar="FILE", help="Write here instead of stdout."
    )
    parser.flag("--force", help="Overwrite FILE if it exists.")


def add_db_option(parser: CommandParser) -> None:
    """``--db PATH``: the advisory database (``$CUSTOMHOUSE_DB``, else the user data dir)."""
    parser.option(
        "--db",
        dest="db_path",
        metavar="PATH",
        envvar="CUSTOMHOUSE_DB",
        help="Advisory database file (default: $CUSTOMHOUSE_DB or the user data dir).",
    )


def resolve_db_path(value: str | None) -> Path:
    """The advisory database ``--db`` names, else ``$CUSTOMHOUSE_DB`` or the user data dir."""
    from customhouse.advisories.store import default_db_path

    return Path(value) if value else default_db_path()


def add_max_age_option(parser: CommandParser, flag: str) -> None:
    """``flag AGE``: how old an advisory source may be before a warning says so."""
    parser.option(
        flag,
        dest="max_age",
        default="7d",
        show_default=True,
        metavar="AGE",
        envvar="CUSTOMHOUSE_DB_MAX_AGE",
        help="Warn when an advisory source is older than this (e.g. 36h, 7d).",
    )


_AGE_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_age(text: str, flag: str) -> float:
    """Seconds of an age written as a number and a unit (90m, 36h, 7d, 2w)."""
    if len(text) < 2 or text[-1] not in _AGE_UNITS:
        raise UsageError(f"{flag} {text!r}: use a number and a unit (s, m, h, d, w)")
    try:
        value = float(text[:-1])
    except ValueError:
        raise UsageError(f"{flag} {text!r}: not a number") from None
    if not 0 < value < float("inf"):
        raise UsageError(f"{flag} {text!r}: must be more than 0")
    return value * _AGE_UNITS[text[-1]]


def source_age(fetched_at: str | None, now: float) -> float | None:
    """Seconds since a source was fetched; None when the database does not say (or not
    as the store writes it)."""
    import calendar
    import time

    if not fetched_at:
        return None
    try:
        return now - calendar.timegm(time.strptime(fetched_at, "%Y-%m-%dT%H:%M:%SZ"))
    except ValueError:
        return None


def format_age(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"


def stale_warnings(
    sources: Iterable[SourceInfo], limit: float, max_age: str, flag: str, now: float
) -> dict[str, str]:
    """A warning for each advisory source fetched more than ``limit`` seconds ago (by
    its name): advisories published since are missing from it."""
    out = {}
    for s in sources:
        age = source_age(s.fetched_at, now)
        if age is not None and age > limit:
            out[s.name] = (
                f"advisory source {s.name} was fetched {format_age(age)} ago, more than "
                f"{flag} {max_age}: newer advisories are missing; run 'customhouse db update'"
            )
    return out


def parse_platform(value: str | None) -> Platform | None:
    from customhouse.oci.model import Platform

    return Platform.parse(value) if value else None


def dump_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, sort_keys=False) + "\n")


@contextmanager
def atomic_output(path: str, *, force: bool, binary: bool = True) -> Iterator[IO[Any]]:
    """Write to a temp file beside ``path`` and rename on success; ``-`` is stdout."""
    if path == "-":
        if binary and sys.stdout.isatty():
            raise UsageError("refusing to write a tar to a terminal; use -o FILE or a pipe")
        yield sys.stdout.buffer if binary else sys.stdout
        sys.stdout.flush()
        return
    target = Path(path)
    if target.exists() and not target.is_file() and not target.is_dir():
        # a device, FIFO or socket (/dev/null, a named pipe): write to it, never replace it
        try:
            with open(target, "wb" if binary else "w", encoding=None if binary else "utf-8") as f:
                yield f
        except OSError as e:
            raise StorageError(f"cannot write to {path}: {e.strerror}") from None
        return
    if target.exists() and not force:
        raise UsageError(f"{path} exists; use --force to overwrite it")
    if target.is_dir():
        raise UsageError(f"{path} is a directory")
    parent = target.parent if str(target.parent) else Path(".")
    import tempfile  # only here: -o /dev/null and stdout, the hot paths, never need it

    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".part", dir=parent)
    except OSError as e:
        raise StorageError(f"cannot write to {parent}: {e.strerror}") from None
    ok = False
    try:
        with os.fdopen(fd, "wb" if binary else "w", encoding=None if binary else "utf-8") as f:
            yield f
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, target)
        ok = True
    finally:
        if not ok:
            try:
                os.unlink(tmp)
            except FileNotFoundError:
                pass


@contextmanager
def layer_progress(image: Any, verb: str) -> Iterator[Callable[[Any, int], None] | None]:
    """A rich progress bar over compressed layer bytes, on stderr, only when it is a terminal."""
    layers = getattr(image, "layers", ())
    if not sys.stderr.isatty() or not layers:
        yield None
        return
    from rich.console import Console
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn

    total = sum(layer.descriptor.size for layer in layers)
    done_before: dict[int, int] = {}
    with Progress(
        TextColumn(f"{verb} [bold]{{task.fields[layer]}}"),
        BarColumn(),
        DownloadColumn(),
        TimeRemainingColumn(),
        console=Console(stderr=True),
        transient=True,
    ) as bar:
        task = bar.add_task(verb, total=total, layer="")

        def update(layer: Any, count: int) -> None:
            done_before[layer.index] = count
            bar.update(task, completed=sum(done_before.values()), layer=f"layer {layer.index}")

        yield update
