"""``db import``: offline files, directories and zips, in any supported feed format.

Files (and zip entries) are read, parsed, validated and turned into table rows in
batches (:func:`_load_batch`): JSON records by the typed path (``typed.py``), anything
else, or anything it refuses, by the general one. A large import runs those batches in
two forked worker processes, which write their rows into the new database themselves,
in turn; this process collects their reports and settles the rare ids written twice. A
small import runs the batches here, in order. Both give the same records, reports and
"last record of an id wins" outcome.
"""

from __future__ import annotations

import gc
import os
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import repeat
from pathlib import Path
from typing import Any

from customhouse.advisories.feeds.alpine import SecdbCollector, is_secdb
from customhouse.advisories.feeds.osv import (
    RECORD_SUFFIXES,
    CorruptZipError,
    ImportReport,
    ZipEntry,
    load_text,
    open_fd,
    read_zip_member,
    records_from_data,
    records_from_object,
    zip_entries,
)
from customhouse.advisories.osv import MAX_RECORD_BYTES, AdvisoryError
from customhouse.advisories.store import (
    PreparedRows,
    RecordRows,
    RowWriter,
    StoreBuilder,
    WriterSpec,
    join_rows,
    record_rows,
)
from customhouse.advisories.typed import typed_rows
from customhouse.errors import OperationalError, SourceError

_BATCH = 500  # files or zip entries per batch
_PARALLEL_MIN = 4 * _BATCH  # below this, starting worker processes costs more than it gains
_WORKERS = 2
_AHEAD = 2 * _WORKERS  # batches in flight: bounds the rows waiting in memory

# one file to read: (path, None), or one zip entry: (zip path, where the entry lies)
_Unit = tuple[str, ZipEntry | None]


def _files(root: Path) -> Iterator[Path]:
    if root.is_file():
        yield root
        return
    for p in sorted(root.rglob("*")):
        if (
            p.is_file()
            and not p.is_symlink()
            and (p.suffix in RECORD_SUFFIXES or p.suffix == ".zip")
        ):
            yield p


@dataclass
class _Batch:
    rows: PreparedRows
    files: int = 0
    skipped: list[str] = field(default_factory=list)
    secdb: list[tuple[Any, str]] = field(default_factory=list)  # (document, path)
    where: dict[str, int] = field(default_factory=dict)  # id -> index of its unit in the batch
    # what a worker wrote into the database itself (rows are then left empty)
    # (ids, their modified, their units): three lists go through pickle in 60% of the
    # time of one list of triples (75 against 125 us for a batch of 500, here)
    written: tuple[list[str], list[str], list[int]] = field(default_factory=lambda: ([], [], []))


def _units(root: Path, report: ImportReport) -> list[_Unit]:
    units: list[_Unit] = []
    for path in _files(root):
        if path.suffix == ".zip":
            units += _zip_units(path, report)
        else:
            units.append((str(path), None))
    return units


def _zip_units(path: Path, report: ImportReport) -> list[_Unit]:
    with _collector_paused():  # (an all.zip lists hundreds of thousands of entries)
        return list(zip(repeat(str(path)), zip_entries(path, report)))


_ZIPS: dict[str, int] = {}  # zips open in this process: path -> file descriptor


def _close_zips() -> None:
    for fd in _ZIPS.values():
        os.close(fd)
    _ZIPS.clear()


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Pause the cyclic garbage collector while batches are read.

    A batch builds hundreds of thousands of containers (JSON trees, rows), none of them
    in a reference cycle; the collector would only traverse them again and again, and
    took half of the JSON parsing time. Reference counting frees them as before.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _load_batch(units: Sequence[_Unit], source: str) -> _Batch:
    """Read, parse and validate a batch of files or zip entries; return its rows (in a worker)."""
    with _collector_paused():
        return _read_batch(units, source)


