"""``customhouse db``: the local advisory database."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import click

from customhouse.cli._common import dump_json


def _db_path(value: str | None) -> Path:
    from customhouse.advisories.store import default_db_path

    return Path(value) if value else default_db_path()


db_option = click.option(
    "--db",
    "db_path",
    metavar="PATH",
    default=None,
    envvar="CUSTOMHOUSE_DB",
    help="Advisory database file (default: $CUSTOMHOUSE_DB or the user data dir).",
)


@click.group("db")
def db_group() -> None:
    """Build, inspect and move the advisory database."""


@db_group.command("import")
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@db_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def import_cmd(paths: tuple[Path, ...], db_path: str | None, fmt: str) -> None:
    """Import OSV records (JSON/YAML files, directories, zips) and Alpine secdb files.

    Each PATH becomes one source; importing it again replaces that source's records.
    The database is rebuilt beside the old one and swapped in only on success.
    """
    from customhouse.advisories.importer import import_paths
    from customhouse.advisories.store import StoreBuilder

    path = _db_path(db_path)
    with StoreBuilder(path) as builder:
        reports = import_paths(builder, list(paths))
    if fmt == "json":
        dump_json(
            {
                "db": str(path),
                "sources": {
                    name: {
                        "files": r.files,
                        "records": r.records,
                        "skipped": r.skipped,
                        **r.by_kind,
                    }
                    for name, r in reports.items()
                },
            }
        )
        return
    for name, r in reports.items():
        kinds = ", ".join(f"{v} {k}" for k, v in r.by_kind.items())
        click.echo(f"{name}: {r.files} files, {r.records} records stored ({kinds})")
        for s in r.skipped[:20]:
            click.echo(f"  skipped: {s}", err=True)
        if len(r.skipped) > 20:
            click.echo(
                f"  ... and {len(r.skipped) - 20} more skipped (see --format json)", err=True
            )
    click.echo(f"database: {path}")


@db_group.command("status")
@db_option
@click.option(
    "--max-age",
    default="7d",
    show_default=True,
    metavar="AGE",
    help="Warn when a source is older than this (e.g. 36h, 7d).",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def status_cmd(db_path: str | None, max_age: str, fmt: str) -> None:
    """Age and counts per source, and the schema version."""
    from customhouse.advisories.store import open_store

    limit = _parse_age(max_age)
    path = _db_path(db_path)
    with open_store(path) as store:
        meta = store.meta()
        sources = store.sources()
        counts = store.counts()
        ecosystems = store.ecosystems()
    now = time.time()
    rows: list[dict[str, Any]] = []
    stale = []
    for s in sources:
        age = now - _parse_time(s.fetched_at) if s.fetched_at else None
        if age is not None and age > limit:
            stale.append(s.name)
        rows.append(
            {
                "name": s.name,
                "url": s.url,
                "fetched_at": s.fetched_at,
                "age_seconds": age,
                "etag": s.etag,
                "last_modified": s.last_modified,
                "records": s.record_count,
                **({"details": s.extra} if s.extra else {}),
            }
        )
    info: dict[str, Any] = {
        "db": str(path),
        "schema_version": int(meta.get("schema_version", 0)),
        "built_at": meta.get("built_at"),
        **counts,
        "ecosystems": ecosystems,
        "sources": rows,
        "stale_sources": stale,
    }
    if fmt == "json":
        dump_json(info)
    else:
        click.echo(f"database {path} (schema {info['schema_version']}, built {info['built_at']})")
        click.echo(
            f"{counts['vulnerabilities']} records ({counts['withdrawn']} withdrawn), "
            f"{counts['packages']} packages, {len(ecosystems)} ecosystems"
        )
        for r in rows:
            shown_age = _fmt_age(r["age_seconds"])
            click.echo(
                f"  {r['name']}: {r['records']} records, fetched {r['fetched_at']} ({shown_age} ago)"
            )
    for name in stale:
        click.echo(
            f"customhouse: warning: source {name} is older than {max_age}; run 'customhouse db update'",
            err=True,
        )


@db_group.command("show")
@click.argument("vuln_id")
@db_option
def show_cmd(vuln_id: str, db_path: str | None) -> None:
    """Print one record (by id or alias) as OSV JSON."""
    from customhouse.advisories.store import open_store
    from customhouse.errors import InputError

    with open_store(_db_path(db_path)) as store:
        v = store.get(vuln_id)
    if v is None:
        raise InputError(f"no advisory {vuln_id!r} in the database")
    click.echo(json.dumps(v.raw, indent=2, sort_keys=True))


@db_group.command("search")
@click.argument("package")
@click.option("--ecosystem", default=None, help="PyPI, npm, Alpine, Alpine:v3.19, Debian:12, ...")
@db_option
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def search_cmd(package: str, ecosystem: str | None, db_path: str | None, fmt: str) -> None:
    """Advisories for packages whose name contains PACKAGE."""
    from customhouse.advisories.store import open_store

    with open_store(_db_path(db_path)) as store:
        hits = store.search(package, ecosystem)
    if fmt == "json":
        dump_json([{"ecosystem": e, "package": n, "id": i} for e, n, i in hits])
        return
    for e, n, i in hits:
        click.echo(f"{e}\t{n}\t{i}")


@db_group.command("export")
@click.argument("output", type=click.Path(path_type=Path))
@db_option
@click.option("--force", is_flag=True, help="Overwrite OUTPUT if it exists.")
def export_cmd(output: Path, db_path: str | None, force: bool) -> None:
    """Write the database as one portable, compacted file."""
    import os
    import sqlite3
    import tempfile

    from customhouse.advisories.store import open_store
    from customhouse.errors import StorageError, UsageError

    if output.exists() and not force:
        raise UsageError(f"{output} exists; use --force to overwrite it")
    path = _db_path(db_path)
    with open_store(path):
        pass  # validates schema
    fd, tmp = tempfile.mkstemp(
        dir=output.parent if str(output.parent) else ".", prefix=f".{output.name}.", suffix=".part"
    )
    os.close(fd)
    os.unlink(tmp)
    try:
        src = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
        src.execute("VACUUM INTO ?", (tmp,))
        src.close()
        os.replace(tmp, output)
    except (OSError, sqlite3.Error) as e:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise StorageError(f"cannot export to {output}: {e}") from None
    click.echo(f"exported {path} to {output}", err=True)


def _parse_age(text: str) -> float:
    from customhouse.errors import UsageError

    units = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
    if len(text) < 2 or text[-1] not in units:
        raise UsageError(f"--max-age {text!r}: use a number and a unit (s, m, h, d, w)")
    try:
        return float(text[:-1]) * units[text[-1]]
    except ValueError:
        raise UsageError(f"--max-age {text!r}: not a number") from None


def _parse_time(ts: str) -> float:
    import calendar

    return float(calendar.timegm(time.strptime(ts, "%Y-%m-%dT%H:%M:%SZ")))


def _fmt_age(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    if seconds < 3600:
        return f"{int(seconds // 60)}m"
    if seconds < 86400 * 2:
        return f"{seconds / 3600:.1f}h"
    return f"{seconds / 86400:.1f}d"
