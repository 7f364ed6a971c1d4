"""``customhouse db``: the local advisory database."""

from __future__ import annotations

import json
import sys
import time
from argparse import Namespace
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from customhouse.cli._args import int_range
from customhouse.cli._common import (
    add_db_option,
    add_max_age_option,
    add_registry_option,
    dump_json,
    format_age,
    parse_age,
    resolve_db_path,
    source_age,
    stale_warnings,
)

if TYPE_CHECKING:
    from customhouse.cli._args import CommandParser


def _add_format_option(parser: CommandParser) -> None:
    parser.option("--format", dest="fmt", choices=("table", "json"), default="table")


def build(parser: CommandParser) -> None:
    parser.description = "Build, inspect and move the advisory database."
    commands = parser.commands("db_command")
    for name, (summary, details, build_sub, _) in _SUBCOMMANDS.items():
        build_sub(commands.add(name, summary, details))


def run(args: Namespace) -> int:
    return _SUBCOMMANDS[args.db_command][3](args)


_IMPORT = """\
Each PATH becomes one source; importing it again replaces that source's records.
The database is rebuilt beside the old one and swapped in only on success.

Files, zip entries and items that cannot be imported (malformed, oversized, a zip
bomb) are skipped and listed; with --strict any of them refuses the whole import
(exit 2) and leaves the database as it was.
"""


def _build_import(parser: CommandParser) -> None:
    parser.argument("paths", nargs="+", type=Path)
    add_db_option(parser)
    parser.flag(
        "--strict",
        help="Refuse the import (exit 2, database unchanged) if anything is skipped.",
    )
    _add_format_option(parser)


def _import(args: Namespace) -> int:
    paths: list[Path] = args.paths
    db_path: str | None = args.db_path
    fmt: str = args.fmt
    strict: bool = args.strict
    from customhouse.advisories.importer import import_paths
    from customhouse.advisories.store import StoreBuilder
    from customhouse.errors import InputError

    path = resolve_db_path(db_path)
    with StoreBuilder(path) as builder:
        reports = import_paths(builder, list(paths))
        skipped = [s for r in reports.values() for s in r.skipped]
        if strict and skipped:  # raised inside: the builder drops the new database
            _err_skipped(skipped, 20)
            raise InputError(
                f"--strict: {len(skipped)} item{'s' if len(skipped) > 1 else ''} skipped "
                f"(first: {skipped[0]}); "
                f"nothing was imported and {path} is unchanged"
            )
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
        return 0
    for name, r in reports.items():
        kinds = ", ".join(f"{v} {k}" for k, v in r.by_kind.items())
        _out(f"{name}: {r.files} files, {r.records} records stored ({kinds})")
        _err_skipped(r.skipped, 20, " (see --format json)")
    _out(f"database: {path}")
    return 0


def _build_status(parser: CommandParser) -> None:
    add_db_option(parser)
    add_max_age_option(parser, "--max-age")
    _add_format_option(parser)


def _status(args: Namespace) -> int:
    db_path: str | None = args.db_path
    max_age: str = args.max_age
    fmt: str = args.fmt
    from customhouse.advisories.store import open_store

    limit = parse_age(max_age, "--max-age")
    path = resolve_db_path(db_path)
    with open_store(path) as store:
        meta = store.meta()
        sources = store.sources()
        counts = store.counts()
        ecosystems = store.ecosystems()
    now = time.time()
    rows: list[dict[str, Any]] = []
    stale = stale_warnings(sources, limit, max_age, "--max-age", now)
    for s in sources:
        age = source_age(s.fetched_at, now)
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
        "stale_sources": list(stale),
    }
    if fmt == "json":
        dump_json(info)
    else:
        _out(f"database {path} (schema {info['schema_version']}, built {info['built_at']})")
        _out(
            f"{counts['vulnerabilities']} records ({counts['withdrawn']} withdrawn), "
            f"{counts['packages']} packages, {len(ecosystems)} ecosystems"
        )
        for r in rows:
            shown_age = format_age(r["age_seconds"])
            _out(
                f"  {r['name']}: {r['records']} records, fetched {r['fetched_at']} ({shown_age} ago)"
            )
    for line in stale.values():
        _err(f"customhouse: warning: {line}")
    return 0


def _build_show(parser: CommandParser) -> None:
    parser.argument("vuln_id")
    add_db_option(parser)


