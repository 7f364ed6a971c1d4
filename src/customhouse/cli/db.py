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


# --- online: update, push, pull (appended; the commands above are unchanged) ----------


@db_group.command("update")
@click.option(
    "--source",
    "sources",
    multiple=True,
    metavar="SOURCE",
    help="osv:ECOSYSTEM, debian, alpine:vX.Y/main|community or nvd; repeatable."
    " Default: the OSV language ecosystems, debian, recent Alpine branches"
    " (and nvd when an API key is set).",
)
@db_option
@click.option(
    "--full",
    is_flag=True,
    help="Ignore ETags and sync points: download every source whole.",
)
@click.option(
    "--osv-url",
    envvar="CUSTOMHOUSE_OSV_URL",
    default=None,
    metavar="URL",
    help="Base URL of the OSV bucket or a mirror of it.",
)
@click.option(
    "--debian-tracker-url",
    envvar="CUSTOMHOUSE_DEBIAN_TRACKER_URL",
    default=None,
    metavar="URL",
    help="URL of the Debian security tracker JSON.",
)
@click.option(
    "--alpine-secdb-url",
    envvar="CUSTOMHOUSE_ALPINE_SECDB_URL",
    default=None,
    metavar="URL",
    help="Base URL of Alpine's secdb.",
)
@click.option(
    "--nvd-url",
    envvar="CUSTOMHOUSE_NVD_URL",
    default=None,
    metavar="URL",
    help="URL of the NVD CVE API 2.0.",
)
@click.option(
    "--nvd-api-key",
    envvar="CUSTOMHOUSE_NVD_API_KEY",
    default=None,
    metavar="KEY",
    help="NVD API key (50 instead of 5 requests per 30 s).",
)
@click.option(
    "--nvd-rate",
    envvar="CUSTOMHOUSE_NVD_RATE",
    default=None,
    hidden=True,
    help="NVD request rate as REQUESTS/SECONDS (default 5/30, or 50/30 with a key).",
)
@click.option(
    "--retries",
    envvar="CUSTOMHOUSE_FETCH_RETRIES",
    type=click.IntRange(1, 20),
    default=5,
    show_default=True,
    help="Attempts per download (429/5xx/connection failures, with backoff).",
)
@click.option("--format", "fmt", type=click.Choice(["table", "json"]), default="table")
def update_cmd(
    sources: tuple[str, ...],
    db_path: str | None,
    full: bool,
    osv_url: str | None,
    debian_tracker_url: str | None,
    alpine_secdb_url: str | None,
    nvd_url: str | None,
    nvd_api_key: str | None,
    nvd_rate: str | None,
    retries: int,
    fmt: str,
) -> None:
    """Update the database from the online feeds (ETag-aware, swapped in atomically).

    Every source is fetched into a copy of the database; the copy replaces the
    database only when all sources succeeded. A failed or truncated download leaves
    the previous database exactly as it was.
    """
    from customhouse.advisories.feeds import nvd
    from customhouse.advisories.update import (
        DEFAULT_SOURCES,
        UpdateConfig,
        parse_sources,
        update,
    )
    from customhouse.distribution import RetryPolicy

    chosen = list(sources) or [*DEFAULT_SOURCES, *(["nvd"] if nvd_api_key else [])]
    specs = parse_sources(chosen)
    base = UpdateConfig()
    config = UpdateConfig(
        osv_url=osv_url or base.osv_url,
        debian_url=debian_tracker_url or base.debian_url,
        alpine_url=alpine_secdb_url or base.alpine_url,
        nvd_url=nvd_url or base.nvd_url,
        nvd_api_key=nvd_api_key or None,
        nvd_rate=nvd.RateLimit.parse(nvd_rate) if nvd_rate else None,
        full=full,
        retry=RetryPolicy(attempts=retries),
    )
    path = _db_path(db_path)
    reports = update(path, specs, config)
    if fmt == "json":
        dump_json(
            {
                "db": str(path),
                "sources": [
                    {
                        "source": r.source,
                        "url": r.url,
                        "mode": r.mode,
                        "downloaded_bytes": r.downloaded_bytes,
                        "written": r.written,
                        "deleted": r.deleted,
                        "records": r.records,
                        "skipped": r.skipped,
                        **({"details": r.details} if r.details else {}),
                    }
                    for r in reports
                ],
            }
        )
        return
    for r in reports:
        change = (
            "unchanged"
            if r.mode == "unchanged"
            else f"{r.mode}: {r.written} written, {r.deleted} deleted"
        )
        click.echo(f"{r.source}: {r.records} records ({change})")
        for s in r.skipped[:10]:
            click.echo(f"  skipped: {s}", err=True)
        if len(r.skipped) > 10:
            click.echo(
                f"  ... and {len(r.skipped) - 10} more skipped (see --format json)", err=True
            )
    click.echo(f"database: {path}")


registry_option = click.option(
    "--insecure-registry",
    "insecure_registries",
    multiple=True,
    metavar="HOST[:PORT]",
    help="Allow plain HTTP to this registry (loopback registries are always allowed).",
)


@db_group.command("push")
@click.argument("reference")
@db_option
@registry_option
@click.option(
    "--compress/--no-compress",
    default=True,
    show_default=True,
    help="Push the file zstd-compressed (the pulled database is identical either way).",
)
def push_cmd(
    reference: str, db_path: str | None, insecure_registries: tuple[str, ...], compress: bool
) -> None:
    """Push the database to a registry as an OCI artifact (for air-gapped mirrors)."""
    from customhouse.advisories.bundle import push_db

    path = _db_path(db_path)
    result = push_db(path, reference, compress=compress, insecure_registries=insecure_registries)
    click.echo(
        f"pushed {path} ({result.db_size} bytes, {result.db_digest}) to"
        f" {result.reference}@{result.manifest_digest}"
    )


@db_group.command("pull")
@click.argument("reference")
@db_option
@registry_option
@click.option("--force", is_flag=True, help="Replace an existing database.")
def pull_cmd(
    reference: str, db_path: str | None, insecure_registries: tuple[str, ...], force: bool
) -> None:
    """Pull a database pushed with 'db push'; verified before it replaces anything."""
    from customhouse.advisories.bundle import pull_db

    path = _db_path(db_path)
    result = pull_db(reference, path, force=force, insecure_registries=insecure_registries)
    click.echo(
        f"pulled {result.reference}@{result.manifest_digest} into {path}"
        f" ({result.db_size} bytes, {result.db_digest})"
    )