def _read_batch(units: Sequence[_Unit], source: str) -> _Batch:
    # each record's rows are made as soon as it is parsed (see record_rows)
    rows: dict[str, RecordRows] = {}
    batch = _Batch(rows=([], [], []))
    where = batch.where
    for at, (name, entry) in enumerate(units):
        if entry is not None:
            fd = _ZIPS.get(name)
            if fd is None:  # kept open for the next batches
                fd = _ZIPS[name] = open_fd(Path(name))
            try:
                data, stream = read_zip_member(fd, entry, name)
                row = typed_rows(data, source, stream) if entry.name.endswith(".json") else None
                if row is not None:
                    rows[row[0][0]] = row
                    where[row[0][0]] = at
                else:
                    for v in records_from_data(data, f"{name}!{entry.name}"):
                        rows[v.id] = record_rows(v, source)
                        where[v.id] = at
            except CorruptZipError:
                raise
            except AdvisoryError as e:
                batch.skipped.append(str(e))
            batch.files += 1
            continue
        batch.files += 1
        path = Path(name)
        try:
            if path.stat().st_size > MAX_RECORD_BYTES * 8:
                raise AdvisoryError(f"{path}: too large for an advisory file")
            data = path.read_bytes()
            row = typed_rows(data, source) if path.suffix == ".json" else None
            if row is not None:
                rows[row[0][0]] = row
                where[row[0][0]] = at
                continue
            obj = load_text(data, path.name)
            if obj is None:
                batch.skipped.append(f"{path}: empty")
                continue
            if is_secdb(obj):
                batch.secdb.append((obj, name))
                continue
            text = data if path.suffix == ".json" else None
            for v in records_from_object(obj, name, text):
                rows[v.id] = record_rows(v, source)
                where[v.id] = at
        except AdvisoryError as e:
            batch.skipped.append(str(e))
    batch.rows = join_rows(rows.values())
    return batch


def _batches(
    builder: StoreBuilder, units: list[_Unit], source: str, workers: int | None
) -> Iterator[_Batch]:
    """The batches' results in order: from worker processes when the import is large.

    Forked workers write their rows into the database themselves (:class:`RowWriter`),
    while the builder has handed it over; their batches then carry only what was written.
    """
    spans = [(i, min(i + _BATCH, len(units))) for i in range(0, len(units), _BATCH)]
    if workers is None:
        workers = _WORKERS if len(units) >= _PARALLEL_MIN and (os.cpu_count() or 1) > 1 else 1
    if workers <= 1 or len(spans) <= 1:
        try:
            for start, stop in spans:
                yield _load_batch(units[start:stop], source)
        finally:
            _close_zips()
        return
    import multiprocessing

    # fork: fast, the caller's main module is not imported again, and the children
    # inherit the units: they are sent a batch's span, not its units. The children only
    # run _load_span and leave through os._exit: the SQLite connection they inherit is
    # never used or closed by them (they open their own).
    if "fork" not in multiprocessing.get_all_start_methods():  # pragma: no cover - Windows
        yield from _pooled_spawned(units, spans, source, workers)
        return
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    global _FORKED
    ctx = multiprocessing.get_context("fork")
    spec = builder.hand_over()
    gc.freeze()  # the children's collector must not touch (and so copy) every inherited page
    _FORKED = units
    try:
        with ProcessPoolExecutor(
            max_workers=workers,
            mp_context=ctx,
            initializer=_start_writer,
            initargs=(spec, ctx.Lock()),
        ) as pool:
            yield from _in_order(pool, spans, lambda a, b: pool.submit(_load_span, a, b, source))
    except BrokenProcessPool:  # killed (out of memory?): the builder drops the new database
        raise OperationalError(
            "a worker process of the import died; nothing was changed (out of memory?)"
        ) from None
    finally:
        _FORKED = None
        gc.unfreeze()


_FORKED: list[_Unit] | None = None  # the units a pool's forked children inherit
_WRITER: RowWriter | None = None  # a forked child's connection to the database


def _start_writer(spec: WriterSpec, lock: Any) -> None:
    global _WRITER
    _WRITER = RowWriter(spec, lock)


def _load_span(start: int, stop: int, source: str) -> _Batch:
    """A batch of the units this forked child inherited, written (in a worker)."""
    assert _FORKED is not None and _WRITER is not None
    batch = _load_batch(_FORKED[start:stop], source)
    vuln_rows = batch.rows[0]
    if vuln_rows:
        _WRITER.write(batch.rows)
        where = batch.where
        ids = [r[0] for r in vuln_rows]
        batch.written = (ids, [r[2] for r in vuln_rows], [start + where[i] for i in ids])
    batch.rows = ([], [], [])
    batch.where = {}
    return batch


def _in_order(
    pool: Any, spans: list[tuple[int, int]], submit: Callable[[int, int], Future[_Batch]]
) -> Iterator[_Batch]:
    pending: deque[Future[_Batch]] = deque()
    todo = iter(spans)
    for start, stop in todo:
        pending.append(submit(start, stop))
        if len(pending) >= _AHEAD:
            break
    while pending:
        result = pending.popleft().result()  # a worker's exception is raised here
        for start, stop in todo:
            pending.append(submit(start, stop))
            break
        yield result