def _show(args: Namespace) -> int:
    vuln_id: str = args.vuln_id
    db_path: str | None = args.db_path
    from customhouse.advisories.store import open_store
    from customhouse.errors import InputError

    with open_store(resolve_db_path(db_path)) as store:
        v = store.get(vuln_id)
    if v is None:
        raise InputError(f"no advisory {vuln_id!r} in the database")
    _out(json.dumps(v.raw, indent=2, sort_keys=True))
    return 0


def _build_search(parser: CommandParser) -> None:
    parser.argument("package")
    parser.option("--ecosystem", help="PyPI, npm, Alpine, Alpine:v3.19, Debian:12, ...")
    add_db_option(parser)
    _add_format_option(parser)


def _search(args: Namespace) -> int:
    package: str = args.package
    ecosystem: str | None = args.ecosystem
    db_path: str | None = args.db_path
    fmt: str = args.fmt
    from customhouse.advisories.store import open_store

    with open_store(resolve_db_path(db_path)) as store:
        hits = store.search(package, ecosystem)
    if fmt == "json":
        dump_json([{"ecosystem": e, "package": n, "id": i} for e, n, i in hits])
        return 0
    for e, n, i in hits:
        _out(f"{e}\t{n}\t{i}")
    return 0


def _build_export(parser: CommandParser) -> None:
    parser.argument("output", type=Path)
    add_db_option(parser)
    parser.flag("--force", help="Overwrite OUTPUT if it exists.")


def _export(args: Namespace) -> int:
    output: Path = args.output
    db_path: str | None = args.db_path
    force: bool = args.force
    import os
    import sqlite3
    import tempfile

    from customhouse.advisories.store import open_store
    from customhouse.errors import StorageError, UsageError

    if output.exists() and not force:
        raise UsageError(f"{output} exists; use --force to overwrite it")
    path = resolve_db_path(db_path)
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
    _err(f"exported {path} to {output}")
    return 0


# --- online: update, push, pull ------------------------------------------------------


_UPDATE = """\
Every source is fetched into a copy of the database; the copy replaces the
database only when all sources succeeded. A failed or truncated download leaves
the previous database exactly as it was.
"""


def _build_update(parser: CommandParser) -> None:
    parser.multiple(
        "--source",
        dest="sources",
        metavar="SOURCE",
        help="osv:ECOSYSTEM, debian, alpine:vX.Y/main|community or nvd; repeatable."
        " Default: the OSV language ecosystems, debian, recent Alpine branches"
        " (and nvd when an API key is set).",
    )
    add_db_option(parser)
    parser.flag("--full", help="Ignore ETags and sync points: download every source whole.")
    parser.option(
        "--osv-url",
        envvar="CUSTOMHOUSE_OSV_URL",
        metavar="URL",
        help="Base URL of the OSV bucket or a mirror of it.",
    )
    parser.option(
        "--debian-tracker-url",
        envvar="CUSTOMHOUSE_DEBIAN_TRACKER_URL",
        metavar="URL",
        help="URL of the Debian security tracker JSON.",
    )
    parser.option(
        "--alpine-secdb-url",
        envvar="CUSTOMHOUSE_ALPINE_SECDB_URL",
        metavar="URL",
        help="Base URL of Alpine's secdb.",
    )
    parser.option(
        "--nvd-url",
        envvar="CUSTOMHOUSE_NVD_URL",
        metavar="URL",
        help="URL of the NVD CVE API 2.0.",
    )
    parser.option(
        "--nvd-api-key",
        envvar="CUSTOMHOUSE_NVD_API_KEY",
        metavar="KEY",
        help="NVD API key (50 instead of 5 requests per 30 s).",
    )
    parser.option(
        "--nvd-rate",
        envvar="CUSTOMHOUSE_NVD_RATE",
        hidden=True,
        help="NVD request rate as REQUESTS/SECONDS (default 5/30, or 50/30 with a key).",
    )
    parser.option(
        "--retries",
        envvar="CUSTOMHOUSE_FETCH_RETRIES",
        metavar="INTEGER RANGE",
        type=int_range(1, 20),
        default=5,
        show_default="5; 1<=x<=20",
        help="Attempts per download (429/5xx/connection failures, with backoff).",
    )
    _add_format_option(parser)