def _pooled_spawned(  # pragma: no cover - where processes cannot fork (Windows)
    units: list[_Unit], spans: list[tuple[int, int]], source: str, workers: int
) -> Iterator[_Batch]:
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(max_workers=workers) as pool:
        yield from _in_order(pool, spans, lambda a, b: pool.submit(_load_batch, units[a:b], source))


def import_paths(
    builder: StoreBuilder, paths: Sequence[Path], *, workers: int | None = None
) -> dict[str, ImportReport]:
    """Import each path as its own source, named after it; returns a report per source.

    ``workers``: processes that parse (default: two for large imports, else none).
    """
    reports: dict[str, ImportReport] = {}
    for root in paths:
        if not root.exists():
            raise SourceError(f"{root}: no such file or directory")
        report = ImportReport()
        source = f"import:{root.resolve().name}"
        units = _units(root, report)
        builder.clear_source(source)
        secdb = SecdbCollector()
        osv_ids = _add_units(builder, units, source, report, workers, secdb)
        alpine = secdb.records()
        if alpine:
            builder.add(alpine, source)
        report.skipped.extend(secdb.skipped)
        if osv_ids:
            report.by_kind["osv records"] = len(osv_ids)
        if secdb.entries:
            report.by_kind["secdb fix entries"] = secdb.entries
            report.by_kind["secdb never-affected entries"] = secdb.never_affected
            report.by_kind["secdb packages"] = len(secdb.packages)
            report.by_kind["alpine records"] = len(secdb.fixes)
        report.records = len(osv_ids.keys() | {v.id for v in alpine})
        builder.set_source(  # (the source was cleared: its records are those written now)
            source,
            url=root.resolve().as_uri(),
            extra={"files": report.files, **report.by_kind},
            count=report.records,
        )
        reports[source] = report
    return reports


def add_zip(
    builder: StoreBuilder,
    path: Path,
    source: str,
    report: ImportReport,
    *,
    workers: int | None = None,
) -> dict[str, str]:
    """Add the OSV records of a zip (osv.dev's ``all.zip``) to ``source``, read as ``db import``
    reads one; returns {id: modified} of the records written."""
    return _add_units(builder, _zip_units(path, report), source, report, workers, None)


def _add_units(
    builder: StoreBuilder,
    units: list[_Unit],
    source: str,
    report: ImportReport,
    workers: int | None,
    secdb: SecdbCollector | None,
) -> dict[str, str]:
    written: dict[str, str] = {}
    by_workers: dict[str, int] = {}  # id -> unit of its last record, as workers wrote them
    twice: set[str] = set()  # ids workers wrote more than once
    with _collector_paused():
        for batch in _batches(builder, units, source, workers):
            report.files += batch.files
            report.skipped.extend(batch.skipped)
            for obj, name in batch.secdb:
                if secdb is None:
                    report.skipped.append(f"{name}: an Alpine secdb file, not an OSV record")
                    continue
                secdb.add(obj, name)
                report.by_kind["secdb files"] = report.by_kind.get("secdb files", 0) + 1
            if batch.rows[0]:
                written.update((r[0], r[2]) for r in batch.rows[0])
                builder.add_rows(batch.rows)  # replaces an id an earlier batch wrote
            ids, modified, at = batch.written
            if ids:
                twice.update(by_workers.keys() & ids)
                by_workers.update(zip(ids, at, strict=True))
                written.update(zip(ids, modified, strict=True))
        twice.update(builder.take_back(by_workers))  # (nothing to take back without workers)
        if twice:
            _settle(builder, units, {vid: by_workers[vid] for vid in twice}, source)
    return written


def _settle(builder: StoreBuilder, units: list[_Unit], last: dict[str, int], source: str) -> None:
    """Make the last record of each id in ``last`` (id -> its unit) the one stored.

    Workers write their batches as they finish them, not in order, and without replacing
    what a new database held before (it has no index yet): an id they wrote twice, or
    that was there before, is settled here, in the rare imports that have one."""
    builder.drop(last)
    for unit in sorted(set(last.values())):
        batch = _load_batch([units[unit]], source)
        vuln_rows, aff_rows, alias_rows = batch.rows
        builder.add_rows(
            (
                [r for r in vuln_rows if last.get(r[0]) == unit],
                [r for r in aff_rows if last.get(r[2]) == unit],
                [r for r in alias_rows if last.get(r[1]) == unit],
            )
        )