def _update(args: Namespace) -> int:
    sources: tuple[str, ...] = args.sources
    db_path: str | None = args.db_path
    full: bool = args.full
    osv_url: str | None = args.osv_url
    debian_tracker_url: str | None = args.debian_tracker_url
    alpine_secdb_url: str | None = args.alpine_secdb_url
    nvd_url: str | None = args.nvd_url
    nvd_api_key: str | None = args.nvd_api_key
    nvd_rate: str | None = args.nvd_rate
    retries: int = args.retries
    fmt: str = args.fmt
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
    path = resolve_db_path(db_path)
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
        return 0
    for r in reports:
        change = (
            "unchanged"
            if r.mode == "unchanged"
            else f"{r.mode}: {r.written} written, {r.deleted} deleted"
        )
        _out(f"{r.source}: {r.records} records ({change})")
        _err_skipped(r.skipped, 10, " (see --format json)")
    _out(f"database: {path}")
    return 0


def _build_push(parser: CommandParser) -> None:
    parser.argument("reference")
    add_db_option(parser)
    add_registry_option(parser)
    parser.switch(
        "--compress",
        "--no-compress",
        dest="compress",
        default=True,
        show_default=True,
        help="Push the file zstd-compressed (the pulled database is identical either way).",
    )


def _push(args: Namespace) -> int:
    reference: str = args.reference
    db_path: str | None = args.db_path
    insecure_registries: tuple[str, ...] = args.insecure_registries
    compress: bool = args.compress
    from customhouse.advisories.bundle import push_db

    path = resolve_db_path(db_path)
    result = push_db(path, reference, compress=compress, insecure_registries=insecure_registries)
    _out(
        f"pushed {path} ({result.db_size} bytes, {result.db_digest}) to"
        f" {result.reference}@{result.manifest_digest}"
    )
    return 0


def _build_pull(parser: CommandParser) -> None:
    parser.argument("reference")
    add_db_option(parser)
    add_registry_option(parser)
    parser.flag("--force", help="Replace an existing database.")


def _pull(args: Namespace) -> int:
    reference: str = args.reference
    db_path: str | None = args.db_path
    insecure_registries: tuple[str, ...] = args.insecure_registries
    force: bool = args.force
    from customhouse.advisories.bundle import pull_db

    path = resolve_db_path(db_path)
    result = pull_db(reference, path, force=force, insecure_registries=insecure_registries)
    _out(
        f"pulled {result.reference}@{result.manifest_digest} into {path}"
        f" ({result.db_size} bytes, {result.db_digest})"
    )
    return 0


def _out(line: str) -> None:
    sys.stdout.write(line + "\n")


def _err(line: str) -> None:
    sys.stderr.write(line + "\n")


def _err_skipped(skipped: list[str], shown: int, more: str = "") -> None:
    """The first ``shown`` skipped items on stderr, and how many more there are."""
    for s in skipped[:shown]:
        _err(f"  skipped: {s}")
    if len(skipped) > shown:
        _err(f"  ... and {len(skipped) - shown} more skipped{more}")


_Build = Callable[["CommandParser"], None]
_Run = Callable[[Namespace], int]

# name -> (one-line help, more help or None, build, run), listed in help in this order
_SUBCOMMANDS: dict[str, tuple[str, str | None, _Build, _Run]] = {
    "export": (
        "Write the database as one portable, compacted file.",
        None,
        _build_export,
        _export,
    ),
    "import": (
        "Import OSV records (JSON/YAML files, directories, zips) and Alpine secdb files.",
        _IMPORT,
        _build_import,
        _import,
    ),
    "pull": (
        "Pull a database pushed with 'db push'; verified before it replaces anything.",
        None,
        _build_pull,
        _pull,
    ),
    "push": (
        "Push the database to a registry as an OCI artifact (for air-gapped mirrors).",
        None,
        _build_push,
        _push,
    ),
    "search": (
        "Advisories for packages whose name contains PACKAGE.",
        None,
        _build_search,
        _search,
    ),
    "show": (
        "Print one record (by id or alias) as OSV JSON.",
        None,
        _build_show,
        _show,
    ),
    "status": (
        "Age and counts per source, and the schema version.",
        None,
        _build_status,
        _status,
    ),
    "update": (
        "Update the database from the online feeds (ETag-aware, swapped in atomically).",
        _UPDATE,
        _build_update,
        _update,
    ),
}
